//! Percentage progress exactly as tart's `ProgressObserver` prints it.
//!
//! The first `0%` is a plain line. After that an update is printed at most once per
//! `TART_SIM_PROGRESS_MS` (tart: one second), only when the text changed, plus a final
//! `100%` on completion; so a fast download shows just `0%` and `100%`. Updates are plain
//! lines when `CI` is set, otherwise the ANSI rewrite `ESC[1A \r ESC[J <n>% \n` (regardless
//! of whether stdout is a terminal). A retried download starts a new observer at `0%`.

use std::time::{Duration, Instant};

use crate::knobs::Knobs;
use crate::output;
use crate::signals;

/// Granularity of the interrupt check and of the clock while waiting.
const TICK: Duration = Duration::from_millis(20);

/// Shows a download of `total` duration from 0 to 100 %.
///
/// Returns `false` if SIGINT/SIGTERM arrived meanwhile (the caller cleans up and exits),
/// which needs [`signals::install`] to have been called.
pub fn show(total: Duration, knobs: &Knobs) -> bool {
    observe(total, 100, knobs)
}

/// Shows a download of `total` duration that breaks off at `until` percent (a failed
/// attempt before a retry): no final line.
pub fn show_until(total: Duration, until: u32, knobs: &Knobs) -> bool {
    observe(total, until.min(99), knobs)
}

fn observe(total: Duration, until: u32, knobs: &Knobs) -> bool {
    print_percent(0, true, knobs.ci);
    let began = Instant::now();
    let mut last_printed = began;
    let mut shown = 0u32;
    loop {
        let elapsed = began.elapsed();
        let percent = if total.is_zero() {
            100
        } else {
            ((elapsed.as_secs_f64() / total.as_secs_f64()) * 100.0).floor() as u32
        }
        .min(until);
        if percent >= until {
            if until == 100 && shown != 100 {
                print_percent(100, false, knobs.ci);
            }
            return !signals::take_interrupt();
        }
        if percent != shown && last_printed.elapsed() >= knobs.progress_interval {
            print_percent(percent, false, knobs.ci);
            shown = percent;
            last_printed = Instant::now();
        }
        std::thread::sleep(TICK);
        if signals::take_interrupt() {
            return false;
        }
    }
}

fn print_percent(percent: u32, first: bool, ci: bool) {
    if first || ci {
        output::out_line(&format!("{percent}%"));
    } else {
        output::out_bytes(format!("\x1b[1A\r\x1b[J{percent}%\n").as_bytes());
    }
}

//! Percentage progress exactly as tart's `ProgressObserver` prints it: the first `0%` is a
//! plain line; later updates are plain lines when `CI` is set, otherwise the ANSI rewrite
//! `ESC[1A \r ESC[J <n>% \n` (regardless of whether stdout is a terminal).

use std::time::Duration;

use crate::output;
use crate::signals;

/// Writes `0%` … `100%` spread evenly over `total`.
///
/// Returns `false` if SIGINT/SIGTERM arrived meanwhile (the caller cleans up and exits),
/// which needs [`signals::install`] to have been called.
pub fn show(total: Duration, ci: bool) -> bool {
    /// Granularity of the interrupt check while sleeping between updates.
    const TICK: Duration = Duration::from_millis(20);
    let step = total / 100;
    for percent in 0..=100u32 {
        if percent > 0 {
            let mut remaining = step;
            while !remaining.is_zero() {
                let nap = remaining.min(TICK);
                std::thread::sleep(nap);
                remaining -= nap;
                if signals::take_interrupt() {
                    return false;
                }
            }
        }
        if percent == 0 || ci {
            output::out_line(&format!("{percent}%"));
        } else {
            output::out_bytes(format!("\x1b[1A\r\x1b[J{percent}%\n").as_bytes());
        }
    }
    !signals::take_interrupt()
}

//! The `tart` stand-in of the fan-out world (`BENCH_AS_TART`).

use super::*;

/// `pull`: wait for the go file, then print `BENCH_LINES` lines `bench-line <i> <unix ns>`
/// padded to ~100 bytes like tart-sim's `flood`, one write each. Anything else: tart-sim.
pub(crate) fn act_as_tart() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("pull") {
        use std::os::unix::process::CommandExt;
        let e = Command::new(SIM_BIN).args(&args).exec();
        eprintln!("bench: cannot run tart-sim: {e}");
        std::process::exit(1);
    }
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let mut go = PathBuf::from(var("BENCH_GO_FILE"));
    let mut lines: usize = var("BENCH_LINES").parse().unwrap_or(WS_LINES);
    if args.iter().any(|a| a.contains("burst")) {
        go.set_extension("burst");
        lines = 0;
    } else if args.iter().any(|a| a.contains("fanout-new")) {
        go.set_extension("new");
    }
    let interval = Duration::from_micros(var("BENCH_LINE_INTERVAL_US").parse().unwrap_or(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut out = io::stdout().lock();
    let start = Instant::now();
    for i in 0..lines {
        if !interval.is_zero() {
            let due = start + interval * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut line = format!("bench-line {i} {} ", unix_nanos());
        while line.len() < 99 {
            line.push('x');
        }
        line.push('\n');
        if out
            .write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(1);
        }
    }
}

//! The supervisor's per-call cancel.
use super::*;

#[test]
fn a_cancel_kills_the_running_call_and_refuses_the_next() {
    let (_keep_open, shutdown) = crossbeam_channel::bounded(0);
    let sup = CliRunner::new("/bin/sh".into(), "sh".into(), Vec::new(), shutdown);
    let cancel = Cancel::new();
    let canceller = cancel.clone();
    let fire = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let args = ["-c".to_string(), "echo started; sleep 30".to_string()];
    // The watchdog is the 60 s timeout: a cancel that did not work fails the test.
    let outcome = sup
        .run_cancellable(
            &args,
            None,
            Duration::from_secs(60),
            Some(&cancel),
            &mut |_| {},
        )
        .unwrap();
    fire.join().unwrap();
    assert!(outcome.aborted && !outcome.timed_out && !outcome.success());
    assert_eq!(outcome.describe(Duration::from_secs(60)), "was cancelled");
    let again = sup
        .run_cancellable(
            &args,
            None,
            Duration::from_secs(60),
            Some(&cancel),
            &mut |_| {},
        )
        .unwrap();
    assert!(again.aborted && again.exit_code.is_none(), "never started");
}

//! One `tart` call as a step of an operation, shared by every request: the argv
//! reported, the cleaned lines streamed to the sink (and through a line reader into
//! progress and stage), the cancel switch honoured, then the exit code and the stderr
//! tail, and a failure put in one readable sentence.
//!
//! Threading: runs on the caller's thread (a task worker); the sink is called per batch
//! of lines, never while a lock of ours is held.

use std::time::Duration;

use super::parse::{clean_line, progress};
use crate::backend::host::{Failure, OpSink};
use crate::process::supervisor::{CliRunner, Line, Outcome};

/// What a line reader may change besides the log: the phase and its progress.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Phase {
    pub stage: Option<String>,
    pub progress: Option<f64>,
}

/// Reads one cleaned output line into the phase.
pub type LineReader = fn(&mut Phase, &str);

/// Reads `NN%` lines into the progress.
pub fn track_progress(phase: &mut Phase, line: &str) {
    if let Some(p) = progress(line) {
        phase.progress = Some(p);
    }
}

/// Runs `tart <args>`, reporting into `sink`: the argv first, then the cleaned lines as
/// they come (and, through `reader`, the phase when it changes), then the exit code and
/// stderr. `input` goes to tart's stdin. `phase` is the phase before the call (a reader
/// changes it; the sink hears of every change). `Err` when tart could not be started.
pub fn call(
    runner: &CliRunner,
    args: &[String],
    input: Option<&[u8]>,
    timeout: Duration,
    reader: Option<(LineReader, &mut Phase)>,
    sink: &mut dyn OpSink,
) -> Result<Outcome, Failure> {
    sink.command(runner.argv(args));
    let cancel = sink.cancel().cloned();
    let (read, mut phase) = match reader {
        Some((read, phase)) => (Some(read), Some(phase)),
        None => (None, None),
    };
    let mut on_output = |lines: &[Line]| {
        let cleaned: Vec<String> = lines.iter().map(|l| clean_line(&l.text)).collect();
        if let (Some(read), Some(phase)) = (read, phase.as_deref_mut()) {
            let before = phase.clone();
            for text in &cleaned {
                read(phase, text);
            }
            if phase.stage != before.stage {
                sink.stage(phase.stage.as_deref());
            }
            if phase.progress != before.progress {
                sink.progress(phase.progress);
            }
        }
        sink.lines(cleaned, 0);
    };
    match runner.run_cancellable(args, input, timeout, cancel.as_ref(), &mut on_output) {
        Ok(outcome) => {
            sink.exited(outcome.exit_code, &outcome.stderr);
            Ok(outcome)
        }
        Err(e) => Err(Failure::Failed(e.to_string())),
    }
}

/// The error of a failed call: `tart <verb> failed (exit code N): <last line>`.
pub fn failure(verb: &str, outcome: &Outcome, timeout: Duration) -> String {
    let code = outcome
        .exit_code
        .map(|c| format!(" (exit code {c})"))
        .unwrap_or_default();
    format!("tart {verb} failed{code}: {}", outcome.describe(timeout))
}

/// `Ok` when the call succeeded, else why not (cancelled, or [`failure`]).
pub fn check(verb: &str, outcome: &Outcome, timeout: Duration) -> Result<(), Failure> {
    if outcome.aborted {
        Err(Failure::Cancelled)
    } else if outcome.success() {
        Ok(())
    } else {
        Err(Failure::Failed(failure(verb, outcome, timeout)))
    }
}

/// [`call`] then [`check`]: one call that must succeed.
pub fn call_ok(
    runner: &CliRunner,
    verb: &str,
    args: &[String],
    timeout: Duration,
    reader: Option<(LineReader, &mut Phase)>,
    sink: &mut dyn OpSink,
) -> Result<Outcome, Failure> {
    let outcome = call(runner, args, None, timeout, reader, sink)?;
    check(verb, &outcome, timeout)?;
    Ok(outcome)
}

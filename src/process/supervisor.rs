//! Runs a command-line program as a supervised child process (SECURITY.md
//! promise 8). Nothing here knows what the program does.
//!
//! Every call: an argv vector (never a shell), `CI=1` so progress comes as plain lines,
//! stdin from /dev/null, its own process group so a timeout kills the whole group,
//! stdout and stderr drained concurrently by two threads and capped, a waiter thread so
//! the child is always reaped, and a grace period after exit after which a grandchild
//! still holding the pipes is killed instead of hanging the call. At most
//! [`MAX_TART_PROCESSES`] calls run at once; callers wait for a slot.
//!
//! Threading: `run` blocks its caller; the helper threads it starts end on their own
//! when the pipes close and never touch shared state.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::output::Stream;
use crate::limits::{MAX_CAPTURE_BYTES, MAX_TART_PROCESSES, PIPE_GRACE_AFTER_EXIT};
use crate::util::sync::lock;

// What a call hands back is part of the supervisor's interface, so it is named here too.
pub use super::output::{Line, LineSplitter, Outcome};

/// A per-call cancel switch: [`Cancel::cancel`] kills the process group of a call that
/// runs with it, and makes calls that have not started yet fail at once. Clones share
/// the switch.
#[derive(Clone)]
pub struct Cancel {
    /// Dropping the sender disconnects `fired`, which a `select!` sees at once.
    switch: std::sync::Arc<Mutex<Option<Sender<()>>>>,
    fired: Receiver<()>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        let (tx, rx) = crossbeam_channel::bounded(0);
        Cancel {
            switch: std::sync::Arc::new(Mutex::new(Some(tx))),
            fired: rx,
        }
    }

    /// Fires the switch (idempotent).
    pub fn cancel(&self) {
        lock(&self.switch).take();
    }

    /// True once [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.fired.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected)
    }

    /// A receiver that disconnects when the switch fires, for `select!`.
    pub fn signal(&self) -> &Receiver<()> {
        &self.fired
    }
}

/// Runs one program (the backend's CLI) with a bounded number of processes at once.
pub struct CliRunner {
    program: PathBuf,
    /// What the program is called in an error (`tart`); its file name by default.
    name: String,
    argv0: String,
    env: Vec<(OsString, OsString)>,
    slots: Mutex<usize>,
    slot_freed: Condvar,
    /// Disconnected when the server shuts down: running calls are killed.
    cancel: Receiver<()>,
}

enum Event {
    Line(Line),
    Eof,
    Exited(io::Result<ExitStatus>),
}

impl CliRunner {
    /// A runner for `program`; `argv0` is how the program is named in a task's `command`,
    /// `env` are extra variables for every child (e.g. `TART_HOME` in demo mode).
    /// `cancel` is a channel that is never sent on; when its sender is dropped (server
    /// shutdown), running calls are killed and new ones fail at once.
    pub fn new(
        program: PathBuf,
        argv0: String,
        env: Vec<(OsString, OsString)>,
        cancel: Receiver<()>,
    ) -> CliRunner {
        let name = program.file_name().map_or_else(
            || "the program".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        CliRunner {
            program,
            name,
            argv0,
            env,
            slots: Mutex::new(MAX_TART_PROCESSES),
            slot_freed: Condvar::new(),
            cancel,
        }
    }

    /// Names the program `name` in errors (`cannot run tart (…)`), whatever its path.
    pub fn named(mut self, name: &str) -> CliRunner {
        self.name = name.to_string();
        self
    }

    /// The program every call runs (as configured: a path or a name looked up on `PATH`).
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// The variables every child gets on top of our own environment.
    pub fn child_env(&self) -> &[(OsString, OsString)] {
        &self.env
    }

    /// The full argv of a call, as shown in a task's `command`.
    pub fn argv(&self, args: &[String]) -> Vec<String> {
        std::iter::once(self.argv0.clone())
            .chain(args.iter().cloned())
            .collect()
    }

    fn command(&self, args: &[String]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .env("CI", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0);
        cmd
    }

    /// Runs `<program> <args>` to the end (or the timeout), calling `on_output` with the lines
    /// as they arrive (in batches when they come faster than they are handled). Fails
    /// only when the process cannot be started.
    pub fn run(
        &self,
        args: &[String],
        timeout: Duration,
        on_output: &mut dyn FnMut(&[Line]),
    ) -> io::Result<Outcome> {
        self.run_cancellable(args, None, timeout, None, on_output)
    }

    /// [`CliRunner::run`], with `input` written to the child's stdin, which is then
    /// closed, and ended early when `abort` fires: its process group is killed and the
    /// outcome says `aborted` (a task's cancel); a call asked with an already fired
    /// `abort` does not start. `input` is how a secret reaches the child (a
    /// password on stdin): never in argv, where every local user can read it. It stays
    /// small (a password), far below a pipe's buffer, so the write never waits for the
    /// child to read.
    pub fn run_cancellable(
        &self,
        args: &[String],
        input: Option<&[u8]>,
        timeout: Duration,
        abort: Option<&Cancel>,
        on_output: &mut dyn FnMut(&[Line]),
    ) -> io::Result<Outcome> {
        let _slot = self.take_slot();
        if self.cancel.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected) {
            return Err(io::Error::other("the server is shutting down"));
        }
        if abort.is_some_and(Cancel::is_cancelled) {
            return Ok(Outcome {
                aborted: true,
                ..Outcome::default()
            });
        }
        let mut command = self.command(args);
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            // A child that exits without reading gives EPIPE; its exit status says why.
            let _ = stdin.write_all(bytes);
        }
        let pid = child.id();
        let (tx, rx) = crossbeam_channel::bounded(256);
        spawn_reader(child.stdout.take(), Stream::Stdout, tx.clone());
        spawn_reader(child.stderr.take(), Stream::Stderr, tx.clone());
        spawn_waiter(child, tx);
        let never = crossbeam_channel::never();
        let abort = abort.map_or(&never, Cancel::signal);
        Ok(collect(rx, &self.cancel, abort, pid, timeout, on_output))
    }

    /// Starts `<program> <args>` detached from the server: own process group, stdin from
    /// /dev/null, stdout and stderr appended to `log`. The caller must reap the child.
    /// For a child that must outlive the request and the server (a VM's run).
    pub fn spawn_detached(&self, args: &[String], log: &File) -> io::Result<Child> {
        self.command(args)
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .spawn()
            .map_err(|e| self.spawn_error(e))
    }

    fn spawn_error(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("cannot run {} ({}): {e}", self.name, self.program.display()),
        )
    }

    fn take_slot(&self) -> SlotGuard<'_> {
        let mut free = lock(&self.slots);
        while *free == 0 {
            free = self
                .slot_freed
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a CliRunner);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *lock(&self.0.slots) += 1;
        self.0.slot_freed.notify_one();
    }
}

/// Gathers lines and the exit status until the child exited and both pipes closed, or
/// until the grace period after exit ran out.
fn collect(
    rx: Receiver<Event>,
    cancel: &Receiver<()>,
    abort: &Receiver<()>,
    pid: u32,
    timeout: Duration,
    on_output: &mut dyn FnMut(&[Line]),
) -> Outcome {
    let mut outcome = Outcome::default();
    let deadline = Instant::now() + timeout;
    let mut grace_deadline: Option<Instant> = None;
    let mut open_pipes = 2;
    let mut exited = false;
    let mut batch = Vec::new();
    let never = crossbeam_channel::never();
    while !(exited && open_pipes == 0) {
        let wait = grace_deadline
            .unwrap_or(deadline)
            .saturating_duration_since(Instant::now());
        let ended = outcome.cancelled || outcome.aborted || exited;
        let (cancel, abort) = if ended {
            (&never, &never)
        } else {
            (cancel, abort)
        };
        crossbeam_channel::select! {
            recv(rx) -> event => {
                let Ok(first) = event else { break };
                // Take everything already waiting, so a flood costs one update, not many.
                for event in std::iter::once(first).chain(rx.try_iter().take(1024)) {
                    match event {
                        Event::Line(line) => {
                            let buf = match line.stream {
                                Stream::Stdout => &mut outcome.stdout,
                                Stream::Stderr => &mut outcome.stderr,
                            };
                            if buf.len() + line.text.len() < MAX_CAPTURE_BYTES {
                                buf.push_str(&line.text);
                                buf.push('\n');
                            }
                            batch.push(line);
                        }
                        Event::Eof => open_pipes -= 1,
                        Event::Exited(status) => {
                            exited = true;
                            grace_deadline = Some(Instant::now() + PIPE_GRACE_AFTER_EXIT);
                            if let Ok(status) = status {
                                outcome.exit_code = status.code();
                                outcome.signal = status.signal();
                            }
                        }
                    }
                }
                if !batch.is_empty() {
                    on_output(&batch);
                    batch.clear();
                }
            }
            recv(cancel) -> _ => {
                outcome.cancelled = true;
                kill_process_group(pid);
                grace_deadline = Some(Instant::now() + PIPE_GRACE_AFTER_EXIT);
            }
            recv(abort) -> _ => {
                outcome.aborted = true;
                kill_process_group(pid);
                grace_deadline = Some(Instant::now() + PIPE_GRACE_AFTER_EXIT);
            }
            default(wait) => {
                if exited {
                    // A grandchild still holds the pipes: end it with the rest of the group.
                    kill_process_group(pid);
                    break;
                }
                if outcome.timed_out || outcome.cancelled || outcome.aborted {
                    break; // killed, yet no exit reported within the grace: give up waiting.
                }
                outcome.timed_out = true;
                kill_process_group(pid);
                grace_deadline = Some(Instant::now() + PIPE_GRACE_AFTER_EXIT);
            }
        }
    }
    outcome
}

fn spawn_reader(pipe: Option<impl Read + Send + 'static>, stream: Stream, tx: Sender<Event>) {
    let Some(mut pipe) = pipe else {
        let _ = tx.send(Event::Eof);
        return;
    };
    thread::spawn(move || {
        let mut splitter = LineSplitter::default();
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for text in splitter.push(&buf[..n]) {
                        if tx.send(Event::Line(Line { stream, text })).is_err() {
                            return; // the caller gave up (grandchild case); just drain.
                        }
                    }
                }
            }
        }
        if let Some(text) = splitter.finish() {
            let _ = tx.send(Event::Line(Line { stream, text }));
        }
        let _ = tx.send(Event::Eof);
    });
}

fn spawn_waiter(mut child: Child, tx: Sender<Event>) {
    thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(Event::Exited(status));
    });
}

/// Sends SIGKILL to every process in the group led by `pgid`.
#[allow(unsafe_code)] // one syscall std does not offer: signalling a process group.
pub fn kill_process_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return; // never signal "every process" (-1) or our own group (0).
    }
    // SAFETY: kill(2) takes plain integers and has no memory effects; a negative pid
    // addresses the process group, which we created for this child.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;

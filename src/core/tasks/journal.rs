//! Task history on disk: `<data-dir>/tasks.jsonl`, one JSON Task per line, appended by a
//! dedicated thread and compacted by rewriting (temp file + rename) once it holds many
//! stale lines (SECURITY.md promise 9).
//!
//! Loading is tolerant: unreadable lines are skipped with a warning, the last line of a
//! task wins, tasks that were pending or running when the server died come back failed
//! with a reason, and a file that cannot be read at all is moved aside, never a crash.
//!
//! Durability: each batch of records is written, flushed and `fdatasync`ed before the
//! thread waits for more, and the folder is synced after a compaction's rename, so a
//! task a client saw finish a moment before an OS crash comes back finished (a few
//! records per task: the cost is one sync per batch). The file is 0600, like the token.
//!
//! Threading: the store sends records over an unbounded channel while it holds its
//! lock (a non-blocking send keeps their order); only the journal thread does I/O.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::model::{Task, TaskStatus};
use crate::limits::MAX_TASKS_KEPT;

/// Appended lines after which the file is rewritten with one line per kept task.
const COMPACT_AFTER_APPENDS: usize = 4 * MAX_TASKS_KEPT;

enum Record {
    Put(String, String),
    Forget(String),
}

/// The store's side of the journal: cheap, non-blocking, cloneable.
#[derive(Clone)]
pub struct JournalHandle {
    tx: Sender<Record>,
}

impl JournalHandle {
    /// Records the task's current state.
    pub fn put(&self, task: &Task) {
        let line = serde_json::to_string(task).expect("a Task always serializes");
        let _ = self.tx.send(Record::Put(task.id.clone(), line));
    }

    /// Records that the task was evicted.
    pub fn forget(&self, id: &str) {
        let _ = self.tx.send(Record::Forget(id.to_string()));
    }
}

/// The journal thread; [`JournalWriter::close`] writes what is pending and joins it.
pub struct JournalWriter {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl JournalWriter {
    /// Writes every record sent so far, then ends the thread.
    pub fn close(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// Loads the tasks saved in `path` (oldest first) and starts the journal thread.
pub fn open(path: &Path) -> io::Result<(Vec<Task>, JournalHandle, JournalWriter)> {
    let tasks = load(path);
    let mut kept = Kept::default();
    for task in &tasks {
        kept.put(
            task.id.clone(),
            serde_json::to_string(task).expect("a Task always serializes"),
        );
    }
    rewrite(path, &kept)?;
    let file = open_append(path)?;
    let (tx, rx) = crossbeam_channel::unbounded();
    let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
    let path = path.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("task-journal".into())
        .spawn(move || run_journal(path, file, kept, rx, stop_rx))?;
    Ok((
        tasks,
        JournalHandle { tx },
        JournalWriter {
            stop: Some(stop_tx),
            thread: Some(thread),
        },
    ))
}

/// The latest line of every kept task, in creation order.
#[derive(Default)]
struct Kept {
    lines: HashMap<String, String>,
    order: VecDeque<String>,
}

impl Kept {
    fn put(&mut self, id: String, line: String) {
        if self.lines.insert(id.clone(), line).is_none() {
            self.order.push_back(id);
        }
    }

    fn forget(&mut self, id: &str) {
        if self.lines.remove(id).is_some() {
            self.order.retain(|x| x != id);
        }
    }
}

fn run_journal(
    path: PathBuf,
    file: File,
    mut kept: Kept,
    rx: Receiver<Record>,
    stop: Receiver<()>,
) {
    let mut out = BufWriter::new(file);
    let mut appended = 0usize;
    loop {
        let first = crossbeam_channel::select! {
            recv(rx) -> record => match record {
                Ok(record) => record,
                Err(_) => break,
            },
            recv(stop) -> _ => match rx.try_recv() {
                Ok(record) => record,
                Err(_) => break,
            },
        };
        // Write everything that is waiting, then flush once.
        for record in std::iter::once(first).chain(rx.try_iter()) {
            match record {
                Record::Put(id, line) => {
                    if let Err(e) = writeln!(out, "{line}") {
                        eprintln!("taartenfabriek: warning: cannot write the task journal: {e}");
                    }
                    kept.put(id, line);
                    appended += 1;
                }
                Record::Forget(id) => kept.forget(&id),
            }
        }
        if let Err(e) = out.flush().and_then(|()| out.get_ref().sync_data()) {
            eprintln!("taartenfabriek: warning: cannot save the task journal: {e}");
        }
        if appended >= COMPACT_AFTER_APPENDS {
            appended = 0;
            match rewrite(&path, &kept).and_then(|()| open_append(&path)) {
                Ok(file) => out = BufWriter::new(file),
                Err(e) => {
                    eprintln!("taartenfabriek: warning: cannot compact the task journal: {e}")
                }
            }
        }
    }
    let _ = out.flush();
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Replaces the journal with one line per kept task, atomically and durably: the new
/// file is synced before the rename, and the folder after it.
fn rewrite(path: &Path, kept: &Kept) -> io::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    // A leftover from a crash may have another mode; `mode` applies to new files only.
    let _ = fs::remove_file(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut out = BufWriter::new(file);
    for id in &kept.order {
        writeln!(out, "{}", kept.lines[id])?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads the journal: the last state of each task, oldest first, interrupted tasks
/// marked failed, at most [`MAX_TASKS_KEPT`].
fn load(path: &Path) -> Vec<Task> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            set_aside(path, &format!("it cannot be read ({e})"));
            return Vec::new();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut latest: HashMap<String, Task> = HashMap::new();
    let (mut good, mut bad) = (0usize, 0usize);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Task>(line) {
            Ok(task) => {
                good += 1;
                latest.insert(task.id.clone(), task);
            }
            Err(_) => bad += 1,
        }
    }
    if good == 0 && bad > 0 {
        set_aside(path, "no line of it is a task");
        return Vec::new();
    }
    if bad > 0 {
        eprintln!(
            "taartenfabriek: warning: skipped {bad} unreadable line(s) of {}",
            path.display()
        );
    }
    let mut tasks: Vec<Task> = latest.into_values().collect();
    tasks.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
    let excess = tasks.len().saturating_sub(MAX_TASKS_KEPT);
    tasks.drain(..excess);
    for task in &mut tasks {
        if !task.status.is_terminal() {
            let was = if task.status == TaskStatus::Pending {
                "pending"
            } else {
                "running"
            };
            task.fail(format!(
                "interrupted: the server stopped while this task was {was}"
            ));
            task.updated_at = crate::util::sync::unix_now();
        }
    }
    tasks
}

fn set_aside(path: &Path, why: &str) {
    let aside = path.with_extension(format!(
        "jsonl.corrupt-{}",
        crate::util::sync::unix_now() as u64
    ));
    eprintln!(
        "taartenfabriek: warning: task history {} was moved to {} because {why}",
        path.display(),
        aside.display()
    );
    let _ = fs::rename(path, aside);
}

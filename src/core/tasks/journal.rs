//! Task history on disk: `<data-dir>/tasks.jsonl`, one JSON Task per line, appended by a
//! dedicated thread and compacted by rewriting (temp file + rename) once it holds many
//! stale lines or bytes (SECURITY.md promise 9).
//!
//! Bounded (red team finding 7: an 820 MB journal read whole at start): compaction
//! copies the last line of each kept task from the file itself, so the thread keeps only
//! ids in memory; it runs after [`COMPACT_AFTER_APPENDS`] lines or
//! [`JOURNAL_COMPACT_AFTER_BYTES`], so the file holds at most the kept tasks plus that
//! much; start-up reads it line by line, skips lines over [`MAX_JOURNAL_LINE_BYTES`],
//! and trims every task to today's budgets.
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::model::{Task, TaskStatus};
use crate::limits::{JOURNAL_COMPACT_AFTER_BYTES, MAX_JOURNAL_LINE_BYTES, MAX_TASKS_KEPT};

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
    replace_atomically(path, |out| {
        for task in &tasks {
            kept.put(task.id.clone());
            serde_json::to_writer(&mut *out, task).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
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

/// The ids of the kept tasks, in creation order (their lines are in the file).
#[derive(Default)]
struct Kept {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Kept {
    fn put(&mut self, id: String) {
        if self.ids.insert(id.clone()) {
            self.order.push_back(id);
        }
    }

    fn forget(&mut self, id: &str) {
        if self.ids.remove(id) {
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
    let (mut appended, mut appended_bytes) = (0usize, 0usize);
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
                    kept.put(id);
                    appended += 1;
                    appended_bytes += line.len() + 1;
                }
                Record::Forget(id) => kept.forget(&id),
            }
        }
        if let Err(e) = out.flush().and_then(|()| out.get_ref().sync_data()) {
            eprintln!("taartenfabriek: warning: cannot save the task journal: {e}");
        }
        if appended >= COMPACT_AFTER_APPENDS || appended_bytes >= JOURNAL_COMPACT_AFTER_BYTES {
            (appended, appended_bytes) = (0, 0);
            match compact(&path, &kept).and_then(|()| open_append(&path)) {
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

/// Replaces the journal with what `write` writes, atomically and durably: the new file
/// is synced before the rename, and the folder after it.
fn replace_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    // A leftover from a crash may have another mode; `mode` applies to new files only.
    let _ = fs::remove_file(&tmp);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut out = BufWriter::new(file);
    write(&mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Rewrites the journal with the last line of each kept task, copied from the file in
/// two passes (where each last line is, then the copy), so no task is held in memory.
fn compact(path: &Path, kept: &Kept) -> io::Result<()> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let mut last: HashMap<String, (u64, usize)> = HashMap::new();
    let mut offset = 0u64;
    for_each_line(&mut BufReader::new(File::open(path)?), |line, len| {
        if let Ok(Id { id }) = serde_json::from_slice::<Id>(line)
            && kept.ids.contains(&id)
        {
            last.insert(id, (offset, len));
        }
        offset += len as u64 + 1;
    })?;
    let mut source = File::open(path)?;
    replace_atomically(path, |out| {
        for (at, len) in kept.order.iter().filter_map(|id| last.get(id)) {
            source.seek(SeekFrom::Start(*at))?;
            io::copy(&mut Read::by_ref(&mut source).take(*len as u64), out)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Calls `f(line, length)` for each line: its bytes without the newline, and how many
/// bytes it had. A line over [`MAX_JOURNAL_LINE_BYTES`] is passed empty, with its
/// length, and is never held whole in memory.
fn for_each_line(reader: &mut impl BufRead, mut f: impl FnMut(&[u8], usize)) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let (mut len, mut any) = (0usize, false);
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            len += part.len();
            if len <= MAX_JOURNAL_LINE_BYTES {
                line.extend_from_slice(part);
            } else {
                line.clear();
            }
            let used = part.len() + usize::from(newline.is_some());
            reader.consume(used);
            if newline.is_some() {
                break;
            }
        }
        if !any {
            return Ok(());
        }
        f(&line, len);
    }
}

/// Reads the journal: the last state of each task, oldest first, interrupted tasks
/// marked failed, at most [`MAX_TASKS_KEPT`].
fn load(path: &Path) -> Vec<Task> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            set_aside(path, &format!("it cannot be read ({e})"));
            return Vec::new();
        }
    };
    let mut latest: HashMap<String, Task> = HashMap::new();
    let (mut good, mut bad) = (0usize, 0usize);
    let read = for_each_line(&mut BufReader::new(file), |line, len| {
        let blank = len == 0 || (!line.is_empty() && line.iter().all(u8::is_ascii_whitespace));
        if blank {
            return;
        }
        match serde_json::from_slice::<Task>(line) {
            Ok(mut task) => {
                good += 1;
                // Written by an older server with looser limits, perhaps.
                task.trim_to_budgets();
                latest.insert(task.id.clone(), task);
            }
            // Unparsable, or too long to read (passed empty).
            Err(_) => bad += 1,
        }
    });
    if let Err(e) = read {
        set_aside(path, &format!("it cannot be read ({e})"));
        return Vec::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tasks::Action;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tf-journal-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("tasks.jsonl")
    }

    fn task(id: &str) -> Task {
        Task::new(id.into(), Action::PullVm, Some("r".into()), 1.0)
    }

    #[test]
    fn compaction_copies_the_last_line_of_each_kept_task_from_the_file() {
        let path = temp("compact");
        let mut text = String::new();
        for (id, status) in [("a", "pending"), ("b", "pending"), ("a", "x"), ("c", "y")] {
            let mut t = task(id);
            t.stage = Some(status.into());
            text.push_str(&serde_json::to_string(&t).unwrap());
            text.push('\n');
        }
        fs::write(&path, text).unwrap();
        let mut kept = Kept::default();
        kept.put("a".into());
        kept.put("c".into());
        compact(&path, &kept).unwrap();
        let lines: Vec<Task> = fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].id.as_str(), lines[0].stage.as_deref()),
            ("a", Some("x"))
        );
        assert_eq!(
            (lines[1].id.as_str(), lines[1].stage.as_deref()),
            ("c", Some("y"))
        );
    }

    #[test]
    fn a_line_too_long_to_read_is_skipped_and_the_rest_loaded() {
        let path = temp("long");
        let mut text = serde_json::to_string(&task("a")).unwrap();
        text.push('\n');
        text.push_str(&"x".repeat(MAX_JOURNAL_LINE_BYTES + 10));
        text.push('\n');
        text.push_str(&serde_json::to_string(&task("b")).unwrap());
        fs::write(&path, text).unwrap();
        let tasks = load(&path);
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"a") && ids.contains(&"b"));
    }
}

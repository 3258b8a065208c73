//! Task history that stays true (issue 11, "History" and "One server per data folder"):
//! a task refused with 429 never reaches the journal, the journal is 0600, and a second
//! server on the same data folder is refused before it touches anything. Also
//! `taartenfabriek url`, which reads what the running server left in its folder.

mod sec_support;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use sec_support::{setup_with_timeout, within};
use support::{TestServer, eventually};

/// Jobs the pool queues before it answers 429 (`limits::MAX_QUEUED_TASKS`), plus the one
/// that runs.
const ACCEPTED: usize = 256 + 1;

fn journal_ids(path: &std::path::Path) -> std::collections::HashSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect()
}

/// Regression (red team finding 5): refused tasks were journaled as pending before the
/// queue refused them, and came back after a restart as "interrupted" ghosts.
#[test]
fn tasks_refused_with_429_are_absent_after_a_restart() {
    let mut server = TestServer::start_with(setup_with_timeout(120));
    server.set_faults("hang pull\n");
    let (mut accepted, mut refused) = (Vec::new(), 0);
    // One reference: one pull hangs, every later one waits in the queue behind it.
    for _ in 0..ACCEPTED + 20 {
        let reply = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/hang:1"}"#);
        match reply.status {
            202 => accepted.push(reply.json()["id"].as_str().unwrap().to_string()),
            429 => refused += 1,
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    assert_eq!(accepted.len(), ACCEPTED);
    assert_eq!(refused, 20);
    let path = server.data_dir().join("tasks.jsonl");
    eventually("every accepted task is journaled", || {
        let ids = journal_ids(&path);
        accepted.iter().all(|id| ids.contains(id)).then_some(())
    });
    assert_eq!(
        journal_ids(&path).len(),
        ACCEPTED,
        "nothing but accepted tasks in the journal"
    );
    let dir = server.kill();
    sec_support::kill_sim_leftovers_in(dir.path());
    let server = TestServer::start_in(dir, support::Setup::default());
    let tasks = server.get("/api/tasks?limit=500").json();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(
        tasks.len(),
        ACCEPTED,
        "no ghost of a refused task came back"
    );
    assert!(
        tasks
            .iter()
            .all(|t| accepted.iter().any(|id| t["id"] == id.as_str()))
    );
}

#[test]
fn the_journal_is_0600_even_when_it_was_looser() {
    let mut server = TestServer::start();
    let task = server.start_pull("ghcr.io/a/b:1");
    server.wait_task(&task);
    let path = server.data_dir().join("tasks.jsonl");
    let mode = || std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(), 0o600);
    let dir = server.kill();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start_in(dir, support::Setup::default());
    assert_eq!(mode(), 0o600, "repaired at start");
    assert_eq!(server.get(&format!("/api/tasks/{task}")).status, 200);
}

/// Regression (ARCHITECTURE.md M3): a second server rewrote the first one's journal at
/// start, and the first then wrote to an unlinked file.
#[test]
fn a_second_server_on_the_same_data_folder_is_refused_and_changes_nothing() {
    let server = TestServer::start();
    let task = server.start_pull("ghcr.io/a/b:1");
    server.wait_task(&task);
    let journal = server.data_dir().join("tasks.jsonl");
    eventually("the journal has the task", || {
        journal_ids(&journal).contains(&task).then_some(())
    });
    let before = std::fs::read(&journal).unwrap();
    let inode = || std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&journal).unwrap());
    let inode_before = inode();
    let mut second = Command::new(support::server_bin())
        .args(["--port", "0", "--refresh-interval", "0", "--data-dir"])
        .arg(server.data_dir())
        .arg("--tart")
        .arg(support::sim_bin())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        within(support::EVENTUALLY, || second.try_wait().unwrap().is_some()),
        "the second server exits"
    );
    let out = second.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another taartenfabriek is already serving the data folder"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    assert_eq!(inode(), inode_before, "the journal was not rewritten");
    // The first server still journals to the file that is there.
    let later = server.start_pull("ghcr.io/a/c:1");
    server.wait_task(&later);
    eventually("the first server's new task is in the journal", || {
        journal_ids(&journal).contains(&later).then_some(())
    });
}

fn url_command(data_dir: &std::path::Path) -> std::process::Output {
    let mut child = Command::new(support::server_bin())
        .arg("url")
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        within(support::EVENTUALLY, || child.try_wait().unwrap().is_some()),
        "`url` returns"
    );
    child.wait_with_output().unwrap()
}

#[test]
fn the_url_command_prints_the_running_servers_address_with_its_token() {
    let mut server = TestServer::start();
    let out = url_command(&server.data_dir());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("http://127.0.0.1:{}/#token={}", server.port(), server.token)
    );
    let info = server.data_dir().join("server.json");
    assert_eq!(
        std::fs::metadata(&info).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let dir = server.kill();
    // Killed: server.json is left behind, but nothing holds the lock.
    let out = url_command(&dir.path().join("data"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no server is running"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "no token printed for a dead server");
}

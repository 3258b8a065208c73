//! SECURITY.md promise 8 through the real server and real child processes: a `tart` that
//! hangs is killed with its whole process group at the timeout, one that floods output
//! is capped and its task still ends, one that fails leaves its exit code and stderr in
//! the task, a missing or non-executable one fails with a clear message, a grandchild
//! holding the pipes cannot hang a task, and no child is ever left a zombie.
//!
//! The tart timeout is shortened to 1 s with `--tart-timeout` (see `config::Timeouts`).

mod sec_support;
mod support;

use std::os::unix::fs::PermissionsExt;

use sec_support::{alive, kill_sim_leftovers, pid, processes_with_cmdline, setup_with_timeout};
use support::{Setup, TestServer, eventually};

fn task_id(resp: &support::Response) -> String {
    assert_eq!(resp.status, 202, "{}", resp.text());
    resp.json()["id"].as_str().unwrap().to_string()
}

fn assert_no_zombies(server: &TestServer) {
    let pid = pid(server);
    eventually("no zombie children", || {
        sec_support::zombies(pid).is_empty().then_some(())
    });
}

/// The pid the simulator logged for the first invocation of `command`.
fn sim_pid(server: &TestServer, command: &str) -> u32 {
    eventually(&format!("tart {command} started"), || {
        server
            .sim_records()
            .iter()
            .find(|r| r["event"] == "start" && r["argv"][0] == command)
            .and_then(|r| r["pid"].as_u64())
            .map(|p| p as u32)
    })
}

#[test]
fn a_hanging_tart_is_killed_at_the_timeout_and_the_task_fails() {
    let server = TestServer::start_with(setup_with_timeout(1));
    server.create_vm("vm1");
    for (rule, action, path, body) in [
        ("hang delete", "delete", "/api/vms/vm1/delete", "{}"),
        (
            "hang pull",
            "pull",
            "/api/vms/pull",
            r#"{"oci_url":"ghcr.io/a/b:1"}"#,
        ),
    ] {
        server.set_faults(&format!("{rule}\n"));
        let id = task_id(&server.post(path, body));
        let task = server.wait_task(&id);
        assert_eq!(task["status"], "failed", "{task}");
        let error = task["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("tart {action} failed"))
                && error.contains("timed out after 1 s and was killed"),
            "{error}"
        );
        assert_eq!(
            task["exit_code"],
            serde_json::Value::Null,
            "killed by a signal"
        );
        let child = sim_pid(&server, action);
        eventually("the hung tart is gone", || (!alive(child)).then_some(()));
    }
    // A hanging query: the request answers (502) instead of hanging with it.
    server.set_faults("hang list\n");
    let refresh = server.post("/api/vms/refresh", "{}");
    assert_eq!(refresh.status, 502, "{}", refresh.text());
    assert!(refresh.detail().as_str().unwrap().contains("timed out"));
    server.set_faults("");
    assert_eq!(server.get("/api/health").status, 200);
    assert_no_zombies(&server);
}

#[test]
fn the_timeout_kills_the_whole_process_group() {
    // A fake tart whose `pull` starts a background child in its own process group and
    // then hangs; everything else goes to the simulator.
    let dir = support::TempDir::new("pgroup");
    let pids = dir.path().join("pids");
    let script = dir.path().join("tart");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = pull ]; then\n  echo $$ > {pids}.tmp\n  sleep 301 &\n  \
             echo $! >> {pids}.tmp\n  mv {pids}.tmp {pids}\n  sleep 302\nfi\nexec {sim} \"$@\"\n",
            pids = pids.display(),
            sim = support::sim_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut setup = setup_with_timeout(1);
    setup.tart = Some(script);
    let server = TestServer::start_with(setup);
    let id = task_id(&server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#));
    let task = server.wait_task(&id);
    assert_eq!(task["status"], "failed");
    assert!(task["error"].as_str().unwrap().contains("timed out"));
    let group: Vec<u32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(group.len(), 2);
    for pid in group {
        eventually(&format!("process {pid} of the group is gone"), || {
            (!alive(pid)).then_some(())
        });
    }
    assert_no_zombies(&server);
}

#[test]
fn a_flooding_tart_is_capped_and_its_task_still_ends() {
    let server = TestServer::start_with(setup_with_timeout(20));
    // ~10 MB on each of stdout and stderr, beyond the 4 MiB capture cap.
    server.set_faults("flood pull 200000\n");
    let id = task_id(&server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#));
    let task = server.wait_task(&id);
    assert_eq!(task["status"], "completed", "{}", task["error"]);
    // The newest lines are kept, at most 2,000 and 64 KiB (MAX_TASK_LOG_BYTES).
    let logs = task["logs"].as_array().unwrap();
    let bytes: usize = logs.iter().map(|l| l.as_str().unwrap().len()).sum();
    assert!(
        logs.len() <= 2_000 && bytes <= 64 * 1024,
        "{} lines, {bytes} bytes",
        logs.len()
    );
    assert!(task["logs_dropped"].as_u64().unwrap() > 190_000);
    let stderr = task["stderr"].as_str().unwrap();
    assert!(
        stderr.len() <= 16 * 1024,
        "stderr tail capped: {}",
        stderr.len()
    );
    assert!(stderr.contains("flood line"));
    assert_eq!(server.get("/api/health").status, 200);
    assert_no_zombies(&server);
}

#[test]
fn a_failing_tart_leaves_exit_code_stderr_and_error_in_the_task() {
    let server = TestServer::start();
    server.create_vm("vm1");
    server.set_faults(
        "fail delete:vm1 3 Error: the disk is on fire\nfail pull 2 Error: no such image\n",
    );
    let task = server.wait_task(&task_id(&server.post("/api/vms/vm1/delete", "{}")));
    assert_eq!(task["status"], "failed");
    assert_eq!(task["exit_code"], 3);
    assert!(
        task["stderr"]
            .as_str()
            .unwrap()
            .contains("the disk is on fire")
    );
    assert_eq!(
        task["error"],
        "tart delete failed (exit code 3): Error: the disk is on fire"
    );
    assert_eq!(task["command"][0], support::sim_bin().display().to_string());
    let task = server.wait_task(&task_id(
        &server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#),
    ));
    assert_eq!(task["status"], "failed");
    assert_eq!(task["exit_code"], 2);
    assert!(task["error"].as_str().unwrap().contains("no such image"));
    assert_no_zombies(&server);
}

#[test]
fn a_missing_or_non_executable_tart_fails_with_a_clear_message() {
    let dir = support::TempDir::new("notart");
    let not_exec = dir.path().join("tart");
    std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).unwrap();
    for (tart, why) in [
        (dir.path().join("missing"), "No such file"),
        (not_exec.clone(), "Permission denied"),
        (dir.path().to_path_buf(), "Permission denied"),
    ] {
        let server = TestServer::start_with(Setup {
            tart: Some(tart.clone()),
            ..Setup::default()
        });
        let version = server.get("/api/tart/version");
        assert_eq!(version.status, 503, "{}", version.text());
        let detail = version.detail();
        let detail = detail.as_str().unwrap();
        assert!(
            detail.starts_with("tart not found: cannot run tart (") && detail.contains(why),
            "{tart:?}: {detail}"
        );
        let task = server.wait_task(&task_id(
            &server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#),
        ));
        assert_eq!(task["status"], "failed");
        let error = task["error"].as_str().unwrap();
        assert!(
            error.contains("cannot run tart") && error.contains(why),
            "{tart:?}: {error}"
        );
        assert_eq!(server.get("/api/health").status, 200);
    }
}

#[test]
fn a_grandchild_holding_the_pipes_cannot_hang_a_task() {
    let server = TestServer::start_with(setup_with_timeout(20));
    server.create_vm("vm1");
    // The simulator starts `sleep 29` in its own process group with our pipes, then
    // deletes the VM and exits 0.
    server.set_faults("grandchild delete 29\n");
    let task = server.wait_task(&task_id(&server.post("/api/vms/vm1/delete", "{}")));
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["exit_code"], 0);
    let sleepers = processes_with_cmdline(&["sleep", "29"]);
    assert!(
        !sleepers.is_empty(),
        "the task ended while the grandchild still held the pipes"
    );
    assert_eq!(server.get("/api/health").status, 200);
    assert_no_zombies(&server);
    for pid in sleepers {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
}

#[test]
fn started_vms_and_every_call_are_reaped() {
    let server = TestServer::start();
    for name in ["z1", "z2", "z3"] {
        server.create_vm(name);
    }
    let mut ids = Vec::new();
    for name in ["z1", "z2", "z3"] {
        ids.push(task_id(
            &server.post(&format!("/api/vms/{name}/start"), "{}"),
        ));
    }
    for id in &ids {
        assert_eq!(server.wait_task(id)["status"], "completed");
    }
    let mut stops = Vec::new();
    for name in ["z1", "z2", "z3"] {
        stops.push(task_id(
            &server.post(&format!("/api/vms/{name}/stop"), "{}"),
        ));
    }
    for id in &stops {
        assert_eq!(server.wait_task(id)["status"], "completed");
    }
    // The `tart run` processes exited when their VMs stopped: reaped, not zombies.
    let pid = pid(&server);
    eventually("every tart run was reaped", || {
        let kids = sec_support::children(pid);
        (kids.is_empty()).then_some(())
    });
    assert_no_zombies(&server);
    kill_sim_leftovers(&server);
}

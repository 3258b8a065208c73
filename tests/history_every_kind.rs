//! Regression: a task is journaled once its job was queued (`TaskStore::accept`), and
//! only the first four actions' submit called it, so a start, a rename (every lifecycle
//! operation), a graceful stop or a cluster task vanished after a restart (404). Every
//! kind of task must come back.

mod support;

use support::{Setup, TestServer, eventually};

#[test]
fn starts_and_lifecycle_tasks_come_back_after_a_restart() {
    let mut server = TestServer::start();
    server.create_vm("vm1");
    let rename = server.post("/api/vms/vm1/rename", r#"{"new_name":"vm2"}"#);
    assert_eq!(rename.status, 202, "{}", rename.text());
    let rename_id = rename.json()["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait_task(&rename_id)["status"], "completed");
    let start = server.post("/api/vms/vm2/start", "{}");
    assert_eq!(start.status, 202, "{}", start.text());
    let start_id = start.json()["id"].as_str().unwrap().to_string();
    server.wait_task(&start_id);
    let journal = server.data_dir().join("tasks.jsonl");
    eventually("both tasks' ends are journaled", || {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        (text.contains(&rename_id) && text.contains(&start_id)).then_some(())
    });
    let dir = server.kill();
    let server = TestServer::start_in(dir, Setup::default());
    for id in [&rename_id, &start_id] {
        let task = server.get(&format!("/api/tasks/{id}"));
        assert_eq!(task.status, 200, "task {id} came back: {}", task.text());
    }
}

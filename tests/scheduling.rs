//! Scheduling through the real server and tart-sim: short actions never wait behind
//! long transfers (lanes).

mod support;

use support::{TestServer, eventually};

/// Regression (review M2): four task workers were shared by everything, so a stop
/// waited behind four long pulls (with real images, for hours). The pulls here hang
/// until the test ends; the stop must complete meanwhile.
#[test]
fn a_stop_of_a_stopped_vm_completes_while_four_long_pulls_run() {
    let server = TestServer::start();
    server.create_vm("vm1");
    server.set_faults("hang pull");
    let pulls: Vec<String> = (1..=4)
        .map(|i| server.start_pull(&format!("ghcr.io/org/image:{i}")))
        .collect();
    eventually("the four pulls run", || {
        pulls
            .iter()
            .all(|id| server.get(&format!("/api/tasks/{id}")).json()["status"] == "running")
            .then_some(())
    });
    let stop = server.post("/api/vms/vm1/stop", "{}");
    assert_eq!(stop.status, 202, "{}", stop.text());
    // `wait_task` is the watchdog: the stop must end while the pulls hang. tart answers
    // a stop of a stopped VM with exit 2, so the task ends failed with tart's word.
    let task = server.wait_task(stop.json()["id"].as_str().unwrap());
    assert_eq!(
        task["error"],
        "tart stop failed (exit code 2): VM \"vm1\" is not running"
    );
    for id in &pulls {
        let pull = server.get(&format!("/api/tasks/{id}")).json();
        assert_eq!(pull["status"], "running", "the pulls still run: {pull}");
    }
}

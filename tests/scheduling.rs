//! Scheduling through the real server and tart-sim: short actions never wait behind
//! long transfers (lanes), and no `tart` call holds an HTTP worker, so health, the page
//! and cached reads answer while `tart` hangs.

mod support;

use support::{Setup, TestServer, eventually};

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

/// Regression (review M1): a refresh ran `tart list` on the HTTP worker that asked for
/// it, so sixteen refreshes during a hung `tart list` held every worker and even
/// `/api/health` went unanswered. Now the refresher thread makes the call and requests
/// wait for it a bounded time. The hang outlasts the test (`--tart-timeout 300`); each
/// client's read timeout (`support::IO_TIMEOUT`, 20 s) is the watchdog.
#[test]
fn health_the_page_and_the_cached_list_answer_while_tart_list_hangs() {
    let mut setup = Setup::default();
    setup.args.extend(["--tart-timeout".into(), "300".into()]);
    let server = TestServer::start_with(setup);
    server.create_vm("vm1");
    server.refresh();
    server.set_faults("hang list");
    let server = &server;
    std::thread::scope(|s| {
        // More refreshes and actions on unknown names than there are HTTP workers.
        let mut waiting = Vec::new();
        for i in 0..20 {
            waiting.push(s.spawn(move || {
                if i % 2 == 0 {
                    server.post("/api/vms/refresh", "")
                } else {
                    server.post(&format!("/api/vms/new-vm-{i}/stop"), "{}")
                }
            }));
        }
        for _ in 0..3 {
            let health = server.get("/api/health");
            assert_eq!(health.status, 200, "{}", health.text());
            assert_eq!(server.get("/").status, 200);
            let vms = server.get("/api/vms");
            assert_eq!(vms.status, 200);
            assert_eq!(vms.json()[0]["name"], "vm1", "the cached list");
        }
        for request in waiting {
            let reply = request.join().expect("answered before the watchdog");
            match reply.status {
                // A refresh that could not finish: the cached list, marked.
                200 => {
                    assert_eq!(reply.header("x-refreshing"), Some("true"));
                    assert_eq!(reply.json()[0]["name"], "vm1");
                }
                // An action on a name the cache does not know, after a bounded wait.
                404 => assert!(reply.text().contains("new-vm-"), "{}", reply.text()),
                other => panic!("unexpected {other}: {}", reply.text()),
            }
        }
    });
}

/// `GET …/config` asks `tart get` when the VM's details are not cached (always, with
/// `force_refresh`). That call runs beside the HTTP worker, which waits for it a bounded
/// time: while `tart get` hangs, more such requests than there are workers each get a
/// 503 that says why, and health and the cached list answer meanwhile. The hung calls
/// end at the tart timeout (8 s, longer than the route's 5 s wait); the route answers
/// again after it.
#[test]
fn a_config_whose_tart_get_hangs_is_a_503_and_holds_no_worker() {
    let mut setup = Setup::default();
    setup.args.extend(["--tart-timeout".into(), "8".into()]);
    let server = TestServer::start_with(setup);
    server.create_vm("vm1");
    server.refresh();
    server.set_faults("hang get");
    let server = &server;
    std::thread::scope(|s| {
        let waiting: Vec<_> = (0..20)
            .map(|_| s.spawn(move || server.get("/api/vms/vm1/config?force_refresh=true")))
            .collect();
        for _ in 0..3 {
            assert_eq!(server.get("/api/health").status, 200);
            assert_eq!(server.get("/api/vms").json()[0]["name"], "vm1");
        }
        for request in waiting {
            let reply = request.join().expect("answered before the watchdog");
            assert_eq!(reply.status, 503, "{}", reply.text());
            assert!(
                reply.text().contains("slow to describe"),
                "{}",
                reply.text()
            );
        }
    });
    // Once the hung calls were killed and tart answers again, so does the route.
    server.set_faults("");
    eventually("the config answers again", || {
        let reply = server.get("/api/vms/vm1/config?force_refresh=true");
        (reply.status == 200).then_some(())
    });
}

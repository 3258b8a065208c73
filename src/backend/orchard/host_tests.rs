//! `OrchardHost` as a `Backend`, against a canned controller (a loopback listener that
//! answers each route with fixed JSON): the trait's reads, the rules `admits` applies,
//! and what `execute` refuses. The whole flow against orchard-sim is in
//! `tests/orchard_backend.rs` and `tests/orchard_tasks.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::*;
use crate::backend::host::{Cancel, Provision};
use crate::backend::orchard::Endpoint;

/// A controller that answers `METHOD /path` (query ignored) with a status and body, and
/// records every request line it got.
struct Canned {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

fn canned(routes: Vec<(&'static str, u16, Value)>) -> Canned {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut words = request_line.split_whitespace();
            let (method, target) = (words.next().unwrap(), words.next().unwrap());
            let path = target.split('?').next().unwrap();
            let key = format!("{method} {path}");
            log.lock().unwrap().push(key.clone());
            let (status, answer) = routes
                .iter()
                .find(|(route, _, _)| *route == key)
                .map_or((404, String::new()), |(_, s, b)| (*s, b.to_string()));
            let reply = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    Canned { url, seen }
}

fn host_at(url: &str) -> OrchardHost {
    OrchardHost::new(OrchardClient::new(
        Endpoint::parse(url, None, None, None, false).unwrap(),
    ))
}

fn vm(name: &str, status: &str, power: &str) -> Value {
    json!({
        "name": name, "image": "ghcr.io/x/y:1", "status": status, "powerState": power,
        "worker": "w1", "os": "darwin", "assignedCPU": 4, "assignedMemory": 8192,
        "diskSize": 50, "uid": format!("uid-{name}"),
    })
}

/// Records notes; never cancelled, never shutting down.
#[derive(Default)]
struct Notes(Vec<String>);

impl OpSink for Notes {
    fn command(&mut self, _argv: Vec<String>) {}
    fn lines(&mut self, lines: Vec<String>, _skipped: u64) {
        self.0.extend(lines);
    }
    fn note(&mut self, line: String) {
        self.0.push(line);
    }
    fn progress(&mut self, _percent: Option<f64>) {}
    fn stage(&mut self, _stage: Option<&str>) {}
    fn exited(&mut self, _code: Option<i32>, _stderr: &str) {}
    fn cancel(&self) -> Option<&Cancel> {
        None
    }
    fn shutting_down(&self) -> bool {
        false
    }
}

#[test]
fn reads_come_from_the_controller_and_the_polled_lists() {
    let ctl = canned(vec![
        ("GET /v1/vms", 200, json!([vm("a", "running", "running")])),
        ("GET /v1/workers", 200, json!([])),
        ("GET /v1/vms/a", 200, vm("a", "running", "running")),
        ("GET /v1/vms/a/ip", 200, json!({"ip": "192.168.64.2"})),
        ("GET /v1/controller/info", 200, json!({"version": "0.55.0"})),
    ]);
    let host = host_at(&ctl.url);
    assert_eq!(host.kind(), "orchard");
    assert_eq!(
        host.capabilities(),
        Capabilities {
            suspend: false,
            rename: false,
            settings: false,
            clone: false,
            console: false
        }
    );
    assert!(!host.name_in_use("a"), "nothing polled yet");
    assert_eq!(host.list(), Ok(Vec::new()));
    host.cache.refresh(&host.client).unwrap();
    let listed = host.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].state.as_deref()),
        ("a", Some("running"))
    );
    assert_eq!(listed[0].disk_gb, Some(50));
    assert!(host.name_in_use("a"));
    assert_eq!(
        (host.disk_gb("a"), host.guest_os("a")),
        (Some(50), Some("darwin".into()))
    );

    let details = host.details("a").unwrap();
    assert_eq!(
        (details.cpu, details.memory_mib, details.state.as_deref()),
        (Some(4), Some(8192), Some("running"))
    );
    assert_eq!(details.raw["worker"], "w1");
    assert_eq!(
        host.details("nope"),
        Err(HostError::NotFound(
            "VM \"nope\" not found on the Orchard cluster".into()
        ))
    );
    assert_eq!(host.ip("a"), Ok(Some("192.168.64.2".into())));
    assert_eq!(host.known_version(), None, "not asked yet");
    assert_eq!(host.version().unwrap().version, "0.55.0");
    assert_eq!(host.known_version().unwrap().unwrap().version, "0.55.0");
    assert_eq!(host.state_now("a"), None, "only the controller can tell");
}

#[test]
fn admits_applies_orchards_rules_before_a_task_is_made() {
    let ctl = canned(vec![
        ("GET /v1/vms", 200, json!([vm("up", "running", "running")])),
        ("GET /v1/workers", 200, json!([])),
        ("GET /v1/vms/up", 200, vm("up", "running", "running")),
        ("GET /v1/vms/off", 200, vm("off", "running", "stopped")),
        ("GET /v1/vms/bad", 200, vm("bad", "failed", "running")),
    ]);
    let host = host_at(&ctl.url);
    host.cache.refresh(&host.client).unwrap();
    let stop = |name: &str| OpRequest::Stop { name: name.into() };
    assert_eq!(host.admits(&stop("up")), Ok(()));
    assert_eq!(
        host.admits(&stop("off")),
        Err(HostError::Refused(
            "VM \"off\" cannot be stopped: it is running with power state stopped".into()
        ))
    );
    assert!(matches!(
        host.admits(&stop("bad")),
        Err(HostError::Refused(_))
    ));
    assert!(matches!(
        host.admits(&stop("nope")),
        Err(HostError::NotFound(_))
    ));
    let delete = |name: &str| OpRequest::Delete { name: name.into() };
    assert_eq!(host.admits(&delete("off")), Ok(()), "any state may go");
    assert!(matches!(
        host.admits(&delete("nope")),
        Err(HostError::NotFound(_))
    ));
    let provision = |name: &str| {
        OpRequest::Provision(Provision {
            name: name.into(),
            image: "ghcr.io/x/y:1".into(),
            cpu: None,
            memory_mib: None,
            disk_gb: None,
            startup_script: None,
        })
    };
    assert_eq!(
        host.admits(&provision("up")),
        Err(HostError::Refused(
            "a VM named \"up\" already exists on the Orchard cluster".into()
        ))
    );
    assert_eq!(host.admits(&provision("new")), Ok(()));
    let start = OpRequest::Start {
        name: "off".into(),
        options: Default::default(),
    };
    assert_eq!(
        host.admits(&start),
        Err(HostError::Refused(
            "an Orchard cluster cannot start a VM again (its power state only goes one way)".into()
        ))
    );
}

#[test]
fn execute_deletes_refuses_what_orchard_cannot_and_reads_the_lists_again() {
    let ctl = canned(vec![
        ("DELETE /v1/vms/gone", 200, json!({})),
        ("GET /v1/vms", 200, json!([])),
        ("GET /v1/workers", 200, json!([])),
    ]);
    let host = host_at(&ctl.url);
    let mut notes = Notes::default();
    let done = host.execute(
        OpRequest::Delete {
            name: "gone".into(),
        },
        &mut notes,
    );
    assert_eq!(done, Ok(Done::Ok));
    assert_eq!(notes.0, [format!("DELETE {}/v1/vms/gone", ctl.url)]);
    let rename = OpRequest::Rename {
        name: "a".into(),
        new_name: "b".into(),
    };
    assert_eq!(
        host.execute(rename, &mut notes),
        Err(Failure::Failed(
            "an Orchard cluster cannot rename a VM".into()
        ))
    );
    let seen = ctl.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().filter(|r| *r == "GET /v1/vms").count(),
        2,
        "each execute ends with a read of the lists: {seen:?}"
    );
}

#[test]
fn an_unreachable_controller_is_unavailable_not_missing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let host = host_at(&url);
    let down = host.admits(&OpRequest::Delete { name: "a".into() });
    assert!(
        matches!(&down, Err(HostError::Unavailable(m)) if m.starts_with("cannot reach the Orchard controller")),
        "{down:?}"
    );
    assert!(matches!(host.details("a"), Err(HostError::Unavailable(_))));
}

//! SECURITY.md promises 6 and 10 through the real server: VM names and OCI references
//! outside the documented grammar, bodies that are not what a route takes, and malformed
//! requests of every kind get a 4xx JSON answer, `tart` never runs, and the server keeps
//! serving.

mod sec_support;
mod support;

use sec_support::{assert_nothing_ran, host, quiet};
use support::{Response, TestServer};

/// Percent-encoded path segments that must never reach `tart` as a VM name: what could
/// be read as an option or a path, and control characters (api-next.md §1).
const BAD_NAMES: &[(&str, &str)] = &[
    ("-rf", "leading dash"),
    ("--help", "an option"),
    ("-", "a lone dash"),
    ("%2Drf", "encoded leading dash"),
    (".", "dot"),
    ("..", "dot-dot"),
    ("%2E%2E", "encoded dot-dot"),
    ("vm1%2F..%2Fx", "encoded slash"),
    ("..%2F..%2Fetc", "encoded traversal"),
    ("%2Fetc%2Fpasswd", "absolute path"),
    ("a%0Ab", "newline"),
    ("a%0Db", "carriage return"),
    ("a%00b", "NUL"),
    ("a%1Bb", "escape"),
    ("a%7F", "DEL"),
    ("a%09b", "tab"),
];

/// Names tart accepts and so do we: shell-looking punctuation, spaces, any Unicode. They
/// only ever reach tart as one argv element after `--`.
const ODD_BUT_VALID_NAMES: &[&str] = &[
    ".hidden",
    "a%5Cb",
    "a%3Brm%20-rf%20~",
    "%24(id)",
    "%60id%60",
    "a%7Cb",
    "a%26b",
    "a%3Eb",
    "a%20b",
    "%20vm",
    "a*",
    "%C3%A9t%C3%A9",
    "vm%E2%80%8B",
    "%EF%BC%8Dvm",
    "_x",
];

fn assert_json_4xx(resp: &Response, status: u16, case: &str) {
    assert_eq!(resp.status, status, "{case}: {}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{case}"
    );
    assert!(
        resp.json().get("detail").is_some(),
        "{case}: {}",
        resp.text()
    );
}

#[test]
fn bad_vm_names_are_refused_and_run_nothing() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let baseline = quiet(&server);
    let long = "a".repeat(256);
    let names: Vec<(String, &str)> = BAD_NAMES
        .iter()
        .map(|(n, w)| (n.to_string(), *w))
        .chain([(long, "256 bytes")])
        .collect();
    for (name, why) in &names {
        for action in ["start", "stop", "delete"] {
            let resp = server.post(&format!("/api/vms/{name}/{action}"), "{}");
            let case = format!("{action} {name:?} ({why})");
            // No VM can have such a name: 404 (api-next.md §1), saying which rule.
            assert_json_4xx(&resp, 404, &case);
            let detail = resp.detail();
            let detail = detail.as_str().unwrap();
            assert!(
                detail.contains("VM name") || detail.contains("neither a valid VM name"),
                "{case}: {detail}"
            );
        }
        let resp = server.get(&format!("/api/vms/{name}/config"));
        assert_json_4xx(&resp, 404, &format!("config {name:?} ({why})"));
        let resp = server.get(&format!("/api/vms/{name}"));
        assert_json_4xx(&resp, 404, &format!("get {name:?} ({why})"));
    }
    assert_nothing_ran(&server, baseline);
    // The longest allowed name and the odd-but-valid ones are names: 404 after a refresh.
    let ok = "a".repeat(255);
    for name in ODD_BUT_VALID_NAMES.iter().copied().chain([ok.as_str()]) {
        let resp = server.post(&format!("/api/vms/{name}/start"), "{}");
        assert_json_4xx(&resp, 404, name);
        let detail = resp.detail();
        assert!(
            detail.as_str().unwrap().contains("not found"),
            "{name}: {detail}"
        );
    }
}

#[test]
fn invalid_utf8_in_the_path_is_a_400() {
    let server = TestServer::start();
    let baseline = quiet(&server);
    for path in [
        "/api/vms/%ff/start",
        "/api/vms/%zz/start",
        "/api/vms/%/start",
    ] {
        let resp = server.post(path, "{}");
        assert_json_4xx(&resp, 400, path);
        assert_eq!(resp.detail(), "malformed request path");
    }
    assert_nothing_ran(&server, baseline);
}

#[test]
fn bad_oci_references_are_422_and_run_nothing() {
    let server = TestServer::start();
    let baseline = quiet(&server);
    let long = format!("ghcr.io/org/{}", "a".repeat(510));
    let refs: Vec<(String, &str)> = [
        ("-ghcr.io/a/b", "leading dash"),
        ("--insecure", "an option"),
        ("ghcr.io/-a/b", "dash after slash"),
        ("ubuntu", "no registry"),
        ("debian:latest", "no registry, tag"),
        ("https://ghcr.io/a/b", "a scheme"),
        ("ghcr.io/a;rm -rf ~", "shell"),
        ("ghcr.io/a/b:$(id)", "substitution in a tag"),
        ("ghcr.io/a/b`id`", "backticks"),
        ("ghcr.io/a b", "space"),
        ("ghcr.io/Org/Image", "uppercase repository (OCI)"),
        ("ghcr.io/a__b/c", "double separator (tart's grammar)"),
        ("ghcr.io/a\nb", "newline"),
        ("ghcr.io/a\u{0}b", "NUL"),
        ("ghcr.io/../etc", "dot-dot"),
        ("ghcr.io/a/..", "trailing dot-dot"),
        ("ghcr.io//a", "empty component"),
        ("ghcr.io/é/b", "non-ASCII"),
        ("ghcr.io/a/b:", "empty tag"),
        ("ghcr.io/a/b:-x", "tag with leading dash"),
        ("ghcr.io/a@sha256:abc", "short digest"),
        ("ghcr.io:99x/a", "bad port"),
        ("", "empty"),
    ]
    .iter()
    .map(|(r, w)| (r.to_string(), *w))
    .chain([(long, "over-long")])
    .collect();
    for (reference, why) in &refs {
        let body = serde_json::json!({ "oci_url": reference }).to_string();
        let resp = server.post("/api/vms/pull", &body);
        let case = format!("pull {reference:?} ({why})");
        assert_json_4xx(&resp, 422, &case);
        let detail = &resp.detail()[0];
        assert_eq!(detail["type"], "value_error", "{case}: {detail}");
        assert_eq!(
            detail["loc"],
            serde_json::json!(["body", "oci_url"]),
            "{case}"
        );
        assert!(detail["msg"].as_str().unwrap().starts_with("Value error, "));
    }
    assert_nothing_ran(&server, baseline);
}

#[test]
fn bodies_of_the_wrong_shape_are_422_in_fastapis_words_and_run_nothing() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let baseline = quiet(&server);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep = &deep[..60_000]; // under the body limit, far over serde's nesting limit
    let cases: Vec<(&str, &str, &str)> = vec![
        ("/api/vms/pull", "{", "json_invalid"),
        ("/api/vms/pull", "{\"oci_url\": ", "json_invalid"),
        ("/api/vms/pull", "nul", "json_invalid"),
        ("/api/vms/pull", "\u{feff}{}", "json_invalid"),
        (
            "/api/vms/pull",
            "{\"oci_url\": \"\\ud800\"}",
            "json_invalid",
        ),
        ("/api/vms/pull", deep, "json_invalid"),
        ("/api/vms/pull", "[]", "model_attributes_type"),
        ("/api/vms/pull", "\"ghcr.io/a/b\"", "model_attributes_type"),
        ("/api/vms/pull", "42", "model_attributes_type"),
        ("/api/vms/pull", "null", "model_attributes_type"),
        ("/api/vms/pull", "{}", "missing"),
        ("/api/vms/pull", "", "missing"),
        ("/api/vms/pull", "   ", "missing"),
        ("/api/vms/pull", "{\"url\": \"ghcr.io/a/b\"}", "missing"),
        ("/api/vms/pull", "{\"oci_url\": 5}", "string_type"),
        ("/api/vms/pull", "{\"oci_url\": null}", "string_type"),
        (
            "/api/vms/pull",
            "{\"oci_url\": [\"ghcr.io/a/b\"]}",
            "string_type",
        ),
        ("/api/vms/pull", "{\"oci_url\": {\"a\": 1}}", "string_type"),
        ("/api/vms/pull", "{\"oci_url\": true}", "string_type"),
        ("/api/vms/vm1/start", "{", "json_invalid"),
        ("/api/vms/vm1/stop", "[1,", "json_invalid"),
        ("/api/vms/refresh", "}", "json_invalid"),
    ];
    for (path, body, kind) in &cases {
        let resp = server.post(path, body);
        let case = format!("{path} {:?}", &body[..body.len().min(40)]);
        assert_json_4xx(&resp, 422, &case);
        assert_eq!(resp.detail()[0]["type"], *kind, "{case}: {}", resp.text());
    }
    assert_nothing_ran(&server, baseline);
    assert_eq!(server.get("/api/health").status, 200);
}

#[test]
fn huge_bodies_are_413_and_the_server_survives_them() {
    let server = TestServer::start();
    let baseline = quiet(&server);
    let host = host(&server);
    let token = server.token.clone();
    let headers = |len: &'static str| {
        vec![
            ("Host", host.clone()),
            ("X-Local-Token", token.clone()),
            ("Content-Type", "application/json".to_string()),
            ("Content-Length", len.to_string()),
        ]
    };
    // A real body over the limit.
    let big = format!("{{\"oci_url\":\"{}\"}}", "a".repeat(64 * 1024));
    let resp = server.post("/api/vms/pull", &big);
    assert_json_4xx(&resp, 413, "64 KiB + a bit");
    assert_eq!(resp.detail(), "Request body too large");
    // Declared lengths only, with no body sent: small over the limit, large (drained
    // after the answer, up to MAX_DRAINABLE_BODY_BYTES, 1 GiB), and absurd (DESIGN.md
    // fact 2: drained into one buffer, this used to abort the process).
    for len in ["65537", "300000000", "107374182400", "18446744073709551615"] {
        let h = headers(len);
        let mut head = String::from("POST /api/vms/pull HTTP/1.1\r\n");
        for (n, v) in &h {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n{\"oci_url\":");
        if len == "65537" {
            let resp = support::send_raw(server.addr, head.as_bytes());
            assert_json_4xx(&resp, 413, "Content-Length: 65537");
        } else {
            // Drained (300 MB) or, over MAX_DRAINABLE_BODY_BYTES, abandoned: the status
            // and headers come first either way; an abandoned connection gets no body
            // (a known limit, see the README).
            let (status, _) = sec_support::send_read_head(server.addr, head.as_bytes());
            assert_eq!(status, 413, "Content-Length: {len}");
        }
        assert_eq!(server.get("/api/health").status, 200, "alive after {len}");
    }
    // A chunked body that grows past the limit.
    let mut chunked = format!(
        "POST /api/vms/pull HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", "a".repeat(4096)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let resp = support::send_raw(server.addr, &chunked);
    assert_json_4xx(&resp, 413, "chunked 80 KiB");
    assert_nothing_ran(&server, baseline);
    assert_eq!(server.get("/api/health").status, 200);
    assert!(server.child.is_some());
}

#[test]
fn malformed_requests_of_every_kind_get_4xx_or_a_close_and_the_server_keeps_serving() {
    let server = TestServer::start();
    let baseline = quiet(&server);
    let host = host(&server);
    let token = server.token.clone();
    let requests: Vec<(String, &str)> = vec![
        ("\r\n\r\n".into(), "empty request line"),
        ("GARBAGE\r\n\r\n".into(), "one word"),
        ("GET\r\n\r\n".into(), "no target"),
        ("GET / HTTP/9.9\r\n\r\n".into(), "unknown version"),
        ("GET / FOO/1.1\r\n\r\n".into(), "not HTTP"),
        (
            format!("GET / HTTP/1.1\r\nHost {host}\r\n\r\n"),
            "header without colon",
        ),
        (
            format!("GET /\0 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            "NUL in target",
        ),
        (
            format!("G\u{1}T / HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            "control in method",
        ),
        (
            format!("GET * HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            "asterisk target",
        ),
        (
            format!(
                "GET http://evil.com/api/health HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\n\r\n"
            ),
            "absolute-form target",
        ),
        (
            format!("GET /api/../api/health HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            "dot segments",
        ),
        (
            format!(
                "POST /api/vms/pull HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n"
            ),
            "non-numeric Content-Length",
        ),
        (
            format!(
                "POST /api/vms/pull HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n"
            ),
            "negative Content-Length",
        ),
        (
            format!(
                "POST /api/vms/pull HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            ),
            "bad chunk size",
        ),
        (
            format!(
                "GET /api/tasks/\u{e9} HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\n\r\n"
            ),
            "raw UTF-8 in target",
        ),
        (
            format!(
                "GET /api/tasks/%ff HTTP/1.1\r\nHost: {host}\r\nX-Local-Token: {token}\r\n\r\n"
            ),
            "bad escape",
        ),
        (
            format!(
                "GET /ws/tasks/x?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            ),
            "handshake without key",
        ),
        (
            format!(
                "GET /ws/tasks/x?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: x\r\n\r\n"
            ),
            "old WebSocket version",
        ),
    ];
    for (request, why) in &requests {
        // Closing the connection without an answer is also a refusal.
        if let Some(resp) = support::try_send_raw(server.addr, request.as_bytes()) {
            assert!(
                (400..500).contains(&resp.status),
                "{why}: got {} {}",
                resp.status,
                resp.text()
            );
        }
        assert_eq!(server.get("/api/health").status, 200, "alive after: {why}");
    }
    // Half a request, then the client vanishes.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        let _ = s.write_all(
            format!("POST /api/vms/pull HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\r\n{{")
                .as_bytes(),
        );
    }
    assert_eq!(server.get("/api/health").status, 200);
    assert_nothing_ran(&server, baseline);
}

#[test]
fn a_panicking_handler_is_a_500_for_that_request_only_and_poisons_nothing() {
    // `POST /api/_debug/panic` exists only in debug builds (how `cargo test` builds the
    // server): it panics while holding the task store's lock.
    let server = TestServer::start();
    let before = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#);
    assert_eq!(before.status, 202);
    let id = before.json()["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let resp = server.post("/api/_debug/panic", "{}");
        assert_json_4xx_or_500(&resp);
    }
    // Everything that uses the task store still works: read, create, update, subscribe.
    assert_eq!(server.wait_task(&id)["status"], "completed");
    assert_eq!(server.get("/api/tasks").status, 200);
    let again = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/c:1"}"#);
    assert_eq!(again.status, 202);
    let again_id = again.json()["id"].as_str().unwrap().to_string();
    let mut ws = support::ws_connect(
        server.addr,
        &format!("/ws/tasks/{again_id}?token={}", server.token),
    )
    .unwrap();
    let (messages, close) = support::ws_read_all(&mut ws);
    assert_eq!(messages.last().unwrap()["status"], "completed");
    assert_eq!(close, Some(1000));
    // The panic reached stderr as a panic, without the token.
    let stderr = server.stderr();
    assert!(stderr.contains("deliberate panic"), "{stderr}");
    assert!(!stderr.contains(&server.token));
}

fn assert_json_4xx_or_500(resp: &Response) {
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert_eq!(
        resp.json(),
        serde_json::json!({"detail": "internal server error"})
    );
}

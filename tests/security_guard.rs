//! SECURITY.md promises 2-5 through the real server: the Host check (DNS rebinding), the
//! Origin check, the token, the JSON content type, the security headers, and the token's
//! hygiene (file modes, never in logs, argv or a child's environment).
//!
//! Table-driven: every case asserts the status, the `detail`, and, where the request
//! would have run `tart`, that the simulator's invocation log shows nothing ran.

mod sec_support;
mod support;

use std::os::unix::fs::PermissionsExt;

use sec_support::{assert_nothing_ran, host, origin, quiet, raw, ws_handshake};
use support::{Response, TestServer};

/// Extra headers of one case.
type Headers<'a> = Vec<(&'a str, &'a str)>;

const HOST_FORBIDDEN: &str =
    "Host not allowed: this server only answers to 127.0.0.1, localhost and [::1]";
const UNAUTHORIZED: &str = "Invalid or missing X-Local-Token header";

fn assert_error(resp: &Response, status: u16, detail: &str, case: &str) {
    assert_eq!(resp.status, status, "{case}: {}", resp.text());
    assert_eq!(resp.detail(), detail, "{case}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{case}"
    );
    assert!(
        resp.headers
            .iter()
            .all(|(n, _)| !n.to_ascii_lowercase().starts_with("access-control-")),
        "{case}: no CORS header, ever: {:?}",
        resp.headers
    );
}

/// A finished task to point WebSocket requests at.
fn finished_task(server: &TestServer) -> String {
    let task = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#);
    assert_eq!(task.status, 202, "{}", task.text());
    let id = task.json()["id"].as_str().unwrap().to_string();
    server.wait_task(&id);
    id
}

#[test]
fn foreign_missing_duplicate_and_malformed_hosts_are_refused_on_every_route() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let task = finished_task(&server);
    let port = server.port();
    let token = server.token.clone();
    let ws_path = format!("/ws/tasks/{task}?token={token}");
    let baseline = quiet(&server);

    let own = |name: &str| format!("{name}:{port}");
    let foreign: Vec<(String, &str)> = vec![
        ("evil.com".into(), "a foreign name"),
        (format!("evil.com:{port}"), "a foreign name, our port"),
        (format!("127.0.0.1.evil.com:{port}"), "look-alike suffix"),
        (format!("localhost.evil.com:{port}"), "look-alike suffix"),
        (format!("localhost.:{port}"), "trailing dot"),
        (format!("evil-127.0.0.1:{port}"), "look-alike prefix"),
        (format!("127.0.0.2:{port}"), "another loopback address"),
        (format!("0.0.0.0:{port}"), "the unspecified address"),
        (format!("127.1:{port}"), "short form"),
        (format!("2130706433:{port}"), "decimal form"),
        (format!("[::2]:{port}"), "another v6 address"),
        (format!("127.0.0.1:{}", port.wrapping_add(1)), "wrong port"),
        ("127.0.0.1".into(), "no port (means 80)"),
        ("localhost:80".into(), "port 80"),
    ];
    let malformed: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("127.0.0.1:".into(), "empty port"),
        ("127.0.0.1:abc".into(), "non-numeric port"),
        ("127.0.0.1:99999".into(), "port out of range"),
        (format!("user@127.0.0.1:{port}"), "userinfo"),
        (format!("127.0.0.1:{port}/x"), "a path"),
        ("[::1".into(), "unclosed bracket"),
        (format!("[::1]x:{port}"), "junk after bracket"),
        (format!(":{port}"), "no name"),
        (format!("127.0.0.1:{port} evil.com"), "two names"),
    ];
    let routes: Vec<(&str, String, Headers)> = vec![
        ("GET", "/".into(), vec![]),
        ("GET", "/js/main.js".into(), vec![]),
        ("GET", "/api/vms".into(), vec![("X-Local-Token", &token)]),
        (
            "POST",
            "/api/vms/vm1/start".into(),
            vec![
                ("X-Local-Token", &token),
                ("Content-Type", "application/json"),
            ],
        ),
        (
            "POST",
            "/api/vms/refresh".into(),
            vec![
                ("X-Local-Token", &token),
                ("Content-Type", "application/json"),
            ],
        ),
        (
            "GET",
            ws_path.clone(),
            vec![
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
        ),
    ];
    for (method, path, headers) in &routes {
        for (value, why) in foreign.iter().chain(&malformed) {
            let mut h = vec![("Host", value.as_str())];
            h.extend(headers.iter().cloned());
            let body = (*method == "POST").then_some(&b"{}"[..]);
            let resp = raw(server.addr, method, path, &h, body);
            let case = format!("{method} {path} with Host {value:?} ({why})");
            if foreign.iter().any(|(v, _)| v == value) {
                assert_error(&resp, 403, HOST_FORBIDDEN, &case);
            } else {
                assert_eq!(resp.status, 400, "{case}: {}", resp.text());
                assert_eq!(resp.detail(), "malformed Host header", "{case}");
            }
        }
        // Missing and duplicated.
        let body = (*method == "POST").then_some(&b"{}"[..]);
        let resp = raw(server.addr, method, path, headers, body);
        assert_error(
            &resp,
            400,
            "missing Host header",
            &format!("{method} {path} no Host"),
        );
        let mut h = vec![("Host", own("127.0.0.1")), ("Host", own("127.0.0.1"))];
        h.extend(headers.iter().map(|(n, v)| (*n, v.to_string())));
        let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let resp = raw(server.addr, method, path, &h, body);
        assert_error(
            &resp,
            400,
            "duplicate Host header",
            &format!("{method} {path} two Hosts"),
        );
    }
    assert_nothing_ran(&server, baseline);

    // The names we answer to, in any case, with our port.
    for value in [
        own("127.0.0.1"),
        own("localhost"),
        own("LocalHost"),
        own("[::1]"),
    ] {
        let resp = raw(
            server.addr,
            "GET",
            "/api/health",
            &[("Host", &value), ("X-Local-Token", &token)],
            None,
        );
        assert_eq!(resp.status, 200, "Host {value:?}: {}", resp.text());
        let resp = raw(server.addr, "GET", "/", &[("Host", &value)], None);
        assert_eq!(resp.status, 200, "Host {value:?} on /");
    }
}

#[test]
fn foreign_null_and_look_alike_origins_are_refused_on_api_preflight_and_websocket() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let task = finished_task(&server);
    let port = server.port();
    let token = server.token.clone();
    let host = host(&server);
    let baseline = quiet(&server);
    let bad_origins = [
        "null".to_string(),
        "http://evil.com".into(),
        format!("http://evil.com:{port}"),
        format!("http://127.0.0.1.evil.com:{port}"),
        format!("http://localhost.evil.com:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}@evil.com"),
        format!("http://evil.com#@127.0.0.1:{port}"),
        format!("ws://127.0.0.1:{port}"),
        "http://127.0.0.1".into(),
        String::new(),
    ];
    let ws_path = format!("/ws/tasks/{task}?token={token}");
    for bad in &bad_origins {
        // A mutating API call: refused, and tart never ran.
        let resp = raw(
            server.addr,
            "POST",
            "/api/vms/vm1/start",
            &[
                ("Host", &host),
                ("X-Local-Token", &token),
                ("Content-Type", "application/json"),
                ("Origin", bad),
            ],
            Some(b"{}"),
        );
        assert_error(&resp, 403, "Origin not allowed", &format!("POST {bad:?}"));
        // A read.
        let resp = raw(
            server.addr,
            "GET",
            "/api/vms",
            &[("Host", &host), ("X-Local-Token", &token), ("Origin", bad)],
            None,
        );
        assert_error(&resp, 403, "Origin not allowed", &format!("GET {bad:?}"));
        // A CORS preflight: never granted.
        let resp = raw(
            server.addr,
            "OPTIONS",
            "/api/vms/vm1/start",
            &[
                ("Host", &host),
                ("Origin", bad),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "x-local-token,content-type",
                ),
            ],
            None,
        );
        assert_error(
            &resp,
            403,
            "Origin not allowed",
            &format!("preflight {bad:?}"),
        );
        // A WebSocket upgrade (browsers apply no CORS to these).
        let resp = ws_handshake(&server, &ws_path, &host, &[("Origin", bad)]);
        assert_error(&resp, 403, "Origin not allowed", &format!("ws {bad:?}"));
    }
    // Two Origin headers, one of them ours.
    let own = origin(&server);
    let resp = raw(
        server.addr,
        "GET",
        "/api/vms",
        &[
            ("Host", &host),
            ("X-Local-Token", &token),
            ("Origin", &own),
            ("Origin", "http://evil.com"),
        ],
        None,
    );
    assert_error(&resp, 403, "Origin not allowed", "two Origins");
    assert_nothing_ran(&server, baseline);

    // A preflight from our own origin is not granted either: browsers send no token on a
    // preflight, so it is a 401 without any CORS header.
    let resp = raw(
        server.addr,
        "OPTIONS",
        "/api/vms/vm1/start",
        &[
            ("Host", &host),
            ("Origin", &own),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    assert_error(&resp, 401, UNAUTHORIZED, "own preflight");

    // Our own origin works on the API and the WebSocket.
    for origin in [own.clone(), format!("http://localhost:{port}")] {
        let resp = raw(
            server.addr,
            "GET",
            "/api/vms",
            &[
                ("Host", &host),
                ("X-Local-Token", &token),
                ("Origin", &origin),
            ],
            None,
        );
        assert_eq!(resp.status, 200, "{origin}: {}", resp.text());
        let resp = ws_handshake(&server, &ws_path, &host, &[("Origin", &origin)]);
        assert_eq!(resp.status, 101, "ws {origin}");
    }
}

#[test]
fn every_bad_token_gets_the_same_401_and_runs_nothing() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let host = host(&server);
    let token = server.token.clone();
    let baseline = quiet(&server);
    let mut same_length = token.clone().into_bytes();
    let last = same_length.len() - 1;
    same_length[last] = if same_length[last] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let same_length = String::from_utf8(same_length).unwrap();
    let prefix = &token[..token.len() - 1];
    let longer = format!("{token}A");
    let inner_space = format!("{} {}", &token[..10], &token[10..]);
    let with_suffix = format!("{token} x");
    let lower = token.to_ascii_lowercase();
    let cookie = format!("X-Local-Token={token}; token={token}");
    let bearer = format!("Bearer {token}");
    let cases: Vec<(&str, Headers, &str)> = vec![
        ("missing", vec![], ""),
        ("empty", vec![("X-Local-Token", "")], ""),
        ("wrong", vec![("X-Local-Token", "nope")], ""),
        (
            "same length, last byte wrong",
            vec![("X-Local-Token", &same_length)],
            "",
        ),
        ("a prefix", vec![("X-Local-Token", prefix)], ""),
        ("one byte longer", vec![("X-Local-Token", &longer)], ""),
        (
            "inner whitespace",
            vec![("X-Local-Token", &inner_space)],
            "",
        ),
        (
            "trailing junk after a space",
            vec![("X-Local-Token", &with_suffix)],
            "",
        ),
        ("wrong case", vec![("X-Local-Token", &lower)], ""),
        (
            "twice, both right",
            vec![("X-Local-Token", &token), ("X-Local-Token", &token)],
            "",
        ),
        (
            "twice, one wrong",
            vec![("X-Local-Token", "nope"), ("X-Local-Token", &token)],
            "",
        ),
        ("in the query string", vec![], "?token="),
        ("in the query as the header name", vec![], "?X-Local-Token="),
        ("in a cookie", vec![("Cookie", &cookie)], ""),
        ("as a bearer token", vec![("Authorization", &bearer)], ""),
    ];
    for (why, headers, query) in &cases {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("{query}{token}")
        };
        for (method, path) in [
            ("GET", "/api/vms"),
            ("GET", "/api/health"),
            ("POST", "/api/vms/refresh"),
            ("POST", "/api/vms/vm1/start"),
            ("POST", "/api/vms/pull"),
            ("GET", "/api/nonexistent"),
        ] {
            let mut h = vec![
                ("Host", host.as_str()),
                ("Content-Type", "application/json"),
            ];
            h.extend(headers.iter().cloned());
            let body = (method == "POST").then_some(&br#"{"oci_url":"ghcr.io/a/b:1"}"#[..]);
            let resp = raw(server.addr, method, &format!("{path}{query}"), &h, body);
            assert_error(&resp, 401, UNAUTHORIZED, &format!("{method} {path}: {why}"));
        }
    }
    assert_nothing_ran(&server, baseline);
    // The header name is case-insensitive, as HTTP says.
    let resp = raw(
        server.addr,
        "GET",
        "/api/vms",
        &[("Host", &host), ("x-local-token", &token)],
        None,
    );
    assert_eq!(resp.status, 200);
}

/// Regression (review M5): the guard classified a request by its raw path while the
/// router matched decoded segments, so `/%61pi/health` without a token reached the
/// router (a 405) instead of the 401. Both now use the decoded path.
#[test]
fn percent_encoded_api_and_websocket_paths_need_the_token() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let host = host(&server);
    let baseline = quiet(&server);
    for (method, path) in [
        ("GET", "/%61pi/health"),
        ("GET", "/%61pi/vms"),
        ("GET", "/api/%76ms"),
        ("GET", "/%41PI/health"),
        ("POST", "/%61pi/vms/vm1/start"),
        ("POST", "/%61%70%69/vms/pull"),
        ("GET", "/%77s/tasks/some-id"),
    ] {
        let h = [
            ("Host", host.as_str()),
            ("Content-Type", "application/json"),
        ];
        let body = (method == "POST").then_some(&br#"{"oci_url":"ghcr.io/a/b:1"}"#[..]);
        let resp = raw(server.addr, method, path, &h, body);
        let expected = if path.contains("%41PI") { 404 } else { 401 };
        let detail = if expected == 401 {
            UNAUTHORIZED
        } else {
            "Not Found"
        };
        assert_error(&resp, expected, detail, &format!("{method} {path}"));
    }
    assert_nothing_ran(&server, baseline);
    // With the token, the decoded path is routed like the plain one.
    let resp = raw(
        server.addr,
        "GET",
        "/%61pi/health",
        &[("Host", &host), ("X-Local-Token", &server.token)],
        None,
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["status"], "ok");
}

#[test]
fn websocket_token_is_checked_and_only_taken_from_the_query() {
    let server = TestServer::start();
    let task = finished_task(&server);
    let host = host(&server);
    let token = server.token.clone();
    let cases = [
        (format!("/ws/tasks/{task}"), vec![], "missing"),
        (format!("/ws/tasks/{task}?token="), vec![], "empty"),
        (format!("/ws/tasks/{task}?token=nope"), vec![], "wrong"),
        (
            format!("/ws/tasks/{task}?token={}", &token[1..]),
            vec![],
            "short",
        ),
        (
            format!("/ws/tasks/{task}"),
            vec![("X-Local-Token", token.as_str())],
            "header instead of query",
        ),
        (
            format!("/ws/tasks/{task}"),
            vec![("Cookie", "token=x")],
            "cookie",
        ),
        (
            "/ws/tasks/no-such-task?token=nope".to_string(),
            vec![],
            "unknown task, wrong token",
        ),
    ];
    for (path, extra, why) in &cases {
        let resp = ws_handshake(&server, path, &host, extra);
        assert_error(&resp, 401, UNAUTHORIZED, why);
    }
    let resp = ws_handshake(
        &server,
        &format!("/ws/tasks/{task}?token={token}"),
        &host,
        &[],
    );
    assert_eq!(resp.status, 101);
}

#[test]
fn mutating_routes_require_a_json_content_type_and_run_nothing_without_it() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let host = host(&server);
    let token = server.token.clone();
    let baseline = quiet(&server);
    let body = br#"{"oci_url":"ghcr.io/a/b:1"}"#;
    for path in ["/api/vms/pull", "/api/vms/vm1/start", "/api/vms/refresh"] {
        for (ct, why) in [
            (None, "none, with a body"),
            (Some("text/plain"), "text/plain"),
            (Some("application/x-www-form-urlencoded"), "form"),
            (Some("multipart/form-data; boundary=x"), "multipart"),
            (Some("application/jsonx"), "look-alike"),
            (Some("application/json-seq"), "look-alike"),
            (Some("text/json"), "text/json"),
            (Some(""), "empty"),
        ] {
            let mut h = vec![("Host", host.as_str()), ("X-Local-Token", &token)];
            if let Some(ct) = ct {
                h.push(("Content-Type", ct));
            }
            let resp = raw(server.addr, "POST", path, &h, Some(body));
            assert_error(
                &resp,
                415,
                "Content-Type must be application/json",
                &format!("{path}: {why}"),
            );
        }
    }
    assert_nothing_ran(&server, baseline);
    assert!(server.mutating_invocations().is_empty());
    // JSON with parameters and in any case is fine.
    for ct in ["application/json; charset=utf-8", "Application/JSON"] {
        let resp = raw(
            server.addr,
            "POST",
            "/api/vms/pull",
            &[
                ("Host", &host),
                ("X-Local-Token", &token),
                ("Content-Type", ct),
            ],
            Some(body),
        );
        assert_eq!(resp.status, 202, "{ct}: {}", resp.text());
    }
}

#[test]
fn security_headers_on_the_ui_the_api_and_errors() {
    let server = TestServer::start();
    let host = host(&server);
    let token = server.token.clone();
    let page = raw(server.addr, "GET", "/", &[("Host", &host)], None);
    assert_eq!(page.status, 200);
    assert!(
        !page.text().contains(&token),
        "the page never carries the token"
    );
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    // The page's own scripts are files, not inline code the CSP would have to allow.
    let html = page.text();
    for script in html.split("<script").skip(1) {
        let tag_end = script.find('>').unwrap();
        assert!(
            script[..tag_end].contains("src="),
            "inline script in index.html"
        );
    }
    let api = raw(
        server.addr,
        "GET",
        "/api/health",
        &[("Host", &host), ("X-Local-Token", &token)],
        None,
    );
    let error = raw(server.addr, "GET", "/api/health", &[("Host", &host)], None);
    let asset = raw(server.addr, "GET", "/js/main.js", &[("Host", &host)], None);
    for (what, resp) in [
        ("page", &page),
        ("api", &api),
        ("401", &error),
        ("asset", &asset),
    ] {
        assert_eq!(
            resp.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            resp.header("referrer-policy"),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(resp.header("cache-control"), Some("no-store"), "{what}");
        assert!(
            resp.headers
                .iter()
                .all(|(n, _)| !n.to_ascii_lowercase().starts_with("access-control-")),
            "{what}: {:?}",
            resp.headers
        );
    }
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn token_file_is_0600_in_a_0700_folder_and_loosened_modes_are_repaired() {
    let mut server = TestServer::start();
    let data = server.data_dir();
    let token = server.token.clone();
    assert!(token.len() >= 43, "32 random bytes or more: {token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("token")), 0o600);

    let dir = server.kill();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("token"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start_in(dir, support::Setup::default());
    assert_eq!(server.token, token, "an existing token is reused");
    assert_eq!(mode(&data), 0o700, "folder mode repaired");
    assert_eq!(mode(&data.join("token")), 0o600, "file mode repaired");
    assert_eq!(server.get("/api/health").status, 200);
}

#[test]
fn token_is_never_in_output_nor_in_a_childs_argv_or_environment() {
    let server = TestServer::start();
    server.create_vm("vm1");
    let token = server.token.clone();
    // Make the server log things and run tart in every way it can.
    let start = server.post("/api/vms/vm1/start", "{}");
    assert_eq!(start.status, 202, "{}", start.text());
    server.wait_task(start.json()["id"].as_str().unwrap());
    server.set_faults("fail list 1 Error: boom\n");
    assert_eq!(server.post("/api/vms/refresh", "{}").status, 502);
    server.set_faults("");
    let stop = server.post("/api/vms/vm1/stop", "{}");
    server.wait_task(stop.json()["id"].as_str().unwrap());
    let pull = server.post("/api/vms/pull", r#"{"oci_url":"ghcr.io/a/b:1"}"#);
    server.wait_task(pull.json()["id"].as_str().unwrap());
    // Refused requests carrying the token (and near misses of it).
    let _ = raw(
        server.addr,
        "GET",
        &format!("/api/vms?token={token}"),
        &[("Host", "evil.com"), ("X-Local-Token", &token)],
        None,
    );

    let records = server.sim_records();
    let starts: Vec<_> = records.iter().filter(|r| r["event"] == "start").collect();
    assert!(starts.len() >= 5, "tart ran: {}", starts.len());
    for record in starts {
        let text = record.to_string();
        assert!(
            !text.contains(&token),
            "token reached a child's argv or environment: {}",
            record["argv"]
        );
        assert!(!record["env"].as_object().unwrap().is_empty());
    }
    let stderr = server.stderr();
    assert!(!stderr.contains(&token), "token in the server's stderr");
    // `tart run` logs under the data folder: output of children, never the token.
    for entry in std::fs::read_dir(server.data_dir().join("logs")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(&token));
    }
    // The server's own command line.
    let pid = sec_support::pid(&server);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(&token));
}

#[test]
fn token_is_on_stdout_only_in_the_url_to_open() {
    // The token is printed once, in the fragment of the URL to open (the way Jupyter
    // does it; the fragment never reaches a server), and nowhere else: not in the first
    // line, not on stderr, not in any page. TestServer drains stdout after the first
    // line; run the binary with stdout to a file.
    let dir = support::TempDir::new("stdout");
    let out_path = dir.path().join("stdout");
    let mut child = std::process::Command::new(support::server_bin())
        .args(["--port", "0", "--refresh-interval", "0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tart")
        .arg(support::sim_bin())
        .env("TART_HOME", dir.path().join("tart-home"))
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let line = support::eventually("the server printed its URL", || {
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        (text.lines().count() >= 2).then_some(text)
    });
    let addr: std::net::SocketAddr = line
        .lines()
        .next()
        .unwrap()
        .trim()
        .strip_prefix("taartenfabriek listening on http://")
        .unwrap()
        .parse()
        .unwrap();
    let token = std::fs::read_to_string(dir.path().join("data/token"))
        .unwrap()
        .trim()
        .to_string();
    let host = format!("127.0.0.1:{}", addr.port());
    let resp = raw(addr, "GET", "/", &[("Host", &host)], None);
    assert_eq!(resp.status, 200);
    let resp = raw(addr, "GET", "/api/vms", &[("Host", &host)], None);
    assert_eq!(resp.status, 401);
    let _ = child.kill();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    let with_token: Vec<&str> = stdout.lines().filter(|l| l.contains(&token)).collect();
    assert_eq!(
        with_token,
        [format!(
            "open http://127.0.0.1:{}/#token={token}  (print it again with `taartenfabriek url`)",
            addr.port()
        )],
        "{stdout}"
    );
    assert!(!stderr.contains(&token), "{stderr}");
}

#[test]
fn a_non_loopback_address_is_refused_without_the_loud_flag() {
    // Promise 1. (The opt-in itself is not exercised: it would expose a test server to
    // the network.)
    let dir = support::TempDir::new("exposure");
    for host in ["0.0.0.0", "::", "192.0.2.1"] {
        let mut child = std::process::Command::new(support::server_bin())
            .args(["--port", "0", "--host", host, "--data-dir"])
            .arg(dir.path().join("data"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status =
            support::eventually("the server refused to start", || child.try_wait().unwrap());
        let out = child.wait_with_output().unwrap();
        assert!(!status.success(), "{host}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("refusing to listen on")
                && stderr.contains("--allow-non-loopback-i-know-this-exposes-my-vms"),
            "{host}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{host}: it never listened");
    }
}

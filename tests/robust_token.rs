//! Regression (red team finding 1, high): `GET /` carried the API token, so every other
//! local account (which sends whatever `Host` it likes) read it from the page and could
//! delete the owner's VMs, although the token file is 0600. Now no answer to a request
//! without the token carries it: the page, every asset it loads (found by following its
//! links and module imports), error pages, the API and the WebSocket route.

mod support;

use std::collections::{BTreeSet, VecDeque};

use support::{Client, TestServer};

/// The paths a page or script refers to: `src`/`href` attributes and `from '…'` imports,
/// resolved against `base` (the referring file's folder, `/` or `/js/`).
fn references(base: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (open, close) in [("src=\"", '"'), ("href=\"", '"'), ("from '", '\'')] {
        for piece in text.split(open).skip(1) {
            let Some(target) = piece.split(close).next() else {
                continue;
            };
            if target.starts_with('#') || target.contains("://") {
                continue;
            }
            found.push(resolve(base, target));
        }
    }
    found
}

fn resolve(base: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for piece in target.split('/') {
        match piece {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn folder_of(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => path[..=i].to_string(),
        None => "/".to_string(),
    }
}

#[test]
fn a_request_without_the_token_never_gets_the_token() {
    let server = TestServer::start();
    let stranger = Client {
        addr: server.addr,
        token: None,
    };
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/".to_string()]);
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let reply = stranger.request("GET", &path, &[], None);
        assert_eq!(reply.status, 200, "{path}");
        let body = reply.text();
        assert!(!body.contains(&server.token), "{path} carries the token");
        if path == "/" || path.ends_with(".js") || path.ends_with(".html") {
            queue.extend(references(&folder_of(&path), &body));
        }
    }
    for asset in [
        "/",
        "/style.css",
        "/favicon.svg",
        "/js/main.js",
        "/js/api.js",
    ] {
        assert!(seen.contains(asset), "the crawl reached {asset}: {seen:?}");
    }
    // Error answers and the other areas, without the token.
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/api/vms"),
        ("GET", "/api/tasks"),
        ("POST", "/api/vms/refresh"),
        ("GET", "/ws/tasks/x"),
        ("GET", "/index.html"),
    ] {
        let reply = stranger.request(method, path, &[], None);
        assert!(reply.status >= 400, "{method} {path}: {}", reply.status);
        assert!(!reply.text().contains(&server.token), "{method} {path}");
        for (_, value) in &reply.headers {
            assert!(!value.contains(&server.token), "{method} {path}");
        }
    }
    // And the token still works for who has it.
    assert_eq!(server.get("/api/vms").status, 200);
}

//! The baselines measured in the same run: a bare tiny_http server, and bare
//! tiny_http + tungstenite forwarding lines to WebSocket clients. Each runs in its own
//! process, like the real server.

use super::*;

/// The floor our stack sets for the fan-out: the stand-in's lines, read as they come and
/// batched like the server's runner does, go to every WebSocket client as a JSON array of
/// the new lines, serialized once per batch; one thread per client, as in the server.
/// No task, no bookkeeping. `GET /api/health` answers for the start-up check.
pub(crate) fn baseline_fanout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    set_nodelay(&listener);
    let port = listener.local_addr().unwrap().port();
    let server = tiny_http::Server::from_listener(listener, None).unwrap();
    println!("baseline listening on http://127.0.0.1:{port}");
    let subscribers: Arc<Mutex<Vec<crossbeam_channel::Sender<tungstenite::Utf8Bytes>>>> =
        Arc::default();
    let mut tart = Command::new(std::env::current_exe().unwrap())
        .args(["pull", "--", "ghcr.io/bench/baseline:latest"])
        .env("BENCH_AS_TART", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (line_tx, line_rx) = crossbeam_channel::bounded::<String>(256);
    let stdout = tart.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let fan = subscribers.clone();
    std::thread::spawn(move || {
        while let Ok(first) = line_rx.recv() {
            let batch: Vec<String> = std::iter::once(first).chain(line_rx.try_iter()).collect();
            let json: tungstenite::Utf8Bytes = serde_json::to_string(&batch).unwrap().into();
            fan.lock()
                .unwrap()
                .retain(|s| s.try_send(json.clone()).is_ok());
        }
        fan.lock().unwrap().clear(); // the clients close
        let _ = tart.wait();
    });
    for rq in server.incoming_requests() {
        let upgrade = rq.headers().iter().any(|h| {
            h.field.equiv("Upgrade") && h.value.as_str().eq_ignore_ascii_case("websocket")
        });
        if !upgrade {
            let _ = rq.respond(tiny_http::Response::from_string("{\"status\":\"ok\"}"));
            continue;
        }
        let key = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Sec-WebSocket-Key"))
            .map(|h| h.value.to_string())
            .unwrap_or_default();
        let accept = tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
        let response = tiny_http::Response::empty(101)
            .with_header(tiny_http::Header::from_bytes("Sec-WebSocket-Accept", accept).unwrap());
        let (tx, rx) = crossbeam_channel::bounded(256);
        subscribers.lock().unwrap().push(tx);
        let stream = rq.upgrade("websocket", response);
        std::thread::spawn(move || {
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                stream,
                tungstenite::protocol::Role::Server,
                None,
            );
            if ws.send(tungstenite::Message::text("[]")).is_err() {
                return;
            }
            while let Ok(first) = rx.recv() {
                let mut text = first;
                for more in rx.try_iter() {
                    // Several batches waiting: one message with all their lines.
                    let mut joined = text.as_str().trim_end_matches(']').to_string();
                    joined.push(',');
                    joined.push_str(more.as_str().trim_start_matches('['));
                    text = joined.into();
                }
                if ws.send(tungstenite::Message::Text(text)).is_err() {
                    return;
                }
            }
            let _ = ws.close(None);
            let _ = ws.flush();
        });
    }
}

/// Answers every request with the payload as JSON, on as many threads as the real server
/// has HTTP workers, with `TCP_NODELAY` set on the listener like the real server.
pub(crate) fn baseline_server(payload: &Path) {
    let payload: Arc<[u8]> = std::fs::read(payload).unwrap().into();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    set_nodelay(&listener);
    let port = listener.local_addr().unwrap().port();
    let server = Arc::new(tiny_http::Server::from_listener(listener, None).unwrap());
    println!("baseline listening on http://127.0.0.1:{port}");
    let header = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
    let workers: Vec<_> = (0..taartenfabriek::limits::HTTP_WORKERS)
        .map(|_| {
            let (server, payload, header) = (server.clone(), payload.clone(), header.clone());
            std::thread::spawn(move || {
                while let Ok(rq) = server.recv() {
                    let body = if rq.url() == "/api/vms" {
                        payload.clone()
                    } else {
                        Arc::from(&b"{\"status\":\"ok\"}"[..])
                    };
                    let len = body.len();
                    let response = tiny_http::Response::new(
                        200.into(),
                        vec![header.clone()],
                        io::Cursor::new(body),
                        Some(len),
                        None,
                    );
                    let _ = rq.respond(response);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}

#[allow(unsafe_code)] // setsockopt(2) on the listener; std has no setter (DESIGN.md fact 1).
pub(crate) fn set_nodelay(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a live socket fd owned by `listener`, a pointer to a c_int that outlives the
    // call, and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "TCP_NODELAY: {}", io::Error::last_os_error());
}

//! The WebSocket fan-out: 100 clients on one task whose `tart` prints 1,000 lines, on
//! our server and on the bare fan-out baseline; the clients, the burst of handshakes
//! and the rows.

use super::*;

impl Bench {
    /// 100 WebSocket clients on one task whose `tart` prints 1,000 lines.
    pub(crate) fn fan_out(&mut self, rows: &mut Vec<Row>) {
        let home = self.dir.0.join("home-fanout");
        std::fs::create_dir_all(&home).unwrap();
        let go = self.dir.0.join("fanout-go");
        let me = std::env::current_exe().unwrap();
        let env = vec![
            ("TART_HOME".to_string(), home.display().to_string()),
            ("BENCH_AS_TART".to_string(), "1".to_string()),
            ("BENCH_GO_FILE".to_string(), go.display().to_string()),
            ("BENCH_LINES".to_string(), WS_LINES.to_string()),
            (
                "BENCH_LINE_INTERVAL_US".to_string(),
                self.opts.line_interval_us.to_string(),
            ),
        ];
        let server = self.start_server("fanout", &me, &env);
        let idle = proc_status(server.pid);
        let mut conn = Conn::open(server.port);
        // First, on the fresh server: 100 handshakes at once.
        let hung = burst_handshakes(&server, &mut conn, &go.with_extension("burst"));
        // Rounds alternate ours (whole tasks, then `?logs=new`: each message carries only
        // the lines a client lacks) and the baseline (the same stand-in's lines forwarded
        // by bare tiny_http + tungstenite); each figure is the median round by p99.
        let (mut full, mut new_lines, mut base) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=self.opts.fanout_rounds {
            eprintln!("bench: fan-out, {WS_CLIENTS} clients, round {round}");
            let url = fan_out_task(&server, &mut conn, "fanout", "");
            full.push(fan_out_round(&server, &url, &go));
            let url = fan_out_task(&server, &mut conn, "fanout-new", "&logs=new");
            new_lines.push(fan_out_round(&server, &url, &go.with_extension("new")));
            let go_base = go.with_extension("base");
            let baseline = self.start_fanout_baseline(&go_base, &env);
            let url = format!("ws://127.0.0.1:{}/", baseline.port);
            base.push(fan_out_round(&baseline, &url, &go_base));
            self.stop(baseline);
        }
        let peak = full
            .iter()
            .chain(&new_lines)
            .map(|f| f.peak)
            .max_by_key(|p| p.rss_kib)
            .unwrap();
        let (full, new_lines, base) = (
            median_round(full),
            median_round(new_lines),
            median_round(base),
        );
        fan_out_rows(rows, "", &full, &base);
        fan_out_rows(rows, " (?logs=new)", &new_lines, &base);
        rows.push(row(
            "RSS / threads idle -> peak during fan-out",
            format!(
                "{} / {} -> {} / {}",
                mib(idle.rss_kib * 1024),
                idle.threads,
                mib(peak.rss_kib * 1024),
                peak.threads
            ),
            "-",
            "-".into(),
            None,
        ));
        rows.push(row(
            &format!(
                "WS: {WS_CLIENTS} handshakes at once, answered within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            ),
            format!("{}/{WS_CLIENTS}", WS_CLIENTS - hung),
            "all",
            "-".into(),
            Some(hung == 0),
        ));
        drop(conn);
        self.stop(server);
    }
}

// ---------------------------------------------------------------------------------------
// WebSocket fan-out

pub(crate) struct WsOutcome {
    /// Distinct lines seen.
    pub(crate) lines: usize,
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
    /// For each line, from when `tart` printed it to the first message that carried it.
    pub(crate) delays: Vec<Duration>,
}

/// Follows a task until the server closes, noting when each numbered line first arrives.
/// Snapshots are whole tasks, so a line counts as delivered in the first snapshot whose
/// `logs` hold it; only lines newer than the newest seen are parsed (from the end back).
/// One fan-out client: its socket and what it has seen.
pub(crate) struct WsClient {
    pub(crate) ws: tungstenite::WebSocket<TcpStream>,
    pub(crate) out: WsOutcome,
    pub(crate) seen: Vec<bool>,
    pub(crate) newest: Option<usize>,
    pub(crate) done: bool,
}

impl WsClient {
    /// Connects and handshakes (blocking), then waits for the task's first message.
    pub(crate) fn connect(url: &str, port: u16) -> Result<WsClient, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        // tungstenite zero-fills its whole read buffer before every read (128 KiB by
        // default): with many reads of small messages that memset was the clients' top
        // cost, and the clients share the two cores with the server.
        let config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(32 * 1024);
        let (ws, _) = tungstenite::client::client_with_config(url, stream, Some(config))
            .map_err(|e| e.to_string())?;
        let mut client = WsClient {
            ws,
            out: WsOutcome {
                lines: 0,
                messages: 0,
                bytes: 0,
                delays: Vec::with_capacity(WS_LINES),
            },
            seen: vec![false; WS_LINES],
            newest: None,
            done: false,
        };
        let first = client.ws.read().map_err(|e| e.to_string())?;
        client.on_message(first);
        client
            .ws
            .get_ref()
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        Ok(client)
    }

    /// Reads every message the socket has ready.
    pub(crate) fn read_ready(&mut self) {
        loop {
            match self.ws.read() {
                Ok(msg) => self.on_message(msg),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return;
                }
                // The server closes after the terminal snapshot; answering its close
                // frame may then meet a closed socket (EPIPE). Lines are counted either way.
                Err(_) => {
                    self.done = true;
                    return;
                }
            }
        }
    }

    pub(crate) fn on_message(&mut self, msg: tungstenite::Message) {
        let now = unix_nanos();
        // Close frames are answered by tungstenite; the next read ends the client.
        let tungstenite::Message::Text(text) = msg else {
            return;
        };
        self.out.messages += 1;
        self.out.bytes += text.len();
        let text = text.as_str();
        let mut top = None;
        // Newest lines first; a full-task message stops at the first line seen before.
        for (pos, _) in text.rmatch_indices("bench-line ") {
            let mut words = text[pos + "bench-line ".len()..].split(' ');
            let (Some(i), Some(t)) = (
                words.next().and_then(|w| w.parse::<usize>().ok()),
                words.next().and_then(|w| w.parse::<u128>().ok()),
            ) else {
                continue;
            };
            if self.newest.is_some_and(|n| i <= n) {
                break;
            }
            top = top.max(Some(i));
            if i < WS_LINES && !self.seen[i] {
                self.seen[i] = true;
                self.out.lines += 1;
                self.out
                    .delays
                    .push(Duration::from_nanos(now.saturating_sub(t) as u64));
            }
        }
        self.newest = self.newest.max(top);
    }
}

/// Drives clients with poll(2) until every one is closed, or none received anything
/// for [`IO_TIMEOUT`].
pub(crate) fn drive_ws_clients(mut clients: Vec<WsClient>) -> Vec<WsOutcome> {
    use std::os::fd::AsRawFd;
    let mut last_message = Instant::now();
    while last_message.elapsed() < IO_TIMEOUT {
        let open: Vec<usize> = (0..clients.len()).filter(|&i| !clients[i].done).collect();
        if open.is_empty() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = open
            .iter()
            .map(|&i| libc::pollfd {
                fd: clients[i].ws.get_ref().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live, correctly sized array of pollfd for the whole call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for (fd, &i) in fds.iter().zip(&open) {
            if fd.revents != 0 {
                clients[i].read_ready();
                last_message = Instant::now();
            }
        }
    }
    clients.into_iter().map(|c| c.out).collect()
}

/// Opens 100 WebSockets at once on a task that waits, and counts the handshakes that got
/// no answer in time; then lets the task finish.
pub(crate) fn burst_handshakes(server: &Started, conn: &mut Conn, go: &Path) -> usize {
    let (status, body) = conn.call(
        server,
        "POST",
        "/api/vms/pull",
        Some(br#"{"oci_url":"ghcr.io/bench/burst:latest"}"#),
    );
    assert_eq!(status, 202, "pull: {}", String::from_utf8_lossy(&body));
    let task: Value = serde_json::from_slice(&body).unwrap();
    let url = format!(
        "ws://127.0.0.1:{}/ws/tasks/{}?token={}",
        server.port,
        task["id"].as_str().unwrap(),
        server.token
    );
    let start = Barrier::new(WS_CLIENTS);
    let hung = std::thread::scope(|s| {
        let clients: Vec<_> = (0..WS_CLIENTS)
            .map(|_| {
                let (url, start) = (&url, &start);
                s.spawn(move || {
                    start.wait();
                    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
                    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).unwrap();
                    tungstenite::client(url.as_str(), stream).is_err()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join())
            .filter(|hung| matches!(hung, Ok(true)))
            .count()
    });
    std::fs::write(go, b"go").unwrap();
    hung
}

/// What one fan-out round measured.
pub(crate) struct FanOut {
    pub(crate) complete: usize,
    pub(crate) fewest: usize,
    pub(crate) failed: usize,
    pub(crate) messages_per_client: f64,
    pub(crate) mebibytes: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
    pub(crate) peak: ProcStatus,
}

/// Starts a pull task on our server for a fan-out round, and returns its socket URL.
pub(crate) fn fan_out_task(server: &Started, conn: &mut Conn, image: &str, query: &str) -> String {
    let (status, body) = conn.call(
        server,
        "POST",
        "/api/vms/pull",
        Some(format!(r#"{{"oci_url":"ghcr.io/bench/{image}:latest"}}"#).as_bytes()),
    );
    assert_eq!(status, 202, "pull: {}", String::from_utf8_lossy(&body));
    let task: Value = serde_json::from_slice(&body).unwrap();
    let id = task["id"].as_str().unwrap().to_string();
    format!(
        "ws://127.0.0.1:{}/ws/tasks/{id}?token={}{query}",
        server.port, server.token
    )
}

/// Connects [`WS_CLIENTS`] clients to `url`, writes the go file that lets the stand-in
/// print, and gathers what every client received.
pub(crate) fn fan_out_round(server: &Started, url: &str, go: &Path) -> FanOut {
    // The clients connect one after another: tiny_http loses connections that arrive
    // in a burst while upgraded ones pin its pool threads (measured separately below).
    let mut failures = Vec::new();
    let mut groups: Vec<Vec<WsClient>> = (0..WS_CLIENT_THREADS).map(|_| Vec::new()).collect();
    for i in 0..WS_CLIENTS {
        match WsClient::connect(url, server.port) {
            Ok(client) => groups[i % WS_CLIENT_THREADS].push(client),
            Err(e) => failures.push(e),
        }
    }
    if let Some(first) = failures.first() {
        eprintln!(
            "bench: {} WebSocket handshakes failed, e.g. {first}",
            failures.len()
        );
    }
    let during = Arc::new(Mutex::new(ProcStatus::default()));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = spawn_sampler(server.pid, during.clone(), stop_sampling.clone());
    let drivers: Vec<_> = groups
        .into_iter()
        .map(|group| std::thread::spawn(move || drive_ws_clients(group)))
        .collect();
    std::fs::write(go, b"go").unwrap();
    let outcomes: Vec<WsOutcome> = drivers
        .into_iter()
        .flat_map(|d| d.join().unwrap())
        .collect();
    stop_sampling.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    // The next round's stand-in waits for it again.
    std::fs::remove_file(go).unwrap();
    let complete = outcomes.iter().filter(|o| o.lines == WS_LINES).count();
    let fewest = if failures.is_empty() {
        outcomes.iter().map(|o| o.lines).min().unwrap_or(0)
    } else {
        0
    };
    let messages: usize = outcomes.iter().map(|o| o.messages).sum();
    let mebibytes = outcomes.iter().map(|o| o.bytes).sum::<usize>() / (1 << 20);
    let mut delays: Vec<Duration> = outcomes.into_iter().flat_map(|o| o.delays).collect();
    delays.sort();
    let peak = *during.lock().unwrap();
    FanOut {
        complete,
        fewest,
        failed: failures.len(),
        messages_per_client: messages as f64 / WS_CLIENTS as f64,
        mebibytes,
        p50: percentile(&delays, 0.50),
        p99: percentile(&delays, 0.99),
        max: delays.last().copied().unwrap_or_default(),
        peak,
    }
}

/// The round with the median p99.
pub(crate) fn median_round(mut rounds: Vec<FanOut>) -> FanOut {
    rounds.sort_by_key(|f| f.p99);
    rounds.swap_remove(rounds.len() / 2)
}

/// The table rows of a fan-out round, beside the bare baseline's.
pub(crate) fn fan_out_rows(rows: &mut Vec<Row>, label: &str, ours: &FanOut, base: &FanOut) {
    let every = |f: &FanOut| {
        format!(
            "{}/{WS_CLIENTS} (fewest {}; {} handshakes failed)",
            f.complete, f.fewest, f.failed
        )
    };
    rows.push(row(
        &format!(
            "WS fan-out{label}, {WS_CLIENTS} clients x {WS_LINES} lines: clients with every line"
        ),
        every(ours),
        "all",
        every(base),
        Some(ours.complete == WS_CLIENTS),
    ));
    rows.push(row(
        &format!("WS fan-out{label}: line delay tart print -> client, p50"),
        ms(ours.p50),
        "-",
        ms(base.p50),
        None,
    ));
    let p99 = |f: &FanOut| format!("{} ({})", ms(f.p99), ms(f.max));
    rows.push(row(
        &format!("WS fan-out{label}: line delay p99 (max)"),
        p99(ours),
        "<= 10 ms",
        p99(base),
        Some(ours.p99 <= Duration::from_millis(10)),
    ));
    let sent = |f: &FanOut| format!("{:.1} ({} MiB)", f.messages_per_client, f.mebibytes);
    rows.push(row(
        &format!("WS fan-out{label}: messages per client (MiB sent in all)"),
        sent(ours),
        "-",
        sent(base),
        None,
    ));
}

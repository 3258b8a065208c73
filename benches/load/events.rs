//! The event stream (issue 14): 100 clients on `/ws/events` while one task's `tart`
//! prints 1,000 paced lines (about one task update each), beside the bare tiny_http +
//! tungstenite fan-out baseline fed by the same stand-in; and the inventory at 50 and at
//! 1,000 VMs (refresh, `GET /api/vms`, and the UI's first render in headless Chromium).

use super::*;
use crate::fanout::fan_out_round;

/// Microseconds between the stand-in's lines in the event run (1 ms): each line then
/// reaches the server on its own, so the task sees about one update per line.
const EVENT_LINE_INTERVAL_US: u64 = 1_000;

/// VM counts of the scale run.
const SCALE_VMS: [usize; 2] = [50, 1_000];

/// The UI's first-render script (run by node from `tests/ui`, where playwright-core is).
const FIRST_RENDER_SCRIPT: &str = "tests/ui/bench/first-render.mjs";
/// How long the first-render script may take in all (3 page loads and a browser start)
/// before it is killed and the row says so: a watchdog, well above its 60 s per page.
const FIRST_RENDER_TIMEOUT: Duration = Duration::from_secs(240);

/// The UI's first render at `count` VMs: the median ms (of the script's page loads) from
/// navigation to all `count` rows in the list, or why it was skipped or failed.
fn first_render(port: u16, token: &str, count: usize) -> Result<f64, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("tests/ui/node_modules/playwright-core").is_dir() {
        return Err("skipped: tests/ui/node_modules/playwright-core is missing (scripts/ui-test installs it)".into());
    }
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("skipped: /usr/bin/chromium is missing".into());
    }
    let page = format!("http://127.0.0.1:{port}/#token={token}");
    let mut child = match Command::new("node")
        .arg(root.join(FIRST_RENDER_SCRIPT))
        .arg(&page)
        .arg(count.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err("skipped: node is not installed".into());
        }
        Err(e) => return Err(format!("skipped: cannot start node: {e}")),
    };
    // Drain both pipes on threads so the wait below can time out.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + FIRST_RENDER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("failed: no result in {FIRST_RENDER_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    if !status.success() {
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("failed ({status}): {last}"));
    }
    let line: Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("failed: {e} in {out:?}"))?;
    line["median_ms"]
        .as_f64()
        .ok_or_else(|| format!("failed: no median_ms in {out:?}"))
}

/// What one event client saw.
struct EventOutcome {
    /// Events after the snapshot, up to and including the task's end.
    events: usize,
    /// Task events among them.
    task_events: usize,
    /// Every seq was the one before plus one.
    in_order: bool,
    /// For each event that carried a newer line, from when `tart` printed that line to
    /// the event's arrival.
    delays: Vec<Duration>,
}

/// Connects, reads the snapshot, then follows the stream until a task event ends the
/// task. Runs on its own thread, with a read timeout, as a browser tab would.
fn event_client(
    port: u16,
    token: &str,
    ready: crossbeam_channel::Sender<()>,
) -> Result<EventOutcome, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let url = format!("ws://127.0.0.1:{port}/ws/events?token={token}");
    let config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(32 * 1024);
    let (mut ws, _) = tungstenite::client::client_with_config(url, stream, Some(config))
        .map_err(|e| e.to_string())?;
    let mut next_text = || loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => return Ok(t),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    };
    let snapshot: Value = serde_json::from_str(next_text()?.as_str()).map_err(|e| e.to_string())?;
    let mut last = snapshot["seq"].as_u64().ok_or("no seq in the snapshot")?;
    let _ = ready.send(());
    drop(ready);
    let mut out = EventOutcome {
        events: 0,
        task_events: 0,
        in_order: true,
        delays: Vec::with_capacity(WS_LINES),
    };
    let mut newest_line: Option<usize> = None;
    loop {
        let text = next_text()?;
        let now = unix_nanos();
        let event: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
        let seq = event["seq"].as_u64().unwrap_or(0);
        out.in_order &= seq == last + 1;
        last = seq;
        out.events += 1;
        if event["type"] != "task" {
            continue;
        }
        out.task_events += 1;
        let task = &event["task"];
        if let Some(line) = task["logs"]
            .as_array()
            .and_then(|l| l.last())
            .and_then(Value::as_str)
        {
            let mut words = line.strip_prefix("bench-line ").unwrap_or("").split(' ');
            if let (Some(i), Some(t)) = (
                words.next().and_then(|w| w.parse::<usize>().ok()),
                words.next().and_then(|w| w.parse::<u128>().ok()),
            ) && newest_line.is_none_or(|n| i > n)
            {
                newest_line = Some(i);
                out.delays
                    .push(Duration::from_nanos(now.saturating_sub(t) as u64));
            }
        }
        if matches!(task["status"].as_str(), Some("completed" | "failed")) {
            return Ok(out);
        }
    }
}

impl Bench {
    /// 100 `/ws/events` clients while a pull prints 1,000 paced lines, beside the bare
    /// fan-out baseline with the same stand-in and pacing.
    pub(crate) fn event_fan_out(&mut self, rows: &mut Vec<Row>) {
        let home = self.dir.0.join("home-events");
        std::fs::create_dir_all(&home).unwrap();
        let go = self.dir.0.join("events-go");
        let me = std::env::current_exe().unwrap();
        let env = vec![
            ("TART_HOME".to_string(), home.display().to_string()),
            ("BENCH_AS_TART".to_string(), "1".to_string()),
            ("BENCH_GO_FILE".to_string(), go.display().to_string()),
            ("BENCH_LINES".to_string(), WS_LINES.to_string()),
            (
                "BENCH_LINE_INTERVAL_US".to_string(),
                EVENT_LINE_INTERVAL_US.to_string(),
            ),
        ];
        let server = self.start_server("events", &me, &env);
        eprintln!("bench: event stream, {WS_CLIENTS} clients");
        // Every client has its snapshot before the task starts (or failed trying: its
        // sender is dropped then).
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
        let clients: Vec<_> = (0..WS_CLIENTS)
            .map(|_| {
                let (port, token, ready) = (server.port, server.token.clone(), ready_tx.clone());
                std::thread::spawn(move || event_client(port, &token, ready))
            })
            .collect();
        drop(ready_tx);
        while ready_rx.recv_timeout(IO_TIMEOUT).is_ok() {}
        let mut conn = Conn::open(server.port);
        let (status, body) = conn.call(
            &server,
            "POST",
            "/api/vms/pull",
            Some(br#"{"oci_url":"ghcr.io/bench/events:latest"}"#),
        );
        assert_eq!(status, 202, "pull: {}", String::from_utf8_lossy(&body));
        std::fs::write(&go, b"go").unwrap();
        let outcomes: Vec<Result<EventOutcome, String>> =
            clients.into_iter().map(|c| c.join().unwrap()).collect();
        std::fs::remove_file(&go).unwrap();
        let ok: Vec<&EventOutcome> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        let most = ok.iter().map(|o| o.events).max().unwrap_or(0);
        let complete = ok.iter().filter(|o| o.in_order && o.events == most).count();
        let task_events = ok.iter().map(|o| o.task_events).max().unwrap_or(0);
        let mut delays: Vec<Duration> = ok.iter().flat_map(|o| o.delays.iter().copied()).collect();
        delays.sort();
        self.stop(server);

        // The baseline: the same stand-in, paced alike, its lines forwarded to 100 clients.
        let go_base = go.with_extension("base");
        let baseline = self.start_fanout_baseline(&go_base, &env);
        let url = format!("ws://127.0.0.1:{}/", baseline.port);
        let base = fan_out_round(&baseline, &url, &go_base);
        self.stop(baseline);

        rows.push(row(
            &format!(
                "event stream, {WS_CLIENTS} clients x {task_events} task updates: clients with every event, in seq order"
            ),
            format!("{complete}/{WS_CLIENTS} ({most} events each)"),
            "all",
            format!("{}/{WS_CLIENTS} with every line", base.complete),
            Some(complete == WS_CLIENTS),
        ));
        rows.push(row(
            "event stream: line printed -> event received, p50 / p99",
            format!(
                "{} / {}",
                ms(percentile(&delays, 0.50)),
                ms(percentile(&delays, 0.99))
            ),
            "-",
            format!("{} / {}", ms(base.p50), ms(base.p99)),
            None,
        ));
    }

    /// The inventory at 50 and at 1,000 VMs: a refresh (tart list, every config.json
    /// read) and `GET /api/vms` (served from the cache).
    pub(crate) fn scale(&mut self, rows: &mut Vec<Row>) {
        let home = self.dir.0.join("home-scale");
        std::fs::create_dir_all(&home).unwrap();
        let mut made = 0;
        let mut figures = Vec::new();
        let mut renders = Vec::new();
        for count in SCALE_VMS {
            eprintln!("bench: scale, creating VMs up to {count}");
            while made < count {
                made += 1;
                sim(&home, &["create", "--linux", &vm_name(made)]);
            }
            let env = vec![("TART_HOME".to_string(), home.display().to_string())];
            let server = self.start_server(&format!("scale-{count}"), Path::new(SIM_BIN), &env);
            let mut conn = Conn::open(server.port);
            let mut refreshes = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                let (status, _) = conn.call(&server, "POST", "/api/vms/refresh", Some(b"{}"));
                refreshes.push(t.elapsed());
                assert_eq!(status, 200, "refresh at {count} VMs");
            }
            let mut gets = Vec::new();
            let mut bytes = 0;
            for _ in 0..200 {
                let t = Instant::now();
                let (status, body) = conn.call(&server, "GET", "/api/vms", None);
                gets.push(t.elapsed());
                assert_eq!(status, 200);
                bytes = body.len();
            }
            gets.sort();
            eprintln!("bench: scale, the UI's first render at {count} VMs");
            let render = first_render(server.port, &server.token, count);
            if let Err(why) = &render {
                eprintln!("bench: first render at {count} VMs {why}");
            }
            renders.push((count, render));
            figures.push((
                count,
                median(&mut refreshes),
                percentile(&gets, 0.50),
                bytes,
            ));
            drop(conn);
            self.stop(server);
        }
        let describe = |f: &(usize, Duration, Duration, usize)| format!("{} VMs: {}", f.0, ms(f.1));
        rows.push(row(
            "scale: refresh (tart list + config files), median of 5",
            figures.iter().map(describe).collect::<Vec<_>>().join(", "),
            "-",
            "-".into(),
            None,
        ));
        rows.push(row(
            "scale: GET /api/vms p50 (body size)",
            figures
                .iter()
                .map(|f| format!("{} VMs: {} ({} KiB)", f.0, ms(f.2), f.3 / 1024))
                .collect::<Vec<_>>()
                .join(", "),
            "-",
            "-".into(),
            None,
        ));
        rows.push(row(
            "scale: UI first render in Chromium, navigation -> all rows listed, median of 3",
            renders
                .iter()
                .map(|(count, r)| match r {
                    Ok(ms) => format!("{count} VMs: {ms:.0} ms"),
                    Err(why) => format!("{count} VMs: {why}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            "-",
            "-".into(),
            None,
        ));
    }
}

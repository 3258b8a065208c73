//! The inventory world: 50 VMs, 20 running; start-up, refresh (cold and warm), idle
//! memory, and the `GET /api/vms` load beside the bare tiny_http baseline.

use super::*;

impl Bench {
    /// 50 VMs, 20 running: start-up, refresh (cold and warm), idle memory, and the
    /// `GET /api/vms` load against the bare tiny_http baseline.
    pub(crate) fn inventory_world(&mut self, rows: &mut Vec<Row>) {
        let home = self.dir.0.join("home-inventory");
        std::fs::create_dir_all(&home).unwrap();
        eprintln!("bench: creating {VMS} VMs, starting {RUNNING}");
        for i in 1..=VMS {
            sim(&home, &["create", "--linux", &vm_name(i)]);
        }
        for i in 1..=RUNNING {
            let child = Command::new(SIM_BIN)
                .args(["run", "--no-graphics", &vm_name(i)])
                .env("TART_HOME", &home)
                .env("TART_SIM_BOOT_MS", "0")
                .env("CI", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start tart-sim run");
            self.children.add(child);
        }
        wait_until(Duration::from_secs(20), || {
            let out = sim(&home, &["list", "--format", "json"]);
            let list: Vec<Value> = serde_json::from_slice(&out).unwrap_or_default();
            let running = list.iter().filter(|v| v["State"] == "running").count();
            let leased = (1..=RUNNING)
                .filter(|&i| !sim(&home, &["ip", &vm_name(i)]).is_empty())
                .count();
            running == RUNNING && leased == RUNNING
        });

        // Start-up: median of five starts to the first answered health check. The fault
        // makes the start-up refresh fail at once, so the first timed refresh is cold.
        let faults = self.dir.0.join("faults-inventory");
        std::fs::write(&faults, "fail list 1 bench: not yet\n").unwrap();
        let env = |latency: u64| {
            vec![
                ("TART_HOME".to_string(), home.display().to_string()),
                ("TART_SIM_LATENCY_MS".to_string(), latency.to_string()),
                ("TART_SIM_FAULTS".to_string(), faults.display().to_string()),
            ]
        };
        let mut startups = Vec::new();
        for i in 0..5 {
            let s = self.start_server(&format!("startup-{i}"), Path::new(SIM_BIN), &env(0));
            startups.push(s.startup);
            self.stop(s);
        }
        let mut baseline_startups = Vec::new();
        let payload = self.dir.0.join("payload.json");
        std::fs::write(&payload, b"[]").unwrap();
        for _ in 0..5 {
            let b = self.start_baseline(&payload);
            baseline_startups.push(b.startup);
            self.stop(b);
        }
        let startup = median(&mut startups);
        rows.push(row(
            "start-up to first answered GET /api/health",
            ms(startup),
            "<= 50 ms",
            ms(median(&mut baseline_startups)),
            Some(startup <= Duration::from_millis(50)),
        ));

        let server = self.start_server("inventory", Path::new(SIM_BIN), &env(TART_LATENCY_MS));
        // Wait for the start-up refresh to fail (the fault), so none is in flight.
        let log = self.dir.0.join("server-inventory.log");
        wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("refresh failed"))
        });
        std::fs::write(&faults, "").unwrap();
        let mut conn = Conn::open(server.port);
        let t = Instant::now();
        let (status, body) = conn.call(&server, "POST", "/api/vms/refresh", Some(b"{}"));
        let cold = t.elapsed();
        assert_eq!(status, 200, "refresh: {}", String::from_utf8_lossy(&body));
        let vms: Vec<Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(vms.len(), VMS);
        let with_ip = vms.iter().filter(|v| v["ip_address"].is_string()).count();
        assert_eq!(with_ip, RUNNING, "every running VM has its IP");
        let complete = vms
            .iter()
            .filter(|v| v["cpu"].is_u64() && v["memory"].is_string());
        assert_eq!(complete.count(), VMS, "every VM has its settings");
        let mut warm = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let (status, _) = conn.call(&server, "POST", "/api/vms/refresh", Some(b"{}"));
            warm.push(t.elapsed());
            assert_eq!(status, 200);
        }
        let warm = median(&mut warm);
        // The floor: two tart calls one after the other (list, then the per-VM round).
        let floor = {
            let t = Instant::now();
            sim_with(&home, &["list", "--format", "json"], TART_LATENCY_MS);
            sim_with(&home, &["ip", &vm_name(1)], TART_LATENCY_MS);
            t.elapsed()
        };
        rows.push(row(
            "refresh, 50 VMs / 20 running, 200 ms per tart call: first after start-up",
            secs(cold),
            "<= 0.6 s",
            format!("{} (2 calls in a row)", secs(floor)),
            Some(cold <= Duration::from_millis(600)),
        ));
        rows.push(row(
            "refresh, same, later (each: list, then 20 ip at once)",
            secs(warm),
            "<= 0.6 s",
            format!("{} (2 calls in a row)", secs(floor)),
            Some(warm <= Duration::from_millis(600)),
        ));

        std::thread::sleep(Duration::from_millis(500));
        let idle = proc_status(server.pid);
        drop(conn);

        // GET /api/vms under load, against the bare tiny_http server with the same bytes.
        let (_, list) = Conn::open(server.port).call(&server, "GET", "/api/vms", None);
        std::fs::write(&payload, &list).unwrap();
        let baseline = self.start_baseline(&payload);
        let idle_baseline = proc_status(baseline.pid);
        let ours_req = get_request(server.port, Some(&server.token));
        let base_req = get_request(baseline.port, Some(&server.token));
        let mut results: HashMap<(bool, usize), LoadResult> = HashMap::new();
        let mut under_load = ProcStatus::default();
        let mut under_load_baseline = ProcStatus::default();
        for conns in [1, 32] {
            for round in 0..self.opts.rounds {
                for ours in [true, false] {
                    let (port, req, pid) = if ours {
                        (server.port, &ours_req, server.pid)
                    } else {
                        (baseline.port, &base_req, baseline.pid)
                    };
                    eprintln!(
                        "bench: GET /api/vms {} conns={conns} round {}",
                        if ours { "server" } else { "baseline" },
                        round + 1
                    );
                    let r = load(port, req, list.len(), conns, self.opts.seconds, pid);
                    let peak = if ours {
                        &mut under_load
                    } else {
                        &mut under_load_baseline
                    };
                    peak.max_with(&r.peak);
                    let best = results.entry((ours, conns)).or_insert_with(|| r.clone());
                    // Best: every connection answered, then the most requests.
                    if (r.starved, -r.rps) < (best.starved, -best.rps) {
                        *best = r;
                    }
                }
            }
        }
        for conns in [1, 32] {
            let (o, b) = (&results[&(true, conns)], &results[&(false, conns)]);
            let figure = format!("GET /api/vms ({} B), {conns} conn", list.len());
            if conns == 32 {
                rows.push(row(
                    &format!("{figure}: req/s"),
                    rps(o),
                    ">= 20,000",
                    rps(b),
                    Some(o.rps >= 20_000.0 && o.starved == 0),
                ));
                rows.push(row(
                    &format!("{figure}: p50"),
                    ms(o.p50),
                    "-",
                    ms(b.p50),
                    None,
                ));
                rows.push(row(
                    &format!("{figure}: p99"),
                    ms(o.p99),
                    "<= 2 ms",
                    ms(b.p99),
                    Some(o.p99 <= Duration::from_millis(2)),
                ));
                // Little's law: 32 connections that are never idle hold 32 requests in
                // flight, so the mean latency is 32 / (req/s) whatever the server does.
                rows.push(row(
                    &format!("{figure}: mean (= {conns} / req/s when never idle)"),
                    format!("{} (32 / req/s: {})", ms(o.mean), secs_ms(32.0 / o.rps)),
                    "-",
                    format!("{} (32 / req/s: {})", ms(b.mean), secs_ms(32.0 / b.rps)),
                    None,
                ));
            } else {
                rows.push(row(&format!("{figure}: req/s"), rps(o), "-", rps(b), None));
                rows.push(row(
                    &format!("{figure}: p50"),
                    ms(o.p50),
                    "<= 0.2 ms",
                    ms(b.p50),
                    Some(o.p50 <= Duration::from_micros(200)),
                ));
                rows.push(row(
                    &format!("{figure}: p99"),
                    ms(o.p99),
                    "-",
                    ms(b.p99),
                    None,
                ));
            }
        }
        rows.push(row(
            "RSS idle (50 VMs loaded)",
            mib(idle.rss_kib * 1024),
            "<= 8 MiB",
            mib(idle_baseline.rss_kib * 1024),
            Some(idle.rss_kib <= 8 * 1024),
        ));
        rows.push(row(
            "threads idle (50 VMs loaded)",
            idle.threads.to_string(),
            "bounded",
            idle_baseline.threads.to_string(),
            None,
        ));
        rows.push(row(
            "RSS / threads under GET load (peak, 32 conns)",
            format!(
                "{} / {}",
                mib(under_load.rss_kib * 1024),
                under_load.threads
            ),
            "-",
            format!(
                "{} / {}",
                mib(under_load_baseline.rss_kib * 1024),
                under_load_baseline.threads
            ),
            None,
        ));
        self.stop(baseline);
        self.stop(server);
    }
}

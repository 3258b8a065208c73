//! Short tasks: batches of 200 `stop`s of stopped VMs submitted at once, to show
//! the threads level off.

use super::*;

impl Bench {
    /// 200 `stop`s of stopped VMs (each fails fast) submitted at once.
    pub(crate) fn short_tasks(&mut self, rows: &mut Vec<Row>) {
        let home = self.dir.0.join("home-tasks");
        std::fs::create_dir_all(&home).unwrap();
        eprintln!("bench: creating {SHORT_TASKS} VMs for the short tasks");
        for i in 1..=SHORT_TASKS {
            sim(&home, &["create", "--linux", &vm_name(i)]);
        }
        // The floor: the same 200 `tart stop`s run straight from here, 4 at a time
        // (the server's task workers), with no server in between.
        let floor = {
            let next = AtomicUsize::new(1);
            let t = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..taartenfabriek::limits::TASK_WORKERS {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            if i > SHORT_TASKS {
                                break;
                            }
                            sim(&home, &["stop", "--timeout", "30", "--", &vm_name(i)]);
                        }
                    });
                }
            });
            t.elapsed()
        };
        let env = vec![("TART_HOME".to_string(), home.display().to_string())];
        let server = self.start_server("tasks", Path::new(SIM_BIN), &env);
        // Let the start-up refresh finish, so every VM is known.
        wait_until(Duration::from_secs(20), || {
            let (_, body) = Conn::open(server.port).call(&server, "GET", "/api/vms", None);
            serde_json::from_slice::<Vec<Value>>(&body).map_or(0, |v| v.len()) == SHORT_TASKS
        });
        let idle = proc_status(server.pid);
        // Five batches: threads must level off, not grow with the number of finished
        // tasks (the pool nudges keep a few idle connection threads from expiring).
        let first = task_batch(&server);
        let later: Vec<TaskBatch> = (0..4).map(|_| task_batch(&server)).collect();
        let (all_done, submitted, accepted, peak) =
            (first.all_done, first.submitted, first.accepted, first.peak);
        rows.push(row(
            &format!("{SHORT_TASKS} short tasks at once (stop of a stopped VM): all finished"),
            format!(
                "{} ({} accepted in {})",
                secs(all_done),
                accepted,
                secs(submitted)
            ),
            "-",
            format!("{} (same tart calls, 4 at a time)", secs(floor)),
            None,
        ));
        let threads_after: Vec<String> = std::iter::once(&first)
            .chain(&later)
            .map(|b| b.after.threads.to_string())
            .collect();
        let (last, before_last) = (&later[3].after, &later[2].after);
        rows.push(row(
            &format!(
                "RSS / threads: idle (200 VMs) -> peak -> after each of 5 x {SHORT_TASKS} tasks"
            ),
            format!(
                "{} / {} -> {} / {} -> {} / {}",
                mib(idle.rss_kib * 1024),
                idle.threads,
                mib(peak.rss_kib * 1024),
                peak.threads,
                mib(last.rss_kib * 1024),
                threads_after.join(", ")
            ),
            "levels off",
            "-".into(),
            Some(last.threads <= before_last.threads),
        ));
        self.stop(server);
    }
}

/// What one batch of short tasks measured.
pub(crate) struct TaskBatch {
    pub(crate) all_done: Duration,
    pub(crate) submitted: Duration,
    pub(crate) accepted: usize,
    /// Memory and threads 6 s after the batch finished.
    pub(crate) after: ProcStatus,
    pub(crate) peak: ProcStatus,
}

/// Submits [`SHORT_TASKS`] stops of stopped VMs at once from [`SUBMITTERS`] connections
/// and waits for them all to finish.
pub(crate) fn task_batch(server: &Started) -> TaskBatch {
    let during = Arc::new(Mutex::new(ProcStatus::default()));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = spawn_sampler(server.pid, during.clone(), stop_sampling.clone());
    eprintln!("bench: submitting {SHORT_TASKS} stop tasks");
    let start = Instant::now();
    let next = AtomicUsize::new(1);
    let ids = Mutex::new(Vec::new());
    let refused = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..SUBMITTERS {
            s.spawn(|| {
                let mut conn = Conn::open(server.port);
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i > SHORT_TASKS {
                        break;
                    }
                    let path = format!("/api/vms/{}/stop", vm_name(i));
                    let (status, body) = conn.call(server, "POST", &path, Some(b"{}"));
                    if status == 202 {
                        let task: Value = serde_json::from_slice(&body).unwrap();
                        ids.lock()
                            .unwrap()
                            .push(task["id"].as_str().unwrap().to_string());
                    } else {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let submitted = start.elapsed();
    let ids = ids.into_inner().unwrap();
    let mut conn = Conn::open(server.port);
    let mut pending: Vec<String> = ids.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "tasks did not finish in 120 s");
        pending.retain(|id| {
            let (_, body) = conn.call(server, "GET", &format!("/api/tasks/{id}"), None);
            let task: Value = serde_json::from_slice(&body).unwrap_or_default();
            !matches!(task["status"].as_str(), Some("completed" | "failed"))
        });
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let all_done = start.elapsed();
    stop_sampling.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    // tiny_http's pool lets an idle connection thread go after 5 s.
    std::thread::sleep(Duration::from_secs(6));
    let after = proc_status(server.pid);
    let peak = *during.lock().unwrap();
    let refused = refused.load(Ordering::SeqCst);
    if refused > 0 {
        eprintln!("bench: {refused} submissions were refused");
    }
    TaskBatch {
        all_done,
        submitted,
        accepted: ids.len(),
        after,
        peak,
    }
}

//! Processes and files: /proc sampling, children killed on drop, the temporary world,
//! tart-sim calls, waits and clocks.

use super::*;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcStatus {
    pub(crate) rss_kib: u64,
    pub(crate) threads: u64,
}

impl ProcStatus {
    pub(crate) fn max_with(&mut self, other: &ProcStatus) {
        self.rss_kib = self.rss_kib.max(other.rss_kib);
        self.threads = self.threads.max(other.threads);
    }
}

/// `VmRSS` and `Threads` from `/proc/<pid>/status`.
pub(crate) fn proc_status(pid: u32) -> ProcStatus {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    ProcStatus {
        rss_kib: field("VmRSS:"),
        threads: field("Threads:"),
    }
}

/// Samples the process every 20 ms into `peak` until `stop`.
pub(crate) fn spawn_sampler(
    pid: u32,
    peak: Arc<Mutex<ProcStatus>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let now = proc_status(pid);
            peak.lock().unwrap().max_with(&now);
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// Children killed and waited for on drop, so nothing outlives the run; and which of
/// them is `perf record` (`BENCH_PERF`), if any, which is stopped with SIGINT instead.
#[derive(Default)]
pub(crate) struct Children(pub(crate) Vec<Child>, pub(crate) Option<u32>);

impl Children {
    pub(crate) fn add(&mut self, child: Child) {
        self.0.push(child);
    }

    pub(crate) fn kill(&mut self, pid: u32) {
        if let Some(i) = self.0.iter().position(|c| c.id() == pid) {
            let mut child = self.0.remove(i);
            if self.1 == Some(pid) {
                // `perf record` must end on SIGINT to write its data.
                // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
                unsafe { libc::kill(pid as i32, libc::SIGINT) };
                let until = Instant::now() + Duration::from_secs(10);
                while child.try_wait().is_ok_and(|s| s.is_none()) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The temporary world, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("tf-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn vm_name(i: usize) -> String {
    format!("vm-{i:03}")
}

/// Runs tart-sim in `home` and returns its stdout.
pub(crate) fn sim(home: &Path, args: &[&str]) -> Vec<u8> {
    sim_with(home, args, 0)
}

pub(crate) fn sim_with(home: &Path, args: &[&str], latency_ms: u64) -> Vec<u8> {
    Command::new(SIM_BIN)
        .args(args)
        .env("TART_HOME", home)
        .env("CI", "1")
        .env("TART_SIM_LATENCY_MS", latency_ms.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run tart-sim")
        .stdout
}

pub(crate) fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

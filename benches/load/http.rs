//! The HTTP load generator (event-driven, as `wrk -t2`) and a small keep-alive client.

use super::*;

#[derive(Clone)]
pub(crate) struct LoadResult {
    pub(crate) rps: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) mean: Duration,
    /// Connections that got no answer in the measured time.
    pub(crate) starved: usize,
    pub(crate) peak: ProcStatus,
}

/// Threads of the HTTP load generator, each driving its share of the connections with
/// poll(2), as `wrk -t2` does: one per core, so that the generator does not crowd the
/// server's threads with its own (32 blocking client threads made the p99 a measure of
/// the scheduler's queue for ours and the baseline alike).
pub(crate) const LOAD_THREADS: usize = 2;

/// `conns` keep-alive connections, each sending `req` again as soon as its answer is
/// complete, for the measured time after a warm-up; every latency is kept and sorted.
/// The connections are opened one at a time, each answered once before the next opens:
/// tiny_http's pool can leave a connection of a simultaneous burst unserved (see
/// `src/web/nudge.rs`), and a bare baseline would then be measured on fewer
/// connections than ours. A connection that got no answer in the measured time is
/// counted in `starved`.
pub(crate) fn load(
    port: u16,
    req: &[u8],
    body_len: usize,
    conns: usize,
    seconds: f64,
    pid: u32,
) -> LoadResult {
    let warmup = Duration::from_secs_f64(seconds / 5.0);
    let measure = Duration::from_secs_f64(seconds);
    let mut groups: Vec<Vec<LoadConn>> = (0..LOAD_THREADS).map(|_| Vec::new()).collect();
    for i in 0..conns {
        let mut conn = Conn::open(port);
        let (status, len) = conn.raw(req).expect("first request");
        assert_eq!((status, len), (200, body_len), "unexpected answer");
        groups[i % LOAD_THREADS].push(LoadConn::new(conn.stream, req));
    }
    let during = Arc::new(Mutex::new(ProcStatus::default()));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = spawn_sampler(pid, during.clone(), stop_sampling.clone());
    let begin = Instant::now() + warmup;
    let end = begin + measure;
    let drivers: Vec<_> = groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|group| std::thread::spawn(move || drive_load(group, body_len, begin, end)))
        .collect();
    let mut latencies = Vec::new();
    let mut starved = 0;
    for driver in drivers {
        let (lat, idle) = driver.join().unwrap();
        latencies.extend(lat);
        starved += idle;
    }
    stop_sampling.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    latencies.sort();
    let peak = *during.lock().unwrap();
    let total: Duration = latencies.iter().sum();
    LoadResult {
        rps: latencies.len() as f64 / measure.as_secs_f64(),
        mean: total / latencies.len().max(1) as u32,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        starved,
        peak,
    }
}

/// One connection of the load generator.
pub(crate) struct LoadConn {
    pub(crate) stream: TcpStream,
    pub(crate) req: Vec<u8>,
    pub(crate) buf: Vec<u8>,
    pub(crate) sent_at: Instant,
    pub(crate) answered_in_window: usize,
    pub(crate) done: bool,
}

impl LoadConn {
    pub(crate) fn new(stream: TcpStream, req: &[u8]) -> LoadConn {
        stream.set_nonblocking(true).unwrap();
        LoadConn {
            stream,
            req: req.to_vec(),
            buf: Vec::with_capacity(64 * 1024),
            sent_at: Instant::now(),
            answered_in_window: 0,
            done: false,
        }
    }

    pub(crate) fn send(&mut self) {
        // A request is far smaller than an empty socket's send buffer: it never blocks.
        self.stream
            .write_all(&self.req)
            .expect("send a load request");
        self.sent_at = Instant::now();
    }

    /// Reads what is ready; returns the latency of the answer it completed, if any.
    pub(crate) fn read_ready(&mut self, body_len: usize) -> Option<Duration> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the server closed a load connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("load connection: {e}"),
            }
        }
        let head_end = find(&self.buf, b"\r\n\r\n")? + 4;
        if self.buf.len() < head_end + body_len {
            return None;
        }
        let latency = self.sent_at.elapsed();
        assert!(
            self.buf.starts_with(b"HTTP/1.1 200 "),
            "unexpected answer: {}",
            String::from_utf8_lossy(&self.buf[..head_end])
        );
        assert_eq!(
            self.buf.len(),
            head_end + body_len,
            "unexpected answer length"
        );
        self.buf.clear();
        Some(latency)
    }
}

/// Runs one generator thread's connections until `end`; returns the latencies of the
/// answers to requests sent from `begin` on, and how many connections got none.
pub(crate) fn drive_load(
    mut conns: Vec<LoadConn>,
    body_len: usize,
    begin: Instant,
    end: Instant,
) -> (Vec<Duration>, usize) {
    use std::os::fd::AsRawFd;
    let mut latencies = Vec::with_capacity(1 << 18);
    for conn in &mut conns {
        conn.send();
    }
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // A connection still unanswered this long after the end is given up on.
    let give_up = end + Duration::from_secs(2);
    while conns.iter().any(|c| !c.done) && Instant::now() < give_up {
        // SAFETY: `fds` is a live, correctly sized array of pollfd for the whole call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for (fd, conn) in fds.iter_mut().zip(&mut conns) {
            if fd.revents == 0 || conn.done {
                continue;
            }
            let Some(latency) = conn.read_ready(body_len) else {
                continue;
            };
            if conn.sent_at >= begin {
                latencies.push(latency);
                conn.answered_in_window += 1;
            }
            if Instant::now() < end {
                conn.send();
            } else {
                conn.done = true;
                fd.fd = -1; // answered its last request: poll skips it from now on
            }
        }
    }
    let starved = conns.iter().filter(|c| c.answered_in_window == 0).count();
    (latencies, starved)
}

pub(crate) fn get_request(port: u16, token: Option<&str>) -> Vec<u8> {
    request_bytes(port, "GET", "/api/vms", token, None)
}

pub(crate) fn request_bytes(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(token) = token {
        r.push_str(&format!("X-Local-Token: {token}\r\n"));
    }
    if let Some(body) = body {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    bytes
}

/// A keep-alive HTTP/1.1 client connection: one request at a time, `Content-Length`
/// bodies only (the server never chunks, see `reply.rs`).
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) port: u16,
    pub(crate) buf: Vec<u8>,
    pub(crate) body: Vec<u8>,
}

impl Conn {
    pub(crate) fn open(port: u16) -> Conn {
        Conn::try_open(port).expect("connect")
    }

    pub(crate) fn try_open(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        Ok(Conn {
            stream,
            port,
            buf: Vec::with_capacity(64 * 1024),
            body: Vec::new(),
        })
    }

    /// A request with the server's token; returns the status and the body.
    pub(crate) fn call(
        &mut self,
        server: &Started,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> (u16, Vec<u8>) {
        let req = request_bytes(self.port, method, path, Some(&server.token), body);
        let (status, _) = self.raw(&req).expect("request");
        (status, std::mem::take(&mut self.body))
    }

    /// Sends prepared request bytes; returns the status and the body length, the body in
    /// `self.body`.
    pub(crate) fn raw(&mut self, req: &[u8]) -> io::Result<(u16, usize)> {
        self.stream.write_all(req)?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(io::Error::other)?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("bad status line"))?;
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buf.len() < head_end + len {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        self.body.clear();
        self.body
            .extend_from_slice(&self.buf[head_end..head_end + len]);
        Ok((status, len))
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

//! Every limit and timeout of the server, in one place, each with its value and reason.
//!
//! Nothing here is configurable at run time on purpose: these are safety bounds, not
//! tuning knobs. Embedders who need other values change them here and rebuild. The one
//! exception is the `tart` timeouts, which are the defaults of
//! [`crate::config::Timeouts`] and can be shortened per server (tests do).
//!
//! # What they add up to (memory)
//!
//! One task holds at most [`MAX_TASK_LOG_BYTES`] of log (64 KiB, in at most
//! [`MAX_LOG_LINES`] lines), [`MAX_STDERR_TAIL_BYTES`] of stderr (16 KiB) and
//! [`MAX_TASK_ERROR_BYTES`] of error (4 KiB); with its argv, result and fields, about
//! 86 KiB of text (plus ~50 KiB of bookkeeping when its log is 2,000 tiny lines).
//! - The store: [`MAX_TASKS_KEPT`] finished tasks (500 × 86 KiB ≈ 42 MiB), plus the
//!   unfinished ones: at most [`MAX_QUEUED_TASKS`] pending tasks with no output yet
//!   (~1 KiB each) and the few running ones.
//! - `GET /api/tasks`: one JSON array of those, ≈ 42 MiB at worst (text made of quotes
//!   and backslashes serializes to up to twice that).
//! - The journal: ids only in memory; on disk the kept tasks plus at most
//!   [`JOURNAL_COMPACT_AFTER_BYTES`] (≈ 50 MiB); read at start line by line, lines of at
//!   most [`MAX_JOURNAL_LINE_BYTES`], every task trimmed to the budgets above.
//! - A start task following a `tart run` log: [`MAX_RUN_LOG_READ_PER_POLL`] (1 MiB) of
//!   bytes and at most [`MAX_LOG_LINES`] new lines at a time; the file itself is emptied
//!   at [`MAX_RUN_LOG_BYTES`] (16 MiB).
//! - A `tart` call's capture: [`MAX_CAPTURE_BYTES`] per stream (4 MiB × 2) for at most
//!   [`MAX_TART_PROCESSES`] calls at once (the worst case is 256 MiB, reached only if 32
//!   calls flood at once; besides, a call's lines are streamed into its task).
//!
//! So the task history costs tens of MiB at most. A WebSocket client waiting for a task
//! holds at most one snapshot it has not sent yet, shared with every other client of
//! that task: [`MAX_WS_CLIENTS`] clients of one chatty task cost one or two copies of it
//! (~100 KiB each), not one queue each.

use std::time::Duration;

/// Largest request body accepted (64 KiB). Every body this API takes is a tiny JSON
/// object; anything bigger is a mistake or an attack and gets 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Declared `Content-Length` above which an unread body's connection is abandoned
/// instead of drained (1 GiB). tiny_http drains an unread body into a zeroed buffer of
/// the size still missing, allocated anew for each read (DESIGN.md fact 2). Zeroed
/// memory is mapped lazily, so only the pages a read fills cost RSS, but the allocation
/// must succeed: 1 GiB does on any machine this runs on, many GiB could abort the
/// process. Below the cap a client that closes frees its connection at once (it used to
/// be 256 MiB, so 300 MB declarations leaked, ARCHITECTURE.md H2).
pub const MAX_DRAINABLE_BODY_BYTES: usize = 1024 * 1024 * 1024;

/// Threads that take requests from tiny_http's queue (16). No handler runs `tart`, but
/// a few wait a bounded time for one (a refresh, a VM's details on a cache miss: at
/// most [`MAX_FRESH_WAITERS`] + [`MAX_BACKGROUND_QUERIES`] at once); 16 keeps the cheap
/// routes answering meanwhile.
pub const HTTP_WORKERS: usize = 16;

/// How long a write to a client socket may block before the client is dropped (10 s).
/// Set on the listener and inherited by accepted sockets: a client that stops reading
/// cannot hold a thread forever.
pub const CLIENT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket clients at once (256); the next upgrade gets 503. Each holds one thread.
pub const MAX_WS_CLIENTS: usize = 256;

/// Server-Sent Events streams (`/api/events`) at once (64); the next gets 503. Each
/// holds one thread of its own and one connection, never an HTTP worker; the UI uses
/// the WebSocket, so these are scripts and `curl -N`.
pub const MAX_SSE_STREAMS: usize = 64;

/// Requests parked in `GET /api/tasks/{id}/wait` at once (1,024); the next gets 503.
/// They wait on one thread, not on the HTTP workers (`web::waits`); this bounds the
/// memory they hold and the connections kept open for them.
pub const MAX_TASK_WAITS: usize = 1_024;

/// How long a task wait lasts without `?timeout=` (30 s), as `api-next.md` §4 says.
pub const TASK_WAIT_DEFAULT: Duration = Duration::from_secs(30);

/// Longest `?timeout=` of a task wait (300 s): longer waits re-ask; a bound keeps a
/// forgotten client from holding a slot for ever.
pub const TASK_WAIT_MAX: Duration = Duration::from_secs(300);

/// Tasks `GET /api/tasks` lists without `?limit=` (50).
pub const TASK_LIST_DEFAULT_LIMIT: usize = 50;

/// Largest `?limit=` of `GET /api/tasks` (500, all that is kept: `MAX_TASKS_KEPT`).
pub const TASK_LIST_MAX_LIMIT: usize = 500;

/// Largest WebSocket message or frame we accept from a client (4 KiB). The stream is
/// push-only; clients only ever send pongs and close frames.
pub const MAX_WS_INCOMING_MESSAGE: usize = 4 * 1024;

/// How often a running task's output (log lines, progress) goes to the journal without a
/// status change (2 s): a task interrupted by a restart keeps its log up to about then,
/// and a chatty task adds at most one journal line per 2 s.
pub const JOURNAL_OUTPUT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Interval between pings on an open WebSocket (20 s), so dead peers are noticed and
/// proxies keep the connection.
pub const WS_PING_INTERVAL: Duration = Duration::from_secs(20);

/// Worker threads of the quick lane (4): stop, delete, settings, rename, suspend,
/// login. They take seconds, and never wait behind a transfer or a boot.
pub const TASK_WORKERS: usize = 4;

/// Worker threads of the transfer lane (4): pull, clone, create. Each may take hours
/// and a share of the network; four bound the parallel downloads a user can start.
pub const TRANSFER_WORKERS: usize = 4;

/// Worker threads of the boot-wait lane (8): a start holds one while it waits for its
/// VM to prove it started (up to [`START_IP_TIMEOUT`]), mostly asleep. Real hosts run
/// two macOS guests at most; eight leaves room for Linux guests.
pub const BOOT_WAIT_WORKERS: usize = 8;

/// Tasks accepted but not yet started (256); the next submission gets 429.
pub const MAX_QUEUED_TASKS: usize = 256;

/// Finished tasks kept in memory and on disk (500); the oldest finished ones go first.
pub const MAX_TASKS_KEPT: usize = 500;

/// New journal bytes after which `tasks.jsonl` is compacted (8 MiB), besides every
/// 2,000 lines: the file stays under the kept tasks plus this.
pub const JOURNAL_COMPACT_AFTER_BYTES: usize = 8 * 1024 * 1024;

/// Longest journal line read at start (16 MiB): a task within today's budgets is under
/// 200 KiB; older servers wrote tasks of up to ~12 MiB, which are read and trimmed.
/// Longer lines are skipped as unreadable, never held whole.
pub const MAX_JOURNAL_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Longest `error` a task keeps (4 KiB, the end of it): the error is one readable line;
/// the details are in `stderr`.
pub const MAX_TASK_ERROR_BYTES: usize = 4 * 1024;

/// Log lines kept per task (2,000); older lines are dropped and counted.
pub const MAX_LOG_LINES: usize = 2_000;

/// Log bytes kept per task (64 KiB), whatever the number of lines: the oldest lines go
/// first. With [`MAX_TASKS_KEPT`] this bounds every task log in memory together (see
/// the sums in this module's documentation).
pub const MAX_TASK_LOG_BYTES: usize = 64 * 1024;

/// Longest log line kept (4 KiB); longer lines are cut and marked.
pub const MAX_LOG_LINE_BYTES: usize = 4 * 1024;

/// `tart run` log files kept in `<data-dir>/logs` (200); starting a VM deletes the
/// oldest beyond this. A VM's log is only read while its start task runs.
pub const MAX_RUN_LOGS: usize = 200;

/// Size at which a `tart run` log is emptied (16 MiB), checked while its start task
/// waits and by the run's reaper every [`RUN_LOG_CHECK_INTERVAL`] while this server runs.
pub const MAX_RUN_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// Most of a `tart run` log read in one poll (1 MiB); when more is waiting, the older
/// part is skipped. With [`START_LOG_POLL_INTERVAL`] that reads up to 10 MiB/s.
pub const MAX_RUN_LOG_READ_PER_POLL: u64 = 1024 * 1024;

/// How often a running VM's reaper checks its log against [`MAX_RUN_LOG_BYTES`] and its
/// `tart run` for an exit (500 ms).
pub const RUN_LOG_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Most of a `tart` error the server echoes to its own stderr (1 KiB, the end of it),
/// so a failing background refresh cannot write megabytes every few seconds.
pub const MAX_ECHOED_TART_BYTES: usize = 1024;

/// Longest `error` of a failed task or `detail` of a 502 taken from a program's output
/// (512 bytes): its last meaningful line, which names the cause; the rest of the output
/// is in the task's `stderr` tail.
pub const MAX_ERROR_LINE_BYTES: usize = 512;

/// `stderr` tail kept in a task (16 KiB).
pub const MAX_STDERR_TAIL_BYTES: usize = 16 * 1024;

/// Output captured from one `tart` call per stream (4 MiB). `tart list` of thousands of
/// VMs stays well under it; a flooding process is cut off, not buffered without end.
pub const MAX_CAPTURE_BYTES: usize = 4 * 1024 * 1024;

/// `tart` processes at once, across tasks and refreshes (32).
pub const MAX_TART_PROCESSES: usize = 32;

/// Largest VM `config.json` the refresh reads (64 KiB); tart's are under 2 KiB.
pub const MAX_VM_CONFIG_FILE_BYTES: u64 = 64 * 1024;

/// Per-VM `tart get`/`tart ip` calls run in parallel by one refresh (32).
pub const REFRESH_PARALLELISM: usize = 32;

/// How long the server waits for a child's pipes to close after it exited (500 ms).
/// A grandchild that inherited them could keep them open for ever (Go's `WaitDelay`).
pub const PIPE_GRACE_AFTER_EXIT: Duration = Duration::from_millis(500);

/// Timeout for `tart --version`, `list`, `get` and `ip` (30 s): they only read files.
pub const TART_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Timeout for `tart stop --timeout 30` (60 s): tart waits up to 30 s, then SIGKILLs.
pub const TART_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Timeout for `tart delete` (5 min): removing a 100 GB image can take a while.
pub const TART_DELETE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Timeout for `tart pull` (3 h): images are tens of GB on slow links.
pub const TART_PULL_TIMEOUT: Duration = Duration::from_secs(3 * 60 * 60);

/// How long a start task waits for the VM's IP (120 s). Real tart gives up after 60 s
/// with `IPNotFound()`; the margin covers a slow boot before the VNC wait starts.
pub const START_IP_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a start task asks `tart ip` while it waits (1 s), like `tart ip --wait`.
pub const START_IP_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often a start task reads the `tart run` log for the VNC line (100 ms).
pub const START_LOG_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long a `tart run` without a display must have held its VM before an address
/// equal to an earlier run's lease counts for this run (5 s): starts fail after the lock
/// within 0.5–3 s on a real Mac (the macOS guest limit, VZ errors).
pub const START_SETTLE: Duration = Duration::from_secs(5);

/// Longest VM-name part of a run log's file name (100 bytes), well inside the 255 bytes
/// of a path component with the time stamp and `.log` added.
pub const MAX_RUN_LOG_NAME_BYTES: usize = 100;

/// How often a refresh reads a `config.json` that does not parse before it asks `tart
/// get` instead (8 reads, 350 ms at most): tart rewrites the file in place (truncate,
/// then write), so a read can meet it empty; only a file that stays broken pays it all.
pub const CONFIG_REWRITE_ATTEMPTS: u32 = 8;

/// The pause between those reads (50 ms): tart's rewrite of a 1 KB file takes far less.
pub const CONFIG_REWRITE_PAUSE: Duration = Duration::from_millis(50);

/// How long a graceful stop waits for the guest by default (60 s) before it falls back
/// to `tart stop`: a guest OS shuts down in seconds to a minute.
pub const GRACEFUL_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest wait a graceful stop may ask for (600 s), so no task waits for ever.
pub const MAX_GRACEFUL_STOP_TIMEOUT: Duration = Duration::from_secs(600);

/// How often a graceful stop asks whether `tart run` still holds the VM (200 ms).
pub const GRACEFUL_STOP_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Longest an HTTP worker waits for a fresh inventory before it answers a 404 for a
/// VM the cache does not know, or refuses from state the cache suggests (5 s). The
/// backend may hang; health, the page and cached reads never wait at all.
pub const FRESH_CHECK_WAIT: Duration = Duration::from_secs(5);

/// Longest `POST /api/vms/refresh` waits for the refresh it asked for (5 s); after it,
/// it answers the cached list with `X-Refreshing: true` while the refresh goes on.
pub const REFRESH_ROUTE_WAIT: Duration = Duration::from_secs(5);

/// Host queries (a VM's details on a cache miss) that may run off the HTTP workers at
/// once (4): each is one thread and one `tart` process; a request past the limit gets a
/// 503 at once, so a hung `tart` costs at most 4 threads however many ask.
pub const MAX_BACKGROUND_QUERIES: usize = 4;

/// HTTP workers that may wait for a fresh inventory at once (4 of the
/// [`HTTP_WORKERS`]); further callers get the cached state at once, so a hung backend
/// can never hold every worker.
pub const MAX_FRESH_WAITERS: usize = 4;

/// Background inventory refresh interval (10 s).
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// Longest VM name accepted (255 bytes of UTF-8): a VM is a folder, and macOS allows
/// 255 per path component.
pub const MAX_VM_NAME_BYTES: usize = 255;

/// Longest OCI reference accepted (512 bytes).
pub const MAX_OCI_REFERENCE_BYTES: usize = 512;

/// Timeout for `tart create --from-ipsw` (6 h): a 15–20 GB download, then an install of
/// 10–30 minutes. Also bounded by `--tart-timeout` (through the pull timeout).
pub const TART_CREATE_TIMEOUT: Duration = Duration::from_secs(6 * 60 * 60);

/// Timeout for `tart set`, `rename`, `suspend`, `logout` and `create --linux` (10 min):
/// they change a few files; `set --disk-size` may copy a disk on a non-APFS volume.
pub const TART_CHANGE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Timeout for `tart login` (2 min): one request to the registry to check the password.
pub const TART_LOGIN_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// Timeout for `tart prune` (30 min): removing many images of tens of GB each.
pub const TART_PRUNE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How long a suspend task waits for the VM to be saved (10 min): `tart suspend` returns
/// at once, then `tart run` writes a snapshot about the size of the VM's memory.
pub const SUSPEND_SAVE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How often a suspend task looks whether the VM was saved (200 ms): a lock query and a
/// `stat`, no `tart` process.
pub const SUSPEND_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Smallest and largest values the create and settings bodies accept (api-next §2):
/// CPUs 1–128, memory 1–1024 GB, disk 10–16,384 GB (tart's `--disk-size` is a u16 of GB).
pub const VM_CPU_RANGE: (u64, u64) = (1, 128);
/// See [`VM_CPU_RANGE`].
pub const VM_MEMORY_GB_RANGE: (u64, u64) = (1, 1024);
/// See [`VM_CPU_RANGE`].
pub const VM_DISK_GB_RANGE: (u64, u64) = (10, 16_384);

/// Disk size of a new empty VM when the body gives none (50 GB, tart's default).
pub const DEFAULT_NEW_DISK_GB: u64 = 50;

/// Longest registry user name accepted (255 bytes).
pub const MAX_REGISTRY_USERNAME_BYTES: usize = 255;

/// Longest registry password accepted (4 KiB): tokens are long, but not longer.
pub const MAX_REGISTRY_PASSWORD_BYTES: usize = 4 * 1024;

/// Longest `ipsw` value of a create body (2 KiB): `latest`, a URL or a path.
pub const MAX_IPSW_BYTES: usize = 2 * 1024;

//! The harness the end-to-end tests share (std only): processes that die with the test and
//! keep their logs, free ports, a target server and a client that move deterministic
//! pseudo-random streams both ways and check them, and a UDP relay that can change its
//! address mid-session.
//!
//! Every transfer is checked byte for byte against the regenerated stream, and by length and
//! a 64-bit FNV-1a hash; a failure names the connection, the offset of the first wrong byte,
//! and ends with the last lines of every process's log.

// Every test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Our binary, built by cargo for the integration tests.
pub const OUR_BIN: &str = env!("CARGO_BIN_EXE_kcp-tunnel");

/// How long a connection through a tunnel may make no progress before it counts as hung.
pub const STALL: Duration = Duration::from_secs(60);

/// How long a client keeps retrying to connect to a tunnel's listen port.
pub const CONNECT_RETRY: Duration = Duration::from_secs(10);

/// Set to `1` to make the interop tests fail instead of skip when kcptun is missing.
pub const REQUIRE_KCPTUN_ENV: &str = "KCP_TUNNEL_REQUIRE_KCPTUN";

// ---------------------------------------------------------------------------------------------
// Processes

/// One child process; its stdout and stderr go to a log file.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    command: String,
    /// Set once the process was reaped.
    exit: Option<ExitStatus>,
}

/// The processes of one test. Dropping it kills (SIGKILL) and reaps every one; their logs are
/// removed unless the thread is panicking, in which case their paths are printed.
pub struct Procs {
    test: String,
    procs: Vec<Proc>,
}

static LOG_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn log_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-logs");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

impl Procs {
    /// An empty set for the test called `test` (used in log file names).
    pub fn new(test: &str) -> Procs {
        Procs {
            test: test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            procs: Vec::new(),
        }
    }

    /// Starts `program` with `args` as `name` (unique in this set).
    pub fn spawn(&mut self, name: &str, program: &str, args: &[String]) {
        assert!(
            self.procs
                .iter()
                .all(|p| p.name != name || p.exit.is_some()),
            "a process named {name} is already running"
        );
        let n = LOG_COUNTER.fetch_add(1, Ordering::Relaxed);
        let log = log_dir().join(format!(
            "{}-{}-{}-{n}.log",
            self.test,
            name,
            std::process::id()
        ));
        let file = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = file.try_clone().expect("clone a file handle");
        let command = format!("{program} {}", args.join(" "));
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        // An earlier process of the same name (killed before) keeps its log under another name.
        for p in &mut self.procs {
            if p.name == name {
                p.name = format!("{name} (earlier)");
            }
        }
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            log,
            command,
            exit: None,
        });
    }

    /// The process id of `name`.
    pub fn pid(&self, name: &str) -> u32 {
        self.get(name).child.id()
    }

    fn get(&self, name: &str) -> &Proc {
        self.procs
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process named {name}"))
    }

    fn get_mut(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process named {name}"))
    }

    /// SIGKILLs `name` and waits for it to be gone. Its log stays for [`Procs::logs`].
    pub fn kill(&mut self, name: &str) {
        let p = self.get_mut(name);
        if p.exit.is_none() {
            let _ = p.child.kill();
            p.exit = p.child.wait().ok();
        }
    }

    /// `Err` naming the first process that exited on its own (with its status).
    pub fn check_alive(&mut self) -> Result<(), String> {
        for p in &mut self.procs {
            if p.exit.is_some() {
                continue;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                p.exit = Some(status);
                return Err(format!("{} exited early: {status}", p.name));
            }
        }
        Ok(())
    }

    /// The last `lines` lines of every process's log, with its command line and state.
    pub fn logs(&mut self, lines: usize) -> String {
        let _ = self.check_alive();
        let mut out = String::new();
        for p in &self.procs {
            let state = match p.exit {
                Some(status) => format!("exited: {status}"),
                None => "running".to_string(),
            };
            let _ = writeln!(
                out,
                "----- {} ({state}) `{}` log {} -----",
                p.name,
                p.command,
                p.log.display()
            );
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            if from > 0 {
                let _ = writeln!(out, "[... {from} earlier lines]");
            }
            for line in &all[from..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    /// Panics with `message` followed by the processes' logs.
    pub fn fail(&mut self, message: &str) -> ! {
        let logs = self.logs(40);
        panic!("{message}\n{logs}")
    }

    /// Unwraps `result`, or fails with its error and the logs.
    pub fn ok<T>(&mut self, result: Result<T, String>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => self.fail(&e),
        }
    }

    /// Counts lines of `name`'s log that contain `needle`.
    pub fn log_count(&self, name: &str, needle: &str) -> usize {
        let text = std::fs::read_to_string(&self.get(name).log).unwrap_or_default();
        text.lines().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        let panicking = thread::panicking();
        for p in &mut self.procs {
            if p.exit.is_none() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
            if panicking {
                eprintln!("kept log of {}: {}", p.name, p.log.display());
            } else {
                let _ = std::fs::remove_file(&p.log);
            }
        }
    }
}

/// Whether `program` is an executable in `PATH`.
pub fn in_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// Whether the kcptun tests can run: true if `kcptun-client` and `kcptun-server` are in
/// `PATH`. If not, prints why and returns false, unless `KCP_TUNNEL_REQUIRE_KCPTUN=1`, in
/// which case it panics.
pub fn kcptun_available() -> bool {
    if in_path("kcptun-client") && in_path("kcptun-server") {
        return true;
    }
    if std::env::var(REQUIRE_KCPTUN_ENV).is_ok_and(|v| v == "1") {
        panic!("kcptun not installed (kcptun-client/kcptun-server not in PATH) and {REQUIRE_KCPTUN_ENV}=1");
    }
    eprintln!("skipped: kcptun not installed");
    false
}

// ---------------------------------------------------------------------------------------------
// Tunnel command lines

/// Which implementation runs an end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// `kcp-tunnel`.
    Ours,
    /// kcptun's Go binaries.
    Kcptun,
}

impl Impl {
    fn program(self, client: bool) -> &'static str {
        match (self, client) {
            (Impl::Ours, _) => OUR_BIN,
            (Impl::Kcptun, true) => "kcptun-client",
            (Impl::Kcptun, false) => "kcptun-server",
        }
    }
}

/// The flags both ends share (they must match).
#[derive(Clone, Debug)]
pub struct Flags {
    pub key: String,
    /// `None`: the implementation's default (ours: sealed; kcptun: aes).
    pub crypt: Option<&'static str>,
    pub mode: &'static str,
    /// `--ds`/`--ps`; `None`: the defaults (10/3).
    pub fec: Option<(u32, u32)>,
    pub smuxver: u32,
    pub nocomp: bool,
    /// Anything else, given to both ends.
    pub extra: Vec<String>,
}

impl Flags {
    /// kcptun-compatible flags: `crypt`, FEC 10/3 or off, smux `smuxver`, compression.
    pub fn compat(crypt: &'static str, fec: bool, smuxver: u32, comp: bool) -> Flags {
        Flags {
            key: "interop test key".to_string(),
            crypt: Some(crypt),
            mode: "fast",
            fec: Some(if fec { (10, 3) } else { (0, 0) }),
            smuxver,
            nocomp: !comp,
            extra: Vec::new(),
        }
    }

    /// Native (sealed) flags.
    pub fn native(smuxver: u32, comp: bool) -> Flags {
        Flags {
            key: "native test key".to_string(),
            crypt: None,
            mode: "fast",
            fec: None,
            smuxver,
            nocomp: !comp,
            extra: Vec::new(),
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["--key".to_string(), self.key.clone()];
        if let Some(crypt) = self.crypt {
            args.extend(["--crypt".to_string(), crypt.to_string()]);
        }
        args.extend(["--mode".to_string(), self.mode.to_string()]);
        if let Some((ds, ps)) = self.fec {
            args.extend([
                "--ds".to_string(),
                ds.to_string(),
                "--ps".to_string(),
                ps.to_string(),
            ]);
        }
        args.extend(["--smuxver".to_string(), self.smuxver.to_string()]);
        if self.nocomp {
            args.push("--nocomp".to_string());
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        format!(
            "crypt {} mode {} fec {} smux v{} {}",
            self.crypt.unwrap_or("default"),
            self.mode,
            match self.fec {
                None => "default".to_string(),
                Some((0, _)) | Some((_, 0)) => "off".to_string(),
                Some((d, p)) => format!("{d}/{p}"),
            },
            self.smuxver,
            if self.nocomp { "nocomp" } else { "comp" }
        )
    }
}

/// Starts a server end called `name` listening on UDP `udp_port`, carrying streams to `target`.
pub fn start_server(
    procs: &mut Procs,
    name: &str,
    which: Impl,
    udp_port: u16,
    target: SocketAddr,
    flags: &Flags,
) {
    let mut args = Vec::new();
    if which == Impl::Ours {
        args.push("server".to_string());
    }
    args.extend([
        "-l".to_string(),
        format!("127.0.0.1:{udp_port}"),
        "-t".to_string(),
        target.to_string(),
    ]);
    args.extend(flags.args());
    procs.spawn(name, which.program(false), &args);
    if let Err(e) = wait_udp_bound(udp_port, Duration::from_secs(10)) {
        procs.fail(&format!("{name}: {e}"));
    }
}

/// Starts a client end called `name` listening on TCP `tcp_port`, dialling `remote` (UDP).
pub fn start_client(
    procs: &mut Procs,
    name: &str,
    which: Impl,
    tcp_port: u16,
    remote: SocketAddr,
    flags: &Flags,
) {
    let mut args = Vec::new();
    if which == Impl::Ours {
        args.push("client".to_string());
    }
    args.extend([
        "-l".to_string(),
        format!("127.0.0.1:{tcp_port}"),
        "-r".to_string(),
        remote.to_string(),
    ]);
    args.extend(flags.args());
    procs.spawn(name, which.program(true), &args);
}

// ---------------------------------------------------------------------------------------------
// Ports

/// Ports handed out in this process, so two tests never get the same one.
fn taken() -> &'static Mutex<HashSet<(bool, u16)>> {
    static TAKEN: OnceLock<Mutex<HashSet<(bool, u16)>>> = OnceLock::new();
    TAKEN.get_or_init(Mutex::default)
}

fn free_port(udp: bool) -> u16 {
    for _ in 0..100 {
        let port = if udp {
            UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr())
        } else {
            TcpListener::bind("127.0.0.1:0").and_then(|s| s.local_addr())
        }
        .expect("bind an ephemeral port")
        .port();
        if taken().lock().unwrap().insert((udp, port)) {
            return port;
        }
    }
    panic!("no free port");
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    free_port(false)
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    free_port(true)
}

/// `127.0.0.1:port`.
pub fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether some socket is bound to UDP `port` (from `/proc/net/udp*`; `None` if unreadable).
fn udp_port_bound(port: u16) -> Option<bool> {
    let mut readable = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let Some(local) = line.split_whitespace().nth(1) else {
                continue;
            };
            let hex = local.rsplit(':').next().unwrap_or("");
            if u16::from_str_radix(hex, 16) == Ok(port) {
                return Some(true);
            }
        }
    }
    readable.then_some(false)
}

/// Waits until a process has bound UDP `port` (without binding it ourselves, which could make
/// the process fail). Without `/proc`, just waits half a second.
pub fn wait_udp_bound(port: u16, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match udp_port_bound(port) {
            None => {
                thread::sleep(Duration::from_millis(500));
                return Ok(());
            }
            Some(true) => return Ok(()),
            Some(false) if start.elapsed() > timeout => {
                return Err(format!("nothing bound UDP port {port} within {timeout:?}"))
            }
            Some(false) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Connects to `addr`, retrying refused connections for up to `timeout`.
pub fn connect_retry(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > timeout => {
                return Err(format!("cannot connect to {addr} within {timeout:?}: {e}"))
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data: a deterministic stream, its checker, a hash

/// 64-bit FNV-1a.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        let mut h = self.0;
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const BLOCK: usize = 4096;

/// A deterministic pseudo-random byte stream (xorshift64*), in 4 KiB blocks of which about a
/// quarter repeat a short phrase (so snappy has something to compress) and the rest are
/// random (stored).
pub struct Pattern {
    state: u64,
    block: Vec<u8>,
    pos: usize,
}

impl Pattern {
    /// The stream number `stream` of test seed `seed`.
    pub fn new(seed: u64, stream: u64) -> Pattern {
        Pattern {
            state: splitmix(seed ^ splitmix(stream)) | 1,
            block: vec![0; BLOCK],
            pos: BLOCK,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn refill(&mut self) {
        let kind = self.next_u64();
        if kind % 4 == 0 {
            let len = 8 + (kind >> 8) as usize % 24;
            let mut phrase = [0u8; 32];
            for chunk in phrase.chunks_mut(8) {
                chunk.copy_from_slice(&self.next_u64().to_le_bytes());
            }
            for (i, b) in self.block.iter_mut().enumerate() {
                *b = phrase[i % len];
            }
            for i in (0..BLOCK).step_by(97) {
                self.block[i] = self.next_u64() as u8;
            }
        } else {
            for i in (0..BLOCK).step_by(8) {
                let v = self.next_u64().to_le_bytes();
                self.block[i..i + 8].copy_from_slice(&v);
            }
        }
        self.pos = 0;
    }

    /// The next `out.len()` bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            if self.pos == BLOCK {
                self.refill();
            }
            let n = (BLOCK - self.pos).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.block[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
        }
    }

    /// The whole first `len` bytes of a stream.
    pub fn bytes(seed: u64, stream: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        Pattern::new(seed, stream).fill(&mut v);
        v
    }
}

/// Checks received bytes against the stream they should be.
pub struct Checker {
    expected: Pattern,
    scratch: Vec<u8>,
    /// Bytes received.
    pub len: u64,
    /// Hash of what was received.
    pub hash: Fnv,
    /// Hash of what should have been received (same length).
    pub expected_hash: Fnv,
    /// Offset of the first wrong byte.
    pub first_mismatch: Option<u64>,
}

impl Checker {
    pub fn new(seed: u64, stream: u64) -> Checker {
        Checker {
            expected: Pattern::new(seed, stream),
            scratch: Vec::new(),
            len: 0,
            hash: Fnv::default(),
            expected_hash: Fnv::default(),
            first_mismatch: None,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.scratch.resize(data.len(), 0);
        self.expected.fill(&mut self.scratch);
        if self.first_mismatch.is_none() && data != &self.scratch[..] {
            let i = data
                .iter()
                .zip(&self.scratch)
                .position(|(a, b)| a != b)
                .expect("slices differ");
            self.first_mismatch = Some(self.len + i as u64);
        }
        self.hash.update(data);
        self.expected_hash.update(&self.scratch);
        self.len += data.len() as u64;
    }

    /// `Err` describing how what was received differs from `want` bytes of the stream.
    pub fn verdict(&self, what: &str, want: u64) -> Result<(), String> {
        if self.len == want && self.first_mismatch.is_none() && self.hash.0 == self.expected_hash.0
        {
            return Ok(());
        }
        Err(format!(
            "{what}: received {} bytes, want {want}; hash {:016x}, want {:016x}{}",
            self.len,
            self.hash.0,
            self.expected_hash.0,
            match self.first_mismatch {
                Some(at) => format!("; first wrong byte at offset {at}"),
                None => "; no wrong byte in what arrived".to_string(),
            }
        ))
    }
}

/// The stream a client connection `id` sends (upstream) and receives (downstream).
pub fn up_stream(id: u64) -> u64 {
    id * 2
}
pub fn down_stream(id: u64) -> u64 {
    id * 2 + 1
}

/// Connection ids, unique in this process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A seed from a test name.
pub fn seed_of(name: &str) -> u64 {
    let mut h = Fnv::default();
    h.update(name.as_bytes());
    h.0
}

// ---------------------------------------------------------------------------------------------
// Target server

/// What the target does with a connection.
#[derive(Clone, Copy, Debug)]
pub enum Behavior {
    /// Reads the header the client sends first (connection id and size, 8 bytes LE each);
    /// then, at the same time, sends `size` bytes of the id's downstream and reads (and
    /// checks) the upstream until EOF; then closes.
    Stream,
    /// Reads the header, reads the upstream until EOF, then sends `size` bytes of the
    /// downstream and closes.
    HalfClose,
    /// Closes every connection at once with SO_LINGER 0 (RST).
    Reset,
}

/// What the target saw on one connection.
#[derive(Clone, Debug)]
pub struct TargetReport {
    /// Upstream bytes read after the id, and whether they were right.
    pub received: u64,
    pub received_ok: Result<(), String>,
    /// Downstream bytes sent.
    pub sent: u64,
    /// An I/O error on the way.
    pub error: Option<String>,
}

struct TargetShared {
    seed: u64,
    behavior: Behavior,
    reports: Mutex<HashMap<u64, TargetReport>>,
    changed: Condvar,
    accepted: AtomicUsize,
    stop: AtomicBool,
}

/// A TCP server on 127.0.0.1 the tunnel's server end carries streams to.
pub struct Target {
    pub addr: SocketAddr,
    shared: Arc<TargetShared>,
    thread: Option<JoinHandle<()>>,
}

impl Target {
    pub fn start(seed: u64, behavior: Behavior) -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the target");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("target address");
        let shared = Arc::new(TargetShared {
            seed,
            behavior,
            reports: Mutex::default(),
            changed: Condvar::new(),
            accepted: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        s.accepted.fetch_add(1, Ordering::Relaxed);
                        let s = s.clone();
                        thread::spawn(move || serve(&s, stream));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Target {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// The report for connection `id`, waiting up to `timeout` for it.
    pub fn report(&self, id: u64, timeout: Duration) -> Option<TargetReport> {
        let deadline = Instant::now() + timeout;
        let mut reports = self.shared.reports.lock().unwrap();
        loop {
            if let Some(r) = reports.remove(&id) {
                return Some(r);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            reports = self.shared.changed.wait_timeout(reports, left).unwrap().0;
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(s: &TargetShared, mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    if let Behavior::Reset = s.behavior {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        return;
    }
    let _ = stream.set_read_timeout(Some(STALL));
    let _ = stream.set_write_timeout(Some(STALL));
    let mut header = [0u8; 16];
    if stream.read_exact(&mut header).is_err() {
        return; // Not one of ours (or the client gave up): nothing to report against.
    }
    let id = u64::from_le_bytes(header[..8].try_into().unwrap());
    let size = u64::from_le_bytes(header[8..].try_into().unwrap());
    let seed = s.seed;
    let send = move |mut w: TcpStream| -> (u64, Option<String>) {
        let mut pattern = Pattern::new(seed, down_stream(id));
        let mut buf = vec![0u8; 64 << 10];
        let mut sent = 0u64;
        while sent < size {
            let n = (size - sent).min(buf.len() as u64) as usize;
            pattern.fill(&mut buf[..n]);
            if let Err(e) = w.write_all(&buf[..n]) {
                return (sent, Some(format!("target write after {sent} bytes: {e}")));
            }
            sent += n as u64;
        }
        (sent, None)
    };
    let receive = |r: &mut TcpStream| -> (Checker, Option<String>) {
        let mut checker = Checker::new(seed, up_stream(id));
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (checker, None),
                Ok(n) => checker.update(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let len = checker.len;
                    return (checker, Some(format!("target read after {len} bytes: {e}")));
                }
            }
        }
    };
    let (checker, read_error, sent, write_error) = match s.behavior {
        Behavior::Stream => {
            let w = stream.try_clone().expect("clone the stream");
            let writer = thread::spawn(move || send(w));
            let (checker, read_error) = receive(&mut stream);
            if read_error.is_some() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            let (sent, write_error) = writer.join().expect("target writer");
            (checker, read_error, sent, write_error)
        }
        Behavior::HalfClose => {
            let (checker, read_error) = receive(&mut stream);
            let (sent, write_error) = if read_error.is_none() {
                send(stream.try_clone().expect("clone the stream"))
            } else {
                (0, None)
            };
            (checker, read_error, sent, write_error)
        }
        Behavior::Reset => unreachable!(),
    };
    let report = TargetReport {
        received: checker.len,
        received_ok: checker.verdict(&format!("connection {id} upstream at the target"), size),
        sent,
        error: read_error.or(write_error),
    };
    drop(stream);
    s.reports.lock().unwrap().insert(id, report);
    s.changed.notify_all();
}

// ---------------------------------------------------------------------------------------------
// Clients

/// What one client connection did.
#[derive(Debug)]
pub struct ConnOutcome {
    pub id: u64,
    pub received: u64,
    pub elapsed: Duration,
}

/// Runs one connection of a [`Behavior::Stream`] transfer: connects to `addr`, sends the id
/// and `size` bytes while reading `size` bytes, checks them, then closes (only after having
/// read everything: kcptun ends a stream when either direction ends).
pub fn stream_conn(
    addr: SocketAddr,
    seed: u64,
    id: u64,
    size: u64,
    half_close: bool,
) -> Result<ConnOutcome, String> {
    let start = Instant::now();
    let mut stream = connect_retry(addr, CONNECT_RETRY)?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(STALL));
    let _ = stream.set_write_timeout(Some(STALL));
    let mut w = stream
        .try_clone()
        .map_err(|e| format!("clone a stream: {e}"))?;
    let writer = thread::spawn(move || -> Result<u64, String> {
        let mut header = [0u8; 16];
        header[..8].copy_from_slice(&id.to_le_bytes());
        header[8..].copy_from_slice(&size.to_le_bytes());
        w.write_all(&header)
            .map_err(|e| format!("connection {id}: write the header: {e}"))?;
        let mut pattern = Pattern::new(seed, up_stream(id));
        let mut buf = vec![0u8; 64 << 10];
        let mut sent = 0u64;
        while sent < size {
            let n = (size - sent).min(buf.len() as u64) as usize;
            pattern.fill(&mut buf[..n]);
            w.write_all(&buf[..n])
                .map_err(|e| format!("connection {id}: write after {sent} bytes: {e}"))?;
            sent += n as u64;
        }
        if half_close {
            w.shutdown(Shutdown::Write)
                .map_err(|e| format!("connection {id}: shutdown(Write): {e}"))?;
        }
        Ok(sent)
    });
    let mut checker = Checker::new(seed, down_stream(id));
    let mut buf = vec![0u8; 64 << 10];
    let mut read_error = None;
    while checker.len < size {
        let want = (size - checker.len).min(buf.len() as u64) as usize;
        match stream.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => checker.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                read_error = Some(format!(
                    "connection {id}: read after {} bytes: {e} ({:?})",
                    checker.len,
                    e.kind()
                ));
                break;
            }
        }
    }
    if half_close && read_error.is_none() && checker.len == size {
        // The response must end right there.
        match stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => read_error = Some(format!("connection {id}: {n} bytes after the response")),
            Err(e) => read_error = Some(format!("connection {id}: read after the response: {e}")),
        }
    }
    if read_error.is_some() || checker.len < size {
        let _ = stream.shutdown(Shutdown::Both);
    }
    let written = writer.join().map_err(|_| "writer panicked".to_string())?;
    drop(stream);
    if let Some(e) = read_error {
        return Err(e);
    }
    let sent = written?;
    debug_assert_eq!(sent, size);
    checker.verdict(&format!("connection {id} downstream at the client"), size)?;
    Ok(ConnOutcome {
        id,
        received: checker.len,
        elapsed: start.elapsed(),
    })
}

/// What a transfer did.
#[derive(Debug)]
pub struct TransferStats {
    pub conns: usize,
    pub size: u64,
    pub elapsed: Duration,
}

impl TransferStats {
    /// Both directions, all connections, in MB/s.
    pub fn mbps(&self) -> f64 {
        (2 * self.conns as u64 * self.size) as f64 / self.elapsed.as_secs_f64() / 1e6
    }
}

impl std::fmt::Display for TransferStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} connections x {} bytes each way in {:.2?} ({:.1} MB/s both ways)",
            self.conns,
            self.size,
            self.elapsed,
            self.mbps()
        )
    }
}

/// `conns` concurrent connections through the tunnel client at `addr` to a [`Target`] with
/// [`Behavior::Stream`] (or [`Behavior::HalfClose`] with `half_close`), `size` bytes each way
/// each, all within `deadline`. Checks both directions at both ends.
pub fn transfer(
    addr: SocketAddr,
    target: &Target,
    conns: usize,
    size: u64,
    half_close: bool,
    deadline: Duration,
) -> Result<TransferStats, String> {
    let start = Instant::now();
    let seed = target.shared.seed;
    let (tx, rx) = mpsc::channel();
    let ids: Vec<u64> = (0..conns).map(|_| next_id()).collect();
    for &id in &ids {
        let tx = tx.clone();
        thread::spawn(move || {
            let _ = tx.send((id, stream_conn(addr, seed, id, size, half_close)));
        });
    }
    drop(tx);
    let mut errors = Vec::new();
    for _ in 0..conns {
        let left = deadline.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok((_, Ok(_))) => {}
            Ok((_, Err(e))) => errors.push(e),
            Err(_) => {
                errors.push(format!(
                    "transfer of {conns} x {size} bytes not done within {deadline:?}"
                ));
                break;
            }
        }
    }
    // The target's side of each connection (it sees EOF once the client closed).
    for &id in &ids {
        if !errors.is_empty() {
            break;
        }
        match target.report(id, Duration::from_secs(20)) {
            None => errors.push(format!(
                "connection {id}: the target never finished it (accepted {} so far)",
                target.accepted()
            )),
            Some(r) => {
                if let Some(e) = r.error {
                    errors.push(format!("connection {id}: {e}"));
                }
                if let Err(e) = r.received_ok {
                    errors.push(e);
                }
                if r.sent != size {
                    errors.push(format!("connection {id}: target sent {} of {size}", r.sent));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(TransferStats {
            conns,
            size,
            elapsed: start.elapsed(),
        })
    } else {
        Err(errors.join("\n"))
    }
}

/// Retries a `conns` x `size` transfer until one succeeds or `within` has passed (each try
/// gets `per_try`). Returns the time to the first success and the number of tries.
pub fn transfer_until_ok(
    addr: SocketAddr,
    target: &Target,
    conns: usize,
    size: u64,
    per_try: Duration,
    within: Duration,
) -> Result<(Duration, usize), String> {
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        match transfer(addr, target, conns, size, false, per_try) {
            Ok(_) => return Ok((start.elapsed(), tries)),
            Err(e) if start.elapsed() + Duration::from_millis(200) >= within => {
                return Err(format!(
                    "no transfer worked within {within:?} ({tries} tries); last error: {e}"
                ))
            }
            Err(e) => {
                eprintln!("  try {tries} at {:.2?} failed: {e}", start.elapsed());
                thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// UDP relay

struct RelayShared {
    server: SocketAddr,
    /// The server-facing socket in use, and its generation.
    upstream: Mutex<(Arc<UdpSocket>, u64)>,
    generation: AtomicU64,
    /// The client's last address.
    client: Mutex<Option<SocketAddr>>,
    to_server: AtomicU64,
    to_client: AtomicU64,
    stop: AtomicBool,
}

/// A UDP relay on 127.0.0.1: datagrams from the client go to the server from a socket of the
/// relay's, and the server's answers go back to the client. [`UdpRelay::rebind`] moves the
/// server-facing side to a fresh socket (a NAT rebinding, as the server sees it).
pub struct UdpRelay {
    pub addr: SocketAddr,
    shared: Arc<RelayShared>,
    threads: Vec<JoinHandle<()>>,
}

fn upstream_socket() -> Arc<UdpSocket> {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind the relay's upstream socket");
    s.set_read_timeout(Some(Duration::from_millis(10)))
        .expect("read timeout");
    Arc::new(s)
}

impl UdpRelay {
    pub fn start(server: SocketAddr) -> UdpRelay {
        let down = UdpSocket::bind("127.0.0.1:0").expect("bind the relay");
        down.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = down.local_addr().expect("relay address");
        let down = Arc::new(down);
        let shared = Arc::new(RelayShared {
            server,
            upstream: Mutex::new((upstream_socket(), 0)),
            generation: AtomicU64::new(0),
            client: Mutex::new(None),
            to_server: AtomicU64::new(0),
            to_client: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        // Client -> server.
        let s = shared.clone();
        let d = down.clone();
        let t1 = thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut up = s.upstream.lock().unwrap().clone();
            while !s.stop.load(Ordering::Relaxed) {
                let (n, from) = match d.recv_from(&mut buf) {
                    Ok(x) => x,
                    Err(_) => continue,
                };
                *s.client.lock().unwrap() = Some(from);
                if s.generation.load(Ordering::Acquire) != up.1 {
                    up = s.upstream.lock().unwrap().clone();
                }
                let _ = up.0.send_to(&buf[..n], s.server);
                s.to_server.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
        // Server -> client, from whichever upstream socket is current.
        let s = shared.clone();
        let t2 = thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut up = s.upstream.lock().unwrap().clone();
            while !s.stop.load(Ordering::Relaxed) {
                if s.generation.load(Ordering::Acquire) != up.1 {
                    up = s.upstream.lock().unwrap().clone();
                }
                let n = match up.0.recv_from(&mut buf) {
                    Ok((n, from)) if from == s.server => n,
                    _ => continue,
                };
                let client = *s.client.lock().unwrap();
                if let Some(client) = client {
                    let _ = down.send_to(&buf[..n], client);
                    s.to_client.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        });
        UdpRelay {
            addr,
            shared,
            threads: vec![t1, t2],
        }
    }

    /// Moves the server-facing side to a fresh socket; the old one is closed (what arrives
    /// there is lost, as behind a NAT that dropped its mapping). Returns the new address.
    pub fn rebind(&self) -> SocketAddr {
        let socket = upstream_socket();
        let addr = socket.local_addr().expect("address");
        let mut up = self.shared.upstream.lock().unwrap();
        let generation = up.1 + 1;
        *up = (socket, generation);
        self.shared.generation.store(generation, Ordering::Release);
        addr
    }

    /// The server-facing address in use.
    pub fn upstream_addr(&self) -> SocketAddr {
        self.shared.upstream.lock().unwrap().0.local_addr().unwrap()
    }

    /// Bytes relayed towards the server and towards the client.
    pub fn relayed(&self) -> (u64, u64) {
        (
            self.shared.to_server.load(Ordering::Relaxed),
            self.shared.to_client.load(Ordering::Relaxed),
        )
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Reads from `stream` until EOF, an error or `timeout`; what ended it.
pub fn read_outcome(stream: &mut TcpStream, timeout: Duration) -> io::Result<u64> {
    stream.set_read_timeout(Some(timeout))?;
    let mut total = 0u64;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

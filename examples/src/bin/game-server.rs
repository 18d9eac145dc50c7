//! A game-style server with many simulated clients, over loopback.
//!
//! ```text
//! cargo run --release -p kcp-examples --bin game-server -- [--clients 1000] [--hz 20] [--size 100] [--seconds 10]
//! ```
//!
//! The server thread runs one [`Driver`] and answers every client update with a state update
//! of the same size carrying the client's timestamp back. The clients (one more driver, on
//! the main thread) send `--hz` updates per second each, spread evenly over the period, and
//! record the round-trip time of every update. At the end it prints the latency distribution,
//! the server thread's CPU use (share of one core) and the process's resident memory.
//! `--hz 0` leaves the sessions idle after connecting: the figure is then the cost of idle
//! sessions (keepalives only). `--tick-ms N` runs the server as a fixed-tick game loop (sleep,
//! then drain the socket) instead of waking for every datagram.

use kcp_core::endpoint::SessionId;
use kcp_core::net::{Driver, DriverConfig, DriverStats, Event, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::session::FecMode;
use kcp_core::EndpointConfig;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

struct Options {
    clients: usize,
    hz: u32,
    size: usize,
    seconds: u64,
    keepalive: u32,
    tick_ms: u64,
}

fn options() -> Options {
    let mut o = Options {
        clients: 1000,
        hz: 20,
        size: 100,
        seconds: 10,
        keepalive: 10_000,
        tick_ms: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        let Some(value) = value else {
            eprintln!("usage: game-server [--clients N] [--hz N] [--size BYTES] [--seconds N] [--keepalive-ms N] [--tick-ms N]");
            std::process::exit(2);
        };
        match flag.as_str() {
            "--clients" => o.clients = value as usize,
            "--hz" => o.hz = value as u32,
            "--size" => o.size = (value as usize).max(8),
            "--seconds" => o.seconds = value,
            "--keepalive-ms" => o.keepalive = value as u32,
            "--tick-ms" => o.tick_ms = value,
            _ => {
                eprintln!("unknown flag {flag}");
                std::process::exit(2);
            }
        }
    }
    o
}

/// Game traffic: small windows and queues (a session never has much in flight), no FEC, and
/// room for 20,000 sessions.
fn config(accept: bool, keepalive: u32) -> Mode {
    let mut config = EndpointConfig::new(Key::from_bytes(*b"game-server example key, 32 byte"));
    config.accept = accept;
    config.arq.send_window = 32;
    config.arq.recv_window = 32;
    config.arq.send_queue_limit = 64;
    config.arq.max_fragments = 16;
    config.fec = FecMode::Off;
    config.max_sessions = 20_000;
    config.max_handshakes = 1024;
    config.max_memory = 8 << 30;
    config.keepalive = keepalive;
    config.idle_timeout = config.idle_timeout.max(3 * keepalive);
    Mode::Native(config)
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes the zeroed timespec it is given.
    let ts = unsafe {
        let mut ts: libc::timespec = core::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The server: echo every update; report CPU used between `measure` going up and `stop`.
///
/// `tick` zero: wake for every event. Otherwise the server runs like a game's simulation
/// loop: sleep to the next tick, then take everything that arrived in one pass, so the
/// socket is read and written in large batches.
fn serve(
    mut driver: Driver,
    tick: Duration,
    measure: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> (Duration, Duration, DriverStats) {
    let mut buf = [0u8; 2048];
    let mut window: Option<(Instant, Duration, DriverStats)> = None;
    let mut next_tick = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if window.is_none() && measure.load(Ordering::Relaxed) {
            window = Some((Instant::now(), thread_cpu(), driver.stats()));
        }
        if tick.is_zero() {
            driver.poll(Some(Duration::from_millis(100)))
        } else {
            next_tick += tick;
            thread::sleep(next_tick.saturating_duration_since(Instant::now()));
            driver.poll(Some(Duration::ZERO))
        }
        .expect("server poll");
        while let Some(event) = driver.next_event() {
            if let Event::Readable(id) = event {
                while let Ok(n) = driver.recv(id, &mut buf) {
                    // A full queue drops this update: the next one supersedes it.
                    let _ = driver.send(id, &buf[..n]);
                }
            }
        }
        // The replies leave now, not at the next tick.
        driver.flush().expect("server flush");
    }
    let (t0, c0, s0) = window.expect("the measurement started");
    let s1 = driver.stats();
    // Only what happened while measuring: the handshakes are not part of the steady state.
    let during = DriverStats {
        datagrams_in: s1.datagrams_in - s0.datagrams_in,
        recv_calls: s1.recv_calls - s0.recv_calls,
        datagrams_sent: s1.datagrams_sent - s0.datagrams_sent,
        send_calls: s1.send_calls - s0.send_calls,
        waits: s1.waits - s0.waits,
        ..s1
    };
    (t0.elapsed(), thread_cpu() - c0, during)
}

fn main() {
    let o = options();
    let server = Driver::new(DriverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        config(true, o.keepalive),
    ))
    .expect("server driver");
    let server_addr = server.local_addr();
    let measure = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let (measure, stop) = (measure.clone(), stop.clone());
        let tick = Duration::from_millis(o.tick_ms);
        thread::spawn(move || serve(server, tick, measure, stop))
    };

    let mut client = Driver::new(DriverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        config(false, o.keepalive),
    ))
    .expect("client driver");
    let epoch = Instant::now();
    // Connect everyone, a few hundred handshakes at a time.
    let mut sessions: Vec<SessionId> = Vec::with_capacity(o.clients);
    let mut connected = 0;
    while connected < o.clients {
        while sessions.len() < o.clients {
            match client.connect(server_addr) {
                Ok(id) => sessions.push(id),
                Err(_) => break,
            }
        }
        client.poll(Some(Duration::from_millis(10))).expect("poll");
        while let Some(event) = client.next_event() {
            match event {
                Event::Connected(_) => connected += 1,
                Event::Closed(id, reason) => {
                    sessions.retain(|&s| s != id);
                    eprintln!("session {id} failed: {reason}");
                }
                _ => {}
            }
        }
        assert!(
            epoch.elapsed() < Duration::from_secs(120),
            "connecting took too long"
        );
    }
    let connect_time = epoch.elapsed();

    // Updates: session k sends at k/clients of each period.
    let period = if o.hz == 0 {
        Duration::MAX
    } else {
        Duration::from_secs(1) / o.hz
    };
    let mut next: Vec<Instant> = (0..sessions.len())
        .map(|k| {
            Instant::now()
                + period
                    .checked_mul(k as u32)
                    .map_or(Duration::ZERO, |p| p / o.clients as u32)
        })
        .collect();
    let mut rtts: Vec<u32> = Vec::new();
    let mut lost_sends = 0u64;
    let mut buf = [0u8; 2048];
    let mut message = vec![0u8; o.size];
    let start = Instant::now();
    let index: HashMap<SessionId, usize> =
        sessions.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    measure.store(true, Ordering::Relaxed);
    let mut cursor = 0;
    while start.elapsed() < Duration::from_secs(o.seconds) {
        let now = Instant::now();
        // Sessions are due in index order within each period: scan from the cursor.
        if o.hz > 0 {
            for _ in 0..sessions.len() {
                if next[cursor] > now {
                    break;
                }
                let micros = epoch.elapsed().as_micros() as u64;
                message[..8].copy_from_slice(&micros.to_le_bytes());
                if client.send(sessions[cursor], &message).is_err() {
                    lost_sends += 1;
                }
                next[cursor] += period;
                cursor = (cursor + 1) % sessions.len();
            }
        }
        client.poll(Some(Duration::from_millis(1))).expect("poll");
        while let Some(event) = client.next_event() {
            match event {
                Event::Readable(id) => {
                    while let Ok(n) = client.recv(id, &mut buf) {
                        if n >= 8 && index.contains_key(&id) {
                            let sent = u64::from_le_bytes(buf[..8].try_into().unwrap());
                            let rtt = epoch.elapsed().as_micros() as u64 - sent;
                            rtts.push(rtt.min(u64::from(u32::MAX)) as u32);
                        }
                    }
                }
                Event::Closed(id, reason) => eprintln!("session {id} closed: {reason}"),
                _ => {}
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (wall, cpu, server_stats) = server_thread.join().unwrap();
    rtts.sort_unstable();
    let pct = |p: f64| -> f64 {
        if rtts.is_empty() {
            return 0.0;
        }
        let i = ((rtts.len() as f64 * p) as usize).min(rtts.len() - 1);
        f64::from(rtts[i]) / 1000.0
    };
    let stats = client.stats();
    println!(
        "clients {}  updates {} Hz x {} B  for {} s  (connected in {:.2} s)",
        o.clients,
        o.hz,
        o.size,
        o.seconds,
        connect_time.as_secs_f64()
    );
    println!(
        "round trips {}  (updates refused by full queues: {lost_sends})",
        rtts.len()
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    println!(
        "server thread CPU: {:.3} s over {:.2} s = {:.2} % of one core",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
    );
    for (who, stats) in [
        ("server (measured window)", &server_stats),
        ("client (whole run)", &stats),
    ] {
        println!(
            "{who} driver: {} datagrams in / {} receive calls, {} out / {} send calls, {} wake-ups",
            stats.datagrams_in,
            stats.recv_calls,
            stats.datagrams_sent,
            stats.send_calls,
            stats.waits
        );
    }
    println!("process RSS {:.1} MiB", resident_mib());
}

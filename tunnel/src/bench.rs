//! `kcp-tunnel bench`: a server, a client and their traffic in one process on loopback.
//!
//! TCP connections write pseudo-random data (incompressible: the worst case for snappy)
//! into the client as fast as it takes it; a sink behind the server counts what comes out.
//! Every second a line shows the goodput, the client session's smoothed RTT and the share of
//! segments sent again; the end shows the totals and the CPU time the process spent per GB.

use crate::config::{BenchConfig, ClientConfig, ServerConfig, Target};
use crate::{setup, Report};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What a run measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct BenchResult {
    /// Bytes the sink received.
    pub bytes: u64,
    /// How long the traffic ran.
    pub elapsed: Duration,
    /// Mean and largest smoothed RTT seen by the client session (ms).
    pub rtt_mean_ms: f64,
    /// The largest.
    pub rtt_max_ms: u32,
    /// Segments sent again over segments sent, in percent.
    pub retransmitted_percent: f64,
    /// CPU seconds the whole process used (both tunnel ends and the traffic).
    pub cpu_seconds: f64,
}

impl BenchResult {
    /// Goodput in Mbit/s.
    pub fn mbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the self-test, printing progress to `out`.
pub fn run(config: &BenchConfig, out: &mut dyn Write) -> io::Result<BenchResult> {
    let received = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sink = sink(received.clone(), stop.clone())?;

    let mut common = config.common.clone();
    common.quiet = true;
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("literal");
    let mut server = setup::server(&ServerConfig {
        common: common.clone(),
        listen: loopback,
        target: Target::Tcp(sink.to_string()),
    })?;
    let server_addr = server.local_addr()?;
    let mut client = setup::client(&ClientConfig {
        common: common.clone(),
        listen: loopback,
        remote: server_addr,
        remote_name: server_addr.to_string(),
        conn: 1,
        autoexpire: Duration::ZERO,
        scavengettl: Duration::ZERO,
    })?;
    let entry = client.local_addr()?;
    let report = client.report_every(Duration::from_millis(250));
    let stoppers = [server.stopper(), client.stopper()];
    let ends = [
        thread::spawn(move || server.run()),
        thread::spawn(move || client.run()),
    ];

    writeln!(
        out,
        "kcp-tunnel bench: {} streams for {} s through client {entry} and server udp {server_addr}",
        config.streams,
        config.duration.as_secs()
    )?;
    writeln!(out, "{}", common.summary())?;
    let cpu_start = cpu_seconds();
    let sources: Vec<_> = (0..config.streams)
        .map(|i| {
            let stop = stop.clone();
            thread::spawn(move || source(entry, i as u64, &stop))
        })
        .collect();
    let result = measure(config, &received, &report, cpu_start, out);
    stop.store(true, Ordering::SeqCst);
    for source in sources {
        let _ = source.join();
    }
    for stopper in &stoppers {
        stopper.stop();
    }
    for end in ends {
        match end.join() {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::other("a tunnel thread panicked")),
        }
    }
    let result = result?;
    writeln!(
        out,
        "total: {} MB in {} s = {} Mbit/s; rtt mean {} ms, max {} ms; retransmitted {}% of segments; cpu {} s ({} s per GB)",
        Fixed(result.bytes as f64 / 1e6, 1),
        Fixed(result.elapsed.as_secs_f64(), 1),
        Fixed(result.mbit_per_s(), 1),
        Fixed(result.rtt_mean_ms, 1),
        result.rtt_max_ms,
        Fixed(result.retransmitted_percent, 2),
        Fixed(result.cpu_seconds, 2),
        Fixed(result.cpu_seconds / (result.bytes as f64 / 1e9).max(1e-9), 2),
    )?;
    Ok(result)
}

/// Samples the counters once a second while the traffic runs.
fn measure(
    config: &BenchConfig,
    received: &AtomicUsize,
    report: &Mutex<Report>,
    cpu_start: f64,
    out: &mut dyn Write,
) -> io::Result<BenchResult> {
    let start = Instant::now();
    let mut total = 0u64;
    let mut rtt_sum = 0u64;
    let mut rtt_samples = 0u64;
    let mut rtt_max = 0;
    let mut last = start;
    let mut snapshot = Report::default();
    while last.duration_since(start) < config.duration {
        let next = last + Duration::from_secs(1);
        thread::sleep(next.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        // Swapped every second: a usize cannot wrap in one second on any machine, and 32-bit
        // targets have no 64-bit atomics.
        let bytes = received.swap(0, Ordering::Relaxed) as u64;
        total += bytes;
        snapshot = report.lock().map(|r| *r).unwrap_or_default();
        if let Some(rtt) = snapshot.srtt_ms {
            rtt_sum += u64::from(rtt);
            rtt_samples += 1;
            rtt_max = rtt_max.max(rtt);
        }
        writeln!(
            out,
            "{:>4} s {:>9} Mbit/s  rtt {:>4} ms  retransmitted {:>5}%",
            Fixed(now.duration_since(start).as_secs_f64(), 0),
            Fixed(
                bytes as f64 * 8.0 / 1e6 / now.duration_since(last).as_secs_f64(),
                1
            ),
            snapshot
                .srtt_ms
                .map_or_else(|| "-".into(), |r| r.to_string()),
            Fixed(retransmitted(&snapshot), 2),
        )?;
        last = now;
    }
    Ok(BenchResult {
        bytes: total,
        elapsed: last.duration_since(start),
        rtt_mean_ms: rtt_sum as f64 / rtt_samples.max(1) as f64,
        rtt_max_ms: rtt_max,
        retransmitted_percent: retransmitted(&snapshot),
        cpu_seconds: cpu_seconds() - cpu_start,
    })
}

fn retransmitted(report: &Report) -> f64 {
    let snmp = &report.snmp;
    100.0 * snmp.retrans_segs as f64 / snmp.out_segs.max(1) as f64
}

/// A TCP server that reads and counts everything; returns its address.
fn sink(received: Arc<AtomicUsize>, stop: Arc<AtomicBool>) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let received = received.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut buf = vec![0; 64 << 10];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if !stop.load(Ordering::Relaxed) {
                        received.fetch_add(n, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Writes pseudo-random data to the client until told to stop.
fn source(entry: SocketAddr, seed: u64, stop: &AtomicBool) {
    let Ok(mut conn) = TcpStream::connect(entry) else {
        return;
    };
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let buf: Vec<u8> = (0..64 << 10)
        .map(|_| {
            // xorshift64: fast, and enough to keep snappy from compressing.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    while !stop.load(Ordering::Relaxed) {
        if conn.write_all(&buf).is_err() {
            return;
        }
    }
    // An orderly end: the stream finishes, the sink sees EOF and closes its side, and the
    // close travels back.
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.read(&mut [0; 1]);
}

/// CPU time (user + system) of the whole process, in seconds.
/// A non-negative number printed with a fixed count of decimals (at most 3), rounded half up;
/// width and alignment flags apply. Written out because `{:.1}` on an `f64` brings in the
/// standard library's float printing, 12 KB of the router binary for a few progress lines.
struct Fixed(f64, u32);

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Fixed(value, places) = *self;
        let places = places.min(3);
        let scale = 10u64.pow(places);
        // `as` saturates: NaN and negatives print as 0, huge values as u64::MAX / scale.
        let scaled = (value * scale as f64 + 0.5) as u64;
        let text = match places {
            0 => scaled.to_string(),
            _ => format!(
                "{}.{:0width$}",
                scaled / scale,
                scaled % scale,
                width = places as usize
            ),
        };
        f.pad(&text)
    }
}

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::Fixed;

    #[test]
    fn fixed_prints_rounded_decimals_with_padding() {
        assert_eq!(Fixed(853.04, 1).to_string(), "853.0");
        assert_eq!(Fixed(0.125, 2).to_string(), "0.13");
        assert_eq!(Fixed(2.0, 0).to_string(), "2");
        assert_eq!(Fixed(1.996, 2).to_string(), "2.00");
        assert_eq!(Fixed(0.05, 3).to_string(), "0.050");
        assert_eq!(format!("[{:>7}]", Fixed(41.2371, 2)), "[  41.24]");
        assert_eq!(Fixed(f64::NAN, 1).to_string(), "0.0");
        assert_eq!(Fixed(-4.0, 1).to_string(), "0.0");
    }
}

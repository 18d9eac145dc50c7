//! One session, bulk transfer over loopback through the mio driver, side by side with kcp-go.
//!
//! ```text
//! cargo run --release -p kcp-benches --bin loopback-bulk [-- --mb 256 --kcpgo ../shared/lab/kcpgo-bench/run.sh]
//! ```
//!
//! Two settings, each a sender thread and a receiver thread with a driver each:
//!
//! * `plain`: legacy mode without protection or FEC, kcp-go's own bench setting (`nodelay 1,
//!   interval 1, resend 2, nc 1`, windows 8192, stream mode, MTU 1400);
//! * `sealed_fec`: the native sealed mode with FEC 10/3 (kcp-go framing inside the sealed
//!   datagrams, so parity is always 30 %).
//!
//! CPU seconds per GB count both threads (the whole process). With `--kcpgo`, the peer's run
//! (`-mb N -wnd 8192 -interval 1`, and `-crypt aes -ds 10 -ps 3` beside `sealed_fec`) is made
//! in the same invocation and the ratios are printed with it. One JSON line on stdout.

use kcp_core::legacy::LegacyConfig;
use kcp_core::net::{Driver, DriverConfig, Event, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::session::{FecMode, Protection, SessionConfig};
use kcp_core::{Config, EndpointConfig};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn arq() -> Config {
    // kcp-go passes interval 1 down to KCP, which (like ikcp) clamps it to 10 ms.
    let mut arq = Config::default().with_nodelay(1, 10, 2, true);
    arq.mtu = 1400;
    arq.send_window = 8192;
    arq.recv_window = 8192;
    arq.send_queue_limit = 16384;
    arq.stream = true;
    arq
}

fn plain(accept: bool) -> Mode {
    let mut config = LegacyConfig::new(SessionConfig {
        arq: arq(),
        fec: FecMode::Off,
        protection: Protection::None,
    });
    config.accept = accept;
    Mode::Legacy(config)
}

fn sealed_fec(accept: bool) -> Mode {
    let mut config = EndpointConfig::new(Key::from_bytes([42; 32]));
    config.arq = arq();
    config.fec = FecMode::KcpGo {
        data: 10,
        parity: 3,
    };
    config.accept = accept;
    Mode::Native(config)
}

/// Process CPU time (user + system) so far, in seconds.
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is handed; `who` is RUSAGE_SELF or
    // RUSAGE_CHILDREN.
    let usage = unsafe {
        let mut usage: libc::rusage = core::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

struct Run {
    mbit_s: f64,
    cpu_s_per_gb: f64,
}

fn run(mode: fn(bool) -> Mode, bytes: u64) -> Run {
    let mut receiver = Driver::new(DriverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        mode(true),
    ))
    .expect("receiver");
    let addr = receiver.local_addr();
    let (done_tx, done_rx) = mpsc::channel();
    let receiving = thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        while got < bytes {
            receiver
                .poll(Some(Duration::from_millis(100)))
                .expect("poll");
            while let Some(event) = receiver.next_event() {
                if let Event::Readable(id) = event {
                    while let Ok(n) = receiver.recv(id, &mut buf) {
                        got += n as u64;
                    }
                }
            }
        }
        done_tx.send(Instant::now()).unwrap();
        // Stay up a moment so the sender's last acknowledgements arrive.
        let linger = Instant::now();
        while linger.elapsed() < Duration::from_millis(200) {
            receiver.poll(Some(Duration::from_millis(20))).ok();
            while receiver.next_event().is_some() {}
        }
    });
    let mut sender = Driver::new(DriverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        mode(false),
    ))
    .expect("sender");
    let id = sender.connect(addr).expect("connect");
    let chunk = vec![0x5au8; 64 << 10];
    let mut connected = false;
    while !connected {
        sender.poll(Some(Duration::from_millis(100))).expect("poll");
        while let Some(event) = sender.next_event() {
            connected |= event == Event::Connected(id);
        }
    }
    let cpu0 = cpu_seconds(libc::RUSAGE_SELF);
    let start = Instant::now();
    let mut sent = 0u64;
    let end = loop {
        while sent < bytes {
            let n = chunk.len().min((bytes - sent) as usize);
            match sender.send(id, &chunk[..n]) {
                Ok(n) => sent += n as u64,
                Err(_) => break,
            }
        }
        sender.poll(Some(Duration::from_millis(1))).expect("poll");
        while sender.next_event().is_some() {}
        if let Ok(end) = done_rx.try_recv() {
            break end;
        }
    };
    let cpu = cpu_seconds(libc::RUSAGE_SELF) - cpu0;
    receiving.join().unwrap();
    let seconds = (end - start).as_secs_f64();
    Run {
        mbit_s: bytes as f64 * 8.0 / seconds / 1e6,
        cpu_s_per_gb: cpu / (bytes as f64 / 1e9),
    }
}

/// Runs kcp-go's bench and returns its Mbit/s and CPU seconds per GB.
fn kcpgo(script: &str, mb: u64, extra: &[&str]) -> Option<Run> {
    let cpu0 = cpu_seconds(libc::RUSAGE_CHILDREN);
    let mb_arg = mb.to_string();
    let mut args = vec!["-mb", &mb_arg, "-wnd", "8192", "-interval", "1"];
    args.extend_from_slice(extra);
    let output = Command::new("bash").arg(script).args(&args).output().ok()?;
    let cpu = cpu_seconds(libc::RUSAGE_CHILDREN) - cpu0;
    let text = String::from_utf8_lossy(&output.stdout);
    let field = text.split("\"mbit_s\":").nth(1)?;
    let mbit_s: f64 = field.trim_end_matches(['}', '\n']).trim().parse().ok()?;
    Some(Run {
        mbit_s,
        cpu_s_per_gb: cpu / (mb as f64 * 1048576.0 / 1e9),
    })
}

fn json(name: &str, ours: &Run, peer: Option<&Run>) -> String {
    let mut s = format!(
        "\"{name}\":{{\"mbit_s\":{:.0},\"cpu_s_per_gb\":{:.2}",
        ours.mbit_s, ours.cpu_s_per_gb
    );
    if let Some(p) = peer {
        s += &format!(
            ",\"kcpgo_mbit_s\":{:.0},\"kcpgo_cpu_s_per_gb\":{:.2},\"throughput_ratio\":{:.2},\"cpu_ratio\":{:.2}",
            p.mbit_s,
            p.cpu_s_per_gb,
            ours.mbit_s / p.mbit_s,
            ours.cpu_s_per_gb / p.cpu_s_per_gb
        );
    }
    s + "}"
}

fn main() {
    let mut mb = 256u64;
    let mut script = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mb" => mb = args.next().and_then(|v| v.parse().ok()).expect("--mb N"),
            "--kcpgo" => script = Some(args.next().expect("--kcpgo PATH/run.sh")),
            other => panic!("unknown argument {other}; use --mb N and --kcpgo PATH"),
        }
    }
    let bytes = mb << 20;
    let plain_run = run(plain, bytes);
    let peer_plain = script.as_deref().and_then(|s| kcpgo(s, mb, &[]));
    let sealed_run = run(sealed_fec, bytes);
    let peer_sealed = script
        .as_deref()
        .and_then(|s| kcpgo(s, mb, &["-crypt", "aes", "-ds", "10", "-ps", "3"]));
    println!(
        "{{\"mb\":{mb},{},{}}}",
        json("plain", &plain_run, peer_plain.as_ref()),
        json("sealed_fec", &sealed_run, peer_sealed.as_ref())
    );
}

//! Game traffic under loss, with and without FEC: a client sends a 64-byte message 50 times a
//! second, the server echoes each one, and the client measures the round trip. Both directions
//! lose 10 % of datagrams and delay them 25 ms (RTT 50 ms). Three sessions side by side, on
//! the same seeds:
//!
//! * no FEC — every loss waits for a retransmission;
//! * kcp-go 10+3 — parity only after ten datagrams, i.e. 100-200 ms at this rate;
//! * native — groups closed a quarter or half an RTT (the default) after their first
//!   datagram, parity sized from the loss the peer reports.
//!
//! Prints p50/p99/max round trip and wire bytes per application byte delivered (both ways,
//! headers, acks and parity included), as a table and as one JSON line per mode.
//!
//! `cargo run --release -p kcp-examples --bin fec-table [seeds] [seconds] [loss]`

use kcp_core::fec::NativeConfig;
use kcp_core::session::{FecMode, Protection, Session, SessionConfig};
use kcp_core::sim::{LinkConfig, Sim};
use kcp_core::Config;

const MESSAGE: usize = 64;
const PERIOD_MS: u64 = 20;
const ONE_WAY_MS: u64 = 25;

struct Outcome {
    rtts: Vec<u32>,
    wire_bytes: u64,
    app_bytes: u64,
    recovered: u64,
    parity_out: u64,
}

fn config(fec: FecMode) -> SessionConfig {
    // kcptun's fast3 with message boundaries kept, as a game would use it.
    let mut arq = Config::fast3();
    arq.mtu = 1350;
    SessionConfig {
        arq,
        fec,
        protection: Protection::None,
    }
}

fn run(fec: &FecMode, seed: u64, seconds: u64, loss: f64) -> Outcome {
    let link = LinkConfig::lossy(loss, ONE_WAY_MS, ONE_WAY_MS);
    let mut sim = Sim::new(seed, link.clone(), link);
    let mut client = Session::new(1, &config(fec.clone()), seed).unwrap();
    let mut server = Session::new(1, &config(fec.clone()), !seed).unwrap();
    let mut buf = [0u8; 2048];
    let mut rtts = Vec::new();
    let mut app_bytes = 0;
    let end = seconds * 1000;
    let mut next_send = 0;
    // Run a little past the last send so its echo can come back.
    while sim.clock() < end + 5_000 {
        if sim.clock() >= next_send && next_send < end {
            let mut message = [0u8; MESSAGE];
            message[..4].copy_from_slice(&sim.now().to_le_bytes());
            client.send(&message).expect("the queue has room at 50 Hz");
            next_send += PERIOD_MS;
        }
        while let Ok(n) = server.recv(&mut buf) {
            app_bytes += n as u64;
            server.send(&buf[..n]).expect("echo");
        }
        while let Ok(n) = client.recv(&mut buf) {
            app_bytes += n as u64;
            let sent = u32::from_le_bytes(buf[..4].try_into().unwrap());
            rtts.push(sim.now().wrapping_sub(sent));
        }
        let wait = if next_send < end {
            next_send.saturating_sub(sim.clock()).max(1)
        } else {
            100
        };
        sim.step(&mut client, &mut server, wait);
    }
    let fec_out = |s: &Session| s.native_fec().map_or(0, |n| n.stats().parity_shards_out);
    Outcome {
        wire_bytes: sim.a_to_b.stats().sent_bytes + sim.b_to_a.stats().sent_bytes,
        app_bytes,
        recovered: client.snmp().fec_recovered + server.snmp().fec_recovered,
        parity_out: fec_out(&client) + fec_out(&server),
        rtts,
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(20, |s| s.parse().expect("seeds"));
    let seconds: u64 = args.next().map_or(60, |s| s.parse().expect("seconds"));
    let loss: f64 = args.next().map_or(0.1, |s| s.parse().expect("loss"));
    let modes = [
        ("no FEC", FecMode::Off),
        (
            "kcp-go 10+3",
            FecMode::KcpGo {
                data: 10,
                parity: 3,
            },
        ),
        (
            "native 1/4",
            FecMode::Native(NativeConfig {
                deadline_fraction: 64,
                ..NativeConfig::default()
            }),
        ),
        ("native 1/2", FecMode::Native(NativeConfig::default())),
    ];
    println!(
        "50 Hz x {MESSAGE} B echo, {}% loss each way, RTT {} ms, {seeds} seeds x {seconds} s",
        loss * 100.0,
        2 * ONE_WAY_MS
    );
    println!(
        "{:<12} {:>8} {:>8} {:>8} {:>8} {:>12} {:>10}",
        "mode", "p50 ms", "p99 ms", "max ms", "echoes", "wire/app B", "rebuilt"
    );
    for (name, fec) in &modes {
        let mut rtts = Vec::new();
        let (mut wire, mut app, mut recovered, mut parity) = (0, 0, 0, 0);
        for seed in 0..seeds {
            let o = run(fec, seed, seconds, loss);
            rtts.extend(o.rtts);
            wire += o.wire_bytes;
            app += o.app_bytes;
            recovered += o.recovered;
            parity += o.parity_out;
        }
        rtts.sort_unstable();
        let (p50, p99, max) = (
            percentile(&rtts, 0.5),
            percentile(&rtts, 0.99),
            *rtts.last().unwrap(),
        );
        let ratio = wire as f64 / app as f64;
        println!(
            "{name:<12} {p50:>8} {p99:>8} {max:>8} {:>8} {ratio:>12.2} {recovered:>10}",
            rtts.len()
        );
        eprintln!(
            "{{\"mode\":\"{name}\",\"loss\":{loss},\"p50_ms\":{p50},\"p99_ms\":{p99},\"max_ms\":{max},\"echoes\":{},\"wire_bytes_per_app_byte\":{ratio:.3},\"recovered\":{recovered},\"native_parity_out\":{parity}}}",
            rtts.len()
        );
    }
}

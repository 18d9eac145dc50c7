//! Whole sessions (ARQ + FEC + protection): kcptun's captured traffic replayed into a session,
//! and pairs of sessions in the simulator at 0-30 % loss.

mod common;

use common::{capture_config, fec_captures, hex, load, push_stream, CAPTURES};
use kcp_core::crypto::{derive_key, CipherKind};
use kcp_core::fec::NativeConfig;
use kcp_core::session::{DatagramError, FecMode, Protection, Session, SessionConfig, Snmp};
use kcp_core::sim::{LinkConfig, Rng, Sim};
use kcp_core::{Config, RecvError, SendError};
use serde_json::Value;

/// Replays one direction of a capture into a fresh session, leaving out the datagrams whose
/// capture index `skip` accepts; returns what the application reads and the counters.
fn replay(capture: &Value, dir: &str, skip: &dyn Fn(usize) -> bool) -> (Vec<u8>, Snmp) {
    let datagrams: Vec<&Value> = capture["datagrams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dir"] == dir)
        .collect();
    let first = datagrams
        .iter()
        .flat_map(|d| d["kcp_segments"].as_array().unwrap())
        .next()
        .expect("a segment");
    let conv = first["conv"].as_u64().unwrap() as u32;
    let mut session = Session::new(conv, &capture_config(capture), 1).unwrap();

    // The captured segments acknowledge the other direction's data (`una`); send as many
    // segments first so those acknowledgements refer to something this session sent.
    let max_una = datagrams
        .iter()
        .flat_map(|d| d["kcp_segments"].as_array().unwrap())
        .map(|s| s["una"].as_u64().unwrap())
        .max()
        .unwrap_or(0);
    let mss = session.arq().mss() as usize;
    session.send(&vec![0u8; mss * max_una as usize]).unwrap();
    let mut out = vec![0u8; session.max_datagram_size()];
    while session.poll_transmit(0, &mut out).is_some() {}

    let mut received = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    for d in datagrams {
        if skip(d["index"].as_u64().unwrap() as usize) {
            continue;
        }
        let mut wire = hex(d["wire_hex"].as_str().unwrap());
        let now = d["t_ms"].as_f64().unwrap() as u32;
        session.handle_datagram(now, &mut wire).unwrap();
        while let Ok(n) = session.recv(&mut buf) {
            received.extend_from_slice(&buf[..n]);
        }
    }
    (received, session.snmp())
}

#[test]
fn a_session_reads_kcptuns_traffic() {
    for name in CAPTURES {
        let capture = load(name);
        for dir in ["c2s", "s2c"] {
            let (received, snmp) = replay(&capture, dir, &|_| false);
            assert_eq!(received, push_stream(&capture, dir), "{name} {dir}");
            assert_eq!(snmp.in_csum_errors + snmp.in_errs + snmp.kcp_in_errors, 0);
            assert_eq!(snmp.bytes_received, received.len() as u64);
            let parity = capture["datagrams"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dir"] == dir && d["fec"]["type"] == "parity")
                .count();
            assert_eq!(snmp.fec_parity_shards, parity as u64, "{name} {dir}");
        }
    }
}

#[test]
fn fec_rebuilds_captured_datagrams_that_never_arrive() {
    for name in fec_captures() {
        let capture = load(name);
        for dir in ["c2s", "s2c"] {
            // Drop the 2nd and 6th data datagram of every complete group.
            let mut dropped = std::collections::HashSet::new();
            for g in capture["fec_groups"].as_array().unwrap() {
                if g["dir"] == dir && g["complete"] == true {
                    let idx = g["datagram_indices"].as_array().unwrap();
                    dropped.insert(idx[1].as_u64().unwrap() as usize);
                    dropped.insert(idx[5].as_u64().unwrap() as usize);
                }
            }
            assert!(!dropped.is_empty());
            let (received, snmp) = replay(&capture, dir, &|i| dropped.contains(&i));
            assert_eq!(received, push_stream(&capture, dir), "{name} {dir}");
            assert_eq!(snmp.fec_recovered, dropped.len() as u64, "{name} {dir}");
        }
    }
}

#[test]
fn wrong_key_short_and_corrupt_datagrams_are_counted() {
    let capture = load("kcptun-aes-fec10-3.json");
    let mut config = capture_config(&capture);
    config.protection = Protection::Legacy {
        cipher: CipherKind::Aes256,
        key: derive_key(b"not the key"),
    };
    let mut session = Session::new(0, &config, 1).unwrap();
    for d in capture["datagrams"].as_array().unwrap().iter().take(10) {
        let mut wire = hex(d["wire_hex"].as_str().unwrap());
        assert_eq!(
            session.handle_datagram(0, &mut wire),
            Err(DatagramError::Checksum)
        );
    }
    assert_eq!(
        session.handle_datagram(0, &mut [0u8; 19]),
        Err(DatagramError::Short)
    );
    let snmp = session.snmp();
    assert_eq!(
        (snmp.in_csum_errors, snmp.in_errs, snmp.in_pkts),
        (10, 1, 11)
    );
    assert_eq!(
        session.arq().stats().datagrams_in,
        0,
        "nothing reached the ARQ"
    );
}

#[test]
fn mtu_and_mss_account_for_the_framing() {
    let capture = load("kcptun-aes-fec10-3.json");
    let session = Session::new(1, &capture_config(&capture), 1).unwrap();
    assert_eq!(
        session.arq().mss(),
        1298,
        "kcptun's mss at mtu 1350 with a cipher and FEC"
    );
    let capture = load("kcptun-aes128-nofec.json");
    let session = Session::new(1, &capture_config(&capture), 1).unwrap();
    assert_eq!(session.arq().mss(), 1306);

    let mut config = capture_config(&capture);
    config.arq.mtu = 1501;
    assert!(
        Session::new(1, &config, 1).is_err(),
        "kcp-go drops datagrams over 1500"
    );
}

// --- pairs of sessions in the simulator --------------------------------------------------------

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// One side's application: sends `to_send`, checks what arrives against `expected`.
struct App {
    to_send: Vec<u8>,
    sent: usize,
    expected: Vec<u8>,
    received: usize,
}

impl App {
    fn pump(&mut self, s: &mut Session, buf: &mut [u8]) {
        while self.sent < self.to_send.len() {
            let end = (self.sent + 8192).min(self.to_send.len());
            match s.send(&self.to_send[self.sent..end]) {
                Ok(n) => self.sent += n,
                Err(SendError::QueueFull) => break,
                Err(e) => panic!("{e}"),
            }
        }
        loop {
            match s.recv(buf) {
                Ok(n) => {
                    let want = &self.expected[self.received..self.received + n];
                    assert_eq!(&buf[..n], want, "bytes differ at {}", self.received);
                    self.received += n;
                }
                Err(RecvError::Empty) => break,
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn done(&self) -> bool {
        self.received == self.expected.len()
    }
}

fn session_configs() -> Vec<(&'static str, SessionConfig)> {
    let key = derive_key(b"sim");
    let mut arq = Config::fast3();
    arq.mtu = 1350;
    arq.send_window = 256;
    arq.recv_window = 256;
    let legacy = |cipher| Protection::Legacy { cipher, key };
    vec![
        (
            "aes+kcpgo10/3",
            SessionConfig {
                arq: arq.clone(),
                fec: FecMode::KcpGo {
                    data: 10,
                    parity: 3,
                },
                protection: legacy(CipherKind::Aes256),
            },
        ),
        (
            "salsa20+kcpgo4/2",
            SessionConfig {
                arq: arq.clone(),
                fec: FecMode::KcpGo { data: 4, parity: 2 },
                protection: legacy(CipherKind::Salsa20),
            },
        ),
        (
            "xor+nofec",
            SessionConfig {
                arq: arq.clone(),
                fec: FecMode::Off,
                protection: legacy(CipherKind::Xor),
            },
        ),
        (
            "null+native",
            SessionConfig {
                arq: arq.clone(),
                fec: FecMode::Native(NativeConfig::default()),
                protection: Protection::None,
            },
        ),
        (
            "aes128+native",
            SessionConfig {
                arq,
                fec: FecMode::Native(NativeConfig::default()),
                protection: legacy(CipherKind::Aes128),
            },
        ),
    ]
}

/// Moves 200 kB one way and 50 kB the other between two sessions; returns the FEC rebuilds.
/// With `garbage`, each side first swallows a few hundred random datagrams.
fn transfer(name: &str, configs: [&SessionConfig; 2], seed: u64, loss: f64, garbage: bool) -> u64 {
    let link = LinkConfig::lossy(loss, 10, 30);
    let mut sim = Sim::new(seed, link.clone(), link);
    let mut a = Session::new(7, configs[0], seed).unwrap();
    let mut b = Session::new(7, configs[1], seed + 100).unwrap();
    if garbage {
        let mut rng = Rng::new(seed);
        for s in [&mut a, &mut b] {
            for _ in 0..500 {
                let len = rng.range(0, 1500) as usize;
                let mut junk: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                let _ = s.handle_datagram(0, &mut junk);
            }
            assert_eq!(s.snmp().in_pkts, 500, "{name}: every datagram counted");
            assert_eq!(s.snmp().bytes_received, 0);
        }
    }
    let a_bytes = pattern(seed, 200_000);
    let b_bytes = pattern(seed + 1, 50_000);
    let mut app_a = App {
        to_send: a_bytes.clone(),
        sent: 0,
        expected: b_bytes.clone(),
        received: 0,
    };
    let mut app_b = App {
        to_send: b_bytes,
        sent: 0,
        expected: a_bytes,
        received: 0,
    };
    let mut buf = vec![0u8; 1 << 16];
    while !(app_a.done() && app_b.done()) {
        assert!(
            sim.clock() < 600_000,
            "{name} loss {loss} seed {seed}: stuck"
        );
        app_a.pump(&mut a, &mut buf);
        app_b.pump(&mut b, &mut buf);
        sim.step(&mut a, &mut b, 50);
    }
    let mut recovered = 0;
    for s in [&a, &b] {
        let snmp = s.snmp();
        if !garbage {
            assert_eq!(snmp.in_csum_errors + snmp.in_errs + snmp.kcp_in_errors, 0);
        }
        assert_eq!(snmp.fec_errs, 0);
        recovered += snmp.fec_recovered;
    }
    recovered
}

#[test]
fn session_pairs_deliver_exactly_once_in_order_at_0_to_30_percent_loss() {
    let seeds: u64 = std::env::var("KCP_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut table = Vec::new();
    for (name, config) in session_configs() {
        for loss in [0.0, 0.1, 0.2, 0.3] {
            let recovered: u64 = (0..seeds)
                .map(|seed| transfer(name, [&config, &config], seed, loss, false))
                .sum();
            if loss > 0.0 && !name.contains("nofec") {
                assert!(
                    recovered > 0,
                    "{name} at {loss}: FEC never rebuilt anything"
                );
            }
            table.push(format!(
                "{name:>18} loss {:>2}%: recovered {recovered}",
                loss * 100.0
            ));
        }
    }
    println!("{}", table.join("\n"));
}

#[test]
fn garbage_datagrams_are_counted_and_harm_nothing() {
    for (name, config) in session_configs() {
        transfer(name, [&config, &config], 5, 0.1, true);
    }
}

#[test]
fn fec_and_plain_peers_understand_each_other() {
    // kcp-go accepts FEC-framed and bare datagrams whatever its own setting; so do we.
    let configs = session_configs();
    let with_fec = &configs[0].1;
    let mut without = with_fec.clone();
    without.fec = FecMode::Off;
    for seed in 0..3 {
        transfer("fec -> plain", [with_fec, &without], seed, 0.1, false);
    }
}

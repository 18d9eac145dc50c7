//! Reading the golden vectors in `tests/vectors/` (copied from `../shared/vectors/`).

// Every test crate that includes this module uses only part of it.
#![allow(dead_code)]

use kcp_core::crypto::derive_key;
use kcp_core::session::{FecMode, Protection, SessionConfig};
use kcp_core::Config;
use serde_json::Value;

/// The five kcptun captures: `-crypt` none, aes, aes-128 and salsa20; FEC 10/3 and off.
pub const CAPTURES: [&str; 5] = [
    "kcptun-none-fec10-3.json",
    "kcptun-aes-fec10-3.json",
    "kcptun-aes128-nofec.json",
    "kcptun-salsa20-fec10-3.json",
    "kcptun-none-nofec-nocomp-smux2.json",
];

/// The captures with kcp-go FEC 10/3.
pub fn fec_captures() -> impl Iterator<Item = &'static str> {
    CAPTURES.into_iter().filter(|name| name.contains("fec10-3"))
}

/// Parses `tests/vectors/<name>`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes lowercase or uppercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The session kcptun's flags in a capture describe (mode fast, windows large enough).
pub fn capture_config(capture: &Value) -> SessionConfig {
    let c = &capture["config"];
    let mut arq = Config::fast();
    arq.mtu = c["mtu"].as_u64().unwrap() as u32;
    arq.send_window = 1024;
    arq.recv_window = 1024;
    let (ds, ps) = (c["ds"].as_u64().unwrap(), c["ps"].as_u64().unwrap());
    SessionConfig {
        arq,
        fec: if ds > 0 && ps > 0 {
            FecMode::KcpGo {
                data: ds as usize,
                parity: ps as usize,
            }
        } else {
            FecMode::Off
        },
        protection: Protection::Legacy {
            cipher: c["crypt"].as_str().unwrap().parse().unwrap(),
            key: derive_key(c["key"].as_str().unwrap().as_bytes()),
        },
    }
}

/// The PUSH payload of one direction, in sequence-number order, each segment once.
pub fn push_stream(capture: &Value, dir: &str) -> Vec<u8> {
    let mut by_sn = std::collections::BTreeMap::new();
    for d in capture["datagrams"].as_array().unwrap() {
        if d["dir"] != dir {
            continue;
        }
        for s in d["kcp_segments"].as_array().unwrap() {
            if s["cmd"] == 81 {
                by_sn.insert(
                    s["sn"].as_u64().unwrap(),
                    hex(s["data_hex"].as_str().unwrap()),
                );
            }
        }
    }
    by_sn.into_values().flatten().collect()
}

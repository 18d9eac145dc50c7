//! Reading the golden vectors in `tests/vectors/` (copied from `../shared/vectors/`).

// Every test crate that includes this module uses only part of it.
#![allow(dead_code)]

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

//! An echo client on the mio driver, written with the blocking `Read`/`Write` adapters.
//!
//! ```text
//! cargo run --release -p kcp-examples --bin echo-client -- --server 127.0.0.1:4000 [--key PASSPHRASE | --legacy] [--count 10]
//! ```
//!
//! Sends `--count` numbered messages, waits for each echo, checks it and prints its round
//! trip time; then prints the session's counters.

use kcp_core::legacy::LegacyConfig;
use kcp_core::net::{Driver, DriverConfig, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::session::{FecMode, Protection, SessionConfig};
use kcp_core::{Config, EndpointConfig};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let server: SocketAddr = flag(&args, "--server")
        .unwrap_or_else(|| "127.0.0.1:4000".to_owned())
        .parse()
        .expect("--server ADDRESS:PORT");
    let count: usize = flag(&args, "--count").map_or(10, |c| c.parse().expect("--count N"));
    let mode = if args.iter().any(|a| a == "--legacy") {
        Mode::Legacy(LegacyConfig::new(SessionConfig {
            arq: Config::fast3(),
            fec: FecMode::Off,
            protection: Protection::None,
        }))
    } else {
        let passphrase = flag(&args, "--key").unwrap_or_else(|| "kcp-rs example key".to_owned());
        Mode::Native(EndpointConfig::new(
            Key::from_passphrase(&passphrase).expect("passphrase"),
        ))
    };
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .unwrap();
    let mut driver = Driver::new(DriverConfig::new(local, mode))?;
    let id = driver.connect(server)?;
    let mut stream = driver.stream(id);
    stream.set_timeout(Some(Duration::from_secs(10)));
    let mut reply = vec![0u8; 64 * 1024];
    for i in 0..count {
        let message = format!("message {i} from the echo client");
        let started = Instant::now();
        stream.write_all(message.as_bytes())?;
        let n = stream.read(&mut reply)?;
        if &reply[..n] != message.as_bytes() {
            return Err(std::io::Error::other(format!("echo {i} came back changed")));
        }
        println!("{message}: {:.2} ms", started.elapsed().as_secs_f64() * 1e3);
    }
    stream.flush()?;
    if let Some(stats) = driver.session_stats(id) {
        println!(
            "srtt {} ms, rto {} ms, {} datagrams out, {} in",
            stats.srtt, stats.rto, stats.snmp.out_pkts, stats.snmp.in_pkts
        );
    }
    driver.close(id, 0);
    driver.flush()
}

//! An echo server on the mio driver.
//!
//! ```text
//! cargo run --release -p kcp-examples --bin echo-server -- [--listen 0.0.0.0:4000] [--key PASSPHRASE | --legacy]
//! ```
//!
//! Native mode (the default) needs the same passphrase on both sides; `--legacy` speaks
//! kcp-go's protocol without encryption or FEC (a kcp-go client with `crypt none`, no FEC,
//! talks to it). Each session's messages come back unchanged; sessions come and go with a
//! line on stderr.

use kcp_core::legacy::LegacyConfig;
use kcp_core::net::{Driver, DriverConfig, Event, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::session::{FecMode, Protection, SessionConfig};
use kcp_core::{Config, EndpointConfig};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// The mode both examples build from the command line.
fn mode(args: &[String], accept: bool) -> Mode {
    if args.iter().any(|a| a == "--legacy") {
        let mut config = LegacyConfig::new(SessionConfig {
            arq: Config::fast3(),
            fec: FecMode::Off,
            protection: Protection::None,
        });
        config.accept = accept;
        return Mode::Legacy(config);
    }
    let passphrase = flag(args, "--key").unwrap_or_else(|| "kcp-rs example key".to_owned());
    let mut config = EndpointConfig::new(Key::from_passphrase(&passphrase).expect("passphrase"));
    config.accept = accept;
    Mode::Native(config)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = flag(&args, "--listen")
        .unwrap_or_else(|| "0.0.0.0:4000".to_owned())
        .parse()
        .expect("--listen ADDRESS:PORT");
    let mut driver = Driver::new(DriverConfig::new(listen, mode(&args, true)))?;
    eprintln!("echo server on {}", driver.local_addr());
    let mut buf = vec![0u8; 256 * 1024];
    // Messages the session's send queue refused, retried when it says it is writable.
    let mut backlog: HashMap<_, VecDeque<Vec<u8>>> = HashMap::new();
    loop {
        driver.poll(None)?;
        while let Some(event) = driver.next_event() {
            match event {
                Event::Accepted(id) => eprintln!("{id}: accepted from {:?}", driver.remote(id)),
                Event::Closed(id, reason) => {
                    backlog.remove(&id);
                    eprintln!("{id}: closed: {reason}");
                }
                Event::Readable(id) => {
                    while let Ok(n) = driver.recv(id, &mut buf) {
                        backlog.entry(id).or_default().push_back(buf[..n].to_vec());
                    }
                }
                _ => {}
            }
        }
        for (&id, queue) in &mut backlog {
            while let Some(message) = queue.front() {
                if driver.send(id, message).is_err() {
                    break;
                }
                queue.pop_front();
            }
        }
    }
}

//! Several drivers on several threads sharing one port (SO_REUSEPORT), native mode.
//!
//! ```text
//! cargo run --release -p kcp-examples --bin sharded-server -- [--threads 2] [--listen 127.0.0.1:4001] [--clients 32]
//! ```
//!
//! Each thread binds the same port with [`SocketConfig::reuse_port`] and its place in
//! [`DriverConfig::shard`] (bound in shard order: the kernel numbers the sockets in that
//! order). The first shard installs a socket filter that steers every sealed datagram to the
//! shard whose residue class its session id is in, and both halves of a handshake to the
//! same shard, so a session stays on one thread even when its client's address changes. Each
//! thread then runs an ordinary echo loop over its own sessions: no locks, nothing shared.
//!
//! With `--clients N` (default 32) the example also starts N clients, each on its own
//! socket, exchanges a few messages on each and prints how the sessions spread over the
//! shards, then exits; `--clients 0` serves until killed.
//!
//! [`SocketConfig::reuse_port`]: kcp_core::net::SocketConfig::reuse_port
//! [`DriverConfig::shard`]: kcp_core::net::DriverConfig::shard

use kcp_core::net::{Driver, DriverConfig, Event, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::EndpointConfig;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn flag(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn endpoint(accept: bool) -> EndpointConfig {
    let mut config = EndpointConfig::new(Key::from_bytes(*b"sharded-server example key 32 B!"));
    config.accept = accept;
    config
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let threads: u8 = flag(&args, "--threads", "2")
        .parse()
        .expect("--threads 1-255");
    let clients: usize = flag(&args, "--clients", "32").parse().expect("--clients N");
    let listen: SocketAddr = flag(&args, "--listen", "127.0.0.1:4001")
        .parse()
        .expect("--listen");

    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Vec<AtomicUsize>> =
        Arc::new((0..threads).map(|_| AtomicUsize::new(0)).collect());
    let mut shards = Vec::new();
    // Bind in shard order on this thread, so the kernel's socket numbering matches.
    for index in 0..threads {
        let mut config = DriverConfig::new(listen, Mode::Native(endpoint(true)));
        config.socket.reuse_port = true;
        config.shard = Some((index, threads));
        let mut driver = Driver::new(config)?;
        let (stop, accepted) = (stop.clone(), accepted.clone());
        shards.push(thread::spawn(move || -> std::io::Result<()> {
            let mut buf = vec![0u8; 64 * 1024];
            while !stop.load(Ordering::Relaxed) {
                driver.poll(Some(Duration::from_millis(50)))?;
                while let Some(event) = driver.next_event() {
                    match event {
                        Event::Accepted(id) => {
                            // The filter's promise: this shard only ever sees its own ids.
                            assert_eq!(
                                id.0 as u8 % threads,
                                index,
                                "session {id} on the wrong shard"
                            );
                            accepted[usize::from(index)].fetch_add(1, Ordering::Relaxed);
                        }
                        Event::Readable(id) => {
                            while let Ok(n) = driver.recv(id, &mut buf) {
                                let _ = driver.send(id, &buf[..n]);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        }));
    }
    eprintln!("{threads} shards on {listen}");
    if clients == 0 {
        for shard in shards {
            shard.join().expect("shard thread")?;
        }
        return Ok(());
    }

    // Clients, each on its own socket so the kernel sees many peers.
    let mut drivers = Vec::new();
    for _ in 0..clients {
        let mut driver = Driver::new(DriverConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            Mode::Native(endpoint(false)),
        ))?;
        let id = driver.connect(listen)?;
        drivers.push((driver, id, 0usize));
    }
    let started = Instant::now();
    let mut buf = [0u8; 64];
    while drivers.iter().any(|(_, _, echoed)| *echoed < 5) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "clients did not finish"
        );
        for (driver, id, echoed) in &mut drivers {
            driver.poll(Some(Duration::ZERO))?;
            while driver.next_event().is_some() {}
            while driver.recv(*id, &mut buf).is_ok() {
                *echoed += 1;
            }
            if *echoed < 5 {
                let _ = driver.send(*id, b"ping");
            }
        }
        thread::sleep(Duration::from_millis(2));
    }
    stop.store(true, Ordering::Relaxed);
    for shard in shards {
        shard.join().expect("shard thread")?;
    }
    let counts: Vec<usize> = accepted.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    println!("{clients} clients served; sessions per shard: {counts:?}");
    Ok(())
}

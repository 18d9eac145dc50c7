//! Moves 1 MiB each way between two kcp-core peers over the simulated network, for each of
//! kcptun's presets at 0 %, 10 % and 30 % loss (one-way delay 20-60 ms, so datagrams reorder),
//! and prints a table: simulated time, goodput and what it cost in datagrams. The delay spread
//! reorders whole bursts, and KCP's duplicate-ack retransmission answers reordering as if it
//! were loss: the overhead column shows that price even at 0 % loss.
//!
//! `cargo run --release -p kcp-examples --bin sim-table [seed]`

use kcp_core::sim::{LinkConfig, Rng, Sim};
use kcp_core::{Config, Kcp, RecvError, SendError};

const BYTES: usize = 1 << 20;

/// Streams `data` from one side while reading what arrives on the other.
struct Direction {
    data: Vec<u8>,
    sent: usize,
    received: usize,
}

impl Direction {
    fn new(rng: &mut Rng) -> Direction {
        Direction {
            data: (0..BYTES).map(|_| rng.next_u64() as u8).collect(),
            sent: 0,
            received: 0,
        }
    }

    fn pump(&mut self, sender: &mut Kcp, receiver: &mut Kcp, buf: &mut [u8]) {
        while self.sent < self.data.len() {
            match sender.send(&self.data[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(SendError::QueueFull) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        loop {
            match receiver.recv(buf) {
                Ok(n) => {
                    assert_eq!(buf[..n], self.data[self.received..self.received + n]);
                    self.received += n;
                }
                Err(RecvError::Empty) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    fn done(&self) -> bool {
        self.received == self.data.len()
    }
}

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let presets = [
        ("normal", Config::normal()),
        ("fast", Config::fast()),
        ("fast2", Config::fast2()),
        ("fast3", Config::fast3()),
    ];
    println!("1 MiB each way, stream mode, windows 256/256, one-way delay 20-60 ms, seed {seed}\n");
    println!(
        "{:<8} {:>6} {:>10} {:>12} {:>11} {:>12} {:>10}",
        "preset", "loss", "time (s)", "goodput", "datagrams", "retransmits", "overhead"
    );
    for (name, preset) in presets {
        for loss in [0.0, 0.1, 0.3] {
            let config = Config {
                stream: true,
                send_window: 256,
                recv_window: 256,
                ..preset.clone()
            };
            let mut rng = Rng::new(seed);
            let (mut a, mut b) = (Kcp::new(7, &config).unwrap(), Kcp::new(7, &config).unwrap());
            let (mut ab, mut ba) = (Direction::new(&mut rng), Direction::new(&mut rng));
            let link = LinkConfig::lossy(loss, 20, 60);
            let mut sim = Sim::new(seed, link.clone(), link);
            let mut buf = vec![0u8; 64 * 1024];
            while !(ab.done() && ba.done()) {
                ab.pump(&mut a, &mut b, &mut buf);
                ba.pump(&mut b, &mut a, &mut buf);
                sim.step(&mut a, &mut b, 100);
            }
            let seconds = sim.clock() as f64 / 1000.0;
            let stats = a.stats();
            let retransmits = stats.timeout_retransmits + stats.fast_retransmits;
            let wire = stats.bytes_out as f64;
            println!(
                "{:<8} {:>5.0}% {:>10.2} {:>7.0} KB/s {:>11} {:>12} {:>9.1}%",
                name,
                loss * 100.0,
                seconds,
                BYTES as f64 / 1024.0 / seconds,
                stats.datagrams_out,
                retransmits,
                (wire / BYTES as f64 - 1.0) * 100.0
            );
        }
    }
}

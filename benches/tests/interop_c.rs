//! Our state machine (in its default eager mode) talking to the reference C code through the
//! simulator: both directions at once, stream and message mode, 0 %, 10 % and 30 % loss with
//! reordering. Every byte must arrive exactly once and in order, on both sides.

use kcp_benches::peer::Peer;
use kcp_benches::reference::CKcp;
use kcp_core::sim::{LinkConfig, Rng, Sim};
use kcp_core::{Config, Kcp};

const CONV: u32 = 0xC0FFEE;

fn ours(stream: bool) -> Kcp {
    let config = Config {
        send_window: 128,
        recv_window: 128,
        stream,
        ..Config::fast3()
    };
    Kcp::new(CONV, &config).unwrap()
}

fn reference(stream: bool) -> CKcp {
    let mut kcp = CKcp::new(CONV);
    kcp.nodelay(1, 10, 2, 1);
    kcp.wndsize(128, 128);
    kcp.set_stream(stream);
    kcp
}

/// What one side sends and what the other has received of it.
struct Flow {
    chunks: Vec<Vec<u8>>,
    next: usize,
    received: Vec<u8>,
    messages: usize,
}

impl Flow {
    fn new(rng: &mut Rng, total: usize, max_chunk: u64) -> Flow {
        let mut chunks = Vec::new();
        let mut bytes = 0;
        while bytes < total {
            let len = rng.range(1, max_chunk) as usize;
            chunks.push((0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>());
            bytes += len;
        }
        Flow {
            chunks,
            next: 0,
            received: Vec::new(),
            messages: 0,
        }
    }

    fn expected(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    fn feed(&mut self, sender: &mut impl Peer) {
        while self.next < self.chunks.len() && sender.waiting() < 256 {
            assert!(sender.send_message(&self.chunks[self.next]), "send refused");
            self.next += 1;
        }
    }

    fn drain(&mut self, receiver: &mut impl Peer, stream: bool, buf: &mut [u8]) {
        while let Some(n) = receiver.recv_message(buf) {
            if !stream {
                assert_eq!(
                    &buf[..n],
                    &self.chunks[self.messages][..],
                    "message {}",
                    self.messages
                );
                self.messages += 1;
            }
            self.received.extend_from_slice(&buf[..n]);
        }
        let expected = self.expected();
        assert_eq!(
            &self.received[..],
            &expected[..self.received.len()],
            "bytes out of order"
        );
    }

    fn done(&self) -> bool {
        self.received.len() == self.chunks.iter().map(Vec::len).sum::<usize>()
    }
}

fn exchange(stream: bool, loss: f64, seed: u64) {
    let mut rng = Rng::new(seed);
    let max_chunk = if stream { 16_000 } else { 8_000 };
    let mut to_c = Flow::new(&mut rng, 200_000, max_chunk);
    let mut to_ours = Flow::new(&mut rng, 100_000, max_chunk);
    let (mut a, mut b) = (ours(stream), reference(stream));
    let link = LinkConfig::lossy(loss, 10, 40);
    let mut sim = Sim::new(seed, link.clone(), link).with_origin(rng.next_u64() as u32);
    let mut buf = vec![0u8; 1 << 20];
    while !(to_c.done() && to_ours.done()) {
        assert!(sim.clock() < 600_000, "stuck: {:?}", a.stats());
        to_c.feed(&mut a);
        to_ours.feed(&mut b);
        sim.step(&mut a, &mut b, 20);
        to_c.drain(&mut b, stream, &mut buf);
        to_ours.drain(&mut a, stream, &mut buf);
    }
    assert_eq!(to_c.received, to_c.expected());
    assert_eq!(to_ours.received, to_ours.expected());
    let s = a.stats();
    assert_eq!(
        s.dropped_truncated + s.dropped_wrong_conv + s.dropped_unknown_command,
        0
    );
}

#[test]
fn message_mode_with_the_reference() {
    for loss in [0.0, 0.1, 0.3] {
        for seed in 0..3 {
            exchange(false, loss, seed);
        }
    }
}

#[test]
fn stream_mode_with_the_reference() {
    for loss in [0.0, 0.1, 0.3] {
        for seed in 0..3 {
            exchange(true, loss, seed + 100);
        }
    }
}

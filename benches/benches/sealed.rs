//! Criterion benches of the sealed mode's packet layer: seal and open of a 1400-byte datagram
//! (ChaCha20-Poly1305, counter nonce, 9-byte header as associated data). Open works in place,
//! so each iteration first copies a sealed template (about 10 ns, see `legacy_crypto`'s copy
//! line) and uses a fresh counter, so the replay window never refuses it.
//! `cargo bench -p kcp-benches --bench sealed`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kcp_core::sealed::packet::{Opener, Sealer, HEADER_LEN, OVERHEAD};
use std::hint::black_box;

const PLAINTEXT: usize = 1400 - OVERHEAD;

fn seal_open(c: &mut Criterion) {
    let key = [7u8; 32];
    let mut g = c.benchmark_group("sealed_1400B");
    g.throughput(Throughput::Bytes(1400));
    let mut sealer = Sealer::new(&key);
    let mut datagram = vec![0u8; 1400];
    g.bench_function("seal", |b| {
        b.iter(|| sealer.seal(1, 42, black_box(&mut datagram)).unwrap())
    });

    // Datagrams sealed ahead with consecutive counters, opened in order.
    let mut sealer = Sealer::new(&key);
    let templates: Vec<Vec<u8>> = (0..4096)
        .map(|_| {
            let mut d = vec![0u8; HEADER_LEN + PLAINTEXT + 16];
            sealer.seal(1, 42, &mut d).unwrap();
            d
        })
        .collect();
    let mut opener = Opener::new(&key);
    let mut next = 0;
    g.bench_function("open", |b| {
        b.iter(|| {
            if next == templates.len() {
                opener = Opener::new(&key);
                next = 0;
            }
            datagram.copy_from_slice(&templates[next]);
            next += 1;
            opener.open(black_box(&mut datagram)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, seal_open);
criterion_main!(benches);

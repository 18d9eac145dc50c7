//! Criterion benches of kcp-go's legacy packet protection: `seal` and `open` of a 1400-byte
//! datagram (the 20-byte nonce + CRC header included) for every cipher (`none`, `aes-128`,
//! `aes-192`, `aes`, `salsa20`, `xor`). Throughput is per datagram of 1400 bytes.
//!
//! `seal` works in place on one buffer, sealed again every iteration (its cost does not depend
//! on the bytes). `open` decrypts in place, so every iteration first copies a sealed datagram
//! from a template into a preallocated buffer: about 10 ns of each `open` figure is that copy
//! (the `copy` line measures it alone on this machine).
//! `cargo bench -p kcp-benches --bench legacy_crypto`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kcp_core::crypto::{derive_key, CipherKind, LegacyCrypto, HEADER_LEN};
use std::hint::black_box;

const DATAGRAM: usize = 1400;

/// A datagram with room for the header and a recognisable plaintext.
fn datagram() -> Vec<u8> {
    let mut datagram = vec![0u8; DATAGRAM];
    for (i, byte) in datagram[HEADER_LEN..].iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    datagram
}

fn legacy(c: &mut Criterion) {
    let mut g = c.benchmark_group("legacy_crypto_1400");
    g.throughput(Throughput::Bytes(DATAGRAM as u64));
    // kcptun's default -key, derived once (deliberately slow).
    let key = derive_key(b"it's a secrect");
    let template = datagram();
    let mut buf = vec![0u8; DATAGRAM];
    g.bench_function(BenchmarkId::new("copy", "template"), |b| {
        b.iter(|| buf.copy_from_slice(black_box(&template)))
    });
    for kind in CipherKind::ALL {
        let mut sender = LegacyCrypto::new(kind, &key, 0x1234_5678);
        let receiver = sender.with_nonce_seed(0x9abc_def0);

        let mut buf = datagram();
        g.bench_function(BenchmarkId::new("seal", kind.name()), |b| {
            b.iter(|| sender.seal(black_box(&mut buf)))
        });

        let mut template = datagram();
        sender.seal(&mut template);
        let mut buf = vec![0u8; DATAGRAM];
        g.bench_function(BenchmarkId::new("open", kind.name()), |b| {
            b.iter(|| {
                buf.copy_from_slice(&template);
                let len = receiver
                    .open(black_box(&mut buf))
                    .expect("sealed by the peer");
                black_box(len)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, legacy);
criterion_main!(benches);

//! Criterion benches of the sealed mode's packet layer: seal and open of a 1400-byte datagram
//! (ChaCha20-Poly1305, counter nonce, 9-byte header as associated data), on the path this
//! target uses (ring on x86_64), beside RustCrypto's `chacha20poly1305` with the same inputs,
//! the default a pure-Rust build would use. Open works in place, so each iteration first copies
//! a sealed template (about 10 ns, see `legacy_crypto`'s copy line); our opener also sees a
//! fresh counter each time, so its replay window never refuses one.
//!
//! The handshake's server-side costs follow: answering a Hello with a cookie (all a spoofed
//! flood can make the server do) and answering a valid Initiation (Noise NNpsk0 responder: one
//! key generation and one X25519).
//! `cargo bench -p kcp-benches --bench sealed`

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kcp_core::endpoint::{Endpoint, EndpointConfig};
use kcp_core::sealed::handshake;
use kcp_core::sealed::keys::Key;
use kcp_core::sealed::packet::{Opener, Sealer, HEADER_LEN, OVERHEAD};
use std::hint::black_box;
use std::net::SocketAddr;

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

    let reference = ChaCha20Poly1305::new(&key.into());
    let nonce = Nonce::default();
    let mut body = vec![0u8; PLAINTEXT];
    g.bench_function("seal_rustcrypto", |b| {
        b.iter(|| {
            reference
                .encrypt_inout_detached(&nonce, &[0; HEADER_LEN], black_box(&mut body[..]).into())
                .unwrap()
        })
    });
    let tag: Tag = reference
        .encrypt_inout_detached(&nonce, &[0; HEADER_LEN], (&mut body[..]).into())
        .unwrap();
    let sealed = body.clone();
    g.bench_function("open_rustcrypto", |b| {
        b.iter(|| {
            body.copy_from_slice(&sealed);
            reference
                .decrypt_inout_detached(
                    &nonce,
                    &[0; HEADER_LEN],
                    black_box(&mut body[..]).into(),
                    &tag,
                )
                .unwrap()
        })
    });
    g.finish();
}

fn handshake(c: &mut Criterion) {
    let key = Key::from_bytes([7; 32]);
    let mut config = EndpointConfig::new(key.clone());
    config.accept = true;
    let mut server = Endpoint::new(config, [1; 32], 0).unwrap();
    let from: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let mut g = c.benchmark_group("handshake");
    let hello = handshake::hello(42);
    let mut buf = [0u8; handshake::HELLO_LEN];
    g.bench_function("cookie_reply", |b| {
        b.iter(|| {
            buf.copy_from_slice(&hello);
            server.handle_datagram(0, black_box(from), &mut buf)
        })
    });
    let initiator = handshake::Initiator::new(&key, 42, [3; 32]);
    let init = initiator.initiation(&[0; handshake::COOKIE_LEN]);
    let noise = &init[init.len() - 56..];
    let mut seed = 0u8;
    g.bench_function("respond", |b| {
        b.iter(|| {
            seed = seed.wrapping_add(1);
            handshake::respond(
                &key,
                handshake::VERSION,
                42,
                black_box(noise),
                9,
                [seed; 32],
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, seal_open, handshake);
criterion_main!(benches);

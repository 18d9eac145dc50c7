//! Criterion benches of kcp-go FEC for 10+3 groups of 1400-byte shards: encoding a group (the
//! SIMD kernel this CPU has and the portable one) and rebuilding three lost data shards.
//! Throughput is per group of 10 data shards: divide the time by 10 for the per-shard figure.
//! `cargo bench -p kcp-benches --bench fec`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kcp_core::fec::galois::{Code, Kernel};
use kcp_core::fec::groups::Limits;
use kcp_core::fec::kcpgo::{self, KcpGoDecoder, KcpGoEncoder, Packet};
use std::hint::black_box;

const SHARD: usize = 1400;

/// Ten data packets of a full group, framed, and the three parity packets that follow them.
fn group() -> Vec<Vec<u8>> {
    let mut enc = KcpGoEncoder::new(10, 3).unwrap();
    let mut packets = Vec::new();
    for n in 0..10u8 {
        let mut p: Vec<u8> = (0..SHARD).map(|i| (i as u8) ^ n.wrapping_mul(17)).collect();
        enc.encode_data(&mut p);
        packets.push(p);
    }
    let mut out = vec![0; 1500];
    while let Some(n) = enc.next_parity(&mut out) {
        packets.push(out[..n].to_vec());
    }
    packets
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_encode_10+3x1400");
    g.throughput(Throughput::Bytes(10 * SHARD as u64));
    let mut kernels = vec![("portable", Kernel::portable())];
    if Kernel::detect().is_simd() {
        kernels.push(("simd", Kernel::detect()));
    }
    for (name, kernel) in kernels {
        let mut enc = KcpGoEncoder::with_code(Code::with_kernel(10, 3, kernel).unwrap());
        let mut packets = group();
        let mut out = vec![0; 1500];
        g.bench_function(BenchmarkId::new("group", name), |b| {
            b.iter(|| {
                for p in packets.iter_mut().take(10) {
                    enc.encode_data(black_box(p));
                }
                while let Some(n) = enc.next_parity(&mut out) {
                    black_box(&out[..n]);
                }
            })
        });
    }
    g.finish();
}

fn recover(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_recover_10+3x1400");
    g.throughput(Throughput::Bytes(10 * SHARD as u64));
    let mut packets = group();
    let limits = Limits {
        max_groups: kcpgo::DEFAULT_MAX_GROUPS,
        max_age: 60_000,
        max_shard_len: 1500,
    };
    for lost in [1usize, 3] {
        // One decoder throughout, as in a session; each iteration is the next group.
        let mut dec = KcpGoDecoder::new(10, 3, limits).unwrap();
        let mut base = 0u32;
        g.bench_function(BenchmarkId::new("lost_data_shards", lost), |b| {
            b.iter(|| {
                base = base.wrapping_add(13) % (u32::MAX / 13 * 13);
                let mut rebuilt = 0;
                for (i, p) in packets.iter_mut().enumerate().skip(lost) {
                    p[0..4].copy_from_slice(&(base + i as u32).to_le_bytes());
                    dec.input(0, Packet::parse(p), &mut |kcp| rebuilt += kcp.len())
                        .expect("well-formed");
                }
                assert_eq!(rebuilt, lost * (SHARD - kcpgo::DATA_OVERHEAD));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, encode, recover);
criterion_main!(benches);

//! Criterion benches: bulk transfer through two endpoints in memory (window 1024, MSS 1376),
//! ours (copying API, and owned-buffer API) against the reference C code, at 0 % and 5 % loss. Throughput is in bytes, so the
//! report reads as MiB/s for each implementation side by side.
//! `cargo bench -p kcp-benches --bench arq_throughput`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kcp_benches::throughput::{c_peer, our_owned_peer, our_peer, transfer};

const BYTES: usize = 4 << 20;

fn bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("bulk_4MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(BYTES as u64));
    for loss in [0.0, 0.05] {
        let label = format!("loss_{}pct", (loss * 100.0) as u32);
        group.bench_with_input(BenchmarkId::new("c", &label), &loss, |b, &loss| {
            b.iter(|| transfer(c_peer(), c_peer(), BYTES, loss, 1))
        });
        group.bench_with_input(BenchmarkId::new("kcp-core", &label), &loss, |b, &loss| {
            b.iter(|| transfer(our_peer(), our_peer(), BYTES, loss, 1))
        });
        group.bench_with_input(
            BenchmarkId::new("kcp-core-owned", &label),
            &loss,
            |b, &loss| b.iter(|| transfer(our_owned_peer(), our_owned_peer(), BYTES, loss, 1)),
        );
    }
    group.finish();
}

criterion_group!(benches, bulk);
criterion_main!(benches);

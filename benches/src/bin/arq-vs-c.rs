//! Bulk throughput against the reference C code, in one run: 64 MiB through two endpoints in
//! memory (window 1024, MSS 1376) at 0 % and 5 % loss. Prints one JSON line per loss rate with
//! delivered segments per second for the C code and for ours, and `ratio` (ours / C). Ours runs
//! twice: through its owned-buffer verbs (`take_buffer`/`send_buffer`/`recv_buffer`, no copy
//! between the application and the segment buffers; this is `ratio`) and through the copying
//! `send`/`recv` that mirror the C API (`ratio_copying`).
//! `cargo run --release -p kcp-benches --bin arq-vs-c [MiB] [ROUNDS]`.

use kcp_benches::throughput::{c_peer, our_owned_peer, our_peer, transfer, Transfer};

fn fastest(runs: &[Transfer]) -> &Transfer {
    runs.iter()
        .max_by(|a, b| a.segments_per_sec().total_cmp(&b.segments_per_sec()))
        .expect("at least one round")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let rounds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3).max(1);
    for loss in [0.0, 0.05] {
        // Interleaved rounds, so drift on a shared machine hits all three alike; the fastest
        // round of each is the least disturbed.
        let (mut c, mut owned, mut copying) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            c.push(transfer(c_peer(), c_peer(), mib << 20, loss, round));
            owned.push(transfer(
                our_owned_peer(),
                our_owned_peer(),
                mib << 20,
                loss,
                round,
            ));
            copying.push(transfer(our_peer(), our_peer(), mib << 20, loss, round));
        }
        let (c, owned, copying) = (fastest(&c), fastest(&owned), fastest(&copying));
        println!(
            "{{\"loss\":{loss},\"mib\":{mib},\"c_segments_per_sec\":{:.0},\"ours_segments_per_sec\":{:.0},\"ratio\":{:.2},\"ours_copying_segments_per_sec\":{:.0},\"ratio_copying\":{:.2},\"c_datagrams\":{},\"ours_datagrams\":{}}}",
            c.segments_per_sec(),
            owned.segments_per_sec(),
            owned.segments_per_sec() / c.segments_per_sec(),
            copying.segments_per_sec(),
            copying.segments_per_sec() / c.segments_per_sec(),
            c.datagrams,
            owned.datagrams,
        );
    }
}

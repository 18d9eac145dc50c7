//! Bulk throughput against the reference C code, in one run: 64 MiB through two endpoints in
//! memory (window 1024, MSS 1376) at 0 % and 5 % loss. Prints one JSON line per loss rate with
//! both implementations' delivered segments per second and `ratio` (ours / C).
//! `cargo run --release -p kcp-benches --bin arq-vs-c [MiB] [rounds]`.

use kcp_benches::throughput::{c_peer, our_peer, transfer, Transfer};

/// The faster of `rounds` runs: the machine is shared, the best run is the least disturbed.
fn best(rounds: u32, mut run: impl FnMut() -> Transfer) -> Transfer {
    (0..rounds)
        .map(|_| run())
        .max_by(|a, b| a.segments_per_sec().total_cmp(&b.segments_per_sec()))
        .expect("at least one round")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let rounds: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    for loss in [0.0, 0.05] {
        // Interleave the two implementations so drift on a shared machine hits both alike.
        let (mut c, mut ours) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            c.push(best(1, || {
                transfer(c_peer(), c_peer(), mib << 20, loss, u64::from(round))
            }));
            ours.push(best(1, || {
                transfer(our_peer(), our_peer(), mib << 20, loss, u64::from(round))
            }));
        }
        let pick = |v: Vec<Transfer>| {
            best(1, || {
                v.iter()
                    .max_by(|a, b| a.segments_per_sec().total_cmp(&b.segments_per_sec()))
                    .cloned()
                    .expect("rounds > 0")
            })
        };
        let (c, ours) = (pick(c), pick(ours));
        println!(
            "{{\"loss\":{loss},\"mib\":{mib},\"c_segments_per_sec\":{:.0},\"ours_segments_per_sec\":{:.0},\"ratio\":{:.2},\"c_datagrams\":{},\"ours_datagrams\":{},\"c_virtual_ms\":{},\"ours_virtual_ms\":{}}}",
            c.segments_per_sec(),
            ours.segments_per_sec(),
            ours.segments_per_sec() / c.segments_per_sec(),
            c.datagrams,
            ours.datagrams,
            c.virtual_ms,
            ours.virtual_ms
        );
    }
}

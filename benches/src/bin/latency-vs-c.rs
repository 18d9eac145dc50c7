//! Prints one JSON line per (implementation, mode) of the reference latency experiment, over
//! several seeds: mean RTT, 99th percentile, worst RTT, and the datagrams and bytes the client sent
//! (mean per run), then the ratios of ours to C. `cargo run --release -p kcp-benches --bin
//! latency-vs-c [SEEDS]`.

use kcp_benches::latency::{run, Implementation, MODES};

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for mode in &MODES {
        let mut rows = Vec::new();
        for implementation in [
            Implementation::C,
            Implementation::Ours,
            Implementation::OursInterval,
        ] {
            let outcomes: Vec<_> = (0..seeds)
                .map(|seed| run(implementation, mode, seed))
                .collect();
            let mut rtts: Vec<u32> = outcomes
                .iter()
                .flat_map(|o| o.rtts.iter().copied())
                .collect();
            rtts.sort_unstable();
            let p99 = rtts[rtts.len() * 99 / 100];
            let avg = rtts.iter().map(|&r| f64::from(r)).sum::<f64>() / rtts.len() as f64;
            let max = rtts.iter().copied().max().unwrap_or(0);
            let tx = outcomes.iter().map(|o| o.tx).sum::<u64>() as f64 / seeds as f64;
            let tx_bytes = outcomes.iter().map(|o| o.tx_bytes).sum::<u64>() as f64 / seeds as f64;
            println!(
                "{{\"impl\":\"{}\",\"mode\":\"{}\",\"seeds\":{seeds},\"avg_rtt\":{avg:.1},\"p99_rtt\":{p99},\"max_rtt\":{max},\"tx\":{tx:.1},\"tx_bytes\":{tx_bytes:.0}}}",
                implementation.name(),
                mode.name
            );
            rows.push((avg, max, tx, tx_bytes));
        }
        let (c, ours) = (rows[0], rows[1]);
        println!(
            "{{\"compare\":\"kcp-core/c\",\"mode\":\"{}\",\"avg_rtt_ratio\":{:.3},\"max_rtt_ratio\":{:.3},\"tx_ratio\":{:.3},\"tx_bytes_ratio\":{:.3}}}",
            mode.name,
            ours.0 / c.0,
            f64::from(ours.1) / f64::from(c.1),
            ours.2 / c.2,
            ours.3 / c.3
        );
    }
}

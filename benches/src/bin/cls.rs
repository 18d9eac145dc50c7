//! temp
use kcp_benches::latency::{run, Implementation, MODES};
fn main() {
    for imp in [Implementation::C, Implementation::Ours] {
        if imp == Implementation::C && std::env::var("NOC").is_ok() {
            continue;
        }
        let (mut tx, mut sum, mut n, mut max) = (0, 0u64, 0u64, 0);
        let mut all = Vec::new();
        for seed in 0..30 {
            let o = run(imp, &MODES[2], seed);
            tx += o.tx;
            sum += o.rtts.iter().map(|&r| r as u64).sum::<u64>();
            n += o.rtts.len() as u64;
            max = max.max(*o.rtts.iter().max().unwrap());
            all.extend(o.rtts);
        }
        all.sort();
        println!(
            "{imp:?} tx {tx} avg {:.1} p99 {} max {max}",
            sum as f64 / n as f64,
            all[all.len() * 99 / 100]
        );
    }
}

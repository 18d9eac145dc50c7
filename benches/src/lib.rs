//! Side-by-side harnesses for `kcp-core` and the reference C KCP: a safe wrapper around the C
//! code ([`reference`](mod@reference)), the reference latency experiment ([`latency`]) and the bulk
//! throughput run ([`throughput`]). The binaries `latency-vs-c` and `arq-vs-c` print their results
//! as JSON lines; the criterion bench and the interop tests reuse the same pieces.

pub mod latency;
pub mod peer;
pub mod reference;
pub mod throughput;

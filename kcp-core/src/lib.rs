//! `kcp-core`: a sans-IO KCP state machine, wire-compatible with the reference C implementation
//! (skywind3000/kcp) and with kcp-go, plus the deterministic network simulator its tests,
//! benchmarks and examples run on.
//!
//! * [`wire`] — the 24-byte segment header and the walk over a datagram's segments.
//! * [`Kcp`] (module [`arq`]) — one conversation's ARQ state machine: windows, RTO, selective
//!   and fast retransmission, congestion control; time passed in, datagrams written into the
//!   caller's buffers.
//! * [`sim`] — a seeded, virtual-time network (loss, delay, jitter, duplication, corruption,
//!   bandwidth, blackholes) and a harness that drives two endpoints through it.
//!
//! Start with the [`arq`] module documentation: it lists the verbs and the contract on time.

pub mod arq;
pub mod seq;
pub mod sim;
pub mod wire;

pub use arq::{
    Config, ConfigError, FlushMode, InputError, Kcp, Nodelay, RecvError, SendError, Stats,
};

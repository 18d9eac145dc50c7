//! `kcp-core`: a sans-IO KCP stack — the ARQ state machine (wire-compatible with the reference C
//! implementation, skywind3000/kcp), Reed-Solomon FEC and packet protection joined in a session
//! that speaks kcp-go's framing byte for byte — plus the deterministic network simulator its
//! tests, benchmarks and examples run on.
//!
//! * [`wire`] — the 24-byte segment header and the walk over a datagram's segments.
//! * [`Kcp`] (module [`arq`]) — one conversation's ARQ state machine: windows, RTO, selective
//!   and fast retransmission, congestion control; time passed in, datagrams written into the
//!   caller's buffers.
//! * [`fec`] — Reed-Solomon forward error correction: kcp-go's framing, and a native framing
//!   whose groups close after a deadline and whose parity follows measured loss.
//! * [`crypto`] — kcp-go / kcptun legacy packet protection (`-crypt` aes, salsa20, xor, none):
//!   nonce + CRC-32 header, compatible ciphers, key derivation. Not authenticated.
//! * [`Session`] (module [`session`]) — ARQ + FEC + protection for one peer, with the ARQ's
//!   verbs and kcp-go's SNMP counters.
//! * [`sealed`] — this project's own protection: a Noise handshake behind a stateless cookie,
//!   ChaCha20-Poly1305 datagrams with a replay window, keys from a passphrase or a key file.
//! * [`Endpoint`] (module [`endpoint`]) — many sealed sessions behind one socket: accept and
//!   connect, demultiplexing by session id, keepalive, close, migration, limits.
//! * [`legacy`] — kcp-go's listener and dialer semantics over [`Session`], sans-IO: sessions
//!   by source address, restarts replace, clients lock onto the first answering source.
//! * `net` (feature `net`, on by default) — the mio UDP driver: real sockets, batched I/O
//!   (recvmmsg/sendmmsg, UDP GSO/GRO), one timer heap per driver, events, blocking adapters,
//!   SO_REUSEPORT sharding.
//! * [`sim`] — a seeded, virtual-time network (loss, delay, jitter, duplication, corruption,
//!   bandwidth, blackholes) and a harness that drives two endpoints through it; [`sim::net`]
//!   adds addressed hosts for endpoints (spoofing, replay, hosts that move).
//!
//! Start with the [`arq`] module documentation: it lists the verbs and the contract on time.

pub mod arq;
pub mod crypto;
pub mod endpoint;
pub mod fec;
pub mod legacy;
#[cfg(feature = "net")]
pub mod net;
pub mod sealed;
pub mod seq;
pub mod session;
pub mod sim;
pub mod wire;

pub use arq::{
    Config, ConfigError, FlushMode, InputError, Kcp, Nodelay, RecvError, SendError, Stats,
};
pub use endpoint::{Endpoint, EndpointConfig};
pub use session::{Session, SessionConfig};

//! The mio UDP driver: real sockets under the sans-IO layers.
//!
//! A [`Driver`] owns one UDP socket, one [`mio::Poll`] and one multiplexer — the sealed
//! [`Endpoint`](crate::Endpoint) (native mode) or the kcp-go compatible
//! [`LegacyEndpoint`](crate::legacy::LegacyEndpoint) (legacy mode) — and moves datagrams and
//! time between them. It is single-threaded: run one per thread, and several on one port with
//! [`SocketConfig::reuse_port`] to use more cores.
//!
//! ```no_run
//! use kcp_core::net::{Driver, DriverConfig, Event, Mode};
//! use kcp_core::{sealed::keys::Key, EndpointConfig};
//! # fn main() -> std::io::Result<()> {
//! let key = Key::from_passphrase("correct horse battery staple").unwrap();
//! let mut endpoint = EndpointConfig::new(key);
//! endpoint.accept = true;
//! let mut server = Driver::new(DriverConfig::new("0.0.0.0:4000".parse().unwrap(), Mode::Native(endpoint)))?;
//! let mut buf = vec![0; 64 * 1024];
//! loop {
//!     server.poll(Some(std::time::Duration::from_millis(50)))?; // the game loop's tick
//!     while let Some(event) = server.next_event() {
//!         if let Event::Readable(id) = event {
//!             while let Ok(n) = server.recv(id, &mut buf) {
//!                 server.send(id, &buf[..n])?; // echo
//!             }
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! # The loop
//!
//! [`Driver::poll`] reads everything waiting on the socket (batched: `recvmmsg`, and UDP GRO
//! where the kernel has it), runs the timers that are due, writes everything the sessions have
//! to send (batched: `sendmmsg`, and UDP GSO), and sleeps in the kernel until the socket or the
//! earliest session deadline needs it — never on a fixed tick. Sessions have no threads or
//! timers of their own: one heap in the multiplexer orders all deadlines, so a driver with
//! 10,000 idle sessions wakes only for their keepalives. [`Driver::send`] and
//! [`Driver::recv`] do no I/O; what they queue leaves on the next `poll` (or
//! [`Driver::flush`]), which lets a game server's sends of one tick share syscalls.
//!
//! Buffers are allocated once per driver: a receive arena and a send arena of fixed size,
//! filled in place by the socket and by the sessions. Nothing is allocated per datagram.
//!
//! # Errors
//!
//! Every call returns [`std::io::Error`]. Per-session failures map onto its kinds:
//! `WouldBlock` (nothing to read, the send queue is full, the handshake is not done),
//! `NotConnected` (no such session: never was or closed), `InvalidInput` (a message too large
//! for the ARQ, a receive buffer too small). Datagrams that fail anywhere on the way in are
//! dropped and counted ([`DriverStats`]); nothing from the network makes a call fail.
//!
//! # Sharing a port
//!
//! With [`SocketConfig::reuse_port`], N drivers on N threads bind one port and Linux spreads
//! the peers over them by a hash of their address, so each peer's datagrams reach one driver.
//! In legacy mode that is all it takes. In native mode a peer that changes address (NAT
//! rebinding) would hash elsewhere; [`DriverConfig::shard`] makes each driver pick session ids
//! in its own residue class and installs a socket filter that steers datagrams by session id,
//! so migration keeps working across shards. See `examples/src/bin/sharded-server.rs`.

mod batch;
mod driver;
mod shard;
mod socket;
mod stats;
mod stream;

pub use batch::Offloads;
pub use driver::{Driver, DriverConfig, Event, Mode};
pub use socket::{BufferSizes, SocketConfig};
pub use stats::{DriverStats, SessionStats};
pub use stream::Stream;

//! `kcp-tunnel`: TCP over KCP over UDP, a drop-in for kcptun.
//!
//! The layers of one tunnel, from the application's TCP connection down to UDP:
//!
//! - each TCP connection is one [`smux`] stream; the streams of one KCP session share it
//!   through smux framing (v1 or v2, kcptun's `-smuxver`);
//! - the smux byte stream is optionally wrapped in [`snappy`] framing (kcptun's default; off
//!   with `-nocomp`);
//! - the result is the byte stream of one KCP session of [`kcp_core`]'s driver: the sealed
//!   native mode, or kcp-go's framing and ciphers for kcptun peers.

pub mod bench;
pub mod config;
pub mod logger;
mod runtime;
pub mod setup;
pub mod smux;
pub mod snappy;
pub mod snmp;

pub use runtime::{ClientSettings, Report, ServerSettings, Settings, Stopper, Tunnel};

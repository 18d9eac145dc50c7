//! `libkcp`: the C ABI of `kcp-core`.
//!
//! * [`ikcp`] — a drop-in for the reference `ikcp.h` API (skywind3000/kcp): the same function
//!   names, argument types, return codes and semantics, over [`kcp_core::Kcp`]. Header:
//!   `ffi/include/ikcp.h`.
//! * [`socket`] — a socket-level API over the mio driver for engines that do not want to write
//!   socket code. Header: `ffi/include/kcp.h`.
//!
//! No panic crosses into C: every entry point runs inside a panic guard (`guard.rs`), which
//! turns a panic into an error code.

pub mod ikcp;
pub mod socket;

mod guard;

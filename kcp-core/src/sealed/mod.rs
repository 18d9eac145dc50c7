//! The sealed native mode's packet layer: authenticated encryption of every datagram with a
//! counter nonce, and replay protection checked after authentication.
//!
//! Built so far: [`packet`], the AEAD framing of one datagram, and [`replay`], the sliding
//! window over packet counters. The handshake, keys and the endpoint follow.

pub mod packet;
pub mod replay;

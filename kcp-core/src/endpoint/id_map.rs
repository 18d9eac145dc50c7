//! A map keyed by session id with a cheap hash.
//!
//! Session ids are 32-bit values this side drew from its CSPRNG, so the stored keys are
//! uniform and an attacker cannot choose them; a datagram naming an arbitrary id only costs a
//! probe. SipHash's flooding resistance buys nothing here, and on a server with thousands of
//! sessions it was a tenth of the time per datagram. A multiply spreads the ids over all 64
//! bits, so ids that share a low byte (reuseport shards) still use every bucket.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap` from session id.
pub(crate) type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of one `u32`.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u32` keys are hashed; fold anything else in byte by byte all the same.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = (u64::from(id) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

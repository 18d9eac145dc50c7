//! Per-datagram nonces that never repeat within a session and look random on the wire.

use core::fmt;

use super::NONCE_LEN;

/// Unique 16-byte nonces from a caller-supplied seed and a counter.
///
/// The core does no I/O, so the driver supplies the randomness: pass a seed from the operating
/// system's generator, a fresh one per session. Nonce `n` is a keyed bijection of the counter
/// `n` (bytes 0..8, so even the 8 bytes Salsa20 uses never repeat within 2^64 datagrams),
/// followed by 8 bytes that also depend on the seed, so that the whole 16-byte nonce is a
/// bijection of (seed, counter): two sources with different seeds never produce the same
/// nonce. Only the mixing makes nonces look random; they are not secret and not unpredictable
/// to anyone who learns the seed.
#[derive(Clone)]
pub struct NonceSource {
    /// Keys for the counter permutation (`k0`, `k1`) and for the seed half (`k2`), each a
    /// bijection of the seed.
    keys: [u64; 3],
    counter: u64,
}

/// Weyl increment of splitmix64, to keep the three seed-derived keys apart (and a zero seed
/// away from the mixer's fixed point 0).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// splitmix64's finalizer: xor-shifts and multiplications by odd constants, each invertible,
/// so the whole function is a permutation of `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl NonceSource {
    /// A source keyed by `seed`; use fresh OS randomness for every session.
    pub fn new(seed: u64) -> Self {
        let key = |i: u64| mix(seed.wrapping_add(GAMMA.wrapping_mul(i)));
        NonceSource {
            keys: [key(1), key(2), key(3)],
            counter: 0,
        }
    }

    /// The next nonce.
    // Not `Iterator::next`: the source never ends, and an `Option` would only add an unwrap.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> [u8; NONCE_LEN] {
        let [k0, k1, k2] = self.keys;
        let n = self.counter;
        // Wrapping after 2^64 datagrams is not a practical concern.
        self.counter = n.wrapping_add(1);
        let low = mix(mix(n ^ k0) ^ k1);
        // For a fixed `low`, injective in k2 and so in the seed: that makes the pair unique
        // across seeds, not just across counters.
        let high = mix(low ^ k2);
        let mut nonce = [0u8; NONCE_LEN];
        let (a, b) = nonce.split_at_mut(NONCE_LEN / 2);
        a.copy_from_slice(&low.to_le_bytes());
        b.copy_from_slice(&high.to_le_bytes());
        nonce
    }
}

impl fmt::Debug for NonceSource {
    /// Shows how many nonces were issued, not the seed-derived keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceSource")
            .field("issued", &self.counter)
            .finish_non_exhaustive()
    }
}

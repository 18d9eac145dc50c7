//! Randomness for the sealed mode, from a seed the caller draws from the operating system.
//!
//! The core does no I/O, so it cannot ask the OS for randomness itself: an endpoint is given a
//! 32-byte seed and expands it with ChaCha20 into session ids, cookie secrets and the Noise
//! handshakes' ephemeral keys. A simulation that passes a fixed seed therefore replays
//! exactly. A real driver must pass 32 bytes from the OS (`getrandom`), once per endpoint.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::{Cipher, Dh, Hash, Random};

/// A cryptographically secure generator expanded from a 32-byte seed.
pub struct SeededRng(ChaCha20Rng);

impl core::fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SeededRng(..)")
    }
}

impl SeededRng {
    /// A generator from `seed`, which must be secret and unpredictable (OS randomness).
    pub fn new(seed: [u8; 32]) -> SeededRng {
        SeededRng(ChaCha20Rng::from_seed(seed))
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        self.0.fill_bytes(out);
    }

    /// A random `u32`.
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// 32 random bytes, e.g. the seed of a child generator.
    pub fn seed(&mut self) -> [u8; 32] {
        let mut seed = [0; 32];
        self.fill(&mut seed);
        seed
    }
}

struct NoiseRandom(ChaCha20Rng);

impl Random for NoiseRandom {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// snow's pure-Rust primitives with randomness from a seed (one resolver per handshake).
pub(crate) struct NoiseResolver {
    pub(crate) seed: [u8; 32],
}

impl CryptoResolver for NoiseResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(NoiseRandom(ChaCha20Rng::from_seed(self.seed))))
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        DefaultResolver.resolve_dh(choice)
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        DefaultResolver.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        DefaultResolver.resolve_cipher(choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let (mut a, mut b, mut c) = (
            SeededRng::new([1; 32]),
            SeededRng::new([1; 32]),
            SeededRng::new([2; 32]),
        );
        let (x, y, z) = (a.seed(), b.seed(), c.seed());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(a.seed(), x, "the stream moves on");
    }
}

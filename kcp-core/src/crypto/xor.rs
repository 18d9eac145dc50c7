//! kcp-go's `xor` "cipher": a fixed pad derived from the key, XORed onto the first
//! [`TABLE_LEN`] bytes of every datagram. The pad is the same for every datagram, so this hides
//! nothing from anyone who sees two of them; it exists only to talk to kcptun `-crypt xor`.

use sha1::Sha1;

/// Pad length; kcp-go's `mtuLimit`. Bytes past it are sent as they are.
pub(crate) const TABLE_LEN: usize = 1500;

/// kcp-go's `saltxor`.
const SALT: &[u8] = b"sH3CIVoF#rWLtJo6";

/// kcp-go derives the pad with only 32 rounds: the password going in is already the output of
/// kcptun's 4096-round PBKDF2.
const ROUNDS: u32 = 32;

/// The pad. Boxed so that a `LegacyCrypto` stays small whatever its cipher.
#[derive(Clone)]
pub(crate) struct XorTable(Box<[u8; TABLE_LEN]>);

impl XorTable {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let mut table = Box::new([0u8; TABLE_LEN]);
        pbkdf2::pbkdf2_hmac::<Sha1>(key, SALT, ROUNDS, &mut table[..]);
        XorTable(table)
    }

    /// Applies the pad; its own inverse.
    pub(crate) fn apply(&self, data: &mut [u8]) {
        for (d, t) in data.iter_mut().zip(self.0.iter()) {
            *d ^= t;
        }
    }
}

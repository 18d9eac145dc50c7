//! kcp-go / kcptun "legacy" packet protection, byte-compatible with kcptun's `-crypt` modes
//! `none`, `aes`, `aes-128`, `aes-192`, `salsa20` and `xor` (kcp-go 5.6.1).
//!
//! # Not authenticated
//!
//! **None of these modes authenticates anything.** Use the native sealed (AEAD) mode unless
//! the peer is kcptun or kcp-go:
//!
//! * AES-CFB and XOR are malleable: flipping a ciphertext bit flips the same plaintext bit (and,
//!   for CFB, garbles one following block), so an attacker can edit traffic.
//! * The CRC-32 is not a MAC. It is computed on the plaintext and encrypted along with it, and
//!   an attacker who flips bits can fix it up, since CRC-32 is linear.
//! * There is no replay protection: a recorded datagram is accepted again.
//! * One static key, derived from the passphrase alone, protects every session in both
//!   directions, forever. The AES modes even restart from the same fixed IV for every datagram;
//!   only the random nonce in the first block keeps equal payloads from looking equal.
//! * `xor` XORs a fixed pad onto every datagram and hides nothing from anyone who sees two.
//!
//! # Layout
//!
//! ```text
//! 0        16      20
//! | nonce  | crc32 | plaintext (FEC header and KCP segments) ...
//! ```
//!
//! The nonce is random-looking filler the receiver ignores; the CRC-32/IEEE covers the plaintext
//! and is stored little-endian. Then the whole datagram, nonce and CRC included, is encrypted
//! in place:
//!
//! * `aes`, `aes-192`, `aes-128`: AES with all 32, the first 24 or the first 16 derived key
//!   bytes, in CFB mode with full-block feedback from a fixed IV, restarted for every datagram;
//!   a short last block takes a truncated keystream block.
//! * `salsa20`: bytes 0..8 stay in the clear and are the Salsa20/20 nonce; bytes 8.. are XORed
//!   with its keystream from block 0, under the 32 derived bytes.
//! * `xor`: byte `i < 1500` is XORed with byte `i` of a pad derived from the key.
//! * `none`: no encryption; the header is still there.
//!
//! kcptun's other ciphers (blowfish, twofish, cast5, 3des, tea, xtea, sm4) are not offered.
//!
//! ```
//! use kcp_core::crypto::{derive_key, CipherKind, LegacyCrypto, HEADER_LEN};
//!
//! let key = derive_key(b"it's a secrect"); // kcptun's default -key
//! let kind: CipherKind = "aes".parse().unwrap();
//! let mut sender = LegacyCrypto::new(kind, &key, 0x1234_5678); // seed: OS randomness
//! let receiver = LegacyCrypto::new(kind, &key, 0x9abc_def0);
//!
//! let mut datagram = vec![0u8; HEADER_LEN];
//! datagram.extend_from_slice(b"kcp segments");
//! sender.seal(&mut datagram);
//! let len = receiver.open(&mut datagram).unwrap();
//! assert_eq!(&datagram[HEADER_LEN..HEADER_LEN + len], b"kcp segments");
//! ```

mod cfb;
mod nonce;
mod xor;

use core::fmt;
use core::str::FromStr;

use salsa20::cipher::{KeyIvInit, StreamCipher, StreamCipherError};
use salsa20::Salsa20;
use sha1::Sha1;

use cfb::AesCfb;
use xor::XorTable;

pub use nonce::NonceSource;

/// Bytes of the per-datagram nonce at the start of every datagram.
pub const NONCE_LEN: usize = 16;

/// Bytes of the CRC-32 that follows the nonce.
pub const CRC_LEN: usize = 4;

/// Bytes the protection adds in front of every datagram.
pub const HEADER_LEN: usize = NONCE_LEN + CRC_LEN;

/// Salsa20's own nonce: the first bytes of the datagram's nonce, which stay in the clear.
const SALSA_NONCE_LEN: usize = 8;

/// kcptun's PBKDF2 salt (its `SALT` constant).
const KDF_SALT: &[u8] = b"kcp-go";

/// kcptun's PBKDF2 iteration count.
const KDF_ROUNDS: u32 = 4096;

/// One of kcptun's `-crypt` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherKind {
    /// `none`: header (nonce and CRC) present, no encryption.
    None,
    /// `aes-128`: AES-128-CFB on the first 16 derived key bytes.
    Aes128,
    /// `aes-192`: AES-192-CFB on the first 24 derived key bytes.
    Aes192,
    /// `aes` (kcptun's default): AES-256-CFB on all 32 derived key bytes.
    Aes256,
    /// `salsa20`: Salsa20/20, nonce = the datagram's first 8 bytes, sent in the clear.
    Salsa20,
    /// `xor`: a fixed 1500-byte pad derived from the key.
    Xor,
}

impl CipherKind {
    /// Every kind, in the order [`UnknownCipher`] lists their names.
    pub const ALL: [CipherKind; 6] = [
        CipherKind::None,
        CipherKind::Aes128,
        CipherKind::Aes192,
        CipherKind::Aes256,
        CipherKind::Salsa20,
        CipherKind::Xor,
    ];

    /// The name kcptun's `-crypt` flag uses for this mode.
    pub fn name(self) -> &'static str {
        match self {
            CipherKind::None => "none",
            CipherKind::Aes128 => "aes-128",
            CipherKind::Aes192 => "aes-192",
            CipherKind::Aes256 => "aes",
            CipherKind::Salsa20 => "salsa20",
            CipherKind::Xor => "xor",
        }
    }
}

impl fmt::Display for CipherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CipherKind {
    type Err = UnknownCipher;

    /// Accepts exactly the names [`CipherKind::name`] returns. Unlike kcptun, which quietly
    /// falls back to `aes` for a name it does not know, an unknown name is an error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CipherKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownCipher(s.to_owned()))
    }
}

/// A cipher name that is not one of kcptun's supported `-crypt` modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCipher(String);

impl UnknownCipher {
    /// The name that was rejected.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnknownCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown cipher {:?}; expected one of ", self.0)?;
        for (i, kind) in CipherKind::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{}", kind.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownCipher {}

/// kcptun's key derivation: PBKDF2-HMAC-SHA1 of the passphrase (`-key`), salt `"kcp-go"`,
/// 4096 iterations, 32 bytes. Deliberately slow (milliseconds); derive once, not per session.
pub fn derive_key(passphrase: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha1>(passphrase, KDF_SALT, KDF_ROUNDS, &mut key);
    key
}

/// Why [`LegacyCrypto::open`] rejected a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Shorter than [`HEADER_LEN`]: cannot hold the nonce and CRC.
    Short,
    /// The CRC-32 did not match after decryption: the datagram was corrupted, or the peer uses
    /// another key or another cipher.
    Checksum,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpenError::Short => "datagram shorter than the 20-byte crypto header",
            OpenError::Checksum => {
                "CRC-32 mismatch after decryption (corrupted, or wrong key or cipher)"
            }
        })
    }
}

impl std::error::Error for OpenError {}

/// The expanded key material of one kind.
// Inline rather than boxed: one per session is a few hundred bytes, and the AES key schedule is
// read on every datagram.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Engine {
    None,
    Aes(AesCfb),
    Salsa20([u8; 32]),
    Xor(XorTable),
}

impl Engine {
    fn new(kind: CipherKind, key: &[u8; 32]) -> Self {
        match kind {
            CipherKind::None => Engine::None,
            CipherKind::Aes128 => Engine::Aes(AesCfb::aes128(key)),
            CipherKind::Aes192 => Engine::Aes(AesCfb::aes192(key)),
            CipherKind::Aes256 => Engine::Aes(AesCfb::aes256(key)),
            CipherKind::Salsa20 => Engine::Salsa20(*key),
            CipherKind::Xor => Engine::Xor(XorTable::new(key)),
        }
    }

    fn encrypt(&self, datagram: &mut [u8]) {
        match self {
            Engine::None => {}
            Engine::Aes(cfb) => cfb.encrypt(datagram),
            Engine::Salsa20(key) => salsa20_apply(key, datagram)
                .expect("a Salsa20 keystream (2^70 bytes) outlasts any slice"),
            Engine::Xor(table) => table.apply(datagram),
        }
    }

    fn decrypt(&self, datagram: &mut [u8]) -> Result<(), StreamCipherError> {
        match self {
            Engine::None => {}
            Engine::Aes(cfb) => cfb.decrypt(datagram),
            Engine::Salsa20(key) => salsa20_apply(key, datagram)?,
            Engine::Xor(table) => table.apply(datagram),
        }
        Ok(())
    }
}

/// XORs the Salsa20 keystream onto everything after the clear-text nonce bytes; its own inverse.
fn salsa20_apply(key: &[u8; 32], datagram: &mut [u8]) -> Result<(), StreamCipherError> {
    match datagram.split_first_chunk_mut::<SALSA_NONCE_LEN>() {
        Some((nonce, rest)) => {
            Salsa20::new(&(*key).into(), &(*nonce).into()).try_apply_keystream(rest)
        }
        // Nothing to encrypt; `open` has already rejected anything this short.
        None => Ok(()),
    }
}

/// kcp-go's legacy packet protection for one session: the expanded key of one [`CipherKind`]
/// and the session's [`NonceSource`]. See the [module documentation](self) for the format and
/// for why these modes are not secure.
///
/// Cloning copies the nonce source's position too, so a clone and its original would seal with
/// the same nonces; give each session its own seed with [`LegacyCrypto::with_nonce_seed`].
#[derive(Clone)]
pub struct LegacyCrypto {
    kind: CipherKind,
    engine: Engine,
    nonces: NonceSource,
}

impl LegacyCrypto {
    /// Expands `derived_key` (from [`derive_key`]) for `kind`; `nonce_seed` should be fresh OS
    /// randomness for every session.
    pub fn new(kind: CipherKind, derived_key: &[u8; 32], nonce_seed: u64) -> Self {
        LegacyCrypto {
            kind,
            engine: Engine::new(kind, derived_key),
            nonces: NonceSource::new(nonce_seed),
        }
    }

    /// The same key with a new nonce source: a cheap way to start another session without
    /// expanding the key (or deriving the `xor` pad) again.
    #[must_use]
    pub fn with_nonce_seed(&self, nonce_seed: u64) -> Self {
        LegacyCrypto {
            kind: self.kind,
            engine: self.engine.clone(),
            nonces: NonceSource::new(nonce_seed),
        }
    }

    /// The cipher this instance speaks.
    pub fn kind(&self) -> CipherKind {
        self.kind
    }

    /// Protects a datagram in place: takes the next nonce, writes it and the CRC of the
    /// plaintext into the header, then encrypts.
    ///
    /// `datagram` is [`HEADER_LEN`] bytes of room (their content is overwritten) followed by
    /// the plaintext.
    ///
    /// # Panics
    ///
    /// If `datagram` is shorter than [`HEADER_LEN`]; that is a bug in the caller.
    pub fn seal(&mut self, datagram: &mut [u8]) {
        let nonce = self.nonces.next();
        self.seal_with_nonce(datagram, &nonce);
    }

    /// [`seal`](Self::seal) with a given nonce instead of the next one from the source, to
    /// reproduce captured datagrams byte for byte. Never reuse a nonce on a live connection.
    ///
    /// # Panics
    ///
    /// If `datagram` is shorter than [`HEADER_LEN`]; that is a bug in the caller.
    pub fn seal_with_nonce(&self, datagram: &mut [u8], nonce: &[u8; NONCE_LEN]) {
        assert!(
            datagram.len() >= HEADER_LEN,
            "datagram of {} bytes has no room for the {HEADER_LEN}-byte crypto header",
            datagram.len()
        );
        let (header, plaintext) = datagram.split_at_mut(HEADER_LEN);
        let (nonce_field, crc_field) = header.split_at_mut(NONCE_LEN);
        nonce_field.copy_from_slice(nonce);
        crc_field.copy_from_slice(&crc32fast::hash(plaintext).to_le_bytes());
        self.engine.encrypt(datagram);
    }

    /// Decrypts a received datagram in place and checks its CRC.
    ///
    /// On success returns the plaintext length `len`: the plaintext is
    /// `datagram[HEADER_LEN..HEADER_LEN + len]`, which is everything after the header. On
    /// [`OpenError::Checksum`] the buffer holds garbage. Never panics, whatever the input.
    ///
    /// A passing CRC only means "probably not corrupted by accident": see the module
    /// documentation.
    pub fn open(&self, datagram: &mut [u8]) -> Result<usize, OpenError> {
        if datagram.len() < HEADER_LEN {
            return Err(OpenError::Short);
        }
        self.engine
            .decrypt(datagram)
            .map_err(|_| OpenError::Checksum)?;
        let Some((header, plaintext)) = datagram.split_first_chunk::<HEADER_LEN>() else {
            return Err(OpenError::Short);
        };
        let [.., c0, c1, c2, c3] = *header;
        if u32::from_le_bytes([c0, c1, c2, c3]) != crc32fast::hash(plaintext) {
            return Err(OpenError::Checksum);
        }
        Ok(plaintext.len())
    }
}

impl fmt::Debug for LegacyCrypto {
    /// Names the cipher and the nonce position; never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyCrypto")
            .field("kind", &self.kind)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

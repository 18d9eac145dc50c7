//! ChaCha20-Poly1305 (RFC 8439) behind one small interface, with the fastest implementation
//! each target has.
//!
//! * x86_64: `ring`, whose assembly is chosen at run time (AVX2, SSE4.1 or SSSE3): about
//!   0.75 µs to seal 1400 bytes here.
//! * every other target (MIPS and ARM routers), and x86_64 builds with
//!   `RUSTFLAGS="--cfg kcp_portable_aead"` (how the routers' build is measured here):
//!   RustCrypto's `chacha20poly1305`, pure Rust with explicit little-endian arithmetic, the
//!   same crate the Noise handshake uses. On x86_64 it
//!   takes about 2.4 µs, because its Poly1305 AVX2 code only inlines when AVX2 is enabled at
//!   compile time, which a binary for every x86_64 cannot assume.
//!
//! Where ring is chosen, the RustCrypto implementation is built for the tests, which check
//! both against RFC 8439's test vector and against each other.

/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 12;
/// Bytes of a tag.
pub const TAG_LEN: usize = 16;

/// What the sealed mode needs of an AEAD: in-place sealing with a detached tag.
pub(crate) trait ChaChaPoly: Sized {
    fn new(key: &[u8; KEY_LEN]) -> Self;
    /// Encrypts `buf` in place and returns the tag over `aad` and the ciphertext.
    fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN];
    /// Checks `tag` and decrypts `buf` in place; `false` (and `buf` unspecified) if the tag is
    /// wrong.
    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool;
}

/// The implementation this target uses.
#[cfg(all(target_arch = "x86_64", not(kcp_portable_aead)))]
pub(crate) type Aead = ring_impl::RingAead;
/// The implementation this target uses.
#[cfg(not(all(target_arch = "x86_64", not(kcp_portable_aead))))]
pub(crate) type Aead = rustcrypto_impl::RustCryptoAead;

#[cfg(all(target_arch = "x86_64", not(kcp_portable_aead)))]
mod ring_impl {
    use super::{ChaChaPoly, KEY_LEN, NONCE_LEN, TAG_LEN};
    use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};

    pub(crate) struct RingAead(LessSafeKey);

    impl ChaChaPoly for RingAead {
        fn new(key: &[u8; KEY_LEN]) -> RingAead {
            let key = UnboundKey::new(&CHACHA20_POLY1305, key).expect("32 bytes is the key size");
            RingAead(LessSafeKey::new(key))
        }

        fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
            let tag = self
                .0
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    buf,
                )
                .expect("a datagram is far below the AEAD's length limit");
            let mut out = [0; TAG_LEN];
            out.copy_from_slice(tag.as_ref());
            out
        }

        fn open(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> bool {
            self.0
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    Tag::from(*tag),
                    buf,
                    0..,
                )
                .is_ok()
        }
    }
}

#[cfg(any(not(all(target_arch = "x86_64", not(kcp_portable_aead))), test))]
mod rustcrypto_impl {
    use super::{ChaChaPoly, KEY_LEN, NONCE_LEN, TAG_LEN};
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};
    use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};

    pub(crate) struct RustCryptoAead(ChaCha20Poly1305);

    impl ChaChaPoly for RustCryptoAead {
        fn new(key: &[u8; KEY_LEN]) -> RustCryptoAead {
            RustCryptoAead(ChaCha20Poly1305::new(Key::from_slice(key)))
        }

        fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
            let tag = self
                .0
                .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf)
                .expect("a datagram is far below the AEAD's length limit");
            tag.into()
        }

        fn open(
            &self,
            nonce: &[u8; NONCE_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> bool {
            self.0
                .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf, Tag::from_slice(tag))
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rustcrypto_impl::RustCryptoAead;
    use super::*;
    use crate::sim::Rng;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8439 §2.8.2.
    fn rfc8439<A: ChaChaPoly>() {
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce: [u8; 12] = hex("070000004041424344454647").try_into().unwrap();
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let ciphertext = hex(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
             3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
             92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
             3ff4def08e4b7a9de576d26586cec64b6116",
        );
        let tag: [u8; 16] = hex("1ae10b594f09e26a7e902ecbd0600691").try_into().unwrap();
        let aead = A::new(&key);
        let mut buf = plaintext.to_vec();
        assert_eq!(aead.seal(&nonce, &aad, &mut buf), tag);
        assert_eq!(buf, ciphertext);
        assert!(aead.open(&nonce, &aad, &mut buf, &tag));
        assert_eq!(&buf[..], &plaintext[..]);
        let mut bad_tag = tag;
        bad_tag[15] ^= 1;
        assert!(!aead.open(&nonce, &aad, &mut ciphertext.clone(), &bad_tag));
    }

    #[test]
    fn both_implementations_meet_rfc_8439() {
        rfc8439::<Aead>();
        rfc8439::<RustCryptoAead>();
    }

    #[test]
    fn this_targets_implementation_matches_rustcrypto() {
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let mut key = [0u8; 32];
            key.iter_mut().for_each(|b| *b = rng.next_u64() as u8);
            let nonce: [u8; 12] = std::array::from_fn(|_| rng.next_u64() as u8);
            let aad: Vec<u8> = (0..rng.below(20)).map(|_| rng.next_u64() as u8).collect();
            let plain: Vec<u8> = (0..rng.below(1500)).map(|_| rng.next_u64() as u8).collect();
            let (ours, reference) = (Aead::new(&key), RustCryptoAead::new(&key));
            let (mut a, mut b) = (plain.clone(), plain.clone());
            let tag = ours.seal(&nonce, &aad, &mut a);
            assert_eq!(tag, reference.seal(&nonce, &aad, &mut b), "seed {seed}");
            assert_eq!(a, b);
            assert!(reference.open(&nonce, &aad, &mut b, &tag));
            assert!(ours.open(&nonce, &aad, &mut a, &tag));
            assert_eq!(a, plain);
        }
    }
}

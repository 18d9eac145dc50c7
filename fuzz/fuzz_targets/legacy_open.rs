//! `LegacyCrypto::open` is the first code to touch a protected session's datagrams, so any
//! bytes at all must go through it without a panic, for every cipher. And the CRC-32 behind it
//! must do what a CRC does: for every kind, a sealed datagram opens back to its plaintext, and
//! one changed in a way CRC-32 always catches is rejected.
//!
//! CRC-32 detects every error burst of at most 32 bits, so the mutations are one bit flip or
//! one byte XOR, and the assertions hold only where such a ciphertext change stays such a
//! plaintext change:
//!
//! * `none`, `xor` and `salsa20` map a ciphertext byte to the same plaintext byte, so a change
//!   at index 20 or later (the plaintext), or at 16..20 (the CRC itself), must give
//!   `Err(Checksum)`; one in the nonce, which the receiver ignores, must still open to the
//!   same plaintext (for `salsa20`, only bytes 8..16: bytes 0..8 are its cipher nonce, and a
//!   change there garbles everything).
//! * the AES modes are CFB: a ciphertext change flips the same plaintext bit and garbles the
//!   whole next block, a 128-bit error that CRC-32 misses with probability 2^-32. So only a
//!   change in the last (possibly short) block at index 20 or later is asserted; elsewhere
//!   `open` must just not panic.

#![no_main]

use std::sync::OnceLock;

use kcp_core::crypto::{CipherKind, LegacyCrypto, OpenError, CRC_LEN, HEADER_LEN, NONCE_LEN};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// AES block size: CFB garbles the block after a changed one.
const BLOCK: usize = 16;
/// Bytes of the datagram Salsa20 reads its nonce from.
const SALSA_NONCE: usize = 8;

/// Keys: any 32 bytes stand in for a derived one. Expanding a key (the `xor` pad above all)
/// costs far more than the rest of an input, so each kind is expanded once per key, here.
const KEYS: [[u8; 32]; 2] = [[0; 32], *b"legacy_open fuzz target key 0123"];

/// `CipherKind::ALL` expanded under each of `KEYS`.
fn engines() -> &'static [[LegacyCrypto; 6]; 2] {
    static ENGINES: OnceLock<[[LegacyCrypto; 6]; 2]> = OnceLock::new();
    ENGINES.get_or_init(|| {
        KEYS.map(|key| CipherKind::ALL.map(|kind| LegacyCrypto::new(kind, &key, 0)))
    })
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Which of `KEYS`.
    key: bool,
    nonce_seed: u64,
    /// Opened as they are.
    garbage: Vec<u8>,
    /// Sealed, changed as `mutation` says, opened.
    plaintext: Vec<u8>,
    mutation: Mutation,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Mutation {
    /// Flips bit `bit % 8` of byte `at` (modulo the sealed length).
    Bit { at: u16, bit: u8 },
    /// XORs byte `at` (modulo the sealed length) with `xor` (0 taken as 1).
    Byte { at: u16, xor: u8 },
}

impl Mutation {
    /// Applies itself to `datagram` and returns the index it changed.
    fn apply(self, datagram: &mut [u8]) -> usize {
        let (at, xor) = match self {
            Mutation::Bit { at, bit } => (at, 1 << (bit % 8)),
            Mutation::Byte { at, xor } => (at, xor.max(1)),
        };
        let at = usize::from(at) % datagram.len();
        datagram[at] ^= xor;
        at
    }
}

fuzz_target!(|input: Input| {
    for engine in &engines()[usize::from(input.key)] {
        let kind = engine.kind();
        let mut sender = engine.with_nonce_seed(input.nonce_seed);
        let receiver = engine.with_nonce_seed(!input.nonce_seed);

        let mut garbage = input.garbage.clone();
        match receiver.open(&mut garbage) {
            Ok(len) => assert_eq!(len + HEADER_LEN, garbage.len(), "{kind}"),
            Err(OpenError::Short) => assert!(garbage.len() < HEADER_LEN, "{kind}"),
            Err(OpenError::Checksum) => assert!(garbage.len() >= HEADER_LEN, "{kind}"),
        }

        let mut sealed = vec![0u8; HEADER_LEN];
        sealed.extend_from_slice(&input.plaintext);
        sender.seal(&mut sealed);
        assert_eq!(sealed.len(), HEADER_LEN + input.plaintext.len());
        if kind == CipherKind::None {
            assert_eq!(
                &sealed[HEADER_LEN..],
                &input.plaintext[..],
                "none encrypts nothing"
            );
        }

        let mut opened = sealed.clone();
        assert_eq!(
            receiver.open(&mut opened),
            Ok(input.plaintext.len()),
            "{kind}"
        );
        assert_eq!(
            &opened[HEADER_LEN..],
            &input.plaintext[..],
            "{kind}: round trip"
        );

        let mut changed = sealed;
        let at = input.mutation.apply(&mut changed);
        let result = receiver.open(&mut changed);
        match (kind, at) {
            (CipherKind::Aes128 | CipherKind::Aes192 | CipherKind::Aes256, at) => {
                let last_block = (changed.len() - 1) / BLOCK * BLOCK;
                if at >= HEADER_LEN.max(last_block) {
                    assert_eq!(
                        result,
                        Err(OpenError::Checksum),
                        "{kind}: byte {at} changed"
                    );
                }
            }
            (_, at) if at >= NONCE_LEN => {
                // The plaintext or the CRC (16..20) itself.
                assert_eq!(
                    result,
                    Err(OpenError::Checksum),
                    "{kind}: byte {at} changed"
                );
            }
            (CipherKind::Salsa20, at) if at < SALSA_NONCE => {}
            (_, _) => {
                assert_eq!(
                    result,
                    Ok(input.plaintext.len()),
                    "{kind}: the nonce is ignored"
                );
                assert_eq!(
                    &changed[HEADER_LEN..],
                    &input.plaintext[..],
                    "{kind}: nonce changed"
                );
            }
        }
    }
});

// The layout the assertions rely on.
const _: () = assert!(NONCE_LEN + CRC_LEN == HEADER_LEN && SALSA_NONCE < NONCE_LEN);

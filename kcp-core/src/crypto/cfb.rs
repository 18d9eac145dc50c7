//! AES in kcp-go's CFB variant: full 128-bit feedback, a fixed IV, restarted for every
//! datagram, and a short last block XORed with a truncated keystream block.
//!
//! Keystream block 0 is `E(IV)`; block `i` is `E(ciphertext block i-1)`. Encryption is
//! therefore serial (each block waits for the previous ciphertext), but decryption is not: the
//! whole ciphertext is already known, so [`AesCfb::decrypt`] feeds [`BATCH`] blocks at a time to
//! the cipher, which lets AES-NI (or the bitsliced software backend) work on them in parallel.

use aes::cipher::{
    consts::U16, Array, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt,
    BlockSizeUser, KeyInit,
};
use aes::{Aes128Enc, Aes192Enc, Aes256Enc};

/// kcp-go's `initialVector`; every datagram starts the feedback chain here.
pub(crate) const IV: [u8; BLOCK] = [
    0xa7, 0x73, 0x4f, 0x9c, 0x12, 0xac, 0x1b, 0x01, 0xa4, 0x15, 0xf2, 0xc1, 0xfc, 0x78, 0xe6, 0x6b,
];

const BLOCK: usize = 16;

/// Blocks decrypted per call into the cipher (1 KiB on the stack). AES-NI and the bitsliced
/// software backend work on 8 blocks at once, VAES on 30 or 64; 64 suits all of them.
const BATCH: usize = 64;

type Block = Array<u8, U16>;

/// An expanded AES encryption key of one of the three sizes kcptun offers.
#[derive(Clone)]
pub(crate) enum AesCfb {
    Aes128(Aes128Enc),
    Aes192(Aes192Enc),
    Aes256(Aes256Enc),
}

impl AesCfb {
    /// AES-128 on the first 16 bytes of the derived key, as kcptun's `aes-128`.
    pub(crate) fn aes128(key: &[u8; 32]) -> Self {
        let k: [u8; 16] = core::array::from_fn(|i| key[i]);
        AesCfb::Aes128(Aes128Enc::new(&Array::from(k)))
    }

    /// AES-192 on the first 24 bytes of the derived key, as kcptun's `aes-192`.
    pub(crate) fn aes192(key: &[u8; 32]) -> Self {
        let k: [u8; 24] = core::array::from_fn(|i| key[i]);
        AesCfb::Aes192(Aes192Enc::new(&Array::from(k)))
    }

    /// AES-256 on all 32 derived bytes, as kcptun's `aes`.
    pub(crate) fn aes256(key: &[u8; 32]) -> Self {
        AesCfb::Aes256(Aes256Enc::new(&Array::from(*key)))
    }

    /// Encrypts `data` in place, starting the chain at [`IV`].
    pub(crate) fn encrypt(&self, data: &mut [u8]) {
        match self {
            AesCfb::Aes128(c) => encrypt(c, data),
            AesCfb::Aes192(c) => encrypt(c, data),
            AesCfb::Aes256(c) => encrypt(c, data),
        }
    }

    /// Decrypts `data` in place, starting the chain at [`IV`].
    pub(crate) fn decrypt(&self, data: &mut [u8]) {
        match self {
            AesCfb::Aes128(c) => decrypt(c, data),
            AesCfb::Aes192(c) => decrypt(c, data),
            AesCfb::Aes256(c) => decrypt(c, data),
        }
    }
}

fn xor_into(dst: &mut [u8], keystream: &[u8]) {
    for (d, k) in dst.iter_mut().zip(keystream) {
        *d ^= k;
    }
}

fn encrypt<C: BlockCipherEncrypt<BlockSize = U16>>(cipher: &C, data: &mut [u8]) {
    // Through the backend closure rather than `encrypt_block` per block: the CPU-feature dispatch
    // then happens once per datagram, and the loop is compiled inside the backend's
    // target-feature function, with the round keys kept in registers.
    cipher.encrypt_with_backend(SerialEncrypt { data });
}

/// The serial CFB encryption loop, run with whatever backend the cipher picked.
struct SerialEncrypt<'a> {
    data: &'a mut [u8],
}

impl BlockSizeUser for SerialEncrypt<'_> {
    type BlockSize = U16;
}

impl BlockCipherEncClosure for SerialEncrypt<'_> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let mut register = Block::from(IV);
        // `chunks_mut` hands the short last block over too; `zip` in `xor_into` truncates the
        // keystream to it, and nothing needs the register afterwards.
        for chunk in self.data.chunks_mut(BLOCK) {
            backend.encrypt_block_inplace(&mut register);
            xor_into(chunk, &register);
            for (r, c) in register.iter_mut().zip(chunk.iter()) {
                *r = *c;
            }
        }
    }
}

fn decrypt<C: BlockCipherEncrypt<BlockSize = U16>>(cipher: &C, data: &mut [u8]) {
    let mut keystream = [Block::default(); BATCH];
    // The ciphertext block just before the current batch. Decrypting in place overwrites it, so
    // it is saved before the batch it belongs to is XORed. Only a full batch has a successor,
    // and its last 16 bytes are a whole block.
    let mut previous = Block::from(IV);
    for batch in data.chunks_mut(BLOCK * BATCH) {
        let inputs = &mut keystream[..batch.len().div_ceil(BLOCK)];
        // Keystream block i is E(ciphertext block i-1): the batch shifted right by one block,
        // behind `previous`. A short last block is never an input.
        let flat = Block::slice_as_flattened_mut(inputs);
        let Some((first, rest)) = flat.split_first_chunk_mut::<BLOCK>() else {
            continue;
        };
        first.copy_from_slice(&previous);
        for (input, ciphertext) in rest.iter_mut().zip(batch.iter()) {
            *input = *ciphertext;
        }
        if let Some((_, last)) = batch.split_last_chunk::<BLOCK>() {
            previous = Block::from(*last);
        }
        cipher.encrypt_blocks(inputs);
        xor_into(batch, Block::slice_as_flattened(inputs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batched decryption must undo the serial encryption across batch boundaries and
    /// short tails.
    #[test]
    fn batched_decrypt_inverts_serial_encrypt() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8 * 7 + 1);
        for cfb in [
            AesCfb::aes128(&key),
            AesCfb::aes192(&key),
            AesCfb::aes256(&key),
        ] {
            for len in 0..=(BLOCK * BATCH * 2 + 17) {
                let plain: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
                let mut data = plain.clone();
                cfb.encrypt(&mut data);
                if len > 0 {
                    assert_ne!(data, plain, "len {len}");
                }
                cfb.decrypt(&mut data);
                assert_eq!(data, plain, "len {len}");
            }
        }
    }

    /// The first keystream block is E(IV), so a zero first block encrypts to E(IV); the second
    /// is E(first ciphertext block).
    #[test]
    fn chain_matches_definition() {
        let key = [0x42u8; 32];
        let raw = Aes256Enc::new(&Array::from(key));
        let mut data = [0u8; 40];
        AesCfb::aes256(&key).encrypt(&mut data);
        let mut k0 = Block::from(IV);
        raw.encrypt_block(&mut k0);
        assert_eq!(&data[..16], k0.as_slice());
        let mut k1 = k0;
        raw.encrypt_block(&mut k1);
        assert_eq!(&data[16..32], k1.as_slice());
        let mut k2 = k1;
        raw.encrypt_block(&mut k2);
        assert_eq!(&data[32..40], &k2.as_slice()[..8]);
    }
}

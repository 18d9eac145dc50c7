//! The Reed-Solomon code over GF(2^8): kcp-go's matrix, and a fast multiply-accumulate for
//! encoding.
//!
//! `reed-solomon-erasure` builds the same systematic matrix as klauspost/reedsolomon (the
//! library kcp-go uses): a Vandermonde matrix times the inverse of its top square, polynomial
//! 0x11D. [`Code`] reads the parity rows out of it once, by encoding unit vectors, so encoding
//! can run shard by shard as data leaves (no copies kept for the parity computation), and uses
//! the crate's `reconstruct_data` to rebuild lost shards.
//!
//! Encoding is `parity[j] ^= M[j][i] · data[i]` over whole shards. The portable kernel is the
//! crate's table multiply (about 1 byte per cycle); on x86_64 with AVX2 a nibble-table kernel
//! does 32 bytes per step. Both give the same bytes; the tests run both.

use reed_solomon_erasure::galois_8::{self, ReedSolomon};

/// One multiplier, prepared for the kernels: the value and its nibble product tables.
#[derive(Clone, Copy, Debug)]
pub struct Coefficient {
    value: u8,
    /// `value · n` for every low nibble `n`.
    low: [u8; 16],
    /// `value · (n << 4)` for every high nibble `n`.
    high: [u8; 16],
}

impl Coefficient {
    /// Prepares `value`.
    pub fn new(value: u8) -> Coefficient {
        let mut low = [0; 16];
        let mut high = [0; 16];
        for n in 0..16u8 {
            low[n as usize] = galois_8::mul(value, n);
            high[n as usize] = galois_8::mul(value, n << 4);
        }
        Coefficient { value, low, high }
    }

    /// The multiplier.
    pub fn value(&self) -> u8 {
        self.value
    }
}

/// Which multiply-accumulate implementation runs. Only [`Kernel::detect`] hands out a SIMD
/// kernel, after asking the CPU, so a kernel value is always safe to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel(KernelKind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KernelKind {
    /// Table lookups, one byte at a time: any target.
    Portable,
    /// 32 bytes per step with AVX2 byte shuffles (x86_64, detected at run time).
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Kernel(KernelKind::Avx2);
        }
        Kernel::portable()
    }

    /// The table kernel, which runs anywhere.
    pub fn portable() -> Kernel {
        Kernel(KernelKind::Portable)
    }

    /// Whether this kernel uses SIMD instructions.
    pub fn is_simd(self) -> bool {
        self.0 != KernelKind::Portable
    }

    /// `dst[..src.len()] ^= coefficient · src`.
    ///
    /// # Panics
    ///
    /// If `dst` is shorter than `src`.
    pub fn mul_add(self, coefficient: &Coefficient, src: &[u8], dst: &mut [u8]) {
        let dst = &mut dst[..src.len()];
        match coefficient.value {
            0 => {}
            1 => dst.iter_mut().zip(src).for_each(|(d, s)| *d ^= s),
            _ => match self.0 {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `KernelKind::Avx2` is only created by `detect`, after the CPU said it
                // has AVX2.
                KernelKind::Avx2 => unsafe { avx2::mul_add(coefficient, src, dst) },
                KernelKind::Portable => galois_8::mul_slice_xor(coefficient.value, src, dst),
            },
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Coefficient;
    use core::arch::x86_64::*;
    use reed_solomon_erasure::galois_8;

    /// `dst ^= c · src` (equal lengths), 32 bytes per step: each byte is split into nibbles and
    /// each nibble looked up in a 16-entry product table with a byte shuffle.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mul_add(c: &Coefficient, src: &[u8], dst: &mut [u8]) {
        debug_assert_eq!(src.len(), dst.len());
        // SAFETY: 16-byte unaligned loads from 16-byte arrays.
        let (low, high) = unsafe {
            (
                _mm_loadu_si128(c.low.as_ptr().cast()),
                _mm_loadu_si128(c.high.as_ptr().cast()),
            )
        };
        let low = _mm256_broadcastsi128_si256(low);
        let high = _mm256_broadcastsi128_si256(high);
        let mask = _mm256_set1_epi8(0x0f);
        let mut src_chunks = src.chunks_exact(32);
        let mut dst_chunks = dst.chunks_exact_mut(32);
        for (s, d) in src_chunks.by_ref().zip(dst_chunks.by_ref()) {
            // SAFETY: both chunks are exactly 32 bytes; unaligned loads and stores.
            unsafe {
                let x = _mm256_loadu_si256(s.as_ptr().cast());
                let lo = _mm256_and_si256(x, mask);
                let hi = _mm256_and_si256(_mm256_srli_epi64(x, 4), mask);
                let product =
                    _mm256_xor_si256(_mm256_shuffle_epi8(low, lo), _mm256_shuffle_epi8(high, hi));
                let y = _mm256_loadu_si256(d.as_ptr().cast());
                _mm256_storeu_si256(d.as_mut_ptr().cast(), _mm256_xor_si256(y, product));
            }
        }
        galois_8::mul_slice_xor(c.value, src_chunks.remainder(), dst_chunks.into_remainder());
    }
}

/// A Reed-Solomon `(data, parity)` code with kcp-go's matrix.
#[derive(Debug)]
pub struct Code {
    data: usize,
    parity: usize,
    /// Row-major `parity × data` parity coefficients.
    rows: Vec<Coefficient>,
    rs: ReedSolomon,
    kernel: Kernel,
}

impl Code {
    /// The code for `data` data and `parity` parity shards (checked by
    /// [`check_geometry`](super::check_geometry)).
    pub fn new(data: usize, parity: usize) -> Result<Code, super::FecConfigError> {
        Code::with_kernel(data, parity, Kernel::detect())
    }

    /// The same with a chosen kernel (tests compare them).
    pub fn with_kernel(
        data: usize,
        parity: usize,
        kernel: Kernel,
    ) -> Result<Code, super::FecConfigError> {
        super::check_geometry(data, parity)?;
        let rs = ReedSolomon::new(data, parity).map_err(|_| super::FecConfigError::Empty)?;
        // Parity row j, column i is the parity byte that a data shard `[1]` at position i (and
        // zeros elsewhere) produces.
        let mut rows = vec![Coefficient::new(0); data * parity];
        let mut shards = vec![[0u8; 1]; data + parity];
        for i in 0..data {
            shards.iter_mut().for_each(|s| s[0] = 0);
            shards[i][0] = 1;
            rs.encode(&mut shards)
                .expect("shard count and length match the code");
            for j in 0..parity {
                rows[j * data + i] = Coefficient::new(shards[data + j][0]);
            }
        }
        Ok(Code {
            data,
            parity,
            rows,
            rs,
            kernel,
        })
    }

    /// Data shards per group.
    pub fn data_shards(&self) -> usize {
        self.data
    }

    /// Parity shards per group.
    pub fn parity_shards(&self) -> usize {
        self.parity
    }

    /// The kernel encoding runs on.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The coefficient of data shard `i` in parity shard `j`.
    pub fn coefficient(&self, j: usize, i: usize) -> u8 {
        self.rows[j * self.data + i].value
    }

    /// Adds data shard `index` to the running parity: `parity[j] ^= M[j][index] · shard`.
    /// Shorter shards count as zero-padded, which is what kcp-go encodes.
    ///
    /// # Panics
    ///
    /// If `index` is not a data position, or a parity buffer is shorter than `shard`.
    pub fn accumulate(&self, index: usize, shard: &[u8], parity: &mut [Vec<u8>]) {
        assert!(index < self.data, "data shard {index} of {}", self.data);
        for (j, out) in parity.iter_mut().enumerate().take(self.parity) {
            self.kernel
                .mul_add(&self.rows[j * self.data + index], shard, out);
        }
    }

    /// Rebuilds the missing data shards in place. `shards` holds `data + parity` equal-length
    /// buffers and whether each is present. Returns whether it succeeded (it fails when
    /// fewer than `data` shards are present); on success every data shard is present.
    pub fn reconstruct(&self, shards: &mut [(Vec<u8>, bool)]) -> bool {
        self.rs.reconstruct_data(shards).is_ok()
    }
}

/// The codes of the few geometries in use, built on first use. Bounded: a peer cycling
/// through geometries evicts the oldest rather than growing the cache.
#[derive(Debug, Default)]
pub struct CodeCache {
    codes: std::collections::VecDeque<Code>,
}

impl CodeCache {
    /// Codes kept at once: kcp-go uses one geometry; the native framing varies the group size
    /// with traffic and the parity count with loss, and rebuilding a code costs a matrix
    /// inversion and allocations, so it keeps a few dozen.
    pub const CAPACITY: usize = 32;

    /// The `(data, parity)` code; `None` if the geometry is invalid.
    pub fn get(&mut self, data: usize, parity: usize) -> Option<&Code> {
        let found = self
            .codes
            .iter()
            .position(|c| c.data_shards() == data && c.parity_shards() == parity);
        let position = match found {
            Some(p) => p,
            None => {
                let code = Code::new(data, parity).ok()?;
                if self.codes.len() >= Self::CAPACITY {
                    self.codes.pop_front();
                }
                self.codes.push_back(code);
                self.codes.len() - 1
            }
        };
        self.codes.get(position)
    }
}

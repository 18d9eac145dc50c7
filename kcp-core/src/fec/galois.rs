//! The Reed-Solomon code over GF(2^8): the field, kcp-go's code, and a fast multiply-accumulate
//! for encoding and rebuilding.
//!
//! The field is kcp-go's: GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1 (0x11D), generator 2. Its
//! log and exp tables (766 bytes) are computed at compile time. [`Code`] holds the parity rows
//! of klauspost/reedsolomon's systematic matrix (built in `fec/matrix.rs`), so encoding can run
//! shard by shard as data leaves (no copies kept for the parity computation), and rebuilds lost
//! data shards from the rows of the inverted sub-matrix of the shards that arrived.
//!
//! Encoding is `parity[j] ^= M[j][i] · data[i]` over whole shards, rebuilding the same with the
//! decoding coefficients. A [`Coefficient`] carries two 16-entry product tables, one per
//! nibble. The portable kernel expands them into the 256-entry table of the multiplier for
//! each slice and looks bytes up in it (short slices use the nibble tables directly); on
//! x86_64 with AVX2 the nibble tables run through byte shuffles, 32 bytes per step. Both give
//! the same bytes; the tests run both.

use super::matrix::{self, Decoding, Matrix};

/// The field's reduction polynomial, x^8 + x^4 + x^3 + x^2 + 1.
pub const POLYNOMIAL: u16 = 0x11D;

/// `LOG[x]` is the power of 2 that gives `x` (`LOG[0]` unused); `EXP[n] = 2^n`, for `n` up to
/// 509 so a sum of two logs needs no reduction.
struct Tables {
    log: [u8; 256],
    exp: [u8; 510],
}

const fn tables() -> Tables {
    let mut log = [0u8; 256];
    let mut exp = [0u8; 510];
    let mut x: u16 = 1;
    let mut n = 0;
    while n < 255 {
        exp[n] = x as u8;
        exp[n + 255] = x as u8;
        log[x as usize] = n as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= POLYNOMIAL;
        }
        n += 1;
    }
    Tables { log, exp }
}

static TABLES: Tables = tables();

/// `a · b` in the field.
pub fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    TABLES.exp[TABLES.log[a as usize] as usize + TABLES.log[b as usize] as usize]
}

/// The multiplicative inverse of `a`; 0 for 0 (which has none: callers check).
pub fn inv(a: u8) -> u8 {
    if a == 0 {
        return 0;
    }
    TABLES.exp[255 - TABLES.log[a as usize] as usize]
}

/// `a^n`, with `0^0 = 1` (klauspost/reedsolomon's `galExp`).
pub fn pow(a: u8, n: usize) -> u8 {
    if n == 0 {
        return 1;
    }
    if a == 0 {
        return 0;
    }
    TABLES.exp[(TABLES.log[a as usize] as usize * n) % 255]
}

/// `x · 2`: a shift, reduced by the polynomial when the top bit falls out.
const fn times_two(x: u8) -> u8 {
    let reduce = if x & 0x80 != 0 { POLYNOMIAL as u8 } else { 0 };
    (x << 1) ^ reduce
}

/// `dst[..src.len()] ^= c · src` on the portable kernel (matrix arithmetic uses it).
pub fn mul_add_slice(c: u8, src: &[u8], dst: &mut [u8]) {
    Kernel::portable().mul_add(&Coefficient::new(c), src, dst);
}

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
        // value · n = 2 · (value · (n >> 1)) + (n & 1) · value: products are linear.
        let mut low = [0; 16];
        let mut high = [0; 16];
        for n in 1..16 {
            let odd = if n & 1 != 0 { value } else { 0 };
            low[n] = times_two(low[n >> 1]) ^ odd;
        }
        let sixteen = times_two(low[8]);
        for n in 1..16 {
            let odd = if n & 1 != 0 { sixteen } else { 0 };
            high[n] = times_two(high[n >> 1]) ^ odd;
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
                KernelKind::Portable => portable_mul_add(coefficient, src, dst),
            },
        }
    }
}

/// `dst ^= c · src` (equal lengths), a byte at a time. Long slices go through the full
/// 256-entry product table, built on the stack from the nibble tables (one lookup a byte
/// instead of two); short ones look the nibbles up directly.
fn portable_mul_add(c: &Coefficient, src: &[u8], dst: &mut [u8]) {
    if src.len() < PRODUCT_TABLE_FROM {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d ^= c.low[(s & 0x0f) as usize] ^ c.high[(s >> 4) as usize];
        }
        return;
    }
    let mut table = [0u8; 256];
    for h in 0..16 {
        for l in 0..16 {
            table[h * 16 + l] = c.high[h] ^ c.low[l];
        }
    }
    // A machine word at a time: one load and one store of `dst` per word.
    const WORD: usize = size_of::<usize>();
    let mut src_words = src.chunks_exact(WORD);
    let mut dst_words = dst.chunks_exact_mut(WORD);
    for (s, d) in src_words.by_ref().zip(dst_words.by_ref()) {
        let mut product = [0u8; WORD];
        for (p, &x) in product.iter_mut().zip(s) {
            *p = table[x as usize];
        }
        let word = usize::from_ne_bytes(d.try_into().expect("a word"));
        d.copy_from_slice(&(word ^ usize::from_ne_bytes(product)).to_ne_bytes());
    }
    for (d, &s) in dst_words
        .into_remainder()
        .iter_mut()
        .zip(src_words.remainder())
    {
        *d ^= table[s as usize];
    }
}

/// Slice length from which building the product table pays off.
const PRODUCT_TABLE_FROM: usize = 128;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Coefficient;
    use core::arch::x86_64::*;

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
        let (low16, high16, mask16) = (low, high, _mm_set1_epi8(0x0f));
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
        // The tail: one 16-byte step if it is that long (shards are rarely a multiple of 32),
        // then bytes.
        let mut src_chunks = src_chunks.remainder().chunks_exact(16);
        let mut dst_chunks = dst_chunks.into_remainder().chunks_exact_mut(16);
        for (s, d) in src_chunks.by_ref().zip(dst_chunks.by_ref()) {
            // SAFETY: both chunks are exactly 16 bytes; unaligned loads and stores.
            unsafe {
                let x = _mm_loadu_si128(s.as_ptr().cast());
                let lo = _mm_and_si128(x, mask16);
                let hi = _mm_and_si128(_mm_srli_epi64(x, 4), mask16);
                let product =
                    _mm_xor_si128(_mm_shuffle_epi8(low16, lo), _mm_shuffle_epi8(high16, hi));
                let y = _mm_loadu_si128(d.as_ptr().cast());
                _mm_storeu_si128(d.as_mut_ptr().cast(), _mm_xor_si128(y, product));
            }
        }
        super::portable_mul_add(c, src_chunks.remainder(), dst_chunks.into_remainder());
    }
}

/// A Reed-Solomon `(data, parity)` code with kcp-go's matrix.
#[derive(Debug)]
pub struct Code {
    data: usize,
    parity: usize,
    /// The `parity × data` parity rows of the encoding matrix.
    matrix: Matrix,
    /// The same, prepared for the kernels.
    rows: Vec<Coefficient>,
    /// Buffers for working out rebuilds, kept so that a rebuild allocates nothing.
    decoding: Decoding,
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
        // A checked geometry always has a matrix (the Vandermonde top square is invertible).
        let matrix = matrix::parity_rows(data, parity).ok_or(super::FecConfigError::Empty)?;
        let rows = (0..parity)
            .flat_map(|j| matrix.row(j).iter().map(|&c| Coefficient::new(c)))
            .collect();
        Ok(Code {
            data,
            parity,
            matrix,
            rows,
            decoding: Decoding::default(),
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
        self.matrix.get(j, i)
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

    /// Rebuilds the missing data shards in place. `shards` holds the group's `data + parity`
    /// buffers and whether each is present. Returns whether it succeeded; on success every data
    /// shard's buffer holds its data (the flags are left as they were, and missing parity is
    /// not rebuilt). Nothing is written when it fails, which it does, as `reed-solomon-erasure`'s
    /// `reconstruct_data` did, when:
    ///
    /// * `shards` does not hold exactly `data + parity` entries;
    /// * a present shard is empty, or present shards differ in length;
    /// * fewer than `data` shards are present;
    /// * a missing data shard's buffer is not as long as the present shards (a missing parity
    ///   shard's buffer is not looked at).
    ///
    /// With every shard present it succeeds at once. The rebuild reads every present data
    /// shard and the first present parity shards, as many as data shards are missing.
    pub fn reconstruct(&mut self, shards: &mut [(Vec<u8>, bool)]) -> bool {
        if shards.len() != self.data + self.parity {
            return false;
        }
        let mut len = None;
        let mut present = 0;
        for (buf, _) in shards.iter().filter(|(_, p)| *p) {
            if buf.is_empty() || len.is_some_and(|l| l != buf.len()) {
                return false;
            }
            len = Some(buf.len());
            present += 1;
        }
        if present == shards.len() {
            return true;
        }
        let Some(len) = len else {
            return false;
        };
        if present < self.data
            || shards[..self.data]
                .iter()
                .any(|(buf, p)| !p && buf.len() != len)
        {
            return false;
        }
        if !self.decoding.plan(&self.matrix, |i| shards[i].1) {
            return false;
        }
        for (n, &lost) in self.decoding.missing().iter().enumerate() {
            // The rebuilt shard is never an input, so it can be taken out while the inputs
            // are read.
            let mut out = std::mem::take(&mut shards[lost].0);
            out.fill(0);
            for (&input, &c) in self.decoding.inputs().iter().zip(self.decoding.row(n)) {
                self.kernel
                    .mul_add(&Coefficient::new(c), &shards[input].0, &mut out);
            }
            shards[lost].0 = out;
        }
        true
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
    pub fn get(&mut self, data: usize, parity: usize) -> Option<&mut Code> {
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
        self.codes.get_mut(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    /// Carry-less multiplication reduced by the polynomial, bit by bit: the definition.
    fn mul_by_definition(a: u8, b: u8) -> u8 {
        let mut product: u16 = 0;
        for bit in 0..8 {
            if b & 1 << bit != 0 {
                product ^= (a as u16) << bit;
            }
        }
        for bit in (8..16).rev() {
            if product & 1 << bit != 0 {
                product ^= POLYNOMIAL << (bit - 8);
            }
        }
        product as u8
    }

    /// The portable kernel and, where the CPU has one, the SIMD kernel.
    fn kernels() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::portable()];
        if Kernel::detect().is_simd() {
            kernels.push(Kernel::detect());
        }
        kernels
    }

    #[test]
    fn field_arithmetic_follows_the_polynomial() {
        for a in 0..=255u8 {
            let c = Coefficient::new(a);
            for b in 0..=255u8 {
                let expected = mul_by_definition(a, b);
                assert_eq!(mul(a, b), expected, "{a} · {b}");
                assert_eq!(
                    c.low[(b & 15) as usize] ^ c.high[(b >> 4) as usize],
                    expected
                );
            }
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "{a}⁻¹");
            }
            let mut power = 1u8;
            for n in 0..600 {
                assert_eq!(pow(a, n), power, "{a}^{n}");
                power = mul(power, a);
            }
        }
        // 2 generates the multiplicative group: 2^255 = 1 and no earlier power is.
        assert_eq!((1..=255).find(|&n| pow(2, n) == 1), Some(255));
    }

    #[test]
    fn kernels_agree_with_field_multiplication() {
        let mut rng = Rng::new(11);
        let src: Vec<u8> = (0..1000).map(|_| rng.next_u64() as u8).collect();
        let base: Vec<u8> = (0..1000).map(|_| rng.next_u64() as u8).collect();
        for kernel in kernels() {
            for c in [0u8, 1, 2, 0x1d, 0x80, 0xff, 0x53] {
                // Lengths around the SIMD steps and the portable table threshold, so every
                // tail runs.
                for len in [
                    0, 1, 15, 16, 31, 32, 33, 48, 50, 63, 64, 100, 127, 128, 1000,
                ] {
                    let mut dst = base.clone();
                    kernel.mul_add(&Coefficient::new(c), &src[..len], &mut dst);
                    for i in 0..1000 {
                        let expected = if i < len {
                            base[i] ^ mul(c, src[i])
                        } else {
                            base[i]
                        };
                        assert_eq!(dst[i], expected, "{kernel:?} c={c} len={len} at {i}");
                    }
                }
            }
        }
    }

    /// A group of random data shards of `len` bytes and their parity, encoded by `code`.
    fn encoded_group(code: &Code, rng: &mut Rng, len: usize) -> Vec<Vec<u8>> {
        let data: Vec<Vec<u8>> = (0..code.data_shards())
            .map(|_| (0..len).map(|_| rng.next_u64() as u8).collect())
            .collect();
        let mut parity = vec![vec![0; len]; code.parity_shards()];
        for (i, shard) in data.iter().enumerate() {
            code.accumulate(i, shard, &mut parity);
        }
        data.into_iter().chain(parity).collect()
    }

    /// Loses the shards in `lost` (their buffers filled with junk, as reused buffers are),
    /// rebuilds, and checks the data came back or, with too few shards, nothing was touched.
    fn lose_and_rebuild(code: &mut Code, group: &[Vec<u8>], lost: &[usize]) {
        let mut shards: Vec<(Vec<u8>, bool)> = group
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if lost.contains(&i) {
                    (vec![0xA5; s.len()], false)
                } else {
                    (s.clone(), true)
                }
            })
            .collect();
        let before = shards.clone();
        let possible = lost.len() <= code.parity_shards();
        assert_eq!(code.reconstruct(&mut shards), possible, "lost {lost:?}");
        if !possible {
            assert_eq!(shards, before, "a failed rebuild writes nothing");
            return;
        }
        for (i, (buf, present)) in shards.iter().enumerate() {
            assert_eq!(*present, !lost.contains(&i), "flags are left alone");
            if i < code.data_shards() {
                assert_eq!(buf, &group[i], "data shard {i}, lost {lost:?}");
            } else {
                // Missing parity is not rebuilt.
                assert_eq!(buf, &before[i].0, "parity shard {i}, lost {lost:?}");
            }
        }
    }

    #[test]
    fn reconstruct_every_loss_pattern_of_small_codes() {
        let mut rng = Rng::new(5);
        for kernel in kernels() {
            for (data, parity) in [(1, 1), (2, 1), (1, 3), (3, 2), (4, 2), (5, 3), (6, 6)] {
                let mut code = Code::with_kernel(data, parity, kernel).unwrap();
                // 67 bytes: two SIMD steps and a remainder.
                let group = encoded_group(&code, &mut rng, 67);
                let total = data + parity;
                for mask in 0u32..1 << total {
                    // Every pattern of up to `parity` losses, and a few more to see refusals.
                    if mask.count_ones() as usize > parity + 1 {
                        continue;
                    }
                    let lost: Vec<usize> = (0..total).filter(|i| mask & 1 << i != 0).collect();
                    lose_and_rebuild(&mut code, &group, &lost);
                }
            }
        }
    }

    #[test]
    fn reconstruct_random_loss_patterns_of_large_codes() {
        let mut rng = Rng::new(9);
        for (data, parity, len) in [
            (10, 3, 1400),
            (16, 4, 300),
            (20, 10, 200),
            (64, 32, 50),
            (128, 127, 20),
            (200, 56, 10),
            (255, 1, 3),
        ] {
            let mut code = Code::new(data, parity).unwrap();
            let group = encoded_group(&code, &mut rng, len);
            let total = data + parity;
            for _ in 0..40 {
                // Mostly recoverable counts of losses, sometimes one too many.
                let count = rng.below(parity + 2);
                let mut lost: Vec<usize> = Vec::new();
                while lost.len() < count {
                    let i = rng.below(total);
                    if !lost.contains(&i) {
                        lost.push(i);
                    }
                }
                lose_and_rebuild(&mut code, &group, &lost);
            }
            // The worst case: every parity shard stands in for a data shard.
            let lost: Vec<usize> = (0..parity.min(data)).collect();
            lose_and_rebuild(&mut code, &group, &lost);
        }
    }

    #[test]
    fn reconstruct_refuses_what_reed_solomon_erasure_refused() {
        let mut rng = Rng::new(13);
        let mut code = Code::new(4, 2).unwrap();
        let group = encoded_group(&code, &mut rng, 40);
        let shards = |lost: &[usize]| -> Vec<(Vec<u8>, bool)> {
            group
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), !lost.contains(&i)))
                .collect()
        };
        let refused = |code: &mut Code, mut s: Vec<(Vec<u8>, bool)>| {
            let before = s.clone();
            let ok = code.reconstruct(&mut s);
            assert_eq!(s, before, "nothing written");
            !ok
        };

        // The wrong number of shards.
        let mut short = shards(&[1]);
        short.pop();
        assert!(refused(&mut code, short));
        let mut long = shards(&[1]);
        long.push((vec![0; 40], true));
        assert!(refused(&mut code, long));
        // Present shards of different lengths, or empty.
        let mut uneven = shards(&[1]);
        uneven[5].0.push(0);
        assert!(refused(&mut code, uneven));
        let mut empty = shards(&[1]);
        empty[2].0.clear();
        assert!(refused(&mut code, empty));
        // A missing data shard whose buffer has the wrong length.
        let mut wrong = shards(&[1]);
        wrong[1].0.truncate(39);
        assert!(refused(&mut code, wrong));
        // Too few shards, including none at all.
        assert!(refused(&mut code, shards(&[0, 1, 4])));
        assert!(refused(&mut code, shards(&[0, 1, 2, 3, 4, 5])));

        // Everything present: nothing to do, whatever the buffers hold.
        let mut all = shards(&[]);
        all[0].0.fill(0);
        let before = all.clone();
        assert!(code.reconstruct(&mut all));
        assert_eq!(all, before);
        // Only parity missing: data is all there; parity buffers of any length are ignored.
        let mut no_parity = shards(&[4, 5]);
        no_parity[4].0.clear();
        no_parity[5].0.truncate(3);
        let before = no_parity.clone();
        assert!(code.reconstruct(&mut no_parity));
        assert_eq!(no_parity, before);
        // A missing parity buffer of the wrong length does not stop a data rebuild.
        let mut odd_parity = shards(&[0, 5]);
        odd_parity[5].0.truncate(7);
        odd_parity[0].0.fill(0xEE);
        assert!(code.reconstruct(&mut odd_parity));
        assert_eq!(odd_parity[0].0, group[0]);
        assert_eq!(odd_parity[5].0.len(), 7);
    }

    #[test]
    fn codes_of_checked_geometries_build_and_others_do_not() {
        assert!(Code::new(0, 3).is_err());
        assert!(Code::new(3, 0).is_err());
        assert!(Code::new(200, 57).is_err());
        let code = Code::new(128, 128).unwrap();
        assert_eq!(code.coefficient(0, 0), 0x6c);
        let code = Code::new(10, 3).unwrap();
        let row: Vec<u8> = (0..10).map(|i| code.coefficient(2, i)).collect();
        assert_eq!(
            row,
            [0xbf, 0xd6, 0x62, 0x0a, 0x06, 0x6f, 0xdf, 0xb7, 0x05, 0x04]
        );
    }
}

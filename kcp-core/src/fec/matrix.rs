//! The code's matrices over GF(2^8): kcp-go's encoding matrix, and the decoding rows that
//! rebuild lost data shards.
//!
//! The encoding matrix is klauspost/reedsolomon's (the library kcp-go uses): the Vandermonde
//! matrix with `data + parity` rows, entry `(r, c)` being `r^c`, multiplied by the inverse of
//! its top `data × data` square. The top becomes the identity (data shards are sent as they
//! are) and any `data` rows stay linearly independent, so any `data` shards determine the
//! rest. Parity bytes depend on every coefficient, so kcp-go interoperability needs exactly
//! this matrix.
//!
//! Decoding follows the same library: the rows of the first `data` present shards (in shard
//! order) form a square sub-matrix, and the rows of its inverse that belong to the missing data
//! shards turn the present shards back into the lost ones. The inverse is unique, so
//! [`Decoding`] computes those rows directly from the small system the missing shards make,
//! without inverting the whole `data × data` sub-matrix (see [`Decoding::plan`]).

use super::galois::{self, mul};

/// A matrix over GF(2^8), row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    cells: Vec<u8>,
}

impl Matrix {
    /// The `rows × cols` zero matrix.
    pub fn zero(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            cells: vec![0; rows * cols],
        }
    }

    /// The `n × n` identity.
    pub fn identity(n: usize) -> Matrix {
        let mut m = Matrix::zero(n, n);
        for i in 0..n {
            m.set(i, i, 1);
        }
        m
    }

    /// The matrix with entry `(r, c) = r^c` (`0^0 = 1`). Rows are distinct field elements, so
    /// any `cols` of them are linearly independent.
    ///
    /// # Panics
    ///
    /// If `rows` exceeds 256, the field's size.
    pub fn vandermonde(rows: usize, cols: usize) -> Matrix {
        assert!(rows <= 256, "{rows} rows in GF(2^8)");
        let mut m = Matrix::zero(rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                m.set(r, c, galois::pow(r as u8, c));
            }
        }
        m
    }

    /// A matrix from its rows, each `cols` long.
    #[cfg(test)]
    pub fn from_rows(cols: usize, cells: Vec<u8>) -> Matrix {
        assert!(cols > 0 && cells.len() % cols == 0, "ragged matrix");
        Matrix {
            rows: cells.len() / cols,
            cols,
            cells,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Entry `(r, c)`.
    pub fn get(&self, r: usize, c: usize) -> u8 {
        self.cells[r * self.cols + c]
    }

    /// Sets entry `(r, c)`.
    pub fn set(&mut self, r: usize, c: usize, value: u8) {
        self.cells[r * self.cols + c] = value;
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[u8] {
        &self.cells[r * self.cols..(r + 1) * self.cols]
    }

    /// The rows `from..to`.
    pub fn row_range(&self, from: usize, to: usize) -> Matrix {
        Matrix {
            rows: to - from,
            cols: self.cols,
            cells: self.cells[from * self.cols..to * self.cols].to_vec(),
        }
    }

    /// `self · other`.
    ///
    /// # Panics
    ///
    /// If the shapes do not chain.
    pub fn multiply(&self, other: &Matrix) -> Matrix {
        assert_eq!(self.cols, other.rows, "matrix shapes do not chain");
        let mut out = Matrix::zero(self.rows, other.cols);
        for r in 0..self.rows {
            let dst = &mut out.cells[r * other.cols..(r + 1) * other.cols];
            for (k, &a) in self.row(r).iter().enumerate() {
                galois::mul_add_slice(a, other.row(k), dst);
            }
        }
        out
    }

    /// The inverse; `None` if the matrix is not square or is singular.
    pub fn invert(&self) -> Option<Matrix> {
        if self.rows != self.cols {
            return None;
        }
        let n = self.rows;
        let mut work = self.cells.clone();
        let mut inverse = Matrix::identity(n);
        invert(&mut work, &mut inverse.cells, n).then_some(inverse)
    }
}

/// Gauss-Jordan elimination: turns `a` (`n × n`, row-major) into the identity while applying
/// the same row operations to `inverse`, which must start as the identity and ends as `a`'s
/// inverse. Returns `false`, with both left in an unspecified state, if `a` is singular.
pub fn invert(a: &mut [u8], inverse: &mut [u8], n: usize) -> bool {
    assert!(
        a.len() == n * n && inverse.len() == n * n,
        "{n} × {n} matrices"
    );
    for col in 0..n {
        // A row at or below the diagonal with a non-zero entry in this column becomes the
        // pivot; none means the columns so far are dependent.
        let Some(pivot) = (col..n).find(|&r| a[r * n + col] != 0) else {
            return false;
        };
        if pivot != col {
            swap_rows(a, n, pivot, col);
            swap_rows(inverse, n, pivot, col);
        }
        let scale = galois::inv(a[col * n + col]);
        if scale != 1 {
            scale_row(&mut a[col * n..(col + 1) * n], scale);
            scale_row(&mut inverse[col * n..(col + 1) * n], scale);
        }
        for r in (0..n).filter(|&r| r != col) {
            let factor = a[r * n + col];
            if factor != 0 {
                // row r ^= factor · row col (subtraction is addition in GF(2^8)).
                eliminate(a, n, col, r, factor);
                eliminate(inverse, n, col, r, factor);
            }
        }
    }
    true
}

fn swap_rows(m: &mut [u8], n: usize, a: usize, b: usize) {
    let (low, high) = (a.min(b), a.max(b));
    let (head, tail) = m.split_at_mut(high * n);
    head[low * n..(low + 1) * n].swap_with_slice(&mut tail[..n]);
}

fn scale_row(row: &mut [u8], factor: u8) {
    row.iter_mut().for_each(|x| *x = mul(*x, factor));
}

/// `row dst ^= factor · row src`.
fn eliminate(m: &mut [u8], n: usize, src: usize, dst: usize, factor: u8) {
    let (src_row, dst_row) = if src < dst {
        let (head, tail) = m.split_at_mut(dst * n);
        (&head[src * n..(src + 1) * n], &mut tail[..n])
    } else {
        let (head, tail) = m.split_at_mut(src * n);
        (&tail[..n], &mut head[dst * n..(dst + 1) * n])
    };
    galois::mul_add_slice(factor, src_row, dst_row);
}

/// The parity rows of kcp-go's `(data, parity)` encoding matrix: row `j`, column `i` is the
/// coefficient of data shard `i` in parity shard `j`. `None` only if the geometry cannot be
/// a code (more than 256 shards, or none).
pub fn parity_rows(data: usize, parity: usize) -> Option<Matrix> {
    if data == 0 || data + parity > 256 {
        return None;
    }
    let vandermonde = Matrix::vandermonde(data + parity, data);
    let top = vandermonde.row_range(0, data).invert()?;
    // Only the bottom rows are needed: the top times its own inverse is the identity.
    Some(vandermonde.row_range(data, data + parity).multiply(&top))
}

/// How to rebuild the missing data shards of one loss pattern, and the buffers to work it out
/// in (kept across patterns, so planning allocates nothing once they have grown).
#[derive(Debug, Default)]
pub struct Decoding {
    /// Missing data positions, ascending.
    missing: Vec<usize>,
    /// The shards the rebuild reads, in shard order: every present data shard, then the first
    /// present parity shards, as many as data shards are missing.
    inputs: Vec<usize>,
    /// For each missing shard, its coefficient for each input (`missing × inputs`).
    rows: Vec<u8>,
    /// The missing columns of the chosen parity rows, then its inverse (`missing²` each).
    system: Vec<u8>,
    inverse: Vec<u8>,
}

impl Decoding {
    /// Plans the rebuild of the data shards of a `(data, parity)` code whose parity rows are
    /// `parity` (see [`parity_rows`]) when `present(i)` tells which shards arrived. Returns
    /// `false` if fewer than `data` shards are present (or, which a valid code never gives,
    /// the chosen rows are dependent).
    ///
    /// The rows of the first `data` present shards form the square matrix `S`, and missing
    /// data shard `l` is row `l` of `S⁻¹` applied to those shards. With `D` the present data
    /// positions, `L` the missing ones and `P` the chosen parity rows, the parity equations
    /// read `A · d_L = p_P + B · d_D` with `A = M[P][L]` and `B = M[P][D]` (the parity rows
    /// restricted to those columns), so `d_L = A⁻¹ · p_P + (A⁻¹ · B) · d_D`: the rows of `S⁻¹`
    /// come out of a `|L| × |L|` inversion.
    pub fn plan(&mut self, parity: &Matrix, present: impl Fn(usize) -> bool) -> bool {
        let data = parity.cols();
        let total = data + parity.rows();
        self.missing.clear();
        self.inputs.clear();
        self.missing.extend((0..data).filter(|&i| !present(i)));
        self.inputs.extend((0..data).filter(|&i| present(i)));
        let lost = self.missing.len();
        self.inputs
            .extend((data..total).filter(|&i| present(i)).take(lost));
        if self.inputs.len() < data {
            return false;
        }
        let chosen = &self.inputs[data - lost..];

        self.system.clear();
        for &p in chosen {
            let row = parity.row(p - data);
            self.system.extend(self.missing.iter().map(|&l| row[l]));
        }
        self.inverse.clear();
        self.inverse.resize(lost * lost, 0);
        for i in 0..lost {
            self.inverse[i * lost + i] = 1;
        }
        if !invert(&mut self.system, &mut self.inverse, lost) {
            return false;
        }

        self.rows.clear();
        self.rows.resize(lost * data, 0);
        for (a, out) in self.rows.chunks_exact_mut(data).enumerate() {
            let inverse_row = &self.inverse[a * lost..(a + 1) * lost];
            // Present data inputs: (A⁻¹ · B)[a][·].
            for (col, &i) in self.inputs[..data - lost].iter().enumerate() {
                out[col] = chosen
                    .iter()
                    .zip(inverse_row)
                    .fold(0, |acc, (&p, &x)| acc ^ mul(x, parity.get(p - data, i)));
            }
            // Parity inputs: A⁻¹[a][·].
            out[data - lost..].copy_from_slice(inverse_row);
        }
        true
    }

    /// The missing data positions, ascending.
    pub fn missing(&self) -> &[usize] {
        &self.missing
    }

    /// The shard positions the rebuild reads.
    pub fn inputs(&self) -> &[usize] {
        &self.inputs
    }

    /// The coefficients that rebuild the `n`th missing shard, one per input.
    pub fn row(&self, n: usize) -> &[u8] {
        let width = self.inputs.len();
        &self.rows[n * width..(n + 1) * width]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Rng;

    fn random_matrix(rng: &mut Rng, n: usize) -> Matrix {
        Matrix::from_rows(n, (0..n * n).map(|_| rng.next_u64() as u8).collect())
    }

    /// Parity rows of reed-solomon-erasure 6.0 (which builds klauspost/reedsolomon's matrix),
    /// printed by encoding unit vectors with it: CRC-32 of the rows concatenated, and the first
    /// bytes of the first and last rows.
    const REFERENCE: &[((usize, usize), u32, &str, &str)] = &[
        ((1, 1), 0xa505df1b, "01", "01"),
        ((2, 1), 0x84fa2010, "0302", "0302"),
        ((1, 2), 0x2fc51328, "01", "01"),
        ((3, 2), 0xd5a454d3, "010101", "0f0806"),
        ((4, 2), 0xe85894d7, "1b1c1214", "1c1b1412"),
        (
            (10, 3),
            0xabb920d0,
            "8196afb8d2c4fee80302",
            "bfd6620a066fdfb70504",
        ),
        ((5, 5), 0xb773d6ad, "0707060601", "1f6089e116"),
        (
            (16, 4),
            0x367e40bf,
            "21b5f685df02b7873edd4aa48dda6130",
            "85f6b52187b702dfa44add3e3061da8d",
        ),
        (
            (20, 10),
            0x05db01cc,
            "8fae5b70d0cd544339a3c9581bbbb318",
            "8d205b1746f21b4f7fe386fa059a4f31",
        ),
        (
            (32, 32),
            0xf20535af,
            "c4057f152b49f672a9d49f24e0d76993",
            "ea89efce994b4eb00832a4d3a1368073",
        ),
        (
            (64, 16),
            0xe1c9b586,
            "0b281a9a2ac9c8cf2d5ba6be3d8659d0",
            "d059863dbea65b2dcfc8c92a9a1a280b",
        ),
        (
            (128, 127),
            0xb22353b8,
            "6c4dbe74ed17b7fa39c49cb451b908f3",
            "e5d3e1db87c915776b030c06ee8fabbb",
        ),
        (
            (128, 128),
            0x76ea80f4,
            "6c4dbe74ed17b7fa39c49cb451b908f3",
            "d3e5dbe1c9877715036b060c8feebbab",
        ),
        (
            (200, 56),
            0x8d522162,
            "d1f03076f4dfcfce36ebf25fafd5f8bf",
            "1e63b3bb98804aa98d02070ec8c301e2",
        ),
        (
            (255, 1),
            0x561265f9,
            "01010101010101010101010101010101",
            "01010101010101010101010101010101",
        ),
        ((1, 255), 0x561265f9, "01", "01"),
        ((2, 254), 0x27f0847d, "0302", "feff"),
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn parity_rows_match_reed_solomon_erasure() {
        for &((data, parity), crc, first, last) in REFERENCE {
            let m = parity_rows(data, parity).expect("valid geometry");
            assert_eq!((m.rows(), m.cols()), (parity, data));
            assert_eq!(crc32fast::hash(&m.cells), crc, "({data}, {parity})");
            let shown = data.min(16);
            assert_eq!(
                hex(&m.row(0)[..shown]),
                first,
                "({data}, {parity}) first row"
            );
            assert_eq!(
                hex(&m.row(parity - 1)[..shown]),
                last,
                "({data}, {parity}) last row"
            );
        }
    }

    #[test]
    fn the_full_encoding_matrix_is_systematic_and_any_data_rows_invert() {
        let (data, parity) = (6, 4);
        let full = Matrix::vandermonde(data + parity, data)
            .multiply(&Matrix::vandermonde(data, data).invert().unwrap());
        assert_eq!(full.row_range(0, data), Matrix::identity(data));
        assert_eq!(
            full.row_range(data, data + parity),
            parity_rows(data, parity).unwrap()
        );
        // Every choice of `data` rows out of `data + parity` is invertible: the MDS property.
        for mask in 0u32..1 << (data + parity) {
            if mask.count_ones() as usize != data {
                continue;
            }
            let cells = (0..data + parity)
                .filter(|r| mask & 1 << r != 0)
                .flat_map(|r| full.row(r).to_vec())
                .collect();
            let sub = Matrix::from_rows(data, cells);
            let inverse = sub.invert().expect("MDS: any data rows are independent");
            assert_eq!(sub.multiply(&inverse), Matrix::identity(data));
        }
    }

    #[test]
    fn invert_gives_the_inverse_of_random_matrices() {
        let mut rng = Rng::new(7);
        let mut inverted = 0;
        for n in 1..=12 {
            for _ in 0..40 {
                let m = random_matrix(&mut rng, n);
                if let Some(inverse) = m.invert() {
                    assert_eq!(m.multiply(&inverse), Matrix::identity(n));
                    assert_eq!(inverse.multiply(&m), Matrix::identity(n));
                    inverted += 1;
                }
            }
        }
        // A random n × n matrix over GF(256) is invertible with probability about 0.996.
        assert!(inverted > 450, "{inverted} of 480 inverted");
    }

    #[test]
    fn inverting_a_singular_matrix_is_refused() {
        assert_eq!(Matrix::zero(1, 1).invert(), None);
        assert_eq!(Matrix::zero(4, 4).invert(), None);
        // Not square.
        assert_eq!(Matrix::vandermonde(4, 3).invert(), None);
        // Two equal rows, a zero column, a row that is the sum of two others, a row that is
        // another scaled.
        let mut rng = Rng::new(3);
        for n in 2..=8 {
            let base = random_matrix(&mut rng, n);
            let mut equal = base.clone();
            for c in 0..n {
                equal.set(n - 1, c, base.get(0, c));
            }
            let mut zero_column = base.clone();
            for r in 0..n {
                zero_column.set(r, n / 2, 0);
            }
            let mut sum = base.clone();
            let mut scaled = base.clone();
            for c in 0..n {
                sum.set(n - 1, c, base.get(0, c) ^ base.get(1, c));
                scaled.set(1, c, mul(base.get(0, c), 0x53));
            }
            let mut cases = vec![equal, zero_column, scaled];
            if n > 2 {
                // (With two rows, the last one is one of the two summed.)
                cases.push(sum);
            }
            for singular in cases {
                assert_eq!(singular.invert(), None, "{singular:?}");
            }
        }
        // A row of the Vandermonde matrix taken twice.
        let v = Matrix::vandermonde(5, 5);
        let mut twice = v.clone();
        for c in 0..5 {
            twice.set(3, c, v.get(2, c));
        }
        assert_eq!(twice.invert(), None);
        // The in-place form says so too.
        let mut a = vec![1, 2, 2, 4];
        let mut inverse = vec![1, 0, 0, 1];
        assert!(!invert(&mut a, &mut inverse, 2));
    }

    #[test]
    fn impossible_geometries_have_no_matrix() {
        assert_eq!(parity_rows(0, 3), None);
        assert_eq!(parity_rows(200, 57), None);
        assert!(parity_rows(1, 255).is_some());
    }

    #[test]
    fn decoding_rows_are_rows_of_the_inverted_sub_matrix() {
        // The rows `plan` derives from the small system equal those of the whole sub-matrix
        // inverted, as klauspost/reedsolomon decodes.
        let (data, parity) = (7, 5);
        let rows = parity_rows(data, parity).unwrap();
        let mut full = Matrix::identity(data).cells;
        full.extend_from_slice(&rows.cells);
        let full = Matrix::from_rows(data, full);
        let mut decoding = Decoding::default();
        for mask in 0u32..1 << (data + parity) {
            let present = |i: usize| mask & 1 << i != 0;
            let count = mask.count_ones() as usize;
            assert_eq!(decoding.plan(&rows, present), count >= data, "{mask:b}");
            if count < data {
                continue;
            }
            let chosen: Vec<usize> = (0..data + parity).filter(|&i| present(i)).collect();
            assert_eq!(decoding.inputs(), &chosen[..data]);
            let cells = chosen[..data]
                .iter()
                .flat_map(|&r| full.row(r).to_vec())
                .collect();
            let inverse = Matrix::from_rows(data, cells).invert().unwrap();
            let missing: Vec<usize> = (0..data).filter(|&i| !present(i)).collect();
            assert_eq!(decoding.missing(), &missing[..]);
            for (n, &l) in missing.iter().enumerate() {
                assert_eq!(decoding.row(n), inverse.row(l), "{mask:b} shard {l}");
            }
        }
    }
}

//! `Matrix`: a small row-major f64 matrix as the trace shows it, serialised as nested arrays.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A (rows, cols) matrix, row-major; in JSON an array of rows, each an array of numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The values, `data[r * cols + c]`.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A (rows, cols) matrix of `data`; `data.len()` must be rows·cols.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Matrix {
        debug_assert_eq!(data.len(), rows * cols);
        Matrix { rows, cols, data }
    }

    /// One row holding `v`, (1, len).
    pub fn row(v: &[f64]) -> Matrix {
        Matrix::new(1, v.len(), v.to_vec())
    }

    /// The transpose of a (k, n) row-major `w`: (n, k), so a weight stored (fan_in, fan_out)
    /// reads as W^\[l\], one row per unit.
    pub fn transposed(k: usize, n: usize, w: &[f64]) -> Matrix {
        let mut t = vec![0.0; k * n];
        for i in 0..k {
            for j in 0..n {
                t[j * k + i] = w[i * n + j];
            }
        }
        Matrix::new(n, k, t)
    }

    /// Element (r, c).
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// The largest |value|, 0 for an empty matrix.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    /// The Frobenius norm.
    pub fn norm(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// The smallest and largest value; (0, 0) for an empty matrix.
    pub fn min_max(&self) -> (f64, f64) {
        if self.data.is_empty() {
            return (0.0, 0.0);
        }
        self.data
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }
}

impl Serialize for Matrix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let rows: Vec<&[f64]> = if self.cols == 0 {
            Vec::new()
        } else {
            self.data.chunks(self.cols).collect()
        };
        rows.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Matrix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Matrix, D::Error> {
        let rows: Vec<Vec<f64>> = Vec::deserialize(d)?;
        let cols = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != cols) {
            return Err(serde::de::Error::custom("matrix rows of different lengths"));
        }
        let n = rows.len();
        Ok(Matrix::new(n, cols, rows.into_iter().flatten().collect()))
    }
}

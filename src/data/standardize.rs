//! Per-feature standardisation, `x' = (x - mean) / std`, with statistics from the training rows
//! only; stored in checkpoints so evaluation and prediction apply the same transform.

use super::{Dataset, Inputs};
use crate::error::{Error, Result};

/// A feature whose standard deviation is at most this fraction of its mean's magnitude is
/// constant: two passes in f64 give exactly 0 for equal values, and anything this far below
/// f32's resolution (2^-24, about 6e-8) is the arithmetic's residue, not the data's.
pub const CONSTANT_RELATIVE: f64 = 1e-9;

/// The statistics of each input feature. A feature that never varies (relative to its
/// magnitude, `CONSTANT_RELATIVE`) keeps std 1, so it maps to zero rather than dividing by
/// zero; a tiny-scale one (std 1e-13 about 0) is scaled like any other.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardize {
    /// Per-feature mean of the training rows, `dim` values.
    pub mean: Vec<f32>,
    /// Per-feature population standard deviation, `dim` values, each positive (1 for a constant
    /// feature).
    pub std: Vec<f32>,
}

impl Standardize {
    /// Mean and (population) standard deviation of every feature of `d`, in f64 and in two
    /// passes (the mean, then the squared deviations from it), so that values far from zero
    /// keep their spread.
    pub fn fit(d: &Dataset) -> Standardize {
        let mut sum = vec![0f64; d.dim];
        let mut row = vec![0f32; d.dim];
        for i in 0..d.n {
            d.x.copy_row(i, &mut row);
            for (s, &v) in sum.iter_mut().zip(&row) {
                *s += v as f64;
            }
        }
        let n = d.n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0f64; d.dim];
        for i in 0..d.n {
            d.x.copy_row(i, &mut row);
            for ((q, &v), m) in sq.iter_mut().zip(&row).zip(&mean) {
                let dev = v as f64 - m;
                *q += dev * dev;
            }
        }
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let s = (q / n).sqrt();
                let constant = s <= CONSTANT_RELATIVE * m.abs() || !(s as f32).is_normal();
                if constant { 1.0 } else { s as f32 }
            })
            .collect();
        Standardize {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// `x` (n, dim) standardised: bytes stay bytes, with the transform folded into a scale and
    /// an offset per feature (images keep a quarter of the memory, and fit the GPU's bindings);
    /// anything else as f32.
    pub fn apply(&self, x: &Inputs, n: usize) -> Result<Inputs> {
        let dim = self.mean.len();
        if x.len() != n * dim || self.std.len() != dim {
            return Err(Error::Shape(format!(
                "standardising {} values as {n} rows of {dim}",
                x.len()
            )));
        }
        if let Inputs::U8 { data, scale } = x {
            // (b·scale - mean) / std = b·(scale / std) + (-mean / std)
            return Ok(Inputs::U8Affine {
                data: data.clone(),
                scale: self.std.iter().map(|s| scale / s).collect(),
                offset: self
                    .mean
                    .iter()
                    .zip(&self.std)
                    .map(|(m, s)| -m / s)
                    .collect(),
            });
        }
        let mut out = vec![0f32; n * dim];
        for (i, row) in out.chunks_exact_mut(dim.max(1)).enumerate().take(n) {
            x.copy_row(i, row);
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(Inputs::F32(out))
    }

    /// `d` with its inputs standardised.
    pub fn apply_to(&self, d: Dataset) -> Result<Dataset> {
        if d.dim != self.mean.len() {
            return Err(Error::Shape(format!(
                "{} has {} inputs, the standardisation {}",
                d.name,
                d.dim,
                self.mean.len()
            )));
        }
        let x = self.apply(&d.x, d.n)?;
        Dataset::with_inputs(d.name, x, d.n, d.dim, d.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;

    #[test]
    fn standardize_gives_zero_mean_unit_variance_and_leaves_constants_at_zero() {
        let x = vec![1.0, 5.0, 3.0, 5.0, 5.0, 5.0, 7.0, 5.0];
        let d = Dataset::new(
            "t",
            x,
            4,
            2,
            Targets::Values {
                values: vec![0.0; 4],
                width: 1,
            },
        )
        .unwrap();
        let s = Standardize::fit(&d);
        assert_eq!(s.mean, [4.0, 5.0]);
        assert_eq!(s.std, [5f32.sqrt(), 1.0]);
        let out = s.apply_to(d).unwrap().x.to_f32();
        let col0: Vec<f32> = out.iter().step_by(2).copied().collect();
        let mean: f32 = col0.iter().sum::<f32>() / 4.0;
        let var: f32 = col0.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{col0:?}");
        assert!(out.iter().skip(1).step_by(2).all(|&v| v == 0.0));
    }

    #[test]
    fn constant_is_relative_to_the_magnitude_so_tiny_scales_are_scaled() {
        // Column 0: 1e-13 apart (constant under an absolute 1e-12 rule); column 1: 1e6 always.
        let x = vec![1e-13, 1e6, 2e-13, 1e6, 3e-13, 1e6, 4e-13, 1e6];
        let d = Dataset::new(
            "t",
            x,
            4,
            2,
            Targets::Values {
                values: vec![0.0; 4],
                width: 1,
            },
        )
        .unwrap();
        let s = Standardize::fit(&d);
        let want = (1.25f64).sqrt() * 1e-13;
        assert!(
            ((s.std[0] as f64 - want) / want).abs() < 1e-6,
            "{:?}",
            s.std
        );
        assert_eq!((s.mean[1], s.std[1]), (1e6, 1.0));
        let out = s.apply_to(d).unwrap().x.to_f32();
        assert!((out[0] + 1.3416).abs() < 1e-4, "{out:?}");
    }
}

//! Per-feature standardisation, `x' = (x - mean) / std`, with statistics from the training rows
//! only; stored in checkpoints so evaluation and prediction apply the same transform.

use super::{Dataset, Inputs};
use crate::error::{Error, Result};

/// The statistics of each input feature. A feature that never varies keeps std 1, so it maps to
/// zero rather than dividing by zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardize {
    /// Per-feature mean of the training rows, `dim` values.
    pub mean: Vec<f32>,
    /// Per-feature population standard deviation, `dim` values, each positive (1 for a constant
    /// feature).
    pub std: Vec<f32>,
}

impl Standardize {
    /// Mean and (population) standard deviation of every feature of `d`, accumulated in f64.
    pub fn fit(d: &Dataset) -> Standardize {
        let mut sum = vec![0f64; d.dim];
        let mut sq = vec![0f64; d.dim];
        let mut row = vec![0f32; d.dim];
        for i in 0..d.n {
            d.x.copy_row(i, &mut row);
            for (j, &v) in row.iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += v as f64 * v as f64;
            }
        }
        let n = d.n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| {
                let var = (q / n - m * m).max(0.0);
                let s = var.sqrt();
                if s > 1e-12 { s as f32 } else { 1.0 }
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
}

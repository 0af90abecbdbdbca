//! Inference with a trained model: outputs, loss, accuracy, confusion matrix and per-class
//! precision / recall / F1. Runs the fast CPU path's forward pass, in chunks of rows.

use crate::cpu::fast::{argmax, matmul_forward};
use crate::cpu::reference::loss_forward_backward;
use crate::data::{Dataset, Inputs, Targets};
use crate::error::{Error, Result};
use crate::model::{Loss, Output, Params, Spec};

/// Rows per forward chunk: bounds the working memory for large sets.
const CHUNK: usize = 1024;

/// The network's outputs for `n` rows of `x` (n, inputs): probabilities for softmax and sigmoid
/// outputs, values for linear ones. (n, outputs) row-major.
pub fn predict(spec: &Spec, params: &Params, x: &Inputs, n: usize) -> Result<Vec<f32>> {
    let mut out = forward(spec, params, x, n)?;
    let w = spec.outputs();
    for (r, row) in out.chunks_exact_mut(w).enumerate() {
        apply_output(spec, row);
        if let Some(v) = row.iter().find(|v| !v.is_finite()) {
            return Err(Error::Diverged(format!(
                "the model's output for row {r} (0-based) is {v}: its parameters overflow on this input"
            )));
        }
    }
    Ok(out)
}

/// The last layer's output before the parts of the output activation that the loss fuses
/// (logits for softmax and bce): what the loss functions take.
fn forward(spec: &Spec, params: &Params, x: &Inputs, n: usize) -> Result<Vec<f32>> {
    params.check_shapes(spec)?;
    let d = spec.inputs();
    if x.len() != n * d {
        return Err(Error::Shape(format!(
            "{} input values for {n} rows of {d}",
            x.len()
        )));
    }
    let w = spec.outputs();
    let mut out = vec![0f32; n * w];
    let widest = spec.sizes.iter().copied().max().unwrap_or(1);
    let mut a = vec![0f32; CHUNK * widest];
    let mut b = vec![0f32; CHUNK * widest];
    for start in (0..n).step_by(CHUNK) {
        let m = CHUNK.min(n - start);
        for i in 0..m {
            x.copy_row(start + i, &mut a[i * d..(i + 1) * d]);
        }
        for l in 0..spec.n_layers() {
            let (k, o) = spec.layer_shape(l);
            let layer = &params.layers[l];
            matmul_forward(
                &mut b,
                &a,
                &layer.w,
                &layer.b,
                m,
                k,
                o,
                spec.layer_activation(l),
            );
            std::mem::swap(&mut a, &mut b);
        }
        out[start * w..(start + m) * w].copy_from_slice(&a[..m * w]);
    }
    Ok(out)
}

/// Turns one row of `forward`'s output into what the model predicts.
fn apply_output(spec: &Spec, row: &mut [f32]) {
    match (spec.output, spec.loss) {
        (Output::Softmax, _) => {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&z| (z - max).exp()).sum();
            row.iter_mut().for_each(|z| *z = (*z - max).exp() / sum);
        }
        (Output::Sigmoid, Loss::Bce) => row.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp())),
        // mse with a sigmoid output applies it in the forward pass already.
        _ => {}
    }
}

/// Precision, recall and F1 of one class, and how many samples belong to it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMetrics {
    /// Of the samples predicted as this class, the fraction that belong to it; 0 if none are.
    pub precision: f64,
    /// Of the samples of this class, the fraction predicted as it; 0 when the class has none.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// Samples whose true class this is.
    pub support: usize,
}

/// What `evaluate` measures.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Samples evaluated.
    pub n: usize,
    /// The mean data loss (as in training, without the L2 term).
    pub loss: f64,
    /// Fraction of samples whose largest output is their class, in [0, 1]; None for value
    /// targets, which get no accuracy, confusion matrix or per-class metrics.
    pub accuracy: Option<f64>,
    /// `confusion[true][predicted]` sample counts, (outputs, outputs); empty for value targets.
    pub confusion: Vec<Vec<usize>>,
    /// Metrics of each class, indexed by class (one per model output); empty for value targets.
    pub per_class: Vec<ClassMetrics>,
}

impl Evaluation {
    /// One JSON object: `n`, `loss`, `accuracy` (null for value targets), `confusion` and
    /// `per_class` (`class`, `precision`, `recall`, `f1`, `support`).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "n": self.n,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "confusion": self.confusion,
            "per_class": self.per_class.iter().enumerate().map(|(c, m)| serde_json::json!({
                "class": c, "precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support,
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Accuracy, the per-class table and the confusion matrix, for people.
    pub fn to_table(&self) -> String {
        let mut s = format!("samples {}\nloss {:.4}\n", self.n, self.loss);
        let Some(acc) = self.accuracy else {
            return s;
        };
        s += &format!(
            "accuracy {:.2}%\n\nclass  precision  recall      f1  support\n",
            acc * 100.0
        );
        for (c, m) in self.per_class.iter().enumerate() {
            s += &format!(
                "{c:>5}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}\n",
                m.precision, m.recall, m.f1, m.support
            );
        }
        s += "\nconfusion matrix (rows: true class, columns: predicted)\n      ";
        for c in 0..self.confusion.len() {
            s += &format!("{c:>6}");
        }
        s.push('\n');
        for (t, row) in self.confusion.iter().enumerate() {
            s += &format!("{t:>5} ");
            for v in row {
                s += &format!("{v:>6}");
            }
            s.push('\n');
        }
        s
    }
}

/// Loss, and for class targets accuracy, confusion matrix and per-class metrics, of the model on
/// `data`. The data must fit the model: as many inputs, as many classes or target columns.
pub fn evaluate(spec: &Spec, params: &Params, data: &Dataset) -> Result<Evaluation> {
    if data.dim != spec.inputs() {
        return Err(Error::Shape(format!(
            "{} has {} inputs per sample, the model takes {}",
            data.name,
            data.dim,
            spec.inputs()
        )));
    }
    let w = spec.outputs();
    if data.target_width() > w {
        return Err(Error::Shape(format!(
            "{} has {} {}, the model has {w} outputs",
            data.name,
            data.target_width(),
            if matches!(data.targets, Targets::Classes { .. }) {
                "classes"
            } else {
                "target columns"
            }
        )));
    }
    let out = forward(spec, params, &data.x, data.n)?;
    let sigmoid_out =
        spec.layer_activation(spec.n_layers() - 1) == crate::model::Activation::Sigmoid;
    let mut loss = 0.0;
    let mut y = vec![0f64; CHUNK * w];
    let mut dz = vec![0f64; CHUNK * w];
    let mut row = vec![0f32; w];
    for start in (0..data.n).step_by(CHUNK) {
        let m = CHUNK.min(data.n - start);
        for i in 0..m {
            // A set with fewer classes than the model's outputs: the missing ones are zero.
            row.fill(0.0);
            data.target_row(start + i, &mut row[..data.target_width()]);
            for (t, &v) in y[i * w..(i + 1) * w].iter_mut().zip(&row) {
                *t = v as f64;
            }
        }
        let o: Vec<f64> = out[start * w..(start + m) * w]
            .iter()
            .map(|&v| v as f64)
            .collect();
        loss += loss_forward_backward(&mut dz, &o, &y[..m * w], m, w, spec.loss, sigmoid_out);
    }
    let mut e = Evaluation {
        n: data.n,
        loss: loss / data.n as f64,
        accuracy: None,
        confusion: vec![],
        per_class: vec![],
    };
    if let Targets::Classes { labels, .. } = &data.targets {
        let mut confusion = vec![vec![0usize; w]; w];
        for (i, &l) in labels.iter().enumerate() {
            confusion[l as usize][argmax(&out[i * w..(i + 1) * w])] += 1;
        }
        let correct: usize = (0..w).map(|c| confusion[c][c]).sum();
        e.accuracy = Some(correct as f64 / data.n as f64);
        e.per_class = (0..w)
            .map(|c| {
                let tp = confusion[c][c] as f64;
                let predicted: usize = (0..w).map(|t| confusion[t][c]).sum();
                let support: usize = confusion[c].iter().sum();
                let ratio = |a: f64, b: usize| if b == 0 { 0.0 } else { a / b as f64 };
                let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassMetrics {
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        e.confusion = confusion;
    }
    Ok(e)
}

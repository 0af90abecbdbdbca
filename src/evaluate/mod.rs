//! Inference with a trained model: outputs, loss, accuracy, confusion matrix and per-class
//! precision / recall / F1 for class targets; MSE, RMSE, MAE and R² for value targets. Runs the
//! fast CPU path's forward pass, in chunks of rows.
//!
//! One file past 600 lines because every figure `Evaluation` reports is computed or printed
//! here from the same pass over the outputs (the classifier figures that look past the argmax
//! are in `classes`); its last 180 lines are its tests.

use crate::cpu::fast::{argmax, matmul_forward};
use crate::cpu::reference::loss_forward_backward;
use crate::data::standardize::Standardize;
use crate::data::{Dataset, Inputs, Targets};
use crate::error::{Error, Result};
use crate::model::{Loss, Output, Params, Spec};

mod classes;
pub use classes::Decision;

/// Rows per forward chunk: bounds the working memory for large sets.
const CHUNK: usize = 1024;

/// The characters a class name takes in eval's tables before it is cut (`to_table_named`).
pub const NAME_WIDTH: usize = 24;

/// `name` in at most `width` characters (at least 3): whole when it fits, else its start, `…`
/// and its end, the end one character longer for an even width.
fn cut(name: &str, width: usize) -> String {
    let n = name.chars().count();
    if n <= width {
        return name.to_string();
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let start: String = name.chars().take(head).collect();
    let end: String = name.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// `names` each cut to the narrowest width from `width` up at which the cut names are all as
/// different from each other as the names are (none made equal to another by the cut).
fn distinct_cuts(names: &[String], width: usize) -> Vec<String> {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let mut w = width.max(3);
    loop {
        let cut: Vec<String> = names.iter().map(|n| cut(n, w)).collect();
        let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
        let clash = cut
            .iter()
            .zip(names)
            .any(|(c, n)| seen.insert(c, n).is_some_and(|other| other != n));
        if !clash || w >= longest {
            return cut;
        }
        w += 1;
    }
}

/// The network's outputs for `n` rows of `x` (n, inputs): probabilities for softmax and sigmoid
/// outputs, values for linear ones. (n, outputs) row-major. A non-finite input is an
/// `Error::InvalidData` naming its row and column.
pub fn predict(spec: &Spec, params: &Params, x: &Inputs, n: usize) -> Result<Vec<f32>> {
    spec.check()?;
    if let Some(msg) = x.scales_misfit(spec.inputs()) {
        return Err(Error::invalid_data("the inputs", None, None, msg));
    }
    if let Some((r, c, v)) = x.first_non_finite(spec.inputs()) {
        return Err(Error::invalid_data(
            "the inputs",
            Some(r),
            Some(c),
            format!(
                "row {r}, column {c} (0-based) is {v} as the network sees it: inputs must be finite"
            ),
        ));
    }
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
/// (logits for softmax and bce): what the loss functions take. Refused first: parameters that
/// are not finite (a NaN in a ReLU layer can give finite outputs that mean nothing), and
/// outputs beyond this process's memory.
fn forward(spec: &Spec, params: &Params, x: &Inputs, n: usize) -> Result<Vec<f32>> {
    spec.check()?;
    params.check_shapes(spec)?;
    if let Some(bad) = params.first_non_finite() {
        return Err(Error::Diverged(format!(
            "the model's parameter {bad}: a model needs finite parameters to predict"
        )));
    }
    let d = spec.inputs();
    if n.checked_mul(d) != Some(x.len()) {
        return Err(Error::Shape(format!(
            "{} input values for {n} rows of {d}",
            x.len()
        )));
    }
    let w = spec.outputs();
    let widest = spec.sizes.iter().copied().max().unwrap_or(1);
    crate::memory::check(
        &format!("the outputs of {n} rows of a {} network", spec.describe()),
        (n as u64)
            .saturating_mul(w as u64)
            .saturating_add(2 * CHUNK as u64 * widest as u64)
            .saturating_mul(4),
    )?;
    let mut out = vec![0f32; n * w];
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

pub use crate::train::RegressionMetrics;

impl RegressionMetrics {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"mse": self.mse, "rmse": self.rmse, "mae": self.mae, "r2": self.r2})
    }
}

/// What `evaluate` measures.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Samples evaluated.
    pub n: usize,
    /// The mean data loss (as in training, without the L2 term): for mse, `½‖a - y‖²` per row
    /// (½·MSE for one target), in the targets' original units.
    pub loss: f64,
    /// The loss function `loss` is.
    pub objective: Loss,
    /// Fraction of samples whose largest output is their class, in [0, 1]; None for value
    /// targets, which get no accuracy, confusion matrix or per-class metrics.
    pub accuracy: Option<f64>,
    /// `confusion[true][predicted]` sample counts, (outputs, outputs); empty for value targets.
    pub confusion: Vec<Vec<usize>>,
    /// Metrics of each class, indexed by class (one per model output); empty for value targets.
    pub per_class: Vec<ClassMetrics>,
    /// The mean recall over the classes the set holds; None for value targets.
    pub balanced_accuracy: Option<f64>,
    /// ROC AUC: for two classes the second class's probability scored against its rows; for
    /// more, the mean of each class against the rest over the classes with rows on both sides.
    /// None for value targets or when no class has both.
    pub roc_auc: Option<f64>,
    /// The mean `-ln p(true class)` (in nats); None for value targets.
    pub log_loss: Option<f64>,
    /// The decision threshold the class figures were counted with (None: the most probable
    /// class).
    pub threshold: Option<f64>,
    /// MSE, RMSE, MAE and R² over all target columns, for value targets; None for classes.
    pub regression: Option<RegressionMetrics>,
    /// The same for each target column, in order; empty for class targets.
    pub per_target: Vec<RegressionMetrics>,
    /// The target columns' names, one per `per_target` entry (a CSV run's table gives them);
    /// empty: they are numbered.
    pub target_names: Vec<String>,
}

impl Evaluation {
    /// One JSON object: `n`, `loss` (the training loss: ½·MSE for mse with one target),
    /// `accuracy`, `balanced_accuracy`, `roc_auc`, `log_loss` (each null for value targets;
    /// `roc_auc` also when no class has rows on both sides), `threshold` (null: the most
    /// probable class), `confusion` and `per_class` (`class`, `precision`, `recall`, `f1`,
    /// `support`); for value targets `mse`, `rmse`, `mae`, `r2` over all targets
    /// (null for class targets; `r2` null where it is undefined) and `per_target` (`target`,
    /// `name` when `target_names` has it, and the same four, one per target column; empty for
    /// class targets).
    pub fn to_json(&self) -> String {
        let overall = |key: &str| {
            self.regression
                .as_ref()
                .map_or(serde_json::Value::Null, |r| r.to_json()[key].clone())
        };
        serde_json::json!({
            "n": self.n,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "confusion": self.confusion,
            "per_class": self.per_class.iter().enumerate().map(|(c, m)| serde_json::json!({
                "class": c, "precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support,
            })).collect::<Vec<_>>(),
            "balanced_accuracy": self.balanced_accuracy,
            "roc_auc": self.roc_auc,
            "log_loss": self.log_loss,
            "threshold": self.threshold,
            "mse": overall("mse"),
            "rmse": overall("rmse"),
            "mae": overall("mae"),
            "r2": overall("r2"),
            "per_target": self.per_target.iter().enumerate().map(|(t, m)| {
                let mut o = m.to_json();
                o["target"] = t.into();
                if let Some(name) = self.target_names.get(t) {
                    o["name"] = name.as_str().into();
                }
                o
            }).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// What `loss` is, for the line that prints it.
    fn loss_label(&self) -> String {
        match (self.objective, self.per_target.len()) {
            (Loss::Mse, 1) => "½·MSE, the mse training loss".into(),
            (Loss::Mse, k) if k > 1 => {
                format!("½·squared error summed over the {k} targets, mean over samples")
            }
            (Loss::Mse, _) => "½·squared error summed over the outputs, mean over samples".into(),
            (Loss::CrossEntropy, _) => "cross-entropy".into(),
            (Loss::Bce, _) => "binary cross-entropy summed over the outputs".into(),
        }
    }

    /// `to_json` with the class names: `classes` (a list) and `name` in each
    /// `per_class` entry.
    pub fn to_json_named(&self, names: Option<&[String]>) -> String {
        let json = self.to_json();
        let Some(names) = names else {
            return json;
        };
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&json) else {
            return json;
        };
        if let Some(per) = v.get_mut("per_class").and_then(|p| p.as_array_mut()) {
            for (c, m) in per.iter_mut().enumerate() {
                if let (Some(m), Some(n)) = (m.as_object_mut(), names.get(c)) {
                    m.insert("name".into(), n.clone().into());
                }
            }
        }
        if let Some(o) = v.as_object_mut() {
            o.insert("classes".into(), names.to_vec().into());
        }
        v.to_string()
    }

    /// `to_table` with class names in place of class numbers: a name over `NAME_WIDTH`
    /// characters is cut in its middle (`…`), its start and its end kept, at the narrowest width
    /// from `NAME_WIDTH` up at which the cut names are all different.
    pub fn to_table_named(&self, names: Option<&[String]>) -> String {
        let table = self.to_table();
        let (Some(names), Some(at)) = (names, table.find("\n\nclass  precision")) else {
            return table;
        };
        let full: Vec<String> = (0..self.per_class.len())
            .map(|c| names.get(c).map_or(c.to_string(), Clone::clone))
            .collect();
        let shown = distinct_cuts(&full, NAME_WIDTH);
        // The figures' lines name the positive class of two.
        let head = match full.get(1).filter(|_| full.len() == 2) {
            Some(second) => table[..at].replace("the second class", &format!("{second:?}")),
            None => table[..at].to_string(),
        };
        let w = shown
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        let name = |c: usize| -> &str { shown.get(c).map_or("", String::as_str) };
        let mut s = head;
        s += &format!("\n\n{:>w$}  precision  recall      f1  support\n", "class");
        for (c, m) in self.per_class.iter().enumerate() {
            s += &format!(
                "{:>w$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}\n",
                name(c),
                m.precision,
                m.recall,
                m.f1,
                m.support
            );
        }
        let cw = w.max(6);
        s += &format!(
            "\nconfusion matrix (rows: true class, columns: predicted)\n{:>w$} ",
            ""
        );
        for c in 0..self.confusion.len() {
            s += &format!(" {:>cw$}", name(c));
        }
        s.push('\n');
        for (t, row) in self.confusion.iter().enumerate() {
            s += &format!("{:>w$} ", name(t));
            for v in row {
                s += &format!(" {v:>cw$}");
            }
            s.push('\n');
        }
        s
    }

    /// Accuracy, the per-class table and the confusion matrix for class targets; MSE, RMSE, MAE
    /// and R² (and a table of them per target when there are several) for value targets. An
    /// undefined R² prints as `n/a`.
    pub fn to_table(&self) -> String {
        let mut s = format!(
            "samples {}\nloss {:.4} ({})\n",
            self.n,
            self.loss,
            self.loss_label()
        );
        let r2 = |r: Option<f64>| r.map_or("n/a".to_string(), |v| format!("{v:.4}"));
        if let Some(m) = &self.regression {
            s += &format!(
                "mse {}\nrmse {}\nmae {}\nr2 {}{}\n",
                figure(m.mse),
                figure(m.rmse),
                figure(m.mae),
                r2(m.r2),
                match (m.r2, self.per_target.len()) {
                    (None, _) => " (the targets do not vary in this set)",
                    (Some(_), k) if k > 1 => " (mean over the targets)",
                    _ => "",
                }
            );
            if self.per_target.len() > 1 {
                let name = |t: usize| self.target_names.get(t).cloned().unwrap_or(t.to_string());
                let w = (0..self.per_target.len())
                    .map(|t| name(t).chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(6);
                s += &format!(
                    "\n{:<w$}  {:>11}  {:>11}  {:>11}  {:>9}\n",
                    "target", "mse", "rmse", "mae", "r2"
                );
                for (t, m) in self.per_target.iter().enumerate() {
                    s += &format!(
                        "{:<w$}  {:>11}  {:>11}  {:>11}  {:>9}\n",
                        name(t),
                        figure(m.mse),
                        figure(m.rmse),
                        figure(m.mae),
                        r2(m.r2)
                    );
                }
            }
        }
        let Some(acc) = self.accuracy else {
            return s;
        };
        s += &format!("accuracy {:.2}%", acc * 100.0);
        if let Some(t) = self.threshold {
            s += &format!(" (the second class when its probability is at least {t})");
        }
        if let Some(b) = self.balanced_accuracy {
            s += &format!(
                "\nbalanced accuracy {:.2}% (the mean of the classes' recalls)",
                b * 100.0
            );
        }
        if let Some(a) = self.roc_auc {
            let how = if self.per_class.len() == 2 {
                "scored by the probability of the second class"
            } else {
                "each class against the rest, averaged"
            };
            s += &format!("\nroc auc {a:.4} ({how})");
        }
        if let Some(l) = self.log_loss {
            s += &format!("\nlog-loss {}", figure(l));
        }
        s += "\n\nclass  precision  recall      f1  support\n";
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

/// Loss, and for class targets accuracy, confusion matrix and per-class metrics, for value
/// targets MSE, RMSE, MAE and R², of the model on `data`. The data must fit the model: as many
/// inputs, as many classes or target columns.
pub fn evaluate(spec: &Spec, params: &Params, data: &Dataset) -> Result<Evaluation> {
    evaluate_scaled(spec, params, data, None)
}

/// `evaluate` for a network trained on standardised targets: its outputs are mapped back by
/// `targets` (`a·std + mean` per output) before anything is measured, so every figure is in
/// the units of `data`'s targets. `data` is checked first (`Dataset::check`).
pub fn evaluate_scaled(
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    targets: Option<&Standardize>,
) -> Result<Evaluation> {
    evaluate_with(spec, params, data, targets, Decision::Argmax)
}

/// `evaluate_scaled` with the classes decided by `decision` (a threshold for a model of two
/// classes, checked by `Decision::check`): the accuracy, confusion matrix, per-class and
/// balanced figures follow it; ROC AUC and log-loss do not depend on it.
pub fn evaluate_with(
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    targets: Option<&Standardize>,
    decision: Decision,
) -> Result<Evaluation> {
    spec.check()?;
    if matches!(data.targets, Targets::Classes { .. }) {
        decision.check(spec.outputs())?;
    }
    data.check()?;
    if data.n == 0 {
        return Err(Error::invalid_data(
            data.name.as_str(),
            None,
            None,
            "has no rows: evaluation needs at least one",
        ));
    }
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
    if matches!(data.targets, Targets::Classes { .. }) {
        // Class figures: the probabilities (n, w) beside the logits, a w x w confusion matrix.
        crate::memory::check(
            &format!("the class figures of {} rows of {w} classes", data.n),
            (data.n as u64)
                .saturating_mul(w as u64)
                .saturating_mul(4)
                .saturating_add((w as u64).saturating_mul(w as u64).saturating_mul(8)),
        )?;
    }
    let mut out = forward(spec, params, &data.x, data.n)?;
    if let Some(z) = targets {
        unscale_outputs(z, &mut out, w)?;
    }
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
        loss: loss / data.n.max(1) as f64,
        objective: spec.loss,
        accuracy: None,
        confusion: vec![],
        per_class: vec![],
        balanced_accuracy: None,
        roc_auc: None,
        log_loss: None,
        threshold: None,
        regression: None,
        per_target: vec![],
        target_names: vec![],
    };
    if let Targets::Values { values, width } = &data.targets {
        e.per_target = (0..*width)
            .map(|t| target_metrics(&out, w, values, *width, t))
            .collect();
        e.regression = Some(overall(&e.per_target));
    }
    if let Targets::Classes { labels, .. } = &data.targets {
        class_figures(&mut e, spec, &out, labels, decision);
    }
    Ok(e)
}

/// The class figures of `e` from the logits `z` (n, w) of a softmax classifier and the true
/// `labels`: confusion matrix (classes by `decision`), accuracy, per-class and balanced figures,
/// ROC AUC and log-loss.
fn class_figures(e: &mut Evaluation, spec: &Spec, z: &[f32], labels: &[u32], decision: Decision) {
    let w = spec.outputs();
    let mut probs = z.to_vec();
    for row in probs.chunks_exact_mut(w) {
        apply_output(spec, row);
    }
    let mut confusion = vec![vec![0usize; w]; w];
    for (i, &l) in labels.iter().enumerate() {
        // The most probable class from the logits, as before thresholds existed (a softmax in
        // f32 can round two close logits to one probability).
        let class = match decision {
            Decision::Argmax => argmax(&z[i * w..(i + 1) * w]),
            Decision::Threshold(_) => decision.class(&probs[i * w..(i + 1) * w]),
        };
        confusion[l as usize][class] += 1;
    }
    let correct: usize = (0..w).map(|c| confusion[c][c]).sum();
    e.accuracy = Some(correct as f64 / labels.len().max(1) as f64);
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
    e.balanced_accuracy =
        classes::balanced_accuracy(e.per_class.iter().map(|m| (m.recall, m.support)));
    e.roc_auc = classes::roc_auc(&probs, w, labels);
    e.log_loss = Some(classes::log_loss(z, w, labels));
    e.threshold = match decision {
        Decision::Threshold(t) => Some(t),
        Decision::Argmax => None,
    };
}

/// An error figure in the targets' units for people: 4 decimals, or 4 significant digits in
/// exponent form below 0.01 (targets on a small scale), so it never prints as 0.0000 unless it is.
pub fn figure(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// `out` (n, w) mapped back from standardised targets: `a·std + mean` per output.
pub(crate) fn unscale_outputs(z: &Standardize, out: &mut [f32], w: usize) -> Result<()> {
    if z.mean.len() != w || z.std.len() != w {
        return Err(Error::Shape(format!(
            "target standardisation of {} values for {w} outputs",
            z.mean.len()
        )));
    }
    for row in out.chunks_exact_mut(w) {
        for ((a, m), s) in row.iter_mut().zip(&z.mean).zip(&z.std) {
            *a = *a * s + m;
        }
    }
    Ok(())
}

/// MSE, RMSE, MAE and R² of output column `t` of `out` (n, w) against target column `t` of
/// `values` (n, width), in f64.
fn target_metrics(
    out: &[f32],
    w: usize,
    values: &[f32],
    width: usize,
    t: usize,
) -> RegressionMetrics {
    let n = values.len() / width;
    let ys = || values.iter().skip(t).step_by(width).map(|&y| y as f64);
    let mean = ys().sum::<f64>() / n.max(1) as f64;
    let (mut sse, mut sae, mut ss_tot) = (0f64, 0f64, 0f64);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, y) in ys().enumerate() {
        let d = out[i * w + t] as f64 - y;
        sse += d * d;
        sae += d.abs();
        ss_tot += (y - mean) * (y - mean);
        lo = lo.min(y);
        hi = hi.max(y);
    }
    let mse = sse / n.max(1) as f64;
    RegressionMetrics {
        mse,
        rmse: mse.sqrt(),
        mae: sae / n.max(1) as f64,
        // Equal targets give SS_tot = 0, or a rounding residue of the mean: undefined either way.
        r2: (hi > lo).then(|| 1.0 - sse / ss_tot),
    }
}

/// The metrics over all targets: mse and mae their means (the means over every value), rmse the
/// root of that mse, r2 the mean of the defined ones.
fn overall(per_target: &[RegressionMetrics]) -> RegressionMetrics {
    let k = per_target.len().max(1) as f64;
    let mse = per_target.iter().map(|m| m.mse).sum::<f64>() / k;
    let defined: Vec<f64> = per_target.iter().filter_map(|m| m.r2).collect();
    RegressionMetrics {
        mse,
        rmse: mse.sqrt(),
        mae: per_target.iter().map(|m| m.mae).sum::<f64>() / k,
        r2: (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layer;

    /// Both sides are short sums of small binary fractions in f64: a few ulps of rounding.
    const EXACT_F64: f64 = 1e-12;

    fn close(what: &str, got: f64, want: f64) {
        assert!(
            (got - want).abs() <= EXACT_F64 * want.abs().max(1.0),
            "{what}: got {got}, want {want}"
        );
    }

    /// A linear network with no hidden layer, 1 input and `w.len()` outputs `a_j = w_j·x`.
    fn scaling(w: &[f32]) -> (Spec, Params) {
        let spec = Spec::new(vec![1, w.len()], vec![], Output::Linear, Loss::Mse).unwrap();
        let params = Params {
            layers: vec![Layer {
                w: w.to_vec(),
                b: vec![0.0; w.len()],
            }],
        };
        (spec, params)
    }

    fn values(x: &[f32], y: &[f32], width: usize) -> Dataset {
        Dataset::new(
            "t",
            x.to_vec(),
            x.len(),
            1,
            Targets::Values {
                values: y.to_vec(),
                width,
            },
        )
        .unwrap()
    }

    /// The named table of a 3-class evaluation, classes named `names`.
    fn named_table(names: &[&str]) -> String {
        let spec = Spec::classifier(1, &[], 3).unwrap();
        let params = Params {
            layers: vec![Layer {
                w: vec![0.0; 3],
                b: vec![0.0; 3],
            }],
        };
        let data = Dataset::new(
            "t",
            vec![0.0; 3],
            3,
            1,
            Targets::Classes {
                labels: vec![0, 1, 2],
                n_classes: 3,
            },
        )
        .unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        evaluate(&spec, &params, &data)
            .unwrap()
            .to_table_named(Some(&names))
    }

    #[test]
    fn long_class_names_that_share_their_first_24_characters_stay_distinguishable() {
        let table = named_table(&[
            "customer_segment_premium_north_america",
            "customer_segment_premium_south_america",
            "other",
        ]);
        for shown in ["customer_se…orth_america", "customer_se…outh_america"] {
            assert!(table.contains(shown), "{shown:?} not in\n{table}");
        }
        assert!(!table.contains("customer_segment_premium"), "{table}");
        // Names that differ only in their middle widen the column until they differ.
        let (a, b) = (
            format!("{0}X{0}", "a".repeat(20)),
            format!("{0}Y{0}", "a".repeat(20)),
        );
        let table = named_table(&[&a, &b, "c"]);
        assert!(table.contains(&a) && table.contains(&b), "{table}");
    }

    #[test]
    fn one_target_gets_hand_computed_mse_rmse_mae_r2_and_half_mse_loss() {
        // Outputs 1, 2, 3, 4 against 1, 3, 2, 6: errors 0, -1, 1, -2; SS_res 6; ȳ = 3, SS_tot 14.
        let (spec, params) = scaling(&[1.0]);
        let e = evaluate(
            &spec,
            &params,
            &values(&[1., 2., 3., 4.], &[1., 3., 2., 6.], 1),
        )
        .unwrap();
        let m = e.regression.clone().unwrap();
        close("mse", m.mse, 1.5);
        close("rmse", m.rmse, 1.5f64.sqrt());
        close("mae", m.mae, 1.0);
        close("r2", m.r2.unwrap(), 1.0 - 6.0 / 14.0);
        close("loss", e.loss, 0.75);
        assert_eq!(e.per_target, vec![m]);
        assert!(e.accuracy.is_none() && e.per_class.is_empty());
        let table = e.to_table();
        assert!(
            table.contains("loss 0.7500 (½·MSE, the mse training loss)\nmse 1.5000\nrmse 1.2247\nmae 1.0000\nr2 0.5714\n"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["mse"], 1.5);
        assert_eq!(json["mae"], 1.0);
        assert_eq!(json["per_target"][0]["target"], 0);
        assert_eq!(json["accuracy"], serde_json::Value::Null);
    }

    #[test]
    fn a_constant_target_has_no_r2_and_the_overall_r2_averages_the_defined_ones() {
        // Target 0 as above; target 1 is 5 on every row against outputs 2, 4, 6, 8: errors
        // -3, -1, 1, 3, SS_res 20, SS_tot 0.
        let (spec, params) = scaling(&[1.0, 2.0]);
        let y = [1., 5., 3., 5., 2., 5., 6., 5.];
        let e = evaluate(&spec, &params, &values(&[1., 2., 3., 4.], &y, 2)).unwrap();
        assert_eq!(e.per_target.len(), 2);
        close("mse 1", e.per_target[1].mse, 5.0);
        close("mae 1", e.per_target[1].mae, 2.0);
        assert_eq!(e.per_target[1].r2, None);
        let m = e.regression.clone().unwrap();
        close("mse", m.mse, 3.25);
        close("rmse", m.rmse, 3.25f64.sqrt());
        close("mae", m.mae, 1.5);
        close("r2", m.r2.unwrap(), 1.0 - 6.0 / 14.0);
        close("loss", e.loss, 0.5 * 26.0 / 4.0);
        let table = e.to_table();
        assert!(
            table.contains("r2 0.5714 (mean over the targets)"),
            "{table}"
        );
        assert!(
            table.contains("1            5.0000       2.2361       2.0000        n/a"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(json["per_target"][1]["r2"], serde_json::Value::Null);

        let (spec, params) = scaling(&[1.0]);
        let flat = evaluate(&spec, &params, &values(&[1., 2.], &[7., 7.], 1)).unwrap();
        assert_eq!(flat.regression.as_ref().unwrap().r2, None);
        assert!(
            flat.to_table()
                .contains("r2 n/a (the targets do not vary in this set)")
        );
        let json: serde_json::Value = serde_json::from_str(&flat.to_json()).unwrap();
        assert_eq!(json["r2"], serde_json::Value::Null);
    }

    #[test]
    fn small_error_figures_keep_four_significant_digits() {
        assert_eq!(figure(12.5), "12.5000");
        assert_eq!(figure(0.0), "0.0000");
        assert_eq!(figure(0.00523456), "5.235e-3");
        assert_eq!(figure(0.01), "0.0100");
    }

    #[test]
    fn scaled_outputs_are_measured_in_the_targets_units() {
        // The network outputs 1, 2; mapped back by std 2, mean 10 they are 12, 14, against 12, 18.
        let (spec, params) = scaling(&[1.0]);
        let z = Standardize {
            mean: vec![10.0],
            std: vec![2.0],
        };
        let e =
            evaluate_scaled(&spec, &params, &values(&[1., 2.], &[12., 18.], 1), Some(&z)).unwrap();
        let m = e.regression.unwrap();
        close("mse", m.mse, 8.0);
        close("mae", m.mae, 2.0);
        close("r2", m.r2.unwrap(), 1.0 - 16.0 / 18.0);
        close("loss", e.loss, 4.0);
    }
}

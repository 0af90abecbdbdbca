//! Classifier figures that look past the most probable class: a decision threshold for two
//! classes, balanced accuracy, ROC AUC (one class against the rest, averaged over classes) and
//! log-loss. Each is computed in f64 from the model's outputs for the whole set.

use crate::error::{Error, Result};

/// How a classifier's probabilities become a class.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Decision {
    /// The most probable class (a tie: the first of them).
    #[default]
    Argmax,
    /// For a model of two classes: the second class (index 1, the positive one) when its
    /// probability is at least this, else the first.
    Threshold(f64),
}

impl Decision {
    /// Whether this decision fits a classifier of `classes` classes: a threshold is a number in
    /// [0, 1] and needs exactly two classes.
    pub fn check(self, classes: usize) -> Result<()> {
        let Decision::Threshold(t) = self else {
            return Ok(());
        };
        if !(0.0..=1.0).contains(&t) {
            return Err(Error::invalid(
                "threshold",
                format!("{t}: a probability, between 0 and 1"),
            ));
        }
        if classes != 2 {
            return Err(Error::invalid(
                "threshold",
                format!(
                    "applies to a classifier of two classes (it sets the probability of the second from which it is predicted); this model has {classes} {}",
                    if classes == 1 { "output" } else { "classes" }
                ),
            ));
        }
        Ok(())
    }

    /// The class of one row of probabilities.
    pub fn class(self, p: &[f32]) -> usize {
        match self {
            Decision::Threshold(t) if p.len() == 2 => usize::from(f64::from(p[1]) >= t),
            _ => crate::cpu::fast::argmax(p),
        }
    }
}

/// The mean of the classes' recalls over the classes that occur in the set (`support` > 0):
/// accuracy as if every class were equally common. None when no class occurs.
pub(crate) fn balanced_accuracy(recall_support: impl Iterator<Item = (f64, usize)>) -> Option<f64> {
    let seen: Vec<f64> = recall_support
        .filter(|&(_, s)| s > 0)
        .map(|(r, _)| r)
        .collect();
    (!seen.is_empty()).then(|| seen.iter().sum::<f64>() / seen.len() as f64)
}

/// The area under the ROC curve of `scores` against `positive`: the probability that a
/// positive row scores above a negative one, ties counting one half (the Mann-Whitney U
/// statistic from average ranks). None without both a positive and a negative row.
fn auc(mut rows: Vec<(f32, bool)>) -> Option<f64> {
    let pos = rows.iter().filter(|r| r.1).count();
    let neg = rows.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the positives' ranks (1-based), each tie group given its average rank.
    let mut rank_sum = 0f64;
    let mut i = 0;
    while i < rows.len() {
        // j starts past i: a NaN score equals nothing, itself included, and must still move on.
        let mut j = i + 1;
        while j < rows.len() && rows[j].0 == rows[i].0 {
            j += 1;
        }
        let average = (i + 1 + j) as f64 / 2.0;
        rank_sum += average * rows[i..j].iter().filter(|r| r.1).count() as f64;
        i = j;
    }
    let (pos, neg) = (pos as f64, neg as f64);
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// ROC AUC of `probs` (n, w) against `labels`: for two classes the second class's (as
/// scikit-learn's `roc_auc_score`); for more, the mean over the classes of each class against
/// the rest (macro one-vs-rest), over the classes that have both positive and negative rows.
/// None when no class has both.
pub(crate) fn roc_auc(probs: &[f32], w: usize, labels: &[u32]) -> Option<f64> {
    let one = |c: usize| {
        auc(labels
            .iter()
            .enumerate()
            .map(|(i, &l)| (probs[i * w + c], l as usize == c))
            .collect())
    };
    if w == 2 {
        return one(1);
    }
    let defined: Vec<f64> = (0..w).filter_map(one).collect();
    (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64)
}

/// The mean of `-ln p(true class)` over the rows, from the logits `z` (n, w) in f64 (a
/// softmax's log, so a confident wrong answer costs its margin rather than an overflow; the
/// max is subtracted from the true logit, never added to the log-sum, which at logits of 1e30
/// would round ln 2 away).
pub(crate) fn log_loss(z: &[f32], w: usize, labels: &[u32]) -> f64 {
    let mut sum = 0f64;
    for (row, &l) in z.chunks_exact(w).zip(labels) {
        let max = row
            .iter()
            .map(|&v| f64::from(v))
            .fold(f64::NEG_INFINITY, f64::max);
        let log_sum = row
            .iter()
            .map(|&v| (f64::from(v) - max).exp())
            .sum::<f64>()
            .ln();
        sum += (max - f64::from(row[l as usize])) + log_sum;
    }
    sum / labels.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_half_of_the_ties() {
        // Positives 0.9, 0.4; negatives 0.4, 0.1: pairs (0.9>0.4), (0.9>0.1), (0.4=0.4), (0.4>0.1)
        // = 3.5 of 4.
        let rows = vec![(0.9, true), (0.4, true), (0.4, false), (0.1, false)];
        assert_eq!(auc(rows), Some(0.875));
        assert_eq!(auc(vec![(0.3, true), (0.7, true)]), None);
        // Perfectly wrong.
        assert_eq!(auc(vec![(0.2, true), (0.8, false)]), Some(0.0));
        // Outputs that overflowed: NaN scores end the count (evaluate reports the overflow).
        assert!(auc(vec![(f32::NAN, true), (f32::NAN, false), (0.5, true)]).is_some());
    }

    #[test]
    fn binary_auc_scores_the_second_class_and_more_classes_average_one_vs_rest() {
        let probs = [0.8, 0.2, 0.3, 0.7, 0.6, 0.4];
        // Class 1's scores 0.2 (label 0), 0.7 (label 1), 0.4 (label 1): 2 of 2 pairs ordered.
        assert_eq!(roc_auc(&probs, 2, &[0, 1, 1]), Some(1.0));
        // Three classes, class 2 absent: the mean of classes 0 and 1.
        let p3 = [0.7, 0.2, 0.1, 0.2, 0.5, 0.3, 0.6, 0.3, 0.1];
        let labels = [0, 1, 1];
        // Class 0: positive 0.7 against 0.2, 0.6: 1. Class 1: positives 0.5, 0.3 against 0.2: 1.
        assert_eq!(roc_auc(&p3, 3, &labels), Some(1.0));
        let swapped = [0.2, 0.7, 0.1, 0.2, 0.5, 0.3, 0.6, 0.3, 0.1];
        // Class 0: 0.2 against 0.2, 0.6: (0.5 + 0) / 2 = 0.25; class 1: 0.5, 0.3 against 0.7: 0.
        assert_eq!(roc_auc(&swapped, 3, &labels), Some(0.125));
    }

    #[test]
    fn log_loss_is_the_mean_negative_log_softmax_of_the_true_class() {
        let z = [0.0, (3f32).ln(), 1.0, 1.0];
        // Row 0: p = (1/4, 3/4), true class 1: -ln 0.75; row 1: p = (1/2, 1/2): ln 2.
        let want = (-(0.75f64).ln() + 2f64.ln()) / 2.0;
        assert!((log_loss(&z, 2, &[1, 0]) - want).abs() < 1e-7);
        // A huge wrong margin costs the margin, not infinity.
        assert!((log_loss(&[1000.0, 0.0], 2, &[1]) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn a_threshold_needs_two_classes_and_a_probability() {
        assert!(Decision::Threshold(0.3).check(2).is_ok());
        let e = Decision::Threshold(0.3).check(3).unwrap_err().to_string();
        assert!(e.starts_with("threshold") && e.contains("3 classes"), "{e}");
        assert!(Decision::Threshold(1.5).check(2).is_err());
        assert!(Decision::Threshold(f64::NAN).check(2).is_err());
        assert_eq!(Decision::Threshold(0.3).class(&[0.65, 0.35]), 1);
        assert_eq!(Decision::Argmax.class(&[0.65, 0.35]), 0);
        assert_eq!(Decision::Threshold(0.3).class(&[0.75, 0.25]), 0);
    }

    #[test]
    fn balanced_accuracy_skips_classes_the_set_lacks() {
        let b = balanced_accuracy([(1.0, 90), (0.5, 10), (0.0, 0)].into_iter());
        assert_eq!(b, Some(0.75));
        assert_eq!(balanced_accuracy([(0.0, 0)].into_iter()), None);
    }
}

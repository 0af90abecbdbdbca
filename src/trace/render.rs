//! A `Trace` as aligned text tables, Markdown tables, or JSON (every number at full precision).

use super::{Checked, LayerStep, Matrix, Step, Trace};
use crate::error::{Error, Result};

/// How `render` writes a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain-text tables.
    Text,
    /// Markdown tables, for notebooks and reports.
    Markdown,
    /// JSON, the `Trace` serialised: every number at full precision (shortest round-trip form).
    Json,
}

/// Rows and columns a table shows before it is shortened (the JSON output has all).
pub const MAX_SHOWN: usize = 8;

/// The notation, stated once at the top of a text or Markdown trace, with each seed
/// notebook's names for the same quantities.
pub const NOTATION: &str = "\
Notation (layers l = 1..L, m rows per step; matrices have one row per sample, W^[l] one row per unit):
  a^[0] = X                        the step's input rows, (m, n_0)
  z^[l] = a^[l-1]·W^[l]ᵀ + b^[l]   (m, n_l); W^[l] is (n_l, n_{l-1}), b^[l] is (1, n_l)
  a^[l] = g_l(z^[l])               g_L is the output: softmax, sigmoid or linear
  E     = data + L2                data = (1/m) Σ_i loss_i, L2 = λ Σ_l ‖W^[l]‖²
          mse: loss_i = ½ Σ_k (a_ik - y_ik)²; cross-entropy: -Σ_k y_ik log p_ik; bce: -Σ_k [y log a + (1-y) log(1-a)]
  δ^[l] = ∂E/∂z^[l]                δ^[l] = (δ^[l+1]·W^[l+1]) ∘ g_l'(z^[l])
  ∂E/∂W^[l] = δ^[l]ᵀ·a^[l-1] + 2λW^[l],  ∂E/∂b^[l] = Σ_i δ^[l]_i
  fd: the central difference (E(θ+h) - E(θ-h)) / 2h in f64, h = fd_step·max(1, |θ|);
  rel diff: |analytic - fd| / max(|analytic|, |fd|). TraceRows are the data's rows, 0-based; units 1-based.

The seed notebooks' names for the same numbers:
  here          000 (numpy net)  001 (softmax + L2)     002 (German, by hand)               003 (2-2-1 sigmoid)
  a^[0]         X (X.T)          X                      X1, X2 (Eingabewerte)               X
  W^[1]         W1               W1ᵀ (stored n×h)       [[w1, w2], [w3, w4]] (Gewichte)     weights_input_hiddenᵀ
  W^[2]         W2               W2ᵀ                    [[w5, w6], [w7, w8]]                weights_hidden_outputᵀ
  b^[1], b^[2]  b1, b2           b1, b2                 (b1, b2), (b3, b4) (Bias)           bias_hidden, bias_output
  z^[1], z^[2]  Z1, Z2           X·W1+b1, S2            (Z1, Z2), (Z3, Z4) (Input)          hidden_input, output_input
  a^[1], a^[2]  A1, A2           S1, softmax(S2)        (A1, A2), (A3, A4) (Aktivierung)    hidden_output, predicted_output
  E             MSE              data loss + reg·ΣW²    E_total = E_1 + E_2 (Gesamtfehler)  loss
  δ^[2]         dZ2              δ2 = (S2 - y)/m        dE1_nach_Z3, dE2_nach_Z4            d_loss_d_output·d_output_d_hidden
  δ^[1]         dZ1              δ1                     dE_total_nach_A1·dA1_nach_Z1, ...   (…·weights_hidden_output.T)·d_hidden_d_input
  ∂E/∂W^[l]     dW1, dW2         dW1ᵀ, dW2ᵀ (+2·reg·W)  dE_total_nach_w1 .. w8              (inside the update)
  ∂E/∂b^[l]     db1, db2         db1, db2               (not computed)                      (inside the update)
  lr, λ         lr               -, reg                 α = 0.5 (Lernrate)                  learning_rate
  new W^[l]     W1 - lr·dW1      -                      w1_neu .. w8_neu; delta_w1 ..       weights after -=
";

/// `trace` written as `format` says, `digits` significant digits per number in the tables
/// (1 to 17; JSON always has every digit).
pub fn render(trace: &Trace, format: Format, digits: usize) -> Result<String> {
    if !(1..=17).contains(&digits) {
        return Err(Error::invalid(
            "digits",
            format!("must be from 1 to 17, got {digits}"),
        ));
    }
    if format == Format::Json {
        return serde_json::to_string_pretty(trace)
            .map(|s| s + "\n")
            .map_err(|e| Error::usage(format!("cannot write the trace as JSON: {e}")));
    }
    let mut w = Writer {
        out: String::new(),
        md: format == Format::Markdown,
        digits,
    };
    w.header(trace);
    for step in &trace.steps {
        w.step(step);
    }
    Ok(w.out)
}

struct Writer {
    out: String,
    md: bool,
    digits: usize,
}

/// `v` with `digits` significant digits: fixed point between 1e-4 and 1e6, else exponent form.
pub fn number(v: f64, digits: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i64;
    if (-4..6).contains(&mag) {
        let decimals = (digits as i64 - 1 - mag).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.*e}", digits.saturating_sub(1))
    }
}

fn rel(v: f64) -> String {
    format!("{v:.1e}")
}

impl Writer {
    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn heading(&mut self, level: usize, s: &str) {
        if self.md {
            self.line(&format!("\n{} {s}\n", "#".repeat(level + 1)));
        } else {
            let mark = if level == 1 { "==" } else { "--" };
            self.line(&format!("\n{mark} {s} {mark}"));
        }
    }

    fn header(&mut self, t: &Trace) {
        let rows = t.steps.first().map_or(0, |s| s.rows.len());
        let title = format!(
            "trace of {}: {}, lr {}, λ {}, {} step{} of {rows} row{}, fd step {:e}",
            t.network,
            t.optimizer,
            t.lr,
            t.l2,
            t.steps.len(),
            if t.steps.len() == 1 { "" } else { "s" },
            if rows == 1 { "" } else { "s" },
            t.fd_step,
        );
        if self.md {
            self.line(&format!("# {title}\n\n```text\n{NOTATION}```"));
        } else {
            self.line(&title);
            self.line("");
            self.out.push_str(NOTATION);
        }
        for s in &t.skipped {
            self.line(&format!("\nnote: not traced: {s}"));
        }
    }

    /// An aligned table: a header row, then rows; numbers right-aligned.
    fn table(&mut self, header: &[String], rows: &[Vec<String>]) {
        if self.md {
            self.line(&format!("| {} |", header.join(" | ")));
            self.line(&format!("|{}", "---:|".repeat(header.len())));
            for r in rows {
                self.line(&format!("| {} |", r.join(" | ")));
            }
            self.line("");
            return;
        }
        let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let fmt = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&width)
                .map(|(c, &w)| format!("{}{c}", " ".repeat(w - c.chars().count())))
                .collect();
            format!("  {}", parts.join("  "))
        };
        self.line(&fmt(header));
        for r in rows {
            self.line(&fmt(r));
        }
    }

    fn note_shortened(&mut self, m: &Matrix) {
        if m.rows > MAX_SHOWN || m.cols > MAX_SHOWN {
            let (lo, hi) = m.min_max();
            let d = self.digits;
            self.line(&format!(
                "  (showing {} of {} rows, {} of {} columns; norm {}, min {}, max {}; the JSON output has every value)",
                m.rows.min(MAX_SHOWN),
                m.rows,
                m.cols.min(MAX_SHOWN),
                m.cols,
                number(m.norm(), d),
                number(lo, d),
                number(hi, d)
            ));
        }
    }

    /// A matrix with row and column labels, shortened past `MAX_SHOWN`.
    fn matrix(&mut self, title: &str, m: &Matrix, row: &dyn Fn(usize) -> String, col: &str) {
        self.line(&format!("{title}  ({}×{})", m.rows, m.cols));
        let mut header = vec![String::new()];
        header.extend((0..m.cols.min(MAX_SHOWN)).map(|c| format!("{col}{}", c + 1)));
        let rows: Vec<Vec<String>> = (0..m.rows.min(MAX_SHOWN))
            .map(|r| {
                let mut cells = vec![row(r)];
                cells.extend((0..m.cols.min(MAX_SHOWN)).map(|c| number(m.get(r, c), self.digits)));
                cells
            })
            .collect();
        self.table(&header, &rows);
        self.note_shortened(m);
    }

    /// A gradient, one element per line: the reference's analytic value, the finite
    /// difference, their relative difference, and each path's value.
    fn checked(
        &mut self,
        title: &str,
        c: &Checked,
        paths: &[(&str, &Matrix)],
        names: &dyn Fn(usize, usize) -> String,
    ) {
        self.line(&format!(
            "{title}  ({}×{}), max rel diff to fd {}",
            c.analytic.rows,
            c.analytic.cols,
            rel(c.max_rel_diff)
        ));
        let mut header: Vec<String> = ["element", "analytic", "fd", "rel diff"]
            .map(String::from)
            .to_vec();
        header.extend(paths.iter().map(|(p, _)| p.to_string()));
        let a = &c.analytic;
        let mut rows = Vec::new();
        for r in 0..a.rows.min(MAX_SHOWN) {
            for col in 0..a.cols.min(MAX_SHOWN) {
                let mut cells = vec![
                    names(r, col),
                    number(a.get(r, col), self.digits),
                    number(c.finite_difference.get(r, col), self.digits),
                    rel(c.rel_diff.get(r, col)),
                ];
                cells.extend(
                    paths
                        .iter()
                        .map(|(_, m)| number(m.get(r, col), self.digits)),
                );
                rows.push(cells);
            }
        }
        self.table(&header, &rows);
        self.note_shortened(a);
    }

    fn step(&mut self, s: &Step) {
        let d = self.digits;
        self.heading(1, &format!("step {} (rows {:?})", s.step, s.rows));
        let data_rows = s.rows.clone();
        let row_label = move |r: usize| format!("row {}", data_rows[r]);
        self.heading(2, "forward");
        for l in &s.layers {
            self.forward_layer(l, &row_label);
            // The paths' own forward pass: where a path fuses the output activation into the
            // loss, its last layer's output is z (see PathLayer::a).
            for p in &s.paths {
                let pl = &p.layers[l.layer - 1];
                let got = &pl.a;
                let (want, q) = if pl.a_is_z { (&l.z, "z") } else { (&l.a, "a") };
                let diff = got
                    .data
                    .iter()
                    .zip(&want.data)
                    .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
                self.line(&format!(
                    "  {} path: {q}^[{}] max |diff| to the reference {diff:.2e}",
                    p.name, l.layer
                ));
            }
        }
        self.matrix("y (targets)", &s.y, &row_label, "k");
        self.heading(2, "loss");
        self.line(&format!(
            "E = data + L2 = {} + {} = {}",
            number(s.loss.data, d),
            number(s.loss.l2, d),
            number(s.loss.total, d)
        ));
        for p in &s.paths {
            self.line(&format!("  {} path: data {}", p.name, number(p.loss, d)));
        }
        self.line(&s.output_delta);
        self.heading(2, "backward");
        for l in s.layers.iter().rev() {
            self.backward_layer(s, l, &row_label);
        }
        self.heading(2, "update");
        self.update(s);
        if !s.paths.is_empty() {
            self.heading(2, "paths against the f64 reference");
            let rows: Vec<Vec<String>> = s
                .paths
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        format!("{:.2e}", p.max_abs_diff),
                        p.worst.clone(),
                    ]
                })
                .collect();
            let header = ["path", "max |diff|", "where"].map(String::from);
            self.table(&header, &rows);
            // The devices under the table: a GPU's description is long, and as a column it
            // would push the figures off the screen.
            for p in &s.paths {
                self.line(&format!("  {}: {}", p.name, p.path));
            }
        }
    }

    fn forward_layer(&mut self, l: &LayerStep, row: &dyn Fn(usize) -> String) {
        let n = l.layer;
        self.line(&format!("layer {n}: g_{n} = {}", l.activation));
        let prev = if n == 1 { "x" } else { "u" };
        self.matrix(&format!("a^[{}]", n - 1), &l.a_prev, row, prev);
        self.matrix(&format!("W^[{n}]"), &l.w, &|r| format!("u{}", r + 1), prev);
        self.matrix(&format!("b^[{n}]"), &l.b, &|_| String::new(), "u");
        self.matrix(&format!("z^[{n}]"), &l.z, row, "u");
        self.matrix(&format!("a^[{n}]"), &l.a, row, "u");
    }

    fn backward_layer(&mut self, s: &Step, l: &LayerStep, row: &dyn Fn(usize) -> String) {
        let n = l.layer;
        let i = n - 1;
        let path_rows = |f: &dyn Fn(&super::PathLayer) -> &Matrix| -> Vec<(&str, &Matrix)> {
            s.paths
                .iter()
                .map(|p| (p.name.as_str(), f(&p.layers[i])))
                .collect()
        };
        let delta_names = |r: usize, c: usize| format!("{} u{}", row(r), c + 1);
        self.checked(&format!("δ^[{n}]"), &l.delta, &[], &delta_names);
        let w_names = |r: usize, c: usize| format!("W[{},{}]", r + 1, c + 1);
        let dw_paths = path_rows(&|p| &p.dw);
        self.checked(&format!("∂E/∂W^[{n}]"), &l.dw, &dw_paths, &w_names);
        let b_names = |_: usize, c: usize| format!("b[{}]", c + 1);
        let db_paths = path_rows(&|p| &p.db);
        self.checked(&format!("∂E/∂b^[{n}]"), &l.db, &db_paths, &b_names);
    }

    fn update(&mut self, s: &Step) {
        if let Some((t, c1, c2)) = s.bias_corrections {
            let d = self.digits;
            self.line(&format!(
                "Adam update t = {t}: bias corrections 1 - β1^t = {}, 1 - β2^t = {}",
                number(c1, d),
                number(c2, d)
            ));
        }
        for l in &s.layers {
            let n = l.layer;
            let i = n - 1;
            self.line(&format!("layer {n}"));
            for slot in &l.state {
                let name = slot_symbol(&slot.name);
                self.matrix(
                    &format!("{name} for W^[{n}]"),
                    &slot.w,
                    &|r| format!("u{}", r + 1),
                    "in",
                );
                self.matrix(
                    &format!("{name} for b^[{n}]"),
                    &slot.b,
                    &|_| String::new(),
                    "u",
                );
            }
            self.matrix(
                &format!("step ΔW^[{n}]"),
                &l.step_w,
                &|r| format!("u{}", r + 1),
                "in",
            );
            self.matrix(
                &format!("step Δb^[{n}]"),
                &l.step_b,
                &|_| String::new(),
                "u",
            );
            let w_names = |r: usize, c: usize| format!("W[{},{}]", r + 1, c + 1);
            self.side_by_side(
                &format!("new W^[{n}]"),
                &l.new_w,
                s,
                &|p| &p.layers[i].new_w,
                &w_names,
            );
            let b_names = |_: usize, c: usize| format!("b[{}]", c + 1);
            self.side_by_side(
                &format!("new b^[{n}]"),
                &l.new_b,
                s,
                &|p| &p.layers[i].new_b,
                &b_names,
            );
        }
    }

    /// The reference's matrix, one element per line, with each path's value beside it.
    fn side_by_side(
        &mut self,
        title: &str,
        m: &Matrix,
        s: &Step,
        pick: &dyn Fn(&super::PathStep) -> &Matrix,
        names: &dyn Fn(usize, usize) -> String,
    ) {
        if s.paths.is_empty() {
            self.matrix(
                title,
                m,
                &|r| format!("u{}", r + 1),
                if m.rows == 1 { "u" } else { "in" },
            );
            return;
        }
        self.line(&format!("{title}  ({}×{})", m.rows, m.cols));
        let mut header = vec!["element".to_string(), "f64 reference".to_string()];
        header.extend(s.paths.iter().map(|p| p.name.clone()));
        let mut rows = Vec::new();
        for r in 0..m.rows.min(MAX_SHOWN) {
            for c in 0..m.cols.min(MAX_SHOWN) {
                let mut cells = vec![names(r, c), number(m.get(r, c), self.digits)];
                cells.extend(
                    s.paths
                        .iter()
                        .map(|p| number(pick(p).get(r, c), self.digits)),
                );
                rows.push(cells);
            }
        }
        self.table(&header, &rows);
        self.note_shortened(m);
    }
}

/// The symbol of an optimiser slot: momentum's velocity v, Adam's moments m and v.
fn slot_symbol(name: &str) -> &str {
    match name {
        "momentum" => "velocity v",
        "m" => "Adam m",
        "v" => "Adam v",
        other => other,
    }
}

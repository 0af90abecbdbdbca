//! `gradcheck`: the analytic gradients of the f64 reference, the fast CPU path and the GPU path
//! against central finite differences of the f64 objective, layer by layer, on a user's own
//! network and rows; the worst relative error per layer and path, pass or fail at a stated
//! tolerance.
//!
//! Every path sees the same numbers: the case's rows and parameters rounded to f32 once (what
//! the f32 paths hold), widened exactly for the reference and the finite differences. The
//! objective is E = (1/m) Σ_i loss_i + λ Σ_l ‖W^\[l\]‖², as `trace` states it.

use serde::{Deserialize, Serialize};

use crate::cpu::fast::CpuTrainer;
use crate::cpu::reference::{self, Net64};
use crate::error::{Error, Result, check_non_negative};
use crate::gpu::GpuTrainer;
use crate::model::{Params, Spec};
use crate::rng::Rng;
use crate::testing::Fault;
use crate::trace::{Case, PathChoice, rel_diff};
use crate::train::Backend;

/// The reference against central differences with h = 1e-6: truncation O(h²), rounding
/// O(eps/h) of the loss (STYLE.md's starting point).
pub const REFERENCE_TOL: f64 = 1e-5;
/// An f32 path against the f64 finite differences: whole-network f32 gradients, errors
/// compounding through every layer.
pub const F32_TOL: f64 = 1e-3;
/// Values whose magnitude is below this share of the layer's largest are judged against it,
/// not against themselves: their relative error is rounding noise, not a wrong gradient.
pub const FLOOR: f64 = 1e-2;

/// Most multiply-adds gradcheck's finite differences may take: each costs two forward passes
/// of the f64 reference over every row (rows × weights multiply-adds each), about a minute
/// at this bound on a small CPU.
pub const MAX_WORK: u64 = 10_000_000_000;

/// The finite differences gradcheck takes on `spec` with `per_layer` (up to that many weights
/// and as many biases per layer), and their multiply-adds on `rows` rows.
pub fn work(spec: &Spec, rows: usize, per_layer: usize) -> (u64, u64) {
    let fds: u64 = (0..spec.n_layers())
        .map(|l| {
            let (k, n) = spec.layer_shape(l);
            (k.saturating_mul(n).min(per_layer) + n.min(per_layer)) as u64
        })
        .sum();
    let pass = (rows as u64).saturating_mul(spec.n_params() as u64);
    (fds, fds.saturating_mul(2).saturating_mul(pass))
}

/// Refuses `spec` on `rows` rows when the finite differences `opts` asks for would take more
/// than `MAX_WORK` multiply-adds, with both figures and what to reduce.
pub fn check_work(spec: &Spec, rows: usize, opts: &Options) -> Result<()> {
    let (fds, needed) = work(spec, rows, opts.per_layer);
    if needed <= MAX_WORK {
        return Ok(());
    }
    Err(Error::usage(format!(
        "gradcheck of {} ({} parameters) on {rows} rows takes {fds} finite differences (up to {} weights and {} biases per layer, the setting `per_layer`), each two forward passes of {} multiply-adds: {needed:.2e} in all, over its limit of {MAX_WORK:.0e}; check fewer values per layer, use fewer rows or a smaller network",
        spec.describe(),
        spec.n_params(),
        opts.per_layer,
        opts.per_layer,
        (rows as u64).saturating_mul(spec.n_params() as u64),
        needed = needed as f64,
        MAX_WORK = MAX_WORK as f64,
    )))
}

/// What gradcheck compares.
#[derive(Clone, Debug)]
pub struct Options {
    /// λ of the L2 term.
    pub l2: f64,
    /// Weights (and, separately, biases) checked per layer: all when a layer has no more,
    /// else this many picked at random with `seed`.
    pub per_layer: usize,
    /// Seeds the pick of the checked parameters.
    pub seed: u64,
    /// Relative step h of the central differences: h = `fd_step`·max(1, |θ|).
    pub fd_step: f64,
}

impl Default for Options {
    /// No L2 term, 64 weights and 64 biases per layer, seed 0, h = 1e-6.
    fn default() -> Options {
        Options {
            l2: 0.0,
            per_layer: 64,
            seed: 0,
            fd_step: 1e-6,
        }
    }
}

/// The outcome for one layer on one path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerCheck {
    /// The layer, 1-based.
    pub layer: usize,
    /// `reference`, `cpu` or `gpu`.
    pub path: String,
    /// Parameters compared (weights and biases).
    pub values: usize,
    /// The worst `|g - fd| / max(|g|, |fd|, FLOOR·max|fd| of the layer)`.
    pub worst_rel: f64,
    /// Where it is: `W[unit,input]` or `b[unit]`, 1-based.
    pub worst_at: String,
    /// The tolerance it is held to.
    pub tol: f64,
    /// Within the tolerance, every value finite.
    pub passed: bool,
}

/// Every layer on every path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The network, e.g. `64-64(relu)-10 softmax/cross-entropy`.
    pub network: String,
    /// Rows the gradients are taken over.
    pub rows: usize,
    /// λ.
    pub l2: f64,
    /// The finite differences' relative step.
    pub fd_step: f64,
    /// Per path, per layer.
    pub checks: Vec<LayerCheck>,
    /// Paths asked for that could not run, with the reason.
    pub skipped: Vec<String>,
    /// The paths' devices, e.g. `cpu path: cpu (f32, gemm)`.
    pub devices: Vec<String>,
}

impl Report {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks, e.g. `layer 2 on the cpu path (worst rel error 1.0e-2 at W[1,3])`.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| {
                format!(
                    "layer {} on the {} path (worst rel error {:.1e} at {}, tolerance {:e})",
                    c.layer, c.path, c.worst_rel, c.worst_at, c.tol
                )
            })
            .collect()
    }

    /// The report as one JSON object: every field above at full precision (`checks` one
    /// object per layer and path: `layer`, `path`, `values`, `worst_rel`, `worst_at`, `tol`,
    /// `passed`), and `passed` for the whole.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["passed"] = serde_json::Value::Bool(self.passed());
        v.to_string()
    }

    /// An aligned table, one line per layer and path, with the tolerances stated.
    pub fn table(&self) -> String {
        let mut out = format!(
            "gradcheck of {} on {} rows, λ {}: analytic gradients against central differences in f64 (h = {:e}·max(1, |θ|))\n",
            self.network, self.rows, self.l2, self.fd_step
        );
        out += &format!(
            "rel error = |g - fd| / max(|g|, |fd|, {FLOOR}·max|fd| of the layer); tolerance {REFERENCE_TOL:e} for the f64 reference, {F32_TOL:e} for the f32 paths\n"
        );
        for d in &self.devices {
            out += &format!("{d}\n");
        }
        for s in &self.skipped {
            out += &format!("note: not checked: {s}\n");
        }
        out += &format!(
            "{:>5}  {:<9}  {:>6}  {:>14}  {:<12}  {:>9}  result\n",
            "layer", "path", "values", "worst rel err", "where", "tolerance"
        );
        for c in &self.checks {
            out += &format!(
                "{:>5}  {:<9}  {:>6}  {:>14.2e}  {:<12}  {:>9.0e}  {}\n",
                c.layer,
                c.path,
                c.values,
                c.worst_rel,
                c.worst_at,
                c.tol,
                if c.passed { "ok" } else { "FAIL" }
            );
        }
        out
    }
}

/// Indices 0..len, or `k` of them picked with `rng` when there are more, in order.
fn pick(len: usize, k: usize, rng: &mut Rng) -> Vec<usize> {
    if len <= k {
        return (0..len).collect();
    }
    let mut all: Vec<usize> = (0..len).collect();
    for i in 0..k {
        let j = i + ((rng.next_f64() * (len - i) as f64) as usize).min(len - i - 1);
        all.swap(i, j);
    }
    let mut chosen = all[..k].to_vec();
    chosen.sort_unstable();
    chosen
}

/// One parameter to check: layer, weight (index into the stored (fan_in, fan_out)) or bias.
#[derive(Clone, Copy)]
struct Param {
    layer: usize,
    weight: bool,
    index: usize,
}

/// Checks the gradients of the reference and each of `paths` on `case`.
pub fn gradcheck(case: &Case, opts: &Options, paths: &[PathChoice]) -> Result<Report> {
    gradcheck_faulty(case, opts, paths, None)
}

/// `gradcheck`, with the test-only `fault` applied to its path's gradient as that path returns
/// it (`crate::testing::gradcheck_with_fault`).
pub(crate) fn gradcheck_faulty(
    case: &Case,
    opts: &Options,
    paths: &[PathChoice],
    fault: Option<&Fault>,
) -> Result<Report> {
    case.check()?;
    check_options(opts)?;
    check_work(&case.spec, case.n, opts)?;
    let spec = &case.spec;
    // The numbers every path holds: f32, widened exactly.
    let params = case.net.to_params();
    let net = Net64::from_params(&params);
    let round = |v: &[f64]| -> Vec<f64> { v.iter().map(|&x| x as f32 as f64).collect() };
    let (x, y, m) = (round(&case.x), round(&case.y), case.n);
    let rounded = Case {
        spec: spec.clone(),
        net: net.clone(),
        x: x.clone(),
        y: y.clone(),
        n: m,
    };
    let mut rng = Rng::new(opts.seed ^ 0x9c4d);
    let checked = checked_params(spec, opts.per_layer, &mut rng);
    let fd: Vec<Vec<f64>> = checked
        .iter()
        .map(|ps| {
            ps.iter()
                .map(|&p| central(spec, &net, &x, &y, m, opts, p))
                .collect()
        })
        .collect();
    let (_, want) = reference::gradients(spec, &net, &x, &y, m, opts.l2);
    let mut grads = vec![("reference".to_string(), want)];
    let (skipped, devices) = path_gradients(&rounded, &params, opts.l2, paths, &mut grads)?;
    apply_fault(&mut grads, fault, spec.n_layers());
    let checks = layer_checks(spec, &grads, &checked, &fd);
    Ok(Report {
        network: spec.describe(),
        rows: m,
        l2: opts.l2,
        fd_step: opts.fd_step,
        checks,
        skipped,
        devices,
    })
}

/// `per_layer`, `l2` and `fd_step` in range; an error naming the first that is not.
fn check_options(opts: &Options) -> Result<()> {
    if opts.per_layer == 0 {
        return Err(Error::invalid("per_layer", "must be at least 1"));
    }
    check_non_negative("l2", opts.l2)?;
    if !(opts.fd_step.is_finite() && opts.fd_step > 0.0 && opts.fd_step < 1.0) {
        return Err(Error::invalid(
            "fd_step",
            format!("must be in (0, 1), got {}", opts.fd_step),
        ));
    }
    Ok(())
}

/// Per layer, the parameters to check: up to `per_layer` weights, then up to `per_layer`
/// biases, picked with `rng` layer by layer.
fn checked_params(spec: &Spec, per_layer: usize, rng: &mut Rng) -> Vec<Vec<Param>> {
    (0..spec.n_layers())
        .map(|l| {
            let (k, n) = spec.layer_shape(l);
            let w = pick(k * n, per_layer, rng).into_iter().map(|index| Param {
                layer: l,
                weight: true,
                index,
            });
            let b = pick(n, per_layer, rng).into_iter().map(|index| Param {
                layer: l,
                weight: false,
                index,
            });
            w.chain(b).collect()
        })
        .collect()
}

/// Each of `paths`' gradient of E on `rounded` (whose f32 parameters are `params`), pushed onto
/// `grads` under the path's name; returns the paths skipped (no adapter) and the devices used.
fn path_gradients(
    rounded: &Case,
    params: &Params,
    l2: f64,
    paths: &[PathChoice],
    grads: &mut Vec<(String, Net64)>,
) -> Result<(Vec<String>, Vec<String>)> {
    let (spec, m) = (&rounded.spec, rounded.n);
    let (mut skipped, mut devices) = (Vec::new(), Vec::new());
    let rows: Vec<u32> = (0..m as u32).collect();
    let data = crate::trace::dataset(rounded)?;
    for p in paths {
        let (name, g) = match p {
            PathChoice::Cpu => {
                let mut t = CpuTrainer::new(spec, params.clone(), &data, None, m)?;
                devices.push(format!("cpu path: {}", t.describe()));
                ("cpu", t.gradients(&rows, l2 as f32).1)
            }
            PathChoice::Gpu(o) => match o.open() {
                Ok(ctx) => {
                    let mut t = GpuTrainer::new(ctx, spec, params, &data, None, m)?;
                    devices.push(format!(
                        "gpu path: {} (its L2 term, which the GPU applies in its update kernel, is added on the host)",
                        t.describe()
                    ));
                    let mut g = t.gradients(&rows)?.1;
                    add_l2(&mut g, params, l2);
                    ("gpu", g)
                }
                Err(e @ Error::NoAdapter(_)) => {
                    skipped.push(format!("gpu path: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        grads.push((name.to_string(), Net64::from_params(&g)));
    }
    Ok((skipped, devices))
}

/// Applies the test-only `fault`, if any, to its path's gradient (a layer out of range: none).
fn apply_fault(grads: &mut [(String, Net64)], fault: Option<&Fault>, n_layers: usize) {
    if let Some(f) = fault
        && let Some((_, g)) = grads.iter_mut().find(|(n, _)| *n == f.path)
        && f.layer >= 1
        && f.layer <= n_layers
    {
        g.w[f.layer - 1].iter_mut().for_each(|v| *v *= f.factor);
    }
}

/// Every path's gradient, layer by layer, against the finite differences `fd` of `checked`, at
/// the reference's tolerance or the f32 paths'.
fn layer_checks(
    spec: &Spec,
    grads: &[(String, Net64)],
    checked: &[Vec<Param>],
    fd: &[Vec<f64>],
) -> Vec<LayerCheck> {
    let mut checks = Vec::new();
    for (path, g) in grads {
        let tol = if path == "reference" {
            REFERENCE_TOL
        } else {
            F32_TOL
        };
        for (l, ps) in checked.iter().enumerate() {
            checks.push(layer_check(spec.layer_shape(l), path, g, ps, &fd[l], tol));
        }
    }
    checks
}

/// g += 2λW on the weights (a path's data gradient made E's).
fn add_l2(g: &mut Params, p: &Params, l2: f64) {
    for (gl, pl) in g.layers.iter_mut().zip(&p.layers) {
        for (g, &w) in gl.w.iter_mut().zip(&pl.w) {
            *g = (*g as f64 + 2.0 * l2 * w as f64) as f32;
        }
    }
}

/// The central difference of E at one parameter.
fn central(
    spec: &crate::model::Spec,
    net: &Net64,
    x: &[f64],
    y: &[f64],
    m: usize,
    opts: &Options,
    p: Param,
) -> f64 {
    let mut probe = net.clone();
    let v = if p.weight {
        &mut probe.w[p.layer][p.index]
    } else {
        &mut probe.b[p.layer][p.index]
    };
    let x0 = *v;
    let h = opts.fd_step * x0.abs().max(1.0);
    *v = x0 + h;
    let up = reference::objective(spec, &probe, x, y, m, opts.l2);
    let v = if p.weight {
        &mut probe.w[p.layer][p.index]
    } else {
        &mut probe.b[p.layer][p.index]
    };
    *v = x0 - h;
    let down = reference::objective(spec, &probe, x, y, m, opts.l2);
    (up - down) / (2.0 * h)
}

/// One layer of one path's gradient `g` against the finite differences `fd` of `ps`.
fn layer_check(
    (_, n): (usize, usize),
    path: &str,
    g: &Net64,
    ps: &[Param],
    fd: &[f64],
    tol: f64,
) -> LayerCheck {
    let floor = FLOOR * fd.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let (mut worst, mut at, mut finite) = (0.0f64, String::from("-"), true);
    for (p, &f) in ps.iter().zip(fd) {
        let a = if p.weight {
            g.w[p.layer][p.index]
        } else {
            g.b[p.layer][p.index]
        };
        finite &= a.is_finite();
        let err = if a.abs().max(f.abs()) >= floor {
            rel_diff(a, f)
        } else if floor > 0.0 {
            (a - f).abs() / floor
        } else {
            0.0
        };
        if err > worst || err.is_nan() {
            worst = if err.is_nan() { f64::INFINITY } else { err };
            at = if p.weight {
                // Stored (fan_in, fan_out): W^[l] row = unit (1-based), column = input.
                format!("W[{},{}]", p.index % n + 1, p.index / n + 1)
            } else {
                format!("b[{}]", p.index + 1)
            };
        }
    }
    LayerCheck {
        layer: ps.first().map_or(0, |p| p.layer) + 1,
        path: path.to_string(),
        values: ps.len(),
        worst_rel: worst,
        worst_at: at,
        tol,
        passed: finite && worst <= tol && !ps.is_empty(),
    }
}

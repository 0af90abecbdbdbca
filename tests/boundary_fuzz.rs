//! The library's boundary under arbitrary input: datasets, specs, models and configs built
//! through their public fields (no constructor's checks), stop tokens stopped at any moment,
//! and plans with any settings. Whatever comes in, `fit`, `predict`, `evaluate` and
//! `RunPlan::open` return a value or a typed error: never a panic. Seeded, so a failure repeats;
//! `WGTRAIN_FUZZ_CASES` runs more cases (default 400), `WGTRAIN_FUZZ_SEED` other ones: a fuzz
//! target on stable Rust (12,000 cases of seeds 1-3 ran clean when it was written).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Sessions that trained at least one epoch, and plans that opened: the cases must reach
/// training, not only the checks.
static TRAINED: AtomicUsize = AtomicUsize::new(0);
static OPENED: AtomicUsize = AtomicUsize::new(0);

use wgtrain::data::{Dataset, Inputs, Targets};
use wgtrain::model::{Layer, Params};
use wgtrain::optim::{Decay, Method, Optimizer, Schedule};
use wgtrain::run::{Data, RunPlan, Settings};
use wgtrain::testing::Rng;
use wgtrain::{Activation, ClassWeights, Config, Device, Loss, Model, Output, Spec, Trainer};

/// Draws the fuzz cases' values: ordinary ones, and in a faulty case (half of them) the edges
/// (`fault`), so that clean cases reach training and faulty ones reach every check.
struct Draw(Rng, bool);

impl Draw {
    fn new(seed: u64) -> Draw {
        let mut rng = Rng::new(seed);
        let faulty = rng.next_f64() < 0.5;
        Draw(rng, faulty)
    }

    /// In a faulty case, with probability `p`.
    fn fault(&mut self, p: f64) -> bool {
        self.1 && self.chance(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.below(n.max(1))
    }

    fn chance(&mut self, p: f64) -> bool {
        self.0.next_f64() < p
    }

    /// A count around `typical`, sometimes 0 or off by one.
    fn count(&mut self, typical: usize) -> usize {
        if self.fault(0.2) {
            return [0, typical + 1][self.below(2)];
        }
        1 + self.below(typical)
    }

    fn float(&mut self) -> f32 {
        if !self.1 {
            return (self.0.next_f64() * 4.0 - 2.0) as f32;
        }
        match self.below(40) {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            3 => 0.0,
            4 => -1.0,
            5 => 1e30,
            6 => f32::MIN_POSITIVE / 4.0,
            _ => (self.0.next_f64() * 4.0 - 2.0) as f32,
        }
    }

    /// A positive rate or factor, sometimes not.
    fn rate(&mut self) -> f32 {
        if self.fault(0.15) {
            self.float()
        } else {
            (self.0.next_f64() * 0.5) as f32
        }
    }

    fn floats(&mut self, n: usize) -> Vec<f32> {
        let clean = !self.fault(0.3);
        (0..n)
            .map(|_| {
                if clean {
                    (self.0.next_f64() * 2.0 - 1.0) as f32
                } else {
                    self.float()
                }
            })
            .collect()
    }

    fn activation(&mut self) -> Activation {
        [
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::LeakyRelu,
            Activation::Linear,
        ][self.below(5)]
    }

    fn dataset(&mut self, dim: usize, outputs: usize, classes: bool) -> Dataset {
        let n = self.count(12);
        let dim = if self.fault(0.1) { self.count(4) } else { dim };
        let len = |d: &mut Draw, want: usize| {
            if d.fault(0.08) {
                d.count(want + 1)
            } else {
                want
            }
        };
        let x = match self.below(4) {
            0 => Inputs::U8 {
                data: vec![7; len(self, n * dim)],
                scale: self.rate(),
            },
            _ => {
                let m = len(self, n * dim);
                Inputs::F32(self.floats(m))
            }
        };
        let targets = if classes {
            let k = if self.fault(0.1) {
                self.count(4)
            } else {
                outputs
            };
            Targets::Classes {
                labels: {
                    let m = len(self, n);
                    (0..m)
                        .map(|_| {
                            let extra = usize::from(self.fault(0.1));
                            self.below(k + extra) as u32
                        })
                        .collect()
                },
                n_classes: k,
            }
        } else {
            let width = if self.fault(0.1) {
                self.count(3)
            } else {
                outputs
            };
            let m = len(self, n * width);
            Targets::Values {
                values: self.floats(m),
                width,
            }
        };
        Dataset {
            name: "fuzz".into(),
            x,
            n,
            dim,
            targets,
        }
    }

    /// A spec through its public fields: usually valid, sometimes not.
    fn spec(&mut self) -> Spec {
        let layers = self.count(3);
        let mut sizes: Vec<usize> = (0..layers + 2).map(|_| self.count(5)).collect();
        if !self.fault(0.3) {
            for s in &mut sizes {
                *s = (*s).max(1);
            }
        }
        let hidden_n = if !self.fault(0.1) {
            sizes.len().saturating_sub(2)
        } else {
            self.count(3)
        };
        let (output, loss) = match self.below(if self.1 { 5 } else { 4 }) {
            0 => (Output::Softmax, Loss::CrossEntropy),
            1 => (Output::Sigmoid, Loss::Bce),
            2 => (Output::Linear, Loss::Mse),
            3 => (Output::Sigmoid, Loss::Mse),
            _ => (
                [Output::Softmax, Output::Sigmoid, Output::Linear][self.below(3)],
                [Loss::CrossEntropy, Loss::Bce, Loss::Mse][self.below(3)],
            ),
        };
        Spec {
            hidden: (0..hidden_n).map(|_| self.activation()).collect(),
            sizes,
            output,
            loss,
        }
    }

    /// The parameters of `spec`, sometimes of the wrong shape or not finite.
    fn params(&mut self, spec: &Spec) -> Params {
        let layers = spec
            .sizes
            .windows(2)
            .map(|w| {
                let (fi, fo) = (w[0], w[1]);
                let off = |d: &mut Draw, n: usize| if d.fault(0.05) { d.count(n + 1) } else { n };
                let w = off(self, fi * fo);
                let b = off(self, fo);
                Layer {
                    w: self.floats(w),
                    b: self.floats(b),
                }
            })
            .collect();
        Params { layers }
    }

    fn config(&mut self) -> Config {
        let method = [
            Method::Sgd,
            Method::Momentum,
            Method::Nesterov,
            Method::Adam,
            Method::AdamW,
        ][self.below(5)];
        Config {
            lr: if self.1 {
                self.rate()
            } else {
                0.01 + self.rate()
            },
            l2: if self.chance(0.8) { 0.0 } else { self.rate() },
            batch: self.count(6),
            epochs: self.count(3),
            seed: self.0.next_u64(),
            optimizer: Optimizer {
                method,
                momentum: self.rate(),
                beta1: if !self.fault(0.2) { 0.9 } else { self.float() },
                beta2: if !self.fault(0.2) {
                    0.999
                } else {
                    self.float()
                },
                eps: if !self.fault(0.2) { 1e-8 } else { self.float() },
                weight_decay: if self.chance(0.8) { 0.0 } else { self.rate() },
            },
            schedule: Schedule {
                decay: match self.below(4) {
                    0 => Decay::Step {
                        every: usize::from(!self.fault(0.3)) + self.below(3),
                        gamma: self.rate(),
                    },
                    1 => Decay::Cosine,
                    _ => Decay::Constant,
                },
                warmup: self.below(5),
            },
            patience: self.fault(0.2).then(|| self.below(3)),
            // Balanced, or weights of any length and value (zero, negative, NaN among them).
            class_weights: match self.below(4) {
                0 => Some(ClassWeights::Balanced),
                1 => Some(ClassWeights::Given(
                    (0..self.below(5)).map(|_| self.float()).collect(),
                )),
                _ => None,
            },
        }
    }
}

/// Runs `f`, failing the test with the case when it panics.
fn no_panic<T>(case: u64, what: &str, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("case {case}: {what} panicked: {msg}");
        }
    }
}

/// One case: a session from arbitrary parts, trained with the token stopped at a drawn moment,
/// then the model's predict and evaluate.
fn session_case(case: u64, seed: u64) {
    let mut d = Draw::new(seed);
    let spec = d.spec();
    let (inputs, outputs) = (
        spec.sizes.first().copied().unwrap_or(0),
        spec.sizes.last().copied().unwrap_or(0),
    );
    let classes = spec.loss == Loss::CrossEntropy || d.chance(0.1);
    let train = d.dataset(inputs, outputs, classes);
    let test = d.chance(0.5).then(|| d.dataset(inputs, outputs, classes));
    let params = d.params(&spec);
    let model = Model {
        spec,
        params,
        input: Default::default(),
    };
    let config = d.config();
    let mut t = Trainer::new(model.clone(), train.clone(), config).device(Device::cpu());
    if let Some(test) = test.clone() {
        t = t.test(test);
    }
    if d.chance(0.2) {
        t = t.hold_out(d.0.next_f64() * 1.2 - 0.1);
    }
    let token = t.stop_token();
    // Stopped before fit (0), from the callback at an epoch's end (1-4), or from another
    // thread while it trains (5).
    let stop_at = d.below(6);
    if stop_at == 0 {
        token.stop();
    }
    let stopper = (stop_at == 5).then(|| {
        let (token, wait) = (token.clone(), d.below(300) as u64);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_micros(wait));
            token.stop();
        })
    });
    let fit = no_panic(case, "fit", || {
        t.fit(|r| {
            if r.epoch == stop_at {
                token.stop();
            }
            Ok(())
        })
    });
    if let Some(Ok(fit)) = &fit {
        if !fit.reports.is_empty() {
            TRAINED.fetch_add(1, Ordering::Relaxed);
        }
        for r in &fit.reports {
            assert!(
                r.train_loss.is_finite(),
                "case {case}: a non-finite loss reported"
            );
        }
    }
    if let Some(h) = stopper {
        h.join().unwrap();
    }
    no_panic(case, "progress", || t.progress());
    no_panic(case, "model", || t.model().map(|m| m.spec.describe()));
    let n = train.n;
    no_panic(case, "predict", || model.predict(&train.x, n));
    no_panic(case, "predict_f32", || model.predict_f32(&d.floats(inputs)));
    no_panic(case, "evaluate", || model.evaluate(&train));
    if let Some(test) = &test {
        no_panic(case, "evaluate test", || model.evaluate(test));
    }
}

/// One case: a plan with arbitrary settings and architecture on rows in memory.
fn plan_case(case: u64, seed: u64) {
    let mut d = Draw::new(seed);
    let dim = 1 + d.below(3);
    let classes = 2 + d.below(2);
    let data = d.dataset(dim, classes, true);
    let pick = |d: &mut Draw, v: f32| if d.chance(0.3) { Some(v) } else { None };
    let settings = Settings {
        epochs: Some(d.below(3)),
        lr: pick(&mut d, 0.0).map(|_| d.rate()),
        l2: pick(&mut d, 0.0).map(|_| d.rate()),
        batch: d.chance(0.3).then(|| d.count(5)),
        seed: Some(d.0.next_u64()),
        optimizer: d
            .chance(0.4)
            .then(|| [Method::Sgd, Method::Adam, Method::Momentum][d.below(3)]),
        momentum: pick(&mut d, 0.0).map(|_| d.rate()),
        beta1: pick(&mut d, 0.0).map(|_| d.float()),
        valid_split: d.chance(0.3).then(|| d.0.next_f64() * 1.2 - 0.1),
        patience: d.chance(0.2).then(|| d.below(3)),
        lr_step: d.chance(0.2).then(|| d.below(3)),
        warmup: d.chance(0.2).then(|| d.below(3)),
        ..Settings::default()
    };
    let arch = wgtrain::run::Arch {
        hidden: d
            .chance(0.5)
            .then(|| (0..d.below(3)).map(|_| d.count(4)).collect()),
        activations: d
            .chance(0.3)
            .then(|| (0..d.count(2)).map(|_| d.activation()).collect()),
        output: d
            .chance(0.2)
            .then(|| [Output::Softmax, Output::Sigmoid, Output::Linear][d.below(3)]),
        loss: d
            .chance(0.2)
            .then(|| [Loss::CrossEntropy, Loss::Bce, Loss::Mse][d.below(3)]),
    };
    let plan = RunPlan {
        data: Some(Data::Rows(data)),
        arch,
        settings,
        device: Device::cpu(),
        ..RunPlan::default()
    };
    if let Some(Ok(mut run)) = no_panic(case, "RunPlan::open", || plan.open()) {
        OPENED.fetch_add(1, Ordering::Relaxed);
        no_panic(case, "Run::fit", || run.fit(|_| Ok(())).map(drop));
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn arbitrary_sessions_and_plans_never_panic() {
    let cases = setting("WGTRAIN_FUZZ_CASES", 400);
    let base = setting("WGTRAIN_FUZZ_SEED", 0x5eed);
    for case in 0..cases {
        let seed = base.wrapping_mul(1_000_003).wrapping_add(case);
        session_case(case, seed);
        plan_case(case, seed ^ 0xa5a5);
    }
    let (trained, opened) = (
        TRAINED.load(Ordering::Relaxed),
        OPENED.load(Ordering::Relaxed),
    );
    eprintln!("{cases} cases: {trained} sessions trained, {opened} plans opened");
    assert!(
        trained as u64 * 10 >= cases && opened as u64 * 10 >= cases,
        "too few cases reach training: {trained} sessions, {opened} plans of {cases}"
    );
}

//! The architecture (layer sizes, activations, output, loss), seeded initialisation, host parameters.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Activation codes, the value of `act` in the shaders' `Params`: `ACT_*` in
/// shaders/activation.wgsl (tests/shader_constants.rs checks that both agree).
pub const ACT_LINEAR: u32 = 0;
/// Code of `Activation::Relu`.
pub const ACT_RELU: u32 = 1;
/// Code of `Activation::Sigmoid`.
pub const ACT_SIGMOID: u32 = 2;
/// Code of `Activation::Tanh`.
pub const ACT_TANH: u32 = 3;
/// Code of `Activation::LeakyRelu`.
pub const ACT_LEAKY_RELU: u32 = 4;

/// Loss codes, the value of `loss` in the shaders' `Params`: `LOSS_*` in shaders/loss.wgsl.
pub const LOSS_CROSS_ENTROPY: u32 = 0;
/// Code of `Loss::Bce`.
pub const LOSS_BCE: u32 = 1;
/// Code of `Loss::Mse`.
pub const LOSS_MSE: u32 = 2;

/// A hidden-layer activation. The shader code is `Activation::code()`; derivatives are taken from
/// the activation's *output* `a` (as burn does), so only outputs are kept for the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// The identity, `a = z`.
    Linear,
    /// `max(z, 0)`.
    Relu,
    /// `1 / (1 + e^-z)`.
    Sigmoid,
    /// `tanh(z)`.
    Tanh,
    /// `max(z, 0.01 z)`.
    LeakyRelu,
}

impl Activation {
    /// Every activation, in code order: `ALL[i].code() == i`.
    pub const ALL: [Activation; 5] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::LeakyRelu,
    ];

    /// The value of `act` in the shaders' `Params`.
    pub fn code(self) -> u32 {
        match self {
            Activation::Linear => ACT_LINEAR,
            Activation::Relu => ACT_RELU,
            Activation::Sigmoid => ACT_SIGMOID,
            Activation::Tanh => ACT_TANH,
            Activation::LeakyRelu => ACT_LEAKY_RELU,
        }
    }

    /// The name `FromStr`, `Display` and checkpoints use: `linear`, `relu`, `sigmoid`, `tanh` or
    /// `leaky-relu`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::LeakyRelu => "leaky-relu",
        }
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s.trim())
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown activation '{s}': expected one of relu, sigmoid, tanh, leaky-relu, linear"
                ))
            })
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The output layer's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Class probabilities that sum to 1; with cross-entropy, which takes the logits.
    Softmax,
    /// An independent probability per output; with bce (which takes the logits) or mse.
    Sigmoid,
    /// The last layer's values as they are; with mse.
    Linear,
}

impl Output {
    /// The name `FromStr`, `Display` and checkpoints use: `softmax`, `sigmoid` or `linear`.
    pub fn name(self) -> &'static str {
        match self {
            Output::Softmax => "softmax",
            Output::Sigmoid => "sigmoid",
            Output::Linear => "linear",
        }
    }
}

impl FromStr for Output {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "softmax" => Ok(Output::Softmax),
            "sigmoid" => Ok(Output::Sigmoid),
            "linear" => Ok(Output::Linear),
            _ => Err(Error::usage(format!(
                "unknown output '{s}': expected one of softmax, sigmoid, linear"
            ))),
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The loss. Exact formulas, per batch of N samples with outputs `a_n` and targets `y_n`:
/// - `CrossEntropy` (softmax output): `L = -(1/N) Σ_n log softmax(z_n)[y_n]`, gradient
///   `(softmax(z) - onehot(y)) / N` on the logits.
/// - `Bce` (sigmoid output): `L = -(1/N) Σ_n Σ_k [y log a + (1-y) log(1-a)]`, computed from the
///   logits as `max(z,0) - z y + log(1 + e^-|z|)`; gradient `(σ(z) - y) / N` on the logits.
/// - `Mse` (linear or sigmoid output): `L = (1/N) Σ_n ½‖a_n - y_n‖²`, gradient `(a - y) / N`
///   on the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy on class targets (also parsed from `xent` and `ce`).
    CrossEntropy,
    /// Binary cross-entropy per output, on targets in [0, 1].
    Bce,
    /// Half the squared error, summed over outputs and averaged over samples.
    Mse,
}

impl Loss {
    /// The name `Display` and checkpoints use: `cross-entropy`, `bce` or `mse`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "cross-entropy",
            Loss::Bce => "bce",
            Loss::Mse => "mse",
        }
    }

    /// The output that fits this loss when none is given.
    pub fn default_output(self) -> Output {
        match self {
            Loss::CrossEntropy => Output::Softmax,
            Loss::Bce => Output::Sigmoid,
            Loss::Mse => Output::Linear,
        }
    }

    /// The value of `loss` in the shaders' `Params`.
    pub fn code(self) -> u32 {
        match self {
            Loss::CrossEntropy => LOSS_CROSS_ENTROPY,
            Loss::Bce => LOSS_BCE,
            Loss::Mse => LOSS_MSE,
        }
    }
}

impl FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "cross-entropy" | "xent" | "ce" => Ok(Loss::CrossEntropy),
            "bce" => Ok(Loss::Bce),
            "mse" => Ok(Loss::Mse),
            _ => Err(Error::usage(format!(
                "unknown loss '{s}': expected one of cross-entropy, bce, mse"
            ))),
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Most parameters a network may have (2^30 f32 values, 4 GiB).
pub const MAX_PARAMS: usize = 1 << 30;

/// A dense network: `sizes = [inputs, hidden.., outputs]`, one activation per hidden layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Units per layer, inputs first and outputs last: at least two entries, none zero.
    pub sizes: Vec<usize>,
    /// Activation after each hidden layer: `sizes.len() - 2` entries.
    pub hidden: Vec<Activation>,
    /// The output layer's activation; it must fit `loss`.
    pub output: Output,
    /// The training loss.
    pub loss: Loss,
}

impl Spec {
    /// Checks that the pieces fit together: sizes non-zero, one activation per hidden layer,
    /// the loss matches the output.
    pub fn new(
        sizes: Vec<usize>,
        hidden: Vec<Activation>,
        output: Output,
        loss: Loss,
    ) -> Result<Spec, Error> {
        let spec = Spec {
            sizes,
            hidden,
            output,
            loss,
        };
        spec.check()?;
        Ok(spec)
    }

    /// What `new` checks, for a spec however it was built (its fields are public): `Model`'s
    /// `predict` and `evaluate`, `evaluate::predict` and the session's `open` call it.
    pub fn check(&self) -> Result<(), Error> {
        let Spec {
            sizes,
            hidden,
            output,
            loss,
        } = self;
        let (output, loss) = (*output, *loss);
        if sizes.len() < 2 {
            return Err(Error::usage(
                "a network needs at least an input and an output size",
            ));
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(Error::usage(format!(
                "layer size {i} is zero: every layer needs at least one unit"
            )));
        }
        // Parameters are counted in u32 indices on the GPU and must fit memory on the host.
        let mut total: usize = 0;
        for (l, w) in sizes.windows(2).enumerate() {
            let layer = w[0]
                .checked_mul(w[1])
                .and_then(|p| p.checked_add(w[1]))
                .filter(|&p| p <= MAX_PARAMS);
            total = match layer.and_then(|p| total.checked_add(p)) {
                Some(t) if t <= MAX_PARAMS => t,
                _ => {
                    return Err(Error::usage(format!(
                        "layer {l} ({} -> {}) takes the network over {MAX_PARAMS} parameters: use narrower layers",
                        w[0], w[1]
                    )));
                }
            };
        }
        if hidden.len() != sizes.len() - 2 {
            return Err(Error::usage(format!(
                "{} hidden layers but {} hidden activations: give one activation for all or one per layer",
                sizes.len() - 2,
                hidden.len()
            )));
        }
        match (loss, output) {
            (Loss::CrossEntropy, Output::Softmax)
            | (Loss::Bce, Output::Sigmoid)
            | (Loss::Mse, Output::Linear | Output::Sigmoid) => {}
            _ => {
                return Err(Error::usage(format!(
                    "loss {loss} does not fit output {output}: cross-entropy needs softmax, bce needs sigmoid, mse needs linear or sigmoid"
                )));
            }
        }
        if output == Output::Softmax && sizes[sizes.len() - 1] < 2 {
            return Err(Error::usage("softmax needs at least two outputs"));
        }
        Ok(())
    }

    /// A classifier: ReLU hidden layers of `hidden` units, `classes` softmax outputs,
    /// cross-entropy loss.
    pub fn classifier(inputs: usize, hidden: &[usize], classes: usize) -> Result<Spec, Error> {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(classes);
        Spec::new(
            sizes,
            vec![Activation::Relu; hidden.len()],
            Output::Softmax,
            Loss::CrossEntropy,
        )
    }

    /// A regressor: ReLU hidden layers of `hidden` units, `outputs` linear outputs, mean
    /// squared error loss.
    pub fn regressor(inputs: usize, hidden: &[usize], outputs: usize) -> Result<Spec, Error> {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(outputs);
        Spec::new(
            sizes,
            vec![Activation::Relu; hidden.len()],
            Output::Linear,
            Loss::Mse,
        )
    }

    /// Number of weight layers, `sizes.len() - 1`.
    pub fn n_layers(&self) -> usize {
        self.sizes.len().saturating_sub(1)
    }

    /// Input features per sample, `sizes[0]`.
    pub fn inputs(&self) -> usize {
        self.sizes.first().copied().unwrap_or(0)
    }

    /// Outputs per sample, the last entry of `sizes`.
    pub fn outputs(&self) -> usize {
        self.sizes.last().copied().unwrap_or(0)
    }

    /// `(fan_in, fan_out)` of layer `l`.
    pub fn layer_shape(&self, l: usize) -> (usize, usize) {
        (self.sizes[l], self.sizes[l + 1])
    }

    /// The activation the forward pass applies after layer `l`'s matmul: the hidden activation, or
    /// for the output layer the part of the output that is not fused into the loss (softmax and
    /// the bce sigmoid work on logits, so they are `Linear` here; mse with sigmoid is `Sigmoid`).
    pub fn layer_activation(&self, l: usize) -> Activation {
        if l + 1 < self.n_layers() {
            self.hidden[l]
        } else if self.output == Output::Sigmoid && self.loss == Loss::Mse {
            Activation::Sigmoid
        } else {
            Activation::Linear
        }
    }

    /// Number of parameters.
    pub fn n_params(&self) -> usize {
        (0..self.n_layers())
            .map(|l| {
                let (i, o) = self.layer_shape(l);
                i.saturating_mul(o).saturating_add(o)
            })
            .fold(0usize, usize::saturating_add)
    }

    /// Floating-point operations of one training sample: 2·fan_in·fan_out each for the forward
    /// matmul, the weight gradient and the input gradient, except the first layer's input
    /// gradient, which nothing needs and no path computes (the benchmark README's T2 figure).
    pub fn flops_per_sample(&self) -> f64 {
        (0..self.n_layers())
            .map(|l| {
                let (i, o) = self.layer_shape(l);
                let passes = if l == 0 { 4.0 } else { 6.0 };
                passes * i as f64 * o as f64
            })
            .sum()
    }

    /// A one-line description, e.g. `64-32(relu)-10 softmax/cross-entropy` (a hidden layer
    /// without its activation shows `?`, as a spec built by hand may have).
    pub fn describe(&self) -> String {
        let mut s = self.inputs().to_string();
        for l in 0..self.n_layers() {
            s.push('-');
            s.push_str(&self.sizes[l + 1].to_string());
            if l + 1 < self.n_layers() {
                match self.hidden.get(l) {
                    Some(a) => s.push_str(&format!("({a})")),
                    None => s.push_str("(?)"),
                }
            }
        }
        format!("{s} {}/{}", self.output, self.loss)
    }
}

/// One dense layer: `w` is (fan_in, fan_out) row-major, so the forward pass is `X·W + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Weights, (fan_in, fan_out) row-major: `w[i * fan_out + o]` links input i to output o.
    pub w: Vec<f32>,
    /// Biases, (fan_out).
    pub b: Vec<f32>,
}

/// Host copy of all parameters, layer by layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// One entry per layer of the `Spec`, the input layer's first.
    pub layers: Vec<Layer>,
}

impl Params {
    /// Seeded Glorot-uniform initialisation (`±sqrt(6/(fan_in+fan_out))`, scikit-learn's and
    /// Keras's default, PyTorch's `xavier_uniform_`) for every layer, zero biases. He-uniform
    /// (`±sqrt(6/fan_in)`, wgtrain's choice before relu layers until issue 16 part 8) gives a
    /// table of a few inputs feeding 64 units weights ~4x larger: on ten public tables of
    /// 110-400 rows it scored 0.8-5 points (0.03-0.1 R²) below Glorot, and no worse on digits.
    pub fn init(spec: &Spec, seed: u64) -> Params {
        let mut rng = crate::rng::Rng::new(seed ^ 0x5eed_1417);
        let layers = (0..spec.n_layers())
            .map(|l| {
                let (fi, fo) = spec.layer_shape(l);
                let bound = (6.0 / (fi + fo) as f64).sqrt();
                let w = (0..fi * fo)
                    .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
                    .collect();
                Layer {
                    w,
                    b: vec![0.0; fo],
                }
            })
            .collect();
        Params { layers }
    }

    /// Zeros shaped like `spec` (for gradients).
    pub fn zeros(spec: &Spec) -> Params {
        Params {
            layers: (0..spec.n_layers())
                .map(|l| {
                    let (fi, fo) = spec.layer_shape(l);
                    Layer {
                        w: vec![0.0; fi * fo],
                        b: vec![0.0; fo],
                    }
                })
                .collect(),
        }
    }

    /// Checks that every tensor has the shape `spec` asks for.
    pub fn check_shapes(&self, spec: &Spec) -> Result<(), Error> {
        if self.layers.len() != spec.n_layers() {
            return Err(Error::Shape(format!(
                "parameters have {} layers, the network {}",
                self.layers.len(),
                spec.n_layers()
            )));
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let (fi, fo) = spec.layer_shape(l);
            if layer.w.len() != fi * fo || layer.b.len() != fo {
                return Err(Error::Shape(format!(
                    "layer {l}: expected weight {fi}x{fo} and bias {fo}, got {} and {} values",
                    layer.w.len(),
                    layer.b.len()
                )));
            }
        }
        Ok(())
    }

    /// The first weight or bias that is not finite, as "layers.L.weight (input i, output j) is
    /// NaN" (the tensor as a checkpoint names it); None when all are finite.
    pub(crate) fn first_non_finite(&self) -> Option<String> {
        self.layers.iter().enumerate().find_map(|(l, layer)| {
            let out = layer.b.len().max(1);
            if let Some(k) = layer.w.iter().position(|v| !v.is_finite()) {
                return Some(format!(
                    "layers.{l}.weight (input {}, output {}) is {}",
                    k / out,
                    k % out,
                    layer.w[k]
                ));
            }
            let k = layer.b.iter().position(|v| !v.is_finite())?;
            Some(format!("layers.{l}.bias {k} is {}", layer.b[k]))
        })
    }

    /// Whether every weight and bias is finite (no NaN or infinity).
    pub fn all_finite(&self) -> bool {
        self.layers
            .iter()
            .all(|l| l.w.iter().chain(&l.b).all(|v| v.is_finite()))
    }
}

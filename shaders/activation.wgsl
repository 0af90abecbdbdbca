// Activations and their derivatives, prepended to the shaders that use them.
// Codes mirror model::ACT_* (Activation::code()); tests/shader_constants.rs checks they agree.
// Derivatives take the activation's output a = act(z), so only outputs are kept for backward.

const ACT_LINEAR: u32 = 0u;
const ACT_RELU: u32 = 1u;
const ACT_SIGMOID: u32 = 2u;
const ACT_TANH: u32 = 3u;
const ACT_LEAKY_RELU: u32 = 4u;

fn activation_forward(z: f32, act: u32) -> f32 {
    switch act {
        case ACT_RELU: { return max(z, 0.0); }
        case ACT_SIGMOID: { return 1.0 / (1.0 + exp(-z)); }
        // tanh(±15) is ±1 in f32; the clamp keeps exp-based tanh implementations away from inf/inf.
        case ACT_TANH: { return tanh(clamp(z, -15.0, 15.0)); }
        case ACT_LEAKY_RELU: { return select(0.01 * z, z, z > 0.0); }
        // ACT_LINEAR
        default: { return z; }
    }
}

fn activation_backward(a: f32, act: u32) -> f32 {
    switch act {
        case ACT_RELU: { return select(0.0, 1.0, a > 0.0); }
        case ACT_SIGMOID: { return a * (1.0 - a); }
        case ACT_TANH: { return 1.0 - a * a; }
        case ACT_LEAKY_RELU: { return select(0.01, 1.0, a > 0.0); }
        // ACT_LINEAR
        default: { return 1.0; }
    }
}

// Activations and their derivatives, prepended to the shaders that use them.
// Codes match model::Activation::code(): 0 linear, 1 relu, 2 sigmoid, 3 tanh, 4 leaky-relu.
// Derivatives take the activation's output a = act(z), so only outputs are kept for backward.

fn act_forward(z: f32, act: u32) -> f32 {
    switch act {
        case 1u: { return max(z, 0.0); }
        case 2u: { return 1.0 / (1.0 + exp(-z)); }
        // tanh(±15) is ±1 in f32; the clamp keeps exp-based tanh implementations away from inf/inf.
        case 3u: { return tanh(clamp(z, -15.0, 15.0)); }
        case 4u: { return select(0.01 * z, z, z > 0.0); }
        default: { return z; }
    }
}

fn act_backward(a: f32, act: u32) -> f32 {
    switch act {
        case 1u: { return select(0.0, 1.0, a > 0.0); }
        case 2u: { return a * (1.0 - a); }
        case 3u: { return 1.0 - a * a; }
        case 4u: { return select(0.01, 1.0, a > 0.0); }
        default: { return 1.0; }
    }
}

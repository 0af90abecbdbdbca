// The per-step uniform, bound with a dynamic offset: one 256-byte slot per training step, so a
// whole epoch is recorded at once and each step still knows where its rows start in the epoch's
// permutation, its stats slot and lr, and the optimiser its update count t and Adam's bias
// corrections bias1 = 1-β1^t, bias2 = 1-β2^t (computed on the host in f64; zero outside
// training steps). How many rows a dispatch handles is in its own params (a step may be split
// into row chunks).
struct Step {
    row_offset: u32,
    slot: u32,
    lr: f32,
    t: u32,
    bias1: f32,
    bias2: f32,
    _pad0: u32,
    _pad1: u32,
}

// The per-step uniform, bound with a dynamic offset: one 256-byte slot per training step, so a
// whole epoch is recorded at once and each step still knows its rows, stats slot and lr, and the
// optimiser its update count t and Adam's bias corrections bias1 = 1-β1^t, bias2 = 1-β2^t
// (computed on the host in f64; zero outside training steps).
struct Step {
    row_offset: u32,
    rows: u32,
    slot: u32,
    lr: f32,
    t: u32,
    bias1: f32,
    bias2: f32,
    _pad: u32,
}

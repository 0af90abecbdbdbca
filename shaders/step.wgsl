// The per-step uniform, bound with a dynamic offset: one 256-byte slot per training step, so a
// whole epoch is recorded at once and each step still knows its rows, stats slot and lr.
struct Step {
    row_offset: u32,
    rows: u32,
    slot: u32,
    lr: f32,
}

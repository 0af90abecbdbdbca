// The adapter's fp32 throughput, measured: every thread runs eight independent vec4 FMA chains
// for ITERS rounds and touches memory only to read its two constants. The result is written
// only under a condition the chains never meet, so the work cannot be optimised away and no
// store costs time.
//
// Bindings: 0 io (read_write): io[0] = b, io[1] = c on entry; io[2 + thread] written never.
// Dispatch: (groups, 1, 1) workgroups of 256 threads; each thread does ITERS * 8 * 4 FMAs.

@group(0) @binding(0) var<storage, read_write> io: array<f32>;

// Well under the 65535 iterations after which llvmpipe ends a loop.
const ITERS: u32 = 1024u;

@compute @workgroup_size(256)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = vec4<f32>(io[0]);
    let c = vec4<f32>(io[1]);
    let s = f32(gid.x) * 1e-9;
    var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
    var a1 = a0 + 1.0;
    var a2 = a0 + 2.0;
    var a3 = a0 + 3.0;
    var a4 = a0 + 4.0;
    var a5 = a0 + 5.0;
    var a6 = a0 + 6.0;
    var a7 = a0 + 7.0;
    for (var i = 0u; i < ITERS; i++) {
        a0 = fma(a0, b, c);
        a1 = fma(a1, b, c);
        a2 = fma(a2, b, c);
        a3 = fma(a3, b, c);
        a4 = fma(a4, b, c);
        a5 = fma(a5, b, c);
        a6 = fma(a6, b, c);
        a7 = fma(a7, b, c);
    }
    let t = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7);
    if t.x + t.y + t.z + t.w == -1.0 {
        io[2u + gid.x] = t.x;
    }
}

// sgd_update: θ -= lr·(g + 2λθ) over a flat range of parameters; λ applies to the first
// `decay_end` elements (the weights), not to the biases after them. lr comes from the step.
// grad (len), param (len).
// Bindings: 0 grad (read), 1 param (read_write), 2 params, 3 step (dynamic).
// Dispatch: (min(ceil(len/256), 65535), 1, 1) with a grid-stride loop.

struct Params {
    len: u32,
    decay_end: u32,
    l2: f32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<uniform> step: Step;

const WG: u32 = 256u;

@compute @workgroup_size(256, 1, 1)
fn sgd_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // Guarded by the bindings' real lengths too, so the module needs no runtime bounds checks.
    let len = min(params.len, min(arrayLength(&grad), arrayLength(&param)));
    for (var i = gid.x; i < len; i += nwg.x * WG) {
        let p = param[i];
        let decay = select(0.0, 2.0 * params.l2 * p, i < params.decay_end);
        param[i] = p - step.lr * (grad[i] + decay);
    }
}

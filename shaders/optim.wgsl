// The optimisers beyond plain SGD (sgd.wgsl), PyTorch's torch.optim rules, over the flat
// parameter buffer; the state tensors (velocity; Adam's m and v) share its layout. With
// g = grad + 2λθ, where λ (--l2) applies to the first `decay_end` elements (the weights) only:
//
// momentum_update (SGD with momentum, dampening 0; v starts at 0):
//   v = μ·v + g;   θ -= lr·v              (nesterov = 0)
//                  θ -= lr·(g + μ·v)      (nesterov = 1, with the new v)
// adam_update (Adam with bias correction; AdamW with weight_decay > 0; m, v start at 0):
//   θ *= 1 - lr·wd                        (decoupled decay, weights only; wd = 0 is Adam)
//   m = β1·m + (1-β1)·g;   v = β2·v + (1-β2)·g²
//   θ -= (lr / bias1)·(m / (sqrt(v) / sqrt(bias2) + eps)),   bias1 = 1-β1^t, bias2 = 1-β2^t
//
// lr, and Adam's bias1 and bias2 for this update t, come from the step uniform (computed per
// step on the host in f64). Every element is read and written by one thread: no reductions.
// Shapes: grad, param, moment1 (velocity v, or Adam's m), moment2 (Adam's v) are all (len).
// Bindings: 0 grad (read), 1 param (read_write), 2 moment1 (read_write), 3 moment2
//   (read_write; adam_update only, momentum_update's layout leaves it out), 4 params, 5 step
//   (dynamic offset). No binding is shared by two variables, so every backend can write each
//   entry point with only its own resources.
// Dispatch: (min(ceil(len/256), 65535), 1, 1) with a grid-stride loop.

// The fields of both updates; each reads its own.
struct Params {
    len: u32,
    decay_end: u32,
    l2: f32,
    momentum: f32,
    nesterov: u32,
    weight_decay: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> moment1: array<f32>;
@group(0) @binding(3) var<storage, read_write> moment2: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<uniform> step: Step;

const WG: u32 = 256u;

// params.len, guarded by the bindings' real lengths too, so the module needs no runtime bounds
// checks (momentum_update binds moment2 as well, unused: a one-float placeholder would stop it
// early, so it is not counted there).
fn bound_momentum() -> u32 {
    return min(params.len, min(min(arrayLength(&grad), arrayLength(&param)), arrayLength(&moment1)));
}

fn bound() -> u32 {
    return min(bound_momentum(), arrayLength(&moment2));
}

@compute @workgroup_size(256, 1, 1)
fn momentum_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let mu = params.momentum;
    let lr = step.lr;
    let len = bound_momentum();
    for (var i = gid.x; i < len; i += nwg.x * WG) {
        let p = param[i];
        let g = grad[i] + select(0.0, 2.0 * params.l2 * p, i < params.decay_end);
        let v = mu * moment1[i] + g;
        moment1[i] = v;
        let d = select(v, g + mu * v, params.nesterov != 0u);
        param[i] = p - lr * d;
    }
}

@compute @workgroup_size(256, 1, 1)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b1 = params.beta1;
    let b2 = params.beta2;
    let lr = step.lr;
    let step_size = lr / step.bias1;
    let bias2_sqrt = sqrt(step.bias2);
    let len = bound();
    for (var i = gid.x; i < len; i += nwg.x * WG) {
        let p = param[i];
        let decays = i < params.decay_end;
        let g = grad[i] + select(0.0, 2.0 * params.l2 * p, decays);
        let q = select(p, p * (1.0 - lr * params.weight_decay), decays);
        let m = b1 * moment1[i] + (1.0 - b1) * g;
        let v = b2 * moment2[i] + (1.0 - b2) * (g * g);
        moment1[i] = m;
        moment2[i] = v;
        param[i] = q - step_size * (m / (sqrt(v) / bias2_sqrt + params.eps));
    }
}

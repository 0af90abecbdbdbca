// Tiled, register-blocked matmul in the three forms training needs, with fused epilogues.
//
//   matmul_forward          c = act(a·b + bias)        a (M,K), b (K,N), aux = bias (N)
//   matmul_backward_weight  c = aᵀ·b                   a stored (K,M), b (K,N)
//   matmul_backward_input   c = (a·bᵀ) ∘ act'(aux)     a (M,K), b stored (N,K), aux (M,N)
// c is (M,N), row-major, overwritten; only matmul_backward_weight adds to it, and only when
// params.accumulate says so (the gradient of a batch split into row chunks).
//
// Bindings: 0 a, 1 b, 2 aux (read; unused by backward_weight), 3 c (read_write), 4 params.
// Dispatch: (ceil(N/TILE_N), ceil(M/TILE_M), 1) workgroups of 16×16 threads; thread (lx, ly)
// computes the 4×4 block of c at rows wg.y*64 + 4ly + i, columns wg.x*64 + 4lx + j, held in
// four vec4 accumulators (one per row) so no private array is indexed dynamically.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    act: u32,
    // matmul_backward_weight: 1 adds to c (later row chunks of a batch split across bindings).
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 256u;

// as_[kk][mm] and bs[kk][nn] as vec4s along m / n: the inner loop reads one vec4 of each.
var<workgroup> as_: array<vec4<f32>, 256>;
var<workgroup> bs: array<vec4<f32>, 256>;

const FORM_NN: u32 = 0u;
const FORM_TN: u32 = 1u;
const FORM_NT: u32 = 2u;

// Element (row, col) of the logical (M,K) left operand.
fn load_a(form: u32, row: u32, col: u32) -> f32 {
    if row >= params.m || col >= params.k {
        return 0.0;
    }
    if form == FORM_TN {
        return a[col * params.m + row];
    }
    return a[row * params.k + col];
}

// Element (row, col) of the logical (K,N) right operand.
fn load_b(form: u32, row: u32, col: u32) -> f32 {
    if row >= params.k || col >= params.n {
        return 0.0;
    }
    if form == FORM_NT {
        return b[col * params.k + row];
    }
    return b[row * params.n + col];
}

// This thread's 4×4 block of a·b: row i of the block in r[i], columns along the vec4.
struct Block {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

fn set_a(kk: u32, mm: u32, v: f32) {
    as_[kk * (TILE_M / 4u) + mm / 4u][mm % 4u] = v;
}

fn set_b(kk: u32, nn: u32, v: f32) {
    bs[kk * (TILE_N / 4u) + nn / 4u][nn % 4u] = v;
}

// Accumulates this thread's 4×4 block of a·b over all of K.
fn mm_tiles(form: u32, wg: vec3<u32>, lid: vec3<u32>) -> Block {
    let t = lid.y * 16u + lid.x;
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
        for (var e = t; e < TILE_M * TILE_K; e += THREADS) {
            // Walk memory contiguously: along k for a row-major a, along m for a stored (K,M).
            var mm = e / TILE_K;
            var kk = e % TILE_K;
            if form == FORM_TN {
                mm = e % TILE_M;
                kk = e / TILE_M;
            }
            set_a(kk, mm, load_a(form, row0 + mm, k0 + kk));
        }
        for (var e = t; e < TILE_N * TILE_K; e += THREADS) {
            var nn = e % TILE_N;
            var kk = e / TILE_N;
            if form == FORM_NT {
                nn = e / TILE_K;
                kk = e % TILE_K;
            }
            set_b(kk, nn, load_b(form, k0 + kk, col0 + nn));
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            let av = as_[kk * (TILE_M / 4u) + lid.y];
            let bv = bs[kk * (TILE_N / 4u) + lid.x];
            acc.r0 += av.x * bv;
            acc.r1 += av.y * bv;
            acc.r2 += av.z * bv;
            acc.r3 += av.w * bv;
        }
        workgroupBarrier();
    }
    return acc;
}

fn block_row(acc: Block, i: u32) -> vec4<f32> {
    switch i {
        case 0u: { return acc.r0; }
        case 1u: { return acc.r1; }
        case 2u: { return acc.r2; }
        default: { return acc.r3; }
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let acc = mm_tiles(FORM_NN, wg, lid);
    for (var i = 0u; i < 4u; i++) {
        let row = wg.y * TILE_M + 4u * lid.y + i;
        let v = block_row(acc, i);
        for (var j = 0u; j < 4u; j++) {
            let col = wg.x * TILE_N + 4u * lid.x + j;
            if row < params.m && col < params.n {
                c[row * params.n + col] = act_forward(v[j] + aux[col], params.act);
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_weight(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let acc = mm_tiles(FORM_TN, wg, lid);
    for (var i = 0u; i < 4u; i++) {
        let row = wg.y * TILE_M + 4u * lid.y + i;
        let v = block_row(acc, i);
        for (var j = 0u; j < 4u; j++) {
            let col = wg.x * TILE_N + 4u * lid.x + j;
            if row < params.m && col < params.n {
                let idx = row * params.n + col;
                if params.accumulate != 0u {
                    c[idx] += v[j];
                } else {
                    c[idx] = v[j];
                }
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let acc = mm_tiles(FORM_NT, wg, lid);
    for (var i = 0u; i < 4u; i++) {
        let row = wg.y * TILE_M + 4u * lid.y + i;
        let v = block_row(acc, i);
        for (var j = 0u; j < 4u; j++) {
            let col = wg.x * TILE_N + 4u * lid.x + j;
            if row < params.m && col < params.n {
                let idx = row * params.n + col;
                c[idx] = v[j] * act_backward(aux[idx], params.act);
            }
        }
    }
}

// Tiled, register-blocked matmul in the three forms training needs, with fused epilogues.
//
//   matmul_forward          c = act(a·b + bias)        a (M,K), b (K,N), aux = bias (N)
//   matmul_backward_weight  c = aᵀ·b, db = Σ_k b[k,:]  a stored (K,M), b (K,N), db (N)
//   matmul_backward_input   c = (a·bᵀ) ∘ act'(aux)     a (M,K), b stored (N,K), aux (M,N)
// c is (M,N), row-major, overwritten; only matmul_backward_weight adds to c and db, and only
// when params.accumulate says so (the gradient of a batch split into row chunks).
// matmul_backward_weight is dW = Xᵀ·dZ and, from the dZ tiles it streams anyway, the bias
// gradient db = column sums of dZ: the workgroups of the first row tile (wg.y = 0) keep per-thread
// partial sums while loading dZ and add them in a fixed order at the end (no atomics).
//
// Bindings: 0 a, 1 b, 2 aux (read; forward and backward_input), 3 c (read_write),
// 4 db (read_write; backward_weight), 5 params.
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
@group(0) @binding(4) var<storage, read_write> db: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 256u;

// as_[kk][mm] and bs[kk][nn] as vec4s along m / n: the inner loop reads one vec4 of each.
var<workgroup> as_: array<vec4<f32>, 256>;
var<workgroup> bs: array<vec4<f32>, 256>;
// matmul_backward_weight: each thread's partial column sum of b, for the bias gradient.
var<workgroup> bias_part: array<f32, 256>;

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

// A thread's block and, for FORM_TN, its partial sum of the b elements it loaded.
struct Tiles {
    acc: Block,
    bsum: f32,
}

fn set_a(kk: u32, mm: u32, v: f32) {
    as_[kk * (TILE_M / 4u) + mm / 4u][mm % 4u] = v;
}

fn set_b(kk: u32, nn: u32, v: f32) {
    bs[kk * (TILE_N / 4u) + nn / 4u][nn % 4u] = v;
}

// Accumulates this thread's 4×4 block of a·b over all of K. For FORM_TN it also sums the b
// elements it loads: column t % 64 of the tile, rows k ≡ t / 64 (mod 4).
fn mm_tiles(form: u32, wg: vec3<u32>, lid: vec3<u32>) -> Tiles {
    let t = lid.y * 16u + lid.x;
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var bsum = 0.0;
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
            let v = load_b(form, k0 + kk, col0 + nn);
            if form == FORM_TN {
                bsum += v;
            }
            set_b(kk, nn, v);
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
    return Tiles(acc, bsum);
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
    let acc = mm_tiles(FORM_NN, wg, lid).acc;
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
    let tiles = mm_tiles(FORM_TN, wg, lid);
    let acc = tiles.acc;
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
    // The bias gradient, once per column: threads t, t+64, t+128, t+192 hold column t's
    // partial sums over rows k ≡ 0, 1, 2, 3 (mod 4); thread t adds them in that order.
    if wg.y == 0u {
        let t = lid.y * 16u + lid.x;
        bias_part[t] = tiles.bsum;
        workgroupBarrier();
        let col = wg.x * TILE_N + t;
        if t < TILE_N && col < params.n {
            let s = ((bias_part[t] + bias_part[t + 64u]) + bias_part[t + 128u]) + bias_part[t + 192u];
            if params.accumulate != 0u {
                db[col] += s;
            } else {
                db[col] = s;
            }
        }
    }
}

@compute @workgroup_size(16, 16, 1)
fn matmul_backward_input(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let acc = mm_tiles(FORM_NT, wg, lid).acc;
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

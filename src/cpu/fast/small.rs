//! The fast path's GEMM for small operands on x86-64 with AVX2 and FMA: the right-hand matrix
//! packed into zero-padded panels of 16 columns, the left-hand one read in place (a broadcast
//! per element, any strides), 6×16 tiles of the output in registers.
//!
//! A step of a small network (T3: 32 rows of 64 inputs, 32 and 10 units) multiplies matrices of
//! a few thousand elements; the gemm crate's per-call set-up (operand checks, workspace
//! allocation, packing both sides) cost as much there as the arithmetic. This kernel has none
//! of it: one pass over B to pack it, then the tiles. Products whose packed B would not stay in
//! cache, or that are large enough for the set-up not to matter, go to the gemm crate
//! (`fits`).

use super::gemm::Block;

/// Largest packed right-hand side (k × n rounded up to 16 columns), in floats: 128 KiB, within
/// a core's L2 cache on the CPUs this runs on.
const MAX_PACKED: usize = 32 * 1024;
/// Largest product, in multiply-adds, taken here; larger ones amortise the gemm crate's set-up.
const MAX_MACS: usize = 1 << 22;
/// The same where the CPU has AVX-512, whose twice-as-wide kernels the crate uses: there only
/// the products where its set-up dominates (T3's and T5's) come here. Unmeasured on such a CPU
/// (none was at hand): a conservative bound, kept where this kernel's AVX2 cannot lose much.
const MAX_MACS_AVX512: usize = 1 << 18;

/// Whether this kernel takes the block: AVX2 and FMA present, the block small (see above).
pub(super) fn fits(b: &Block) -> bool {
    let max_macs = if imp::wide() {
        MAX_MACS_AVX512
    } else {
        MAX_MACS
    };
    imp::available()
        && b.k * b.n.next_multiple_of(imp::NR) <= MAX_PACKED
        && b.m * b.k * b.n <= max_macs
}

/// c = alpha·a·b + beta·c for a block that `fits`; c is not read when beta is 0.
///
/// # Safety
/// Every pointer must address the block's elements under its strides, c's rows disjoint from
/// what a and b address.
pub(super) unsafe fn run(b: Block, alpha: f32, beta: f32) {
    unsafe { imp::run(b, alpha, beta) }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;
    use std::cell::RefCell;

    use super::Block;

    /// Columns per panel and per tile.
    pub(super) const NR: usize = 16;
    /// Rows per tile.
    const MR: usize = 6;

    pub(super) fn available() -> bool {
        static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *YES.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }

    /// Whether the CPU has AVX-512 (the gemm crate's wider kernels).
    pub(super) fn wide() -> bool {
        static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *YES.get_or_init(|| is_x86_feature_detected!("avx512f"))
    }

    thread_local! {
        /// Each thread's packed right-hand side, reused from call to call.
        static PACKED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }

    /// # Safety
    /// As `super::run`, on a CPU with AVX2 and FMA.
    pub(super) unsafe fn run(blk: Block, alpha: f32, beta: f32) {
        PACKED.with(|p| {
            let mut p = p.borrow_mut();
            let panels = blk.n.div_ceil(NR);
            let len = panels * NR * blk.k;
            if p.len() < len {
                p.resize(len, 0.0);
            }
            // SAFETY: available() was checked by `fits`; the pointers are the caller's.
            unsafe {
                pack(&blk, &mut p[..len]);
                tiles(&blk, &p[..len], alpha, beta);
            }
        })
    }

    /// B as `ceil(n/16)` panels, each k rows of 16 columns, the columns past n zero.
    ///
    /// # Safety
    /// b's pointer addresses the block's k × n elements under its strides.
    unsafe fn pack(blk: &Block, out: &mut [f32]) {
        let k = blk.k;
        if k == 0 {
            return;
        }
        for (q, panel) in out.chunks_exact_mut(NR * k).enumerate() {
            let j0 = q * NR;
            let w = NR.min(blk.n - j0);
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                // SAFETY: p < k and j0 + j < n for every element read.
                let src = unsafe { blk.b.add(p * blk.b_rs + j0 * blk.b_cs) };
                if blk.b_cs == 1 && w == NR {
                    // SAFETY: as above; 16 columns from column j0 are in the row. (A copy of a
                    // fixed length: no call to memcpy per row.)
                    let src = unsafe { &*(src as *const [f32; NR]) };
                    <&mut [f32; NR]>::try_from(&mut *row)
                        .unwrap()
                        .copy_from_slice(src);
                    continue;
                } else if blk.b_cs == 1 {
                    // SAFETY: as above; w columns from column j0 are in the row.
                    row[..w].copy_from_slice(unsafe { std::slice::from_raw_parts(src, w) });
                } else {
                    for (j, v) in row[..w].iter_mut().enumerate() {
                        *v = unsafe { *src.add(j * blk.b_cs) };
                    }
                }
                row[w..].fill(0.0);
            }
        }
    }

    /// Every tile of c: MR rows (fewer at the bottom) by one panel.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tiles(blk: &Block, packed: &[f32], alpha: f32, beta: f32) {
        for i0 in (0..blk.m).step_by(MR) {
            let rows = MR.min(blk.m - i0);
            for (q, panel) in packed.chunks_exact(NR * blk.k.max(1)).enumerate() {
                let cols = NR.min(blk.n - q * NR);
                let t = Tile {
                    a: unsafe { blk.a.add(i0 * blk.a_rs) },
                    c: unsafe { blk.c.add(i0 * blk.c_rs + q * NR) },
                    cols,
                };
                // SAFETY: rows i0..i0+rows and columns q·16..+cols of the block.
                unsafe {
                    match rows {
                        6 => tile::<6>(blk, t, panel, alpha, beta),
                        5 => tile::<5>(blk, t, panel, alpha, beta),
                        4 => tile::<4>(blk, t, panel, alpha, beta),
                        3 => tile::<3>(blk, t, panel, alpha, beta),
                        2 => tile::<2>(blk, t, panel, alpha, beta),
                        _ => tile::<1>(blk, t, panel, alpha, beta),
                    }
                }
            }
            if blk.k == 0 {
                // No panels to walk: c = beta·c (or 0) on these rows.
                for r in i0..i0 + rows {
                    for j in 0..blk.n {
                        let c = unsafe { &mut *blk.c.add(r * blk.c_rs + j) };
                        *c = if beta == 0.0 { 0.0 } else { beta * *c };
                    }
                }
            }
        }
    }

    /// Where one tile starts in a and c, and how many of its 16 columns are c's.
    #[derive(Clone, Copy)]
    struct Tile {
        a: *const f32,
        c: *mut f32,
        cols: usize,
    }

    /// One tile of M rows: acc = a[M rows]·panel, then c = alpha·acc + beta·c.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const M: usize>(blk: &Block, t: Tile, panel: &[f32], alpha: f32, beta: f32) {
        let mut acc = [[_mm256_setzero_ps(); 2]; M];
        let mut bp = panel.as_ptr();
        let mut ap = t.a;
        for _ in 0..blk.k {
            // SAFETY: the panel holds k rows of 16; a's rows r < M and column p < k are in the
            // block.
            unsafe {
                let b0 = _mm256_loadu_ps(bp);
                let b1 = _mm256_loadu_ps(bp.add(8));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_broadcast_ss(&*ap.add(r * blk.a_rs));
                    acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
                }
                bp = bp.add(NR);
                ap = ap.add(blk.a_cs);
            }
        }
        let (va, vb) = (_mm256_set1_ps(alpha), _mm256_set1_ps(beta));
        // Lane j of half h is one of c's columns when 8·h + j < cols.
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mask = [0, 8].map(|h| _mm256_cmpgt_epi32(_mm256_set1_epi32(t.cols as i32 - h), lanes));
        let full = t.cols == NR;
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: row r of the tile, its `cols` columns: a full tile's plain loads and
            // stores, or the last columns' masked ones that touch only c's `cols`.
            let c = unsafe { t.c.add(r * blk.c_rs) };
            for (h, &v) in acc.iter().enumerate() {
                unsafe {
                    let (p, m) = (c.add(8 * h), mask[h]);
                    let v = _mm256_mul_ps(va, v);
                    let v = if beta == 0.0 {
                        v
                    } else {
                        let old = if full {
                            _mm256_loadu_ps(p)
                        } else {
                            _mm256_maskload_ps(p, m)
                        };
                        _mm256_fmadd_ps(vb, old, v)
                    };
                    if full {
                        _mm256_storeu_ps(p, v)
                    } else {
                        _mm256_maskstore_ps(p, m, v)
                    }
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::Block;

    pub(super) const NR: usize = 16;

    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn wide() -> bool {
        false
    }

    pub(super) unsafe fn run(_: Block, _: f32, _: f32) {
        unreachable!("small::run without AVX2: `fits` says no")
    }
}

#[cfg(test)]
mod tests {
    use super::{Block, fits, imp, run};

    /// A (rows, cols) matrix of distinct small values, stored row-major or transposed (the
    /// strides the fast path passes: Xᵀ in the weight gradient).
    fn matrix(rows: usize, cols: usize, seed: usize, transposed: bool) -> (Vec<f32>, usize, usize) {
        let v = (0..rows * cols)
            .map(|i| ((i * 7 + seed * 13) % 23) as f32 / 8.0 - 1.25)
            .collect();
        if transposed {
            (v, 1, rows)
        } else {
            (v, cols, 1)
        }
    }

    #[test]
    fn every_shape_and_stride_matches_the_f64_sum() {
        if !imp::available() {
            eprintln!("no AVX2 and FMA here: the kernel is never used");
            return;
        }
        // Rows around the 6-row tile, columns around the 16-wide panel, k from empty up.
        for m in [1, 2, 5, 6, 7, 13, 32] {
            for n in [1, 3, 10, 15, 16, 17, 33] {
                for k in [0, 1, 2, 9, 64] {
                    for (ta, tb) in [(false, false), (true, false), (false, true)] {
                        for (alpha, beta) in [(1.0f32, 0.0f32), (-0.5, 1.0), (2.0, 0.75)] {
                            let (a, a_rs, a_cs) = matrix(m, k, 1, ta);
                            let (b, b_rs, b_cs) = matrix(k, n, 2, tb);
                            let c0 = matrix(m, n, 3, false).0;
                            // beta 0: c is not read, so NaN there must not show.
                            let mut c: Vec<f32> = if beta == 0.0 {
                                vec![f32::NAN; m * n]
                            } else {
                                c0.clone()
                            };
                            let blk = Block {
                                m,
                                k,
                                n,
                                a: a.as_ptr(),
                                a_rs,
                                a_cs,
                                b: b.as_ptr(),
                                b_rs,
                                b_cs,
                                c: c.as_mut_ptr(),
                                c_rs: n,
                            };
                            assert!(fits(&blk));
                            // SAFETY: the operands hold the block's elements under its strides.
                            unsafe { run(blk, alpha, beta) };
                            for i in 0..m {
                                for j in 0..n {
                                    let dot: f64 = (0..k)
                                        .map(|p| {
                                            a[i * a_rs + p * a_cs] as f64
                                                * b[p * b_rs + j * b_cs] as f64
                                        })
                                        .sum();
                                    let want = alpha as f64 * dot
                                        + if beta == 0.0 {
                                            0.0
                                        } else {
                                            beta as f64 * c0[i * n + j] as f64
                                        };
                                    let got = c[i * n + j] as f64;
                                    assert!(
                                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                        "m {m} k {k} n {n} transposed {ta}/{tb} alpha {alpha} beta {beta}: c[{i}][{j}] = {got}, want {want}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn large_products_go_to_the_gemm_crate() {
        let big = |m, k, n| Block {
            m,
            k,
            n,
            a: std::ptr::null(),
            a_rs: k,
            a_cs: 1,
            b: std::ptr::null(),
            b_rs: n,
            b_cs: 1,
            c: std::ptr::null_mut(),
            c_rs: n,
        };
        // T2's layers (784 × 1024 packed is 3 MiB) and T1's first (784 × 128: 392 KiB).
        assert!(!fits(&big(512, 784, 1024)));
        assert!(!fits(&big(32, 784, 128)));
        // T3's and T5's fit where the CPU has the instructions.
        assert_eq!(fits(&big(32, 64, 32)), imp::available());
        assert_eq!(fits(&big(16, 128, 64)), imp::available());
        // T1's weight gradient, one thread's half (392 × 64 × 128): here only without AVX-512.
        assert_eq!(fits(&big(392, 64, 128)), imp::available() && !imp::wide());
    }
}

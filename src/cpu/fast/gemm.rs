//! The fast path's f32 GEMM: the gemm crate (AVX-512 where the CPU has it) behind `sgemm`, and
//! `Block`, the raw operands of one rectangle of an output that one thread computes.

/// Below this many multiply-adds a GEMM runs on one thread: handing work over costs more.
pub(super) const PARALLEL_MIN_MACS: usize = 1 << 18;
/// From this many multiply-adds on, the gemm crate's own threading (which shares packed
/// panels between threads) beats splitting the output into one block per thread.
const INTERNAL_PARALLEL_MIN_MACS: usize = 1 << 30;

/// Raw operands of one GEMM block, sent to a worker thread.
#[derive(Clone, Copy)]
pub(super) struct Block {
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) a: *const f32,
    pub(super) a_rs: usize,
    pub(super) a_cs: usize,
    pub(super) b: *const f32,
    pub(super) b_rs: usize,
    pub(super) b_cs: usize,
    pub(super) c: *mut f32,
    pub(super) c_rs: usize,
}

/// Rows and columns of an output.
pub(super) type Rect = (std::ops::Range<usize>, std::ops::Range<usize>);

// SAFETY: blocks of one GEMM write disjoint parts of c and only read a and b, which outlive the
// scope that runs them.
unsafe impl Send for Block {}
// SAFETY: shared only to be copied into the blocks above.
unsafe impl Sync for Block {}

impl Block {
    /// Rows `r0..r1` of the output.
    pub(super) fn rows(self, r0: usize, r1: usize) -> Block {
        Block {
            m: r1 - r0,
            a: self.a.wrapping_add(r0 * self.a_rs),
            c: self.c.wrapping_add(r0 * self.c_rs),
            ..self
        }
    }

    /// Columns `c0..c1` of the output.
    pub(super) fn cols(self, c0: usize, c1: usize) -> Block {
        Block {
            n: c1 - c0,
            b: self.b.wrapping_add(c0 * self.b_cs),
            c: self.c.wrapping_add(c0),
            ..self
        }
    }

    /// Part `p` of `parts` of the output: a share of its rows when it has at least as many
    /// rows as columns, else of its columns; with the rectangle of c it covers, as
    /// (rows, columns). None when the share is empty.
    pub(super) fn part(self, p: usize, parts: usize) -> Option<(Block, Rect)> {
        let by_rows = self.m >= self.n;
        let len = if by_rows { self.m } else { self.n };
        let (lo, hi) = (len * p / parts, len * (p + 1) / parts);
        if lo == hi {
            return None;
        }
        Some(if by_rows {
            (self.rows(lo, hi), (lo..hi, 0..self.n))
        } else {
            (self.cols(lo, hi), (0..self.m, lo..hi))
        })
    }

    /// c = alpha·a·b + beta·c. gemm's convention is dst = alpha·dst + beta·lhs·rhs.
    ///
    /// # Safety
    /// Every pointer must address the block's elements under its strides.
    pub(super) unsafe fn run(self, alpha: f32, beta: f32, parallelism: gemm::Parallelism) {
        if matches!(parallelism, gemm::Parallelism::None) && super::small::fits(&self) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { super::small::run(self, alpha, beta) };
        }
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                self.c,
                1,
                self.c_rs as isize,
                beta != 0.0,
                self.a,
                self.a_cs as isize,
                self.a_rs as isize,
                self.b,
                self.b_cs as isize,
                self.b_rs as isize,
                beta,
                alpha,
                false,
                false,
                false,
                parallelism,
            )
        }
    }
}

/// c = alpha·a·b + beta·c with explicit strides. `a` is (m, k), `b` is (k, n), each given as
/// (slice, row stride, column stride); `c` is (m, n) row-major. The slices are checked to cover
/// every element the strides address. Medium sizes are split into one block of output rows (or
/// columns) per thread of the current rayon pool; small ones run on the calling thread.
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    assert!(a.0.len() >= extent(m, k, a.1, a.2), "sgemm: a too short");
    assert!(b.0.len() >= extent(k, n, b.1, b.2), "sgemm: b too short");
    assert!(c.len() >= m * n, "sgemm: c too short");
    if m == 0 || n == 0 {
        return;
    }
    let block = Block {
        m,
        k,
        n,
        a: a.0.as_ptr(),
        a_rs: a.1,
        a_cs: a.2,
        b: b.0.as_ptr(),
        b_rs: b.1,
        b_cs: b.2,
        c: c.as_mut_ptr(),
        c_rs: n,
    };
    let macs = m * n * k;
    let threads = rayon::current_num_threads();
    // SAFETY (all three): the asserts above show every element the strides address lies inside
    // its slice; the blocks of a split cover disjoint rows or columns of c, which is borrowed
    // uniquely for the whole call (the scope joins every block before returning).
    if macs < PARALLEL_MIN_MACS || threads == 1 {
        unsafe { block.run(alpha, beta, gemm::Parallelism::None) }
    } else if macs >= INTERNAL_PARALLEL_MIN_MACS {
        unsafe { block.run(alpha, beta, gemm::Parallelism::Rayon(threads)) }
    } else {
        rayon::scope(|s| {
            for p in 1..threads {
                if let Some((blk, _)) = block.part(p, threads) {
                    s.spawn(move |_| unsafe { blk.run(alpha, beta, gemm::Parallelism::None) });
                }
            }
            if let Some((blk, _)) = block.part(0, threads) {
                unsafe { blk.run(alpha, beta, gemm::Parallelism::None) }
            }
        });
    }
}

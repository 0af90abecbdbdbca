//! How a matmul maps onto workgroups: the tile variants of matmul.wgsl (their entry points,
//! grids and loop counts) and split K (`KSplit`: slices of the k sum in the grid's z).

use super::{Kernel, MAX_GROUPS};
use crate::error::{Error, Result};

/// The matmul kernels' variants (matmul.wgsl): the same three forms and epilogues with another
/// tile size and register blocking, chosen per adapter (`super::tuning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// 64×64 tile of c, k steps of 16, 4×4 outputs per thread: `matmul_*`.
    Tile64,
    /// 128×128 tile of c, k steps of 8, 8×8 outputs per thread: `matmul_*_128`.
    Tile128,
}

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 2] = [MatmulVariant::Tile64, MatmulVariant::Tile128];

    /// The side of the square tile of c one workgroup computes.
    pub fn tile(self) -> u32 {
        match self {
            MatmulVariant::Tile64 => 64,
            MatmulVariant::Tile128 => 128,
        }
    }

    /// `64` or `128`, as `Setting::parse` and the tuning cache spell it.
    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Tile64 => "64",
            MatmulVariant::Tile128 => "128",
        }
    }

    pub fn from_name(s: &str) -> Option<MatmulVariant> {
        MatmulVariant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// `64x64 tiles, 4x4 per thread`.
    pub fn describe(self) -> String {
        let (t, r) = match self {
            MatmulVariant::Tile64 => (64, 4),
            MatmulVariant::Tile128 => (128, 8),
        };
        format!("{t}x{t} tiles, {r}x{r} per thread")
    }

    pub(super) fn entry(self, kernel: Kernel) -> String {
        match self {
            MatmulVariant::Tile64 => kernel.entry().to_string(),
            MatmulVariant::Tile128 => format!("{}_128", kernel.entry()),
        }
    }

    /// Loop iterations a thread runs for a matmul summing over k terms (llvmpipe counts them
    /// all, nested or not): per k step the step loop, two load loops of 4 and the product
    /// loop; then the epilogues and the bias sum.
    pub fn loop_iterations(self, k: usize) -> usize {
        match self {
            MatmulVariant::Tile64 => k.div_ceil(16) * 25 + 32,
            MatmulVariant::Tile128 => k.div_ceil(8) * 17 + 96,
        }
    }

    /// Workgroups for an (m, n) output; an error when a dimension exceeds the dispatch limit.
    pub fn groups(self, m: usize, n: usize) -> Result<(u32, u32, u32)> {
        let t = self.tile() as usize;
        let (gx, gy) = (n.div_ceil(t), m.div_ceil(t));
        if gx > MAX_GROUPS as usize || gy > MAX_GROUPS as usize {
            return Err(Error::Limit {
                what: format!("a {m}x{n} matmul ({gx}x{gy} workgroups)"),
                limit: "max_compute_workgroups_per_dimension",
                needed: gx.max(gy) as u64,
                available: MAX_GROUPS as u64,
                advice: "use a smaller batch or narrower layers".into(),
            });
        }
        Ok((gx as u32, gy as u32, 1))
    }
}

/// Split K's default target (`SplitK::Auto` on hardware adapters): a matmul whose grid has
/// fewer workgroups than this is split. A guess (about two per SM of a 132-SM GPU), not measured.
pub const SPLIT_TARGET: u32 = 256;
/// Fewest k terms a slice sums: two k steps of the 64 variant, four of the 128 one.
const MIN_SLICE: usize = 32;
/// Slices are whole k steps of both variants: matmul.wgsl's `TILE_K` (its `fits_split`).
pub const SLICE_ALIGN: usize = 16;

/// The split itself is a uniform's data (`uniforms::KSplit`); how to choose it is here.
pub use crate::gpu::uniforms::KSplit;

impl KSplit {
    pub const NONE: KSplit = KSplit {
        splits: 1,
        kslice: 0,
    };

    /// The split of an (m, n) output over k terms in `variant`: none when its grid already has
    /// `target` workgroups, else enough slices of at least 32 terms to come near it, and at
    /// most `most` slices (what the partials buffers hold).
    pub fn plan(
        variant: MatmulVariant,
        m: usize,
        n: usize,
        k: usize,
        target: u32,
        most: usize,
    ) -> KSplit {
        let t = variant.tile() as usize;
        let groups = (m.div_ceil(t) * n.div_ceil(t)).max(1);
        let want = (target as usize)
            .div_ceil(groups)
            .min(k / MIN_SLICE)
            .min(most);
        KSplit::slices(k, want)
    }

    /// At most `slices` slices of whole 16-term steps covering k terms.
    pub fn slices(k: usize, slices: usize) -> KSplit {
        if slices <= 1 || k <= SLICE_ALIGN {
            return KSplit::NONE;
        }
        let kslice = k.div_ceil(slices).next_multiple_of(SLICE_ALIGN);
        match k.div_ceil(kslice) {
            0 | 1 => KSplit::NONE,
            s => KSplit {
                splits: s as u32,
                kslice: kslice as u32,
            },
        }
    }

    /// The k terms one workgroup sums.
    pub fn terms(self, k: usize) -> usize {
        if self.splits > 1 {
            self.kslice as usize
        } else {
            k
        }
    }
}

//! A tree of LR4 crossovers ([`crate::crossover`]) splitting a stereo pair into 2–5 bands, run
//! block by block.
//!
//! Split `k` divides the rest (everything above crossover `k − 1`) into band `k` and a new rest;
//! each band below crossover `k` also passes through crossover `k`'s allpass, so that all bands
//! sum to the product of the allpasses (flat magnitude). The allpass of crossover `k` is applied
//! to the lower bands during split `k`'s pass, in the same order as a per-frame tree would.
//!
//! Why block passes with lanes: run frame by frame through a tree of filter objects, the
//! multiband spent more time moving each frame's state in and out of memory than filtering.
//! Here one pass per split filters, per frame, a vector of lanes `[low L, low R, high L, high R,
//! then (L, R) of every lower band]` through one biquad section (the LR4's first Butterworth
//! section, or the allpass, which shares its denominator) and the four split lanes through the
//! second section, with the state in registers. The arithmetic per lane is the same as
//! [`crate::biquad::StereoBiquadState::tick`] (transposed direct form II, no fused multiply-add),
//! so the bands are bit for bit those of the per-frame tree.

use crate::biquad::BiquadCoefficients;
use crate::crossover::lr4_sections;
use crate::simd::{self, Kernel, Mac};

/// Most crossovers in a tree (5 bands).
pub const MAX_SPLITS: usize = 4;
/// Lanes of a pass: four split lanes and two per lower band.
const MAX_LANES: usize = 4 + 2 * (MAX_SPLITS - 1);

/// Per-lane section coefficients of one split's pass.
#[derive(Clone, Copy, Debug, Default)]
struct LaneCoefficients {
    b0: [f64; MAX_LANES],
    b1: [f64; MAX_LANES],
    b2: [f64; MAX_LANES],
    a1: [f64; MAX_LANES],
    a2: [f64; MAX_LANES],
}

impl LaneCoefficients {
    fn set(&mut self, lane: usize, c: &BiquadCoefficients) {
        self.b0[lane] = c.b0;
        self.b1[lane] = c.b1;
        self.b2[lane] = c.b2;
        self.a1[lane] = c.a1;
        self.a2[lane] = c.a2;
    }
}

/// One split: first-section coefficients over all lanes, second-section over the split lanes.
#[derive(Clone, Debug, Default)]
struct Split {
    first: LaneCoefficients,
    second: LaneCoefficients,
    /// Transposed-direct-form states (s1, s2) of the first and the second section.
    first_state: [[f64; MAX_LANES]; 2],
    second_state: [[f64; MAX_LANES]; 2],
}

/// The crossover tree of a stereo pair.
#[derive(Clone, Debug)]
pub struct CrossoverTree {
    splits: Vec<Split>,
    wide: bool,
}

impl CrossoverTree {
    /// `crossovers_hz`: 1 to [`MAX_SPLITS`] increasing frequencies.
    pub fn new(crossovers_hz: &[f64], sample_rate_hz: f64) -> Self {
        assert!(
            (1..=MAX_SPLITS).contains(&crossovers_hz.len()),
            "a crossover tree has 1 to {MAX_SPLITS} crossovers"
        );
        let splits = crossovers_hz
            .iter()
            .enumerate()
            .map(|(k, &f)| {
                let (lp, hp, ap) = lr4_sections(f, sample_rate_hz);
                let mut s = Split::default();
                for (lane, c) in [&lp, &lp, &hp, &hp].into_iter().enumerate() {
                    s.first.set(lane, c);
                    s.second.set(lane, c);
                }
                for lane in 4..4 + 2 * k {
                    s.first.set(lane, &ap);
                }
                s
            })
            .collect();
        Self {
            splits,
            wide: simd::wide_available(),
        }
    }

    pub fn bands(&self) -> usize {
        self.splits.len() + 1
    }

    /// Splits `len` frames of `input` into `bands` (one `[left, right]` pair per band, each
    /// at least `len` long).
    pub fn process(&mut self, input: [&[f64]; 2], bands: &mut [[Vec<f64>; 2]], len: usize) {
        let n = self.splits.len();
        assert_eq!(bands.len(), n + 1, "one buffer pair per band");
        let (lower, top) = bands.split_at_mut(n);
        let rest = &mut top[0];
        rest[0][..len].copy_from_slice(&input[0][..len]);
        rest[1][..len].copy_from_slice(&input[1][..len]);
        for (k, split) in self.splits.iter_mut().enumerate() {
            let (below, at) = lower.split_at_mut(k);
            let pass = SplitPass {
                split,
                below,
                low: &mut at[0],
                rest,
                len,
            };
            match k {
                0 => simd::run(self.wide, Lanes::<4>(pass)),
                1 => simd::run(self.wide, Lanes::<6>(pass)),
                2 => simd::run(self.wide, Lanes::<8>(pass)),
                _ => simd::run(self.wide, Lanes::<10>(pass)),
            }
            split.flush_denormals();
        }
    }

    pub fn reset(&mut self) {
        for s in &mut self.splits {
            s.first_state = Default::default();
            s.second_state = Default::default();
        }
    }
}

impl Split {
    /// As [`crate::biquad::StereoBiquadState::flush_denormals`], once per block.
    fn flush_denormals(&mut self) {
        for v in self
            .first_state
            .iter_mut()
            .chain(self.second_state.iter_mut())
            .flatten()
        {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
    }
}

/// One split's pass over a block: the rest in, band `k` and the new rest out, the lower bands
/// through the allpass.
struct SplitPass<'a> {
    split: &'a mut Split,
    below: &'a mut [[Vec<f64>; 2]],
    low: &'a mut [Vec<f64>; 2],
    rest: &'a mut [Vec<f64>; 2],
    len: usize,
}

/// A [`SplitPass`] with `L` = 4 + 2·(lower bands) lanes.
struct Lanes<'a, const L: usize>(SplitPass<'a>);

/// One transposed-direct-form II step of lane vectors (the operations of
/// `StereoBiquadState::tick`, per lane).
#[inline(always)]
fn section<const L: usize>(
    c: &LaneCoefficients,
    s: &mut [[f64; MAX_LANES]; 2],
    x: &[f64; L],
) -> [f64; L] {
    let mut y = [0.0; L];
    for l in 0..L {
        y[l] = c.b0[l] * x[l] + s[0][l];
        s[0][l] = c.b1[l] * x[l] - c.a1[l] * y[l] + s[1][l];
        s[1][l] = c.b2[l] * x[l] - c.a2[l] * y[l];
    }
    y
}

impl<const L: usize> Kernel for Lanes<'_, L> {
    type Output = ();

    #[inline(always)]
    fn call<M: Mac>(self, _mac: M) {
        let SplitPass {
            split,
            below,
            low,
            rest,
            len,
        } = self.0;
        let lower = (L - 4) / 2;
        assert_eq!(below.len(), lower);
        let (first, second) = (split.first, split.second);
        // States as locals so that they live in registers for the whole block.
        let mut s1 = split.first_state;
        let mut s2 = split.second_state;
        let [rl, rr] = rest;
        let [ll, lr] = low;
        let (rl, rr, ll, lr) = (
            &mut rl[..len],
            &mut rr[..len],
            &mut ll[..len],
            &mut lr[..len],
        );
        for b in below.iter() {
            assert!(b[0].len() >= len && b[1].len() >= len);
        }
        for i in 0..len {
            let mut x = [0.0; L];
            x[0] = rl[i];
            x[1] = rr[i];
            x[2] = rl[i];
            x[3] = rr[i];
            for (j, b) in below.iter().enumerate() {
                x[4 + 2 * j] = b[0][i];
                x[5 + 2 * j] = b[1][i];
            }
            let y = section(&first, &mut s1, &x);
            let z = section::<4>(&second, &mut s2, &[y[0], y[1], y[2], y[3]]);
            ll[i] = z[0];
            lr[i] = z[1];
            rl[i] = z[2];
            rr[i] = z[3];
            for (j, b) in below.iter_mut().enumerate() {
                b[0][i] = y[4 + 2 * j];
                b[1][i] = y[5 + 2 * j];
            }
        }
        split.first_state = s1;
        split.second_state = s2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crossover::{Lr4Allpass, Lr4Split};

    /// The per-frame tree of filter objects that this replaces: split `k`, then every lower band
    /// through the allpasses of the crossovers above it.
    fn reference_bands(xs: &[f64], fs: f64, l: &[f64], r: &[f64]) -> Vec<[Vec<f64>; 2]> {
        let n = xs.len();
        let mut splits: Vec<_> = xs.iter().map(|&f| Lr4Split::new(f, fs)).collect();
        let mut aps: Vec<Vec<_>> = (0..=n)
            .map(|k| {
                xs[(k + 1).min(n)..]
                    .iter()
                    .map(|&f| Lr4Allpass::new(f, fs))
                    .collect()
            })
            .collect();
        let mut out = vec![[Vec::new(), Vec::new()]; n + 1];
        for (&a, &b) in l.iter().zip(r) {
            let mut rest = [a, b];
            for k in 0..n {
                let (lo, hi) = splits[k].tick(rest);
                let v = aps[k].iter_mut().fold(lo, |v, ap| ap.tick(v));
                out[k][0].push(v[0]);
                out[k][1].push(v[1]);
                rest = hi;
            }
            out[n][0].push(rest[0]);
            out[n][1].push(rest[1]);
        }
        out
    }

    #[test]
    fn bands_equal_the_per_frame_tree_bit_for_bit() {
        let fs = 44100.0;
        let mut seed = 7u64;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let (l, r): (Vec<f64>, Vec<f64>) = (0..5000).map(|_| (noise(), noise())).unzip();
        for xs in [
            vec![1000.0],
            vec![120.0, 2500.0],
            vec![100.0, 800.0, 5000.0],
            vec![60.0, 250.0, 2000.0, 9000.0],
        ] {
            let want = reference_bands(&xs, fs, &l, &r);
            let mut tree = CrossoverTree::new(&xs, fs);
            let mut bands = vec![[vec![0.0; 700], vec![0.0; 700]]; xs.len() + 1];
            let mut got = vec![[Vec::new(), Vec::new()]; xs.len() + 1];
            for (lc, rc) in l.chunks(700).zip(r.chunks(700)) {
                tree.process([lc, rc], &mut bands, lc.len());
                for (g, b) in got.iter_mut().zip(&bands) {
                    g[0].extend_from_slice(&b[0][..lc.len()]);
                    g[1].extend_from_slice(&b[1][..lc.len()]);
                }
            }
            // Denormal flushing happens per block in both, at values < 1e-30: not reached here.
            assert_eq!(got, want, "crossovers {xs:?}");
        }
    }
}

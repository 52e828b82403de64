//! K-weighting (BS.1770's shelf, then its high-pass) stepped four samples at a time.
//!
//! Sample by sample, each biquad is a recursion: the next output waits for the previous one,
//! two dependent multiply-adds per sample per stage, so the filter runs at the latency of
//! its arithmetic, not its throughput (about 8 cycles a frame, however wide the vectors).
//! The cascade is linear with a state of four values (the two stages' transposed direct
//! form II states), so the four outputs of a block of four inputs, and the state after
//! them, are fixed linear combinations of the state before and the four inputs:
//!
//! `y[k] = Σᵢ Cᵢₖ·sᵢ + Σⱼ Dⱼₖ·xⱼ`, `s'ₘ = Σᵢ Aᵢₘ·sᵢ + Σⱼ Bⱼₘ·xⱼ` (k, m, i, j in 0…3).
//!
//! The matrices come from running the recursion itself on unit states and unit inputs, so
//! they are the filter exactly (to rounding). Each block is then sixteen independent
//! four-wide multiply-adds and the only chain left is state to state, once per four samples.
//! The state is the same four values the sample-by-sample recursion keeps, so a stretch
//! that is not a multiple of four finishes with [`tick`] and both forms mix freely.

use crate::biquad::BiquadCoefficients;
use crate::simd::{Kernel, Mac};

/// Samples per block.
pub const BLOCK: usize = 4;

/// The cascade's state: shelf (s1, s2), then high-pass (s1, s2), transposed direct form II.
pub type KState = [f64; 4];

/// The block matrices of one K-weighting cascade, by column (one `[f64; 4]` per source).
#[derive(Clone, Debug, PartialEq)]
pub struct KBlock {
    stages: [BiquadCoefficients; 2],
    /// `out_from_state[i][k]`: output `k` per unit of state `i`.
    out_from_state: [[f64; BLOCK]; 4],
    /// `out_from_input[j][k]`: output `k` per unit of input `j` (zero for `j > k`).
    out_from_input: [[f64; BLOCK]; BLOCK],
    /// `next_from_state[i][m]`: state `m` after the block per unit of state `i` before it.
    next_from_state: [[f64; 4]; 4],
    /// `next_from_input[j][m]`: state `m` after the block per unit of input `j`.
    next_from_input: [[f64; 4]; BLOCK],
}

/// One sample through the cascade (the recursion the block matrices are made from).
#[inline(always)]
pub fn tick(stages: &[BiquadCoefficients; 2], s: &mut KState, x: f64) -> f64 {
    let [sh, hp] = stages;
    let u = sh.b0 * x + s[0];
    s[0] = sh.b1 * x - sh.a1 * u + s[1];
    s[1] = sh.b2 * x - sh.a2 * u;
    let y = hp.b0 * u + s[2];
    s[2] = hp.b1 * u - hp.a1 * y + s[3];
    s[3] = hp.b2 * u - hp.a2 * y;
    y
}

impl KBlock {
    /// The block form of `stages` (shelf, then high-pass).
    pub fn new(stages: [BiquadCoefficients; 2]) -> Self {
        let mut me = Self {
            stages,
            out_from_state: [[0.0; BLOCK]; 4],
            out_from_input: [[0.0; BLOCK]; BLOCK],
            next_from_state: [[0.0; 4]; 4],
            next_from_input: [[0.0; 4]; BLOCK],
        };
        for i in 0..4 {
            let mut s = [0.0; 4];
            s[i] = 1.0;
            for k in 0..BLOCK {
                me.out_from_state[i][k] = tick(&stages, &mut s, 0.0);
            }
            me.next_from_state[i] = s;
        }
        for j in 0..BLOCK {
            let mut s = [0.0; 4];
            for k in 0..BLOCK {
                let x = if k == j { 1.0 } else { 0.0 };
                me.out_from_input[j][k] = tick(&stages, &mut s, x);
            }
            me.next_from_input[j] = s;
        }
        me
    }

    /// The two biquads this was made from.
    pub fn stages(&self) -> &[BiquadCoefficients; 2] {
        &self.stages
    }
}

impl KBlock {
    /// Four samples through the cascade from state `s` (left at the block's end).
    #[inline(always)]
    fn step<M: Mac>(&self, m: M, s: &mut KState, x: [f64; BLOCK]) -> [f64; BLOCK] {
        // The inputs' share does not wait on the state: it overlaps the chain.
        let mut y = [0.0; BLOCK];
        let mut next = [0.0; 4];
        for (j, &xj) in x.iter().enumerate() {
            for l in 0..BLOCK {
                y[l] = m.mac(y[l], self.out_from_input[j][l], xj);
                next[l] = m.mac(next[l], self.next_from_input[j][l], xj);
            }
        }
        // The state's share in two halves added at the end: a shorter chain.
        let sc = *s;
        let (mut ya, mut yb, mut na, mut nb) = ([0.0; BLOCK], [0.0; BLOCK], [0.0; 4], [0.0; 4]);
        for l in 0..BLOCK {
            ya[l] = m.mac(
                self.out_from_state[0][l] * sc[0],
                self.out_from_state[1][l],
                sc[1],
            );
            yb[l] = m.mac(
                self.out_from_state[2][l] * sc[2],
                self.out_from_state[3][l],
                sc[3],
            );
            na[l] = m.mac(
                self.next_from_state[0][l] * sc[0],
                self.next_from_state[1][l],
                sc[1],
            );
            nb[l] = m.mac(
                self.next_from_state[2][l] * sc[2],
                self.next_from_state[3][l],
                sc[3],
            );
        }
        for l in 0..BLOCK {
            y[l] += ya[l] + yb[l];
            s[l] = next[l] + (na[l] + nb[l]);
        }
        y
    }
}

/// The K-weighting of `C` channels over one stretch of frames, the channels in step (their
/// state chains overlap): returns each channel's sum of squared outputs and leaves every
/// state at the stretch's end.
pub struct KSquares<'a, const C: usize> {
    pub x: [&'a [f64]; C],
    pub k: &'a KBlock,
    pub state: [&'a mut KState; C],
}

impl<const C: usize> Kernel for KSquares<'_, C> {
    type Output = [f64; C];

    #[inline(always)]
    fn call<M: Mac>(self, m: M) -> [f64; C] {
        let k = self.k;
        let n = self.x.first().map_or(0, |x| x.len());
        let mut s: [KState; C] = std::array::from_fn(|c| *self.state[c]);
        let mut acc = [[0.0f64; BLOCK]; C];
        let whole = n - n % BLOCK;
        for at in (0..whole).step_by(BLOCK) {
            for c in 0..C {
                let y = k.step(m, &mut s[c], std::array::from_fn(|j| self.x[c][at + j]));
                for l in 0..BLOCK {
                    acc[c][l] = m.mac(acc[c][l], y[l], y[l]);
                }
            }
        }
        let mut sums: [f64; C] = std::array::from_fn(|c| acc[c].iter().sum());
        for c in 0..C {
            for &x in &self.x[c][whole..] {
                let y = tick(&k.stages, &mut s[c], x);
                sums[c] += y * y;
            }
            *self.state[c] = s[c];
        }
        sums
    }
}

/// The K-weighted energy of every frame of a stereo stretch (`yₗ² + yᵣ²`, unweighted) into
/// `out`, leaving both states at the stretch's end.
pub struct KEnergies<'a> {
    pub x: [&'a [f64]; 2],
    pub k: &'a KBlock,
    pub state: [&'a mut KState; 2],
    pub out: &'a mut [f64],
}

impl Kernel for KEnergies<'_> {
    type Output = ();

    #[inline(always)]
    fn call<M: Mac>(self, m: M) {
        let k = self.k;
        let [xl, xr] = self.x;
        let n = xl.len();
        let (mut sl, mut sr) = (*self.state[0], *self.state[1]);
        let whole = n - n % BLOCK;
        let blocks = xl[..whole]
            .chunks_exact(BLOCK)
            .zip(xr[..whole].chunks_exact(BLOCK))
            .zip(self.out[..whole].chunks_exact_mut(BLOCK));
        for ((bl, br), o) in blocks {
            let yl = k.step(m, &mut sl, std::array::from_fn(|j| bl[j]));
            let yr = k.step(m, &mut sr, std::array::from_fn(|j| br[j]));
            for l in 0..BLOCK {
                o[l] = m.mac(yl[l] * yl[l], yr[l], yr[l]);
            }
        }
        for i in whole..n {
            let yl = tick(&k.stages, &mut sl, xl[i]);
            let yr = tick(&k.stages, &mut sr, xr[i]);
            self.out[i] = yl * yl + yr * yr;
        }
        *self.state[0] = sl;
        *self.state[1] = sr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loudness::k_weighting;
    use crate::simd;

    fn signal(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::test_noise::TestNoise(seed);
        (0..n)
            .map(|i| 0.6 * (i as f64 * 0.013).sin() + 0.4 * rng.next_centred())
            .collect()
    }

    /// Blocks of four, on both builds, give what the recursion gives sample by sample (only
    /// the rounding differs: squared sums within 1e-10 relative, states within 1e-10), for
    /// stretches of every length modulo 4, continued across calls over 4.5 s, at 44.1, 48 and
    /// 96 kHz.
    #[test]
    fn blocks_equal_the_recursion() {
        for rate in [44_100.0, 48_000.0, 96_000.0] {
            let stages = k_weighting(rate);
            let k = KBlock::new(stages);
            let (l, r) = (signal(200_003, 1), signal(200_003, 2));
            for wide in [false, simd::wide_available()] {
                let mut reference = [[0.0; 4]; 2];
                let mut blocked = [[0.0; 4]; 2];
                let mut at = 0;
                for len in [1usize, 2, 3, 4, 5, 441, 480, 9000, 3].into_iter().cycle() {
                    if at >= l.len() {
                        break;
                    }
                    let end = (at + len).min(l.len());
                    let mut want = [0.0; 2];
                    for (c, x) in [&l, &r].into_iter().enumerate() {
                        for &v in &x[at..end] {
                            let y = tick(&stages, &mut reference[c], v);
                            want[c] += y * y;
                        }
                    }
                    let [bl, br] = &mut blocked;
                    let got = simd::run(
                        wide,
                        KSquares {
                            x: [&l[at..end], &r[at..end]],
                            k: &k,
                            state: [bl, br],
                        },
                    );
                    for c in 0..2 {
                        assert!(
                            (got[c] - want[c]).abs() <= 1e-10 * want[c].max(1e-12),
                            "rate {rate} wide {wide} at {at}: {} vs {}",
                            got[c],
                            want[c]
                        );
                        for i in 0..4 {
                            assert!((blocked[c][i] - reference[c][i]).abs() < 1e-10);
                        }
                    }
                    at = end;
                }
            }
        }
    }

    /// Per-frame energies in blocks equal the recursion's, frame by frame.
    #[test]
    fn energies_equal_the_recursion() {
        let stages = k_weighting(44_100.0);
        let k = KBlock::new(stages);
        let (l, r) = (signal(50_001, 3), signal(50_001, 4));
        for wide in [false, simd::wide_available()] {
            let (mut reference, mut blocked) = ([[0.0; 4]; 2], [[0.0; 4]; 2]);
            let mut out = vec![0.0; l.len()];
            let mut at = 0;
            for len in [4096usize, 7, 4093, 1, 3].into_iter().cycle() {
                if at >= l.len() {
                    break;
                }
                let end = (at + len).min(l.len());
                let [bl, br] = &mut blocked;
                simd::run(
                    wide,
                    KEnergies {
                        x: [&l[at..end], &r[at..end]],
                        k: &k,
                        state: [bl, br],
                        out: &mut out[at..end],
                    },
                );
                for i in at..end {
                    let yl = tick(&stages, &mut reference[0], l[i]);
                    let yr = tick(&stages, &mut reference[1], r[i]);
                    let want = yl * yl + yr * yr;
                    assert!((out[i] - want).abs() <= 1e-10 * want + 1e-12, "frame {i}");
                }
                at = end;
            }
        }
    }
}

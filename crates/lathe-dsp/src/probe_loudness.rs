//! The integrated loudness of several variants of one stereo signal at once. Variant `p` is
//! the signal times a gain `g[p]`, clipped at a common ceiling, then times a gain curve of its
//! own (per frame: what a limiter would apply at that gain). The limited-loudness estimate
//! measures its candidates this way (see [`crate::limiter_estimate`]).
//!
//! Measuring each variant with its own [`LoudnessMeter`](crate::loudness::LoudnessMeter) costs
//! one stereo K-weighting per variant, each a chain of dependent multiply-adds. Here the
//! variants' filters run side by side in lanes (up to four variants, eight lanes, per pass), so
//! one pass over the frames costs about what one stereo meter does, and no variant is ever
//! written out. Gating is BS.1770's (400 ms blocks every 100 ms, −70 LUFS absolute, −10 LU
//! relative), from 100 ms sums as the estimate's own predictions; a partial last 100 ms is
//! left out.

use crate::biquad::BiquadCoefficients;
use crate::block_energies::BlocksFrom100ms;
use crate::loudness::k_weighting;
use crate::simd::{self, Kernel, Mac};

/// Variants filtered together in one pass (two lanes each).
const PER_PASS: usize = 4;
const LANES: usize = 2 * PER_PASS;

pub struct ProbeLoudness {
    /// K-weighting: shelf, then high-pass.
    k: [BiquadCoefficients; 2],
    gains: Vec<f64>,
    clip: f64,
    /// Per pass of up to [`PER_PASS`] variants: lane states (shelf s1, s2; high-pass s1, s2).
    state: Vec<[[f64; LANES]; 4]>,
    frames_100ms: usize,
    frames_in_100ms: usize,
    /// Per variant: K-weighted energy summed in the current 100 ms, and the gating blocks made
    /// from the complete ones.
    sums: Vec<f64>,
    blocks: Vec<BlocksFrom100ms>,
    wide: bool,
}

impl ProbeLoudness {
    /// Variants at `gains` (linear), clipped at `clip` (linear; infinite for none).
    pub fn new(sample_rate_hz: f64, gains: &[f64], clip: f64) -> Self {
        Self {
            k: k_weighting(sample_rate_hz),
            gains: gains.to_vec(),
            clip,
            state: vec![[[0.0; LANES]; 4]; gains.len().div_ceil(PER_PASS)],
            frames_100ms: (sample_rate_hz / 10.0).round().max(1.0) as usize,
            frames_in_100ms: 0,
            sums: vec![0.0; gains.len()],
            blocks: vec![BlocksFrom100ms::default(); gains.len()],
            wide: simd::wide_available(),
        }
    }

    /// Feeds a block of the signal and, per variant, its gain curve over the same frames (the
    /// first `left.len()` values of `curves[p]`).
    pub fn process<C: AsRef<[f64]>>(&mut self, left: &[f64], right: &[f64], curves: &[C]) {
        assert_eq!(curves.len(), self.gains.len(), "one gain curve per variant");
        assert_eq!(left.len(), right.len());
        assert!(curves.iter().all(|c| c.as_ref().len() >= left.len()));
        let n = left.len();
        let mut start = 0;
        while start < n {
            let end = (start + self.frames_100ms - self.frames_in_100ms).min(n);
            for (pass, state) in self.state.iter_mut().enumerate() {
                let first = pass * PER_PASS;
                let count = (self.gains.len() - first).min(PER_PASS);
                let mut gains = [0.0; PER_PASS];
                gains[..count].copy_from_slice(&self.gains[first..first + count]);
                // Lanes of absent variants replay the first curve at gain 0 (silence).
                let mut c: [&[f64]; PER_PASS] = [&curves[first].as_ref()[start..end]; PER_PASS];
                for (j, slot) in c.iter_mut().enumerate().take(count) {
                    *slot = &curves[first + j].as_ref()[start..end];
                }
                let kernel = Pass {
                    x: [&left[start..end], &right[start..end]],
                    gains,
                    clip: self.clip,
                    curves: c,
                    k: &self.k,
                    state,
                };
                let sums = simd::run(self.wide, kernel);
                for (j, sum) in self.sums[first..first + count].iter_mut().enumerate() {
                    *sum += sums[2 * j] + sums[2 * j + 1];
                }
            }
            self.frames_in_100ms += end - start;
            if self.frames_in_100ms == self.frames_100ms {
                self.complete_100ms();
            }
            start = end;
        }
    }

    fn complete_100ms(&mut self) {
        for (sum, blocks) in self.sums.iter_mut().zip(&mut self.blocks) {
            blocks.push(*sum / self.frames_100ms as f64);
            *sum = 0.0;
        }
        for v in self.state.iter_mut().flatten().flatten() {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
        self.frames_in_100ms = 0;
    }

    /// Each variant's integrated loudness so far, LUFS (−∞ when no block passes the gates).
    pub fn integrated_lufs(&self) -> Vec<f64> {
        self.blocks
            .iter()
            .map(BlocksFrom100ms::integrated_lufs)
            .collect()
    }
}

/// One pass over a stretch of frames for up to [`PER_PASS`] variants: each frame gained,
/// clipped and shaped per variant, then K-weighted in lanes; returns each lane's sum of
/// squares and leaves the lanes' filter state at the stretch's end.
struct Pass<'a> {
    x: [&'a [f64]; 2],
    gains: [f64; PER_PASS],
    clip: f64,
    curves: [&'a [f64]; PER_PASS],
    k: &'a [BiquadCoefficients; 2],
    state: &'a mut [[f64; LANES]; 4],
}

/// One transposed-direct-form II step of every lane.
#[inline(always)]
fn section<M: Mac>(
    m: M,
    c: &BiquadCoefficients,
    s1: &mut [f64; LANES],
    s2: &mut [f64; LANES],
    x: &[f64; LANES],
) -> [f64; LANES] {
    let mut y = [0.0; LANES];
    for l in 0..LANES {
        y[l] = m.mac(s1[l], c.b0, x[l]);
        s1[l] = m.mac(m.mac(s2[l], c.b1, x[l]), -c.a1, y[l]);
        s2[l] = m.mac(c.b2 * x[l], -c.a2, y[l]);
    }
    y
}

impl Kernel for Pass<'_> {
    type Output = [f64; LANES];
    const WIDE_512: bool = true;

    #[inline(always)]
    fn call<M: Mac>(self, m: M) -> [f64; LANES] {
        let [shelf, hp] = self.k;
        let [mut p1, mut p2, mut q1, mut q2] = *self.state;
        let (g, clip) = (self.gains, self.clip);
        let [left, right] = self.x;
        let n = left.len();
        let curves = self.curves.map(|c| &c[..n]);
        let mut sum = [0.0; LANES];
        for i in 0..n {
            let (a, b) = (left[i], right[i]);
            let mut x = [0.0; LANES];
            for p in 0..PER_PASS {
                let shape = curves[p][i];
                x[2 * p] = (a * g[p]).clamp(-clip, clip) * shape;
                x[2 * p + 1] = (b * g[p]).clamp(-clip, clip) * shape;
            }
            let u = section(m, shelf, &mut p1, &mut p2, &x);
            let y = section(m, hp, &mut q1, &mut q2, &u);
            for l in 0..LANES {
                sum[l] = m.mac(sum[l], y[l], y[l]);
            }
        }
        *self.state = [p1, p2, q1, q2];
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loudness::{ChannelRole, LoudnessMeter};

    /// Each variant's loudness equals the standard meter's on that variant written out.
    #[test]
    fn agrees_with_the_meter_on_each_variant() {
        let fs = 44_100.0;
        let n = (9.3 * fs) as usize;
        let mut seed = 3u64;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let left: Vec<f64> = (0..n)
            .map(|i| 0.3 * (i as f64 * 0.031).sin() + 0.2 * noise())
            .collect();
        let right: Vec<f64> = (0..n)
            .map(|i| 0.25 * (i as f64 * 0.017).sin() + 0.2 * noise())
            .collect();
        // Five variants (two passes), each with a gain curve of its own, one at −30 dB.
        let gains = [1.0, 2.0, 3.5, 0.03, 5.0];
        let curves: Vec<Vec<f64>> = (0..gains.len())
            .map(|p| {
                (0..n)
                    .map(|i| 0.6 + 0.4 * ((i as f64) * 1e-4 * (p + 1) as f64).cos().abs())
                    .collect()
            })
            .collect();
        let clip = 0.7;
        let mut probes = ProbeLoudness::new(fs, &gains, clip);
        // Uneven blocks, crossing the 100 ms boundaries anywhere.
        let mut at = 0;
        for len in [1, 4410, 777, 10_000].iter().cycle() {
            if at == n {
                break;
            }
            let end = (at + len).min(n);
            let c: Vec<&[f64]> = curves.iter().map(|c| &c[at..end]).collect();
            probes.process(&left[at..end], &right[at..end], &c);
            at = end;
        }
        for (p, got) in probes.integrated_lufs().into_iter().enumerate() {
            let shaped = |x: &[f64]| -> Vec<f64> {
                x.iter()
                    .zip(&curves[p])
                    .map(|(v, c)| (v * gains[p]).clamp(-clip, clip) * c)
                    .collect()
            };
            let mut meter = LoudnessMeter::new(fs, &ChannelRole::default_layout(2));
            meter.process(&[&shaped(&left), &shaped(&right)]);
            let want = meter.integrated_lufs();
            assert!(
                (got - want).abs() < 1e-9,
                "variant {p}: {got} LUFS, the meter {want}"
            );
        }
    }
}

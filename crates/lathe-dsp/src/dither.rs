//! Quantisation to 16 or 24 bits, with no dither, TPDF dither, or TPDF dither inside a
//! noise-shaping error-feedback loop. Deterministic for a given seed.
//!
//! - Quantiser: `Δ = 2^−(bits−1)` (full scale ±1), round to the nearest multiple of Δ, clamp to
//!   `[−1, 1 − Δ]`. The output holds exact integer sample values (times Δ).
//! - TPDF: `d = (u1 − u2)·Δ` with `u1, u2` uniform in [0, 1): total error variance Δ²/4,
//!   independent of the signal (Lipshitz, Wannamaker and Vanderkooy, "Quantization and
//!   Dither: A Theoretical Survey", JAES 1992).
//! - Noise shaping: error feedback `v = x − Σ h_k e[n−k]`, `y = Q(v + d)`, `e = y − v`, so
//!   the output error is `e` filtered by `E(z) = 1 − H(z)` and its spectrum is
//!   `|E(e^{jω})|²·Δ²/4`. The shaping filter is the **second-order high-pass
//!   `E(z) = (1 − z⁻¹)²`** (h = [2, −1]): −∞ at DC, +12 dB at Nyquist, −6 dB around fs/6.
//!   The fed-back error is limited to ±8Δ so a full-scale signal cannot drive the loop
//!   into overload.
//! - **Psychoacoustic shaping** ([`DitherKind::TpdfLipshitz`]): the same loop with the 5-tap
//!   "minimally audible" filter of Lipshitz, Vanderkooy and Wannamaker ("Minimally audible
//!   noise shaping", JAES 39(11), 1991), h = [2.033, −2.165, 1.959, −1.590, 0.6149], designed
//!   for 44.1 kHz: the error is pushed out of 2–5 kHz, where hearing is most sensitive, into the
//!   top octave (it is the filter SoX calls `lipshitz`). At other rates the curve lands at other
//!   frequencies. Its noise power is higher in total, lower where it is heard.

use crate::processor::{Processor, StereoBlock};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DitherKind {
    /// Rounding only.
    None,
    /// Triangular-PDF dither.
    #[default]
    Tpdf,
    /// TPDF dither inside the (1 − z⁻¹)² error-feedback loop.
    TpdfShaped,
    /// TPDF dither inside Lipshitz's 5-tap minimally audible error-feedback loop (44.1 kHz).
    TpdfLipshitz,
}

/// Error-feedback coefficients h of `E(z) = 1 − Σ h_k z^−(k+1)` for [`DitherKind::TpdfShaped`].
pub const SHAPING_FILTER: [f64; 2] = [2.0, -1.0];

/// Error-feedback coefficients for [`DitherKind::TpdfLipshitz`] (Lipshitz et al. 1991, 5 taps).
pub const LIPSHITZ_FILTER: [f64; 5] = [2.033, -2.165, 1.959, -1.590, 0.6149];

/// The error-feedback coefficients of a dither kind (empty without noise shaping).
pub fn shaping_filter(kind: DitherKind) -> &'static [f64] {
    match kind {
        DitherKind::TpdfShaped => &SHAPING_FILTER,
        DitherKind::TpdfLipshitz => &LIPSHITZ_FILTER,
        DitherKind::None | DitherKind::Tpdf => &[],
    }
}

/// Rounds to the nearest integer, ties to even, for |t| < 2⁵¹: adding and subtracting
/// 1.5·2⁵² leaves no fraction bits. (`f64::round` is a library call on baseline x86-64.)
#[inline]
fn round_half_even(t: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    (t + MAGIC) - MAGIC
}

/// SplitMix64 (Steele, Lea and Flood 2014): a Weyl sequence through a 64-bit mixer; small,
/// deterministic, and its state advances by one addition, so consecutive draws do not wait
/// on each other (an xorshift state is a chain of six dependent steps per draw, which bound
/// the writer's speed).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new(seed: u64) -> Self {
        // Mixed, so that seeds that differ in a few bits start far apart on the sequence.
        Self(Self::mix(seed))
    }

    #[inline]
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        Self::mix(self.0)
    }

    /// Triangular-PDF value in (−1, 1): the difference of two independent uniforms, the two
    /// 32-bit halves of one draw (2⁻³² of resolution is far finer than any dither needs).
    #[inline]
    fn triangular(&mut self) -> f64 {
        Self::triangular_of(self.next_u64())
    }

    /// The `n`-th triangular value after state `state` (`n` ≥ 1): the generator is a counter
    /// through a mixer, so any value can be had without the ones before it.
    #[inline(always)]
    fn triangular_at(state: u64, n: u64) -> f64 {
        Self::triangular_of(Self::mix(state.wrapping_add(Self::GAMMA.wrapping_mul(n))))
    }

    #[inline(always)]
    fn triangular_of(z: u64) -> f64 {
        const SCALE: f64 = 1.0 / 4_294_967_296.0;
        ((z >> 32) as f64 - (z & 0xFFFF_FFFF) as f64) * SCALE
    }
}

/// One channel's quantiser.
#[derive(Clone, Debug)]
pub struct Quantizer {
    kind: DitherKind,
    step: f64,
    /// 1 / step (a power of two, so multiplying by it is exact).
    inv_step: f64,
    rng: Rng,
    seed: u64,
    /// Whether there is a shaping filter.
    shaped: bool,
    /// The shaping filter's coefficients, zero past its taps.
    shaping: [f64; 5],
    /// Past total quantisation errors e[n−1], e[n−2], … (as many as the filter has taps).
    err: [f64; 5],
}

impl Quantizer {
    pub fn new(bits: u32, kind: DitherKind, seed: u64) -> Self {
        assert!((8..=32).contains(&bits), "bits must be 8–32");
        Self {
            kind,
            step: 2f64.powi(1 - bits as i32),
            inv_step: 2f64.powi(bits as i32 - 1),
            rng: Rng::new(seed),
            seed,
            shaped: !shaping_filter(kind).is_empty(),
            shaping: {
                let mut h = [0.0; 5];
                let taps = shaping_filter(kind);
                h[..taps.len()].copy_from_slice(taps);
                h
            },
            err: [0.0; 5],
        }
    }

    /// The quantisation step Δ.
    pub fn step(&self) -> f64 {
        self.step
    }

    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let d = match self.kind {
            DitherKind::None => 0.0,
            _ => self.rng.triangular() * self.step,
        };
        if !self.shaped {
            let y = round_half_even((x + d) * self.inv_step) * self.step;
            return y.clamp(-1.0, 1.0 - self.step);
        }
        // A fixed five-term sum (zero coefficients past the filter's taps) and a shift by
        // value: no loop over a slice, no memmove, per sample.
        let (h, e) = (&self.shaping, &self.err);
        let feedback = h[0] * e[0] + h[1] * e[1] + h[2] * e[2] + h[3] * e[3] + h[4] * e[4];
        let v = x - feedback;
        let y = round_half_even((v + d) * self.inv_step) * self.step;
        let y = y.clamp(-1.0, 1.0 - self.step);
        let limit = 8.0 * self.step;
        self.err = [(y - v).clamp(-limit, limit), e[0], e[1], e[2], e[3]];
        y
    }

    pub fn reset(&mut self) {
        self.rng = Rng::new(self.seed);
        self.err = [0.0; 5];
    }

    /// Whether the quantisation error is fed back (noise shaping): each sample then depends
    /// on the one before.
    pub fn is_shaped(&self) -> bool {
        self.shaped
    }

    /// Quantises a block to integer sample values (`round(x / Δ)` within the format's range):
    /// exactly what [`Quantizer::tick`] gives sample by sample, times `2^(bits−1)`. Without
    /// noise shaping, nothing carries from one sample to the next (each dither value is drawn
    /// by its position, [`Rng::triangular_at`]), so the loop vectorises: it is the writer's
    /// busiest step otherwise.
    pub fn quantize_block(&mut self, x: &[f64], out: &mut [i32]) {
        let inv = self.inv_step;
        if self.shaped {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = (self.tick(v) * inv) as i32;
            }
            return;
        }
        let (step, lo, hi) = (self.step, -inv, inv - 1.0);
        if self.kind == DitherKind::None {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = to_sample(round_half_even((v + 0.0) * inv).clamp(lo, hi));
            }
            return;
        }
        let state = self.rng.0;
        let used = out.len().min(x.len()) as u64;
        crate::simd::run(
            crate::simd::wide_available(),
            TpdfKernel {
                x,
                out,
                state,
                step,
                inv,
            },
        );
        self.rng.0 = state.wrapping_add(Rng::GAMMA.wrapping_mul(used));
    }
}

/// The unshaped TPDF quantiser's loop (see [`Quantizer::quantize_block`]), compiled for the
/// widest vectors the CPU has: the generator's 64-bit multiplies are one instruction each
/// with AVX-512, several without.
struct TpdfKernel<'a> {
    x: &'a [f64],
    out: &'a mut [i32],
    state: u64,
    step: f64,
    inv: f64,
}

impl crate::simd::Kernel for TpdfKernel<'_> {
    type Output = ();
    const WIDE_512: bool = true;

    #[inline(always)]
    fn call<M: crate::simd::Mac>(self, _: M) {
        let (lo, hi) = (-self.inv, self.inv - 1.0);
        for (n, (o, &v)) in self.out.iter_mut().zip(self.x).enumerate() {
            let d = Rng::triangular_at(self.state, n as u64 + 1) * self.step;
            *o = to_sample(round_half_even((v + d) * self.inv).clamp(lo, hi));
        }
    }
}

/// An integer-valued `t` within ±2³¹ as `i32`, and NaN as 0: what `t as i32` gives, in
/// integer steps that vectorise (`as i32` is a NaN check and a scalar conversion per value).
/// Adding 1.5·2⁵² puts the integer in the low bits of the sum's mantissa.
#[inline(always)]
fn to_sample(t: f64) -> i32 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let t = if t.is_nan() { 0.0 } else { t };
    (t + MAGIC).to_bits().wrapping_sub(MAGIC.to_bits()) as i32
}

/// Stereo quantiser as a processor (independent generators per channel).
pub struct Dither {
    q: [Quantizer; 2],
}

impl Dither {
    /// `seed` makes the output reproducible; the right channel uses a derived seed.
    pub fn new(bits: u32, kind: DitherKind, seed: u64) -> Self {
        Self {
            q: [
                Quantizer::new(bits, kind, seed),
                Quantizer::new(bits, kind, seed ^ 0x9E37_79B9_7F4A_7C15),
            ],
        }
    }
}

impl Processor for Dither {
    fn prepare(&mut self, _sample_rate_hz: f64, _max_block: usize) {}

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        // Both channels in one loop: their error-feedback loops are independent chains of
        // dependent steps, which then overlap.
        let [ql, qr] = &mut self.q;
        for (l, r) in block.left.iter_mut().zip(block.right.iter_mut()) {
            *l = ql.tick(*l);
            *r = qr.tick(*r);
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        for q in &mut self.q {
            q.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block quantiser is the per-sample one, bit for bit, for every kind, across block
    /// boundaries, with values past full scale (clamped), at rounding ties and NaN (0, as
    /// `as i32` gives).
    #[test]
    fn quantize_block_is_tick_times_full_scale() {
        let mut gen = Rng::new(7);
        let x: Vec<f64> = (0..10_000)
            .map(|i| match i % 97 {
                0 => 1.5,
                1 => -1.5,
                2 => 0.5 / 8_388_608.0,
                3 => -0.0,
                _ => gen.triangular() * 1.01,
            })
            .collect();
        for kind in [
            DitherKind::None,
            DitherKind::Tpdf,
            DitherKind::TpdfShaped,
            DitherKind::TpdfLipshitz,
        ] {
            for bits in [16, 24] {
                let scale = 2f64.powi(bits as i32 - 1);
                let mut a = Quantizer::new(bits, kind, 42);
                let want: Vec<i32> = x.iter().map(|&v| (a.tick(v) * scale) as i32).collect();
                let mut b = Quantizer::new(bits, kind, 42);
                let mut got = vec![0; x.len()];
                for (xs, os) in x.chunks(1000).zip(got.chunks_mut(1000)) {
                    b.quantize_block(xs, os);
                }
                assert_eq!(got, want, "{kind:?} {bits} bits");
            }
        }
        // Without feedback, a NaN stays one sample's matter: 0, as `as i32` makes it.
        let with_nan: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 89 == 4 { f64::NAN } else { v })
            .collect();
        for kind in [DitherKind::None, DitherKind::Tpdf] {
            let mut a = Quantizer::new(24, kind, 42);
            let want: Vec<i32> = with_nan
                .iter()
                .map(|&v| (a.tick(v) * 8_388_608.0) as i32)
                .collect();
            let mut got = vec![1; x.len()];
            Quantizer::new(24, kind, 42).quantize_block(&with_nan, &mut got);
            assert_eq!(got, want, "{kind:?} with NaN");
            assert_eq!(got[4], 0);
        }
    }
}

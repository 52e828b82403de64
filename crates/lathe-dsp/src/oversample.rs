//! Polyphase windowed-sinc upsampling by 8.
//!
//! The prototype is a Kaiser-windowed sinc at the 8x rate with its cutoff at the *input*
//! Nyquist frequency and [`TAPS_PER_PHASE`] taps per phase. Because the sinc's zeros fall on
//! multiples of 8, phase 0 is a pure delay: the original samples pass through unchanged and the
//! other seven phases are the interpolated points between them. With β chosen for 50 dB of
//! rejection the passband is flat within ±0.03 dB and images are ≤ −50 dB outside
//! 0.5 ± 0.047·fs (measured in this crate's tests).
//!
//! The coefficients are stored tap-major (`[tap][phase]`) so that one input sample times one
//! row updates all eight phases at once; the compiler turns that into SIMD multiply-adds.
//! Arithmetic is in `f32`: the interpolated values are used for peak detection, where a
//! relative error of 1e-7 is 1e-6 dB.

use crate::window::{kaiser, kaiser_beta};

/// Oversampling factor.
pub const FACTOR: usize = 8;
/// Taps per polyphase branch (the prototype has `FACTOR × TAPS_PER_PHASE` taps).
pub const TAPS_PER_PHASE: usize = 32;
/// Stopband rejection the Kaiser window is designed for, dB.
const REJECTION_DB: f64 = 50.0;

/// The polyphase coefficient table, `[tap][phase]`.
#[derive(Clone, Debug)]
pub struct UpsamplerCoefficients {
    rows: Vec<[f32; FACTOR]>,
}

impl UpsamplerCoefficients {
    /// Designs the 8x Kaiser-windowed-sinc prototype and splits it into phases.
    pub fn new() -> Self {
        use std::f64::consts::PI;
        let len = FACTOR * TAPS_PER_PHASE;
        let centre = (len / 2) as f64;
        let beta = kaiser_beta(REJECTION_DB);
        let mut proto = vec![0.0f64; len];
        for (n, h) in proto.iter_mut().enumerate() {
            let t = (n as f64 - centre) / FACTOR as f64;
            let sinc = if n % FACTOR == (len / 2) % FACTOR {
                // On the original sample grid: exactly 1 at the centre and 0 elsewhere.
                if t == 0.0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                (PI * t).sin() / (PI * t)
            };
            *h = sinc * kaiser((n as f64 - centre) / centre, beta);
        }
        // Output phase p at input index m is sum_k proto[k*FACTOR + p] * x[m - k].
        let mut rows = vec![[0.0f32; FACTOR]; TAPS_PER_PHASE];
        for (k, row) in rows.iter_mut().enumerate() {
            for (p, c) in row.iter_mut().enumerate() {
                *c = proto[k * FACTOR + p] as f32;
            }
        }
        Self { rows }
    }

    /// Delay of the upsampler in input samples: output phase 0 at input index `m` equals the
    /// input sample `m − LATENCY`.
    pub const LATENCY: usize = TAPS_PER_PHASE / 2;
}

impl Default for UpsamplerCoefficients {
    fn default() -> Self {
        Self::new()
    }
}

/// Streaming 8x upsampler for one channel.
#[derive(Clone, Debug)]
pub struct Upsampler {
    coefs: UpsamplerCoefficients,
    /// Input history: the last `TAPS_PER_PHASE − 1` samples, followed by the current block.
    history: Vec<f32>,
    /// Whether this CPU has AVX2 and FMA (checked once, at construction).
    wide_simd: bool,
}

/// Input samples per internal block (the history buffer holds one block plus the filter span).
pub const BLOCK: usize = 1024;

impl Upsampler {
    pub fn new() -> Self {
        Self {
            coefs: UpsamplerCoefficients::new(),
            history: vec![0.0; TAPS_PER_PHASE - 1 + BLOCK],
            wide_simd: simd::wide_simd_available(),
        }
    }

    /// Upsamples `input` (at most [`BLOCK`] samples): `out[i]` receives the eight output samples
    /// completed by `input[i]`, delayed by [`UpsamplerCoefficients::LATENCY`] input samples.
    pub fn process_block(&mut self, input: &[f64], out: &mut [[f32; FACTOR]]) {
        assert!(input.len() <= BLOCK && out.len() >= input.len());
        let keep = TAPS_PER_PHASE - 1;
        for (h, &x) in self.history[keep..].iter_mut().zip(input) {
            *h = x as f32;
        }
        let span = &self.history[..keep + input.len()];
        simd::upsample(
            self.wide_simd,
            &self.coefs.rows,
            span,
            &mut out[..input.len()],
        );
        // Slide the last `keep` samples to the front for the next block.
        self.history.copy_within(input.len()..input.len() + keep, 0);
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.history.fill(0.0);
    }
}

impl Default for Upsampler {
    fn default() -> Self {
        Self::new()
    }
}

/// The polyphase dot products, with a faster path for CPUs with AVX2 and FMA.
#[allow(unsafe_code)]
mod simd {
    use super::{FACTOR, TAPS_PER_PHASE};

    pub fn wide_simd_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// `span` holds `TAPS_PER_PHASE − 1` samples of history followed by `out.len()` new samples.
    pub fn upsample(wide: bool, rows: &[[f32; FACTOR]], span: &[f32], out: &mut [[f32; FACTOR]]) {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` is true only when the CPU reported AVX2 and FMA at run time
            // (`wide_simd_available`), which is what `upsample_avx2_fma` is compiled for.
            unsafe { upsample_avx2_fma(rows, span, out) };
            return;
        }
        let _ = wide;
        upsample_portable(rows, span, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn upsample_avx2_fma(rows: &[[f32; FACTOR]], span: &[f32], out: &mut [[f32; FACTOR]]) {
        kernel(rows, span, out, |acc, c, x| c.mul_add(x, acc));
    }

    fn upsample_portable(rows: &[[f32; FACTOR]], span: &[f32], out: &mut [[f32; FACTOR]]) {
        kernel(rows, span, out, |acc, c, x| acc + c * x);
    }

    /// Output phase p for input i is Σ_k rows[k][p] · x[i − k]. Four accumulator sets keep four
    /// independent dependency chains in flight.
    #[inline(always)]
    fn kernel(
        rows: &[[f32; FACTOR]],
        span: &[f32],
        out: &mut [[f32; FACTOR]],
        mac: impl Fn(f32, f32, f32) -> f32,
    ) {
        for (i, o) in out.iter_mut().enumerate() {
            let window = &span[i..i + TAPS_PER_PHASE]; // newest sample last
            let mut acc = [[0.0f32; FACTOR]; 4];
            for (rs, xs) in rows.chunks_exact(4).zip(window.rchunks_exact(4)) {
                for j in 0..4 {
                    let xv = xs[3 - j];
                    for p in 0..FACTOR {
                        acc[j][p] = mac(acc[j][p], rs[j][p], xv);
                    }
                }
            }
            for p in 0..FACTOR {
                o[p] = (acc[0][p] + acc[1][p]) + (acc[2][p] + acc[3][p]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2/FMA path and the portable path compute the same sums (FMA rounds once instead
    /// of twice, so they may differ in the last bits only).
    #[test]
    fn wide_and_portable_paths_agree() {
        if !simd::wide_simd_available() {
            eprintln!("SKIPPED: this CPU has no AVX2/FMA; only the portable path exists here");
            return;
        }
        let coefs = UpsamplerCoefficients::new();
        let span: Vec<f32> = (0..TAPS_PER_PHASE - 1 + 500)
            .map(|n| ((n * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut a = vec![[0.0; FACTOR]; 500];
        let mut b = vec![[0.0; FACTOR]; 500];
        simd::upsample(true, &coefs.rows, &span, &mut a);
        simd::upsample(false, &coefs.rows, &span, &mut b);
        for (ra, rb) in a.iter().zip(&b) {
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
            }
        }
    }

    /// Phase 0 passes the input through, delayed by LATENCY samples.
    #[test]
    fn phase_zero_is_the_delayed_input() {
        let mut up = Upsampler::new();
        let x: Vec<f64> = (0..200)
            .map(|n| ((n * 31) % 17) as f64 / 17.0 - 0.5)
            .collect();
        let mut out = vec![[0.0; FACTOR]; 200];
        up.process_block(&x, &mut out);
        for n in UpsamplerCoefficients::LATENCY..200 {
            assert_eq!(out[n][0], x[n - UpsamplerCoefficients::LATENCY] as f32);
        }
    }
}

//! Oversampling by powers of two with linear-phase half-band FIR stages (polyphase), for a
//! stereo pair, block by block.
//!
//! Stage `j` converts between `2^j·fs` and `2^(j+1)·fs`. Every stage protects 0…0.45·fs:
//! the first stage (fs ↔ 2fs) has its stopband from 0.55·fs (100 dB Kaiser design, 129 taps),
//! later stages only need to reject images around multiples of their input rate, so they are
//! short. Half-band filters have every second coefficient zero, and the centre tap is ½, so
//! each polyphase branch is cheap. Lengths are 4K+1, which makes the round-trip latency a whole
//! number of base-rate samples ([`StereoOversampler::latency_samples`]).
//!
//! Processing runs on chunks of [`CHUNK`] frames with the two channels interleaved, so that
//! one vector operation serves both channels and four output frames at a time; every stage keeps
//! its history contiguous in front of the chunk (no ring-buffer indexing in the inner loop).

use crate::simd::{self, Kernel, Mac, Sample};
use crate::window::{kaiser, kaiser_beta};
use std::f64::consts::PI;

/// Base-rate frames per internal chunk.
pub const CHUNK: usize = 256;

/// One 2x stage: the half-band coefficients and the state of both channels.
///
/// The filter h has 4K+1 taps around its centre c = 2K: h[c] = ½, h[c ± m] = t_i for odd
/// m = 2i+1, zero for other even offsets.
/// - Up: y[2n] = x[n−K] (centre tap, gain 2), y[2n+1] = 2·Σ t_i (x[n−K+1+i] + x[n−K−i]).
/// - Down (decimating at even high-rate samples): out[n] = ½·z[2n−2K] + Σ t_i (z[2(n−K+i)+1]
///   + z[2(n−K−1−i)+1]).
///
/// The round trip delays by 2K samples of the stage's low rate.
#[derive(Clone, Debug)]
struct Stage<T> {
    /// t_i for i = 0 … K−1.
    taps: Vec<T>,
    k: usize,
    /// Up-sampler input, interleaved frames: 2K−1 frames of history, then the chunk.
    up_in: Vec<T>,
    /// Down-sampler input split by phase, interleaved frames: the even-phase frames (K frames
    /// of history, then the chunk) and the odd-phase frames (2K of history, then the chunk).
    down_even: Vec<T>,
    down_odd: Vec<T>,
    /// Scratch for the filtered odd phase, interleaved frames.
    sums: Vec<T>,
}

impl<T: Sample> Stage<T> {
    /// `transition`: transition width as a fraction of the stage's high rate; `k_multiple`:
    /// K is rounded up to a multiple of it (to keep the latency whole at the base rate);
    /// `chunk`: frames at the stage's low rate per call.
    fn new(transition: f64, attenuation_db: f64, k_multiple: usize, chunk: usize) -> Self {
        let dw = 2.0 * PI * transition;
        let n_est = ((attenuation_db - 7.95) / (2.285 * dw)).ceil() as usize + 1;
        let k = n_est.div_ceil(4).max(1).next_multiple_of(k_multiple.max(1));
        let centre = (2 * k) as f64;
        let beta = kaiser_beta(attenuation_db);
        let taps = (0..k)
            .map(|i| {
                let m = (2 * i + 1) as f64;
                let sinc = (PI * m / 2.0).sin() / (PI * m / 2.0);
                T::from_f64(0.5 * sinc * kaiser(m / (centre + 1.0), beta))
            })
            .collect();
        let zero = T::default();
        Self {
            taps,
            k,
            up_in: vec![zero; 2 * (2 * k - 1 + chunk)],
            down_even: vec![zero; 2 * (k + chunk)],
            down_odd: vec![zero; 2 * (2 * k + chunk)],
            sums: vec![zero; 2 * chunk],
        }
    }

    /// Latency of an up + down round trip, in samples at the stage's low rate.
    fn round_trip_latency(&self) -> usize {
        2 * self.k
    }

    /// `input`: m interleaved frames at the low rate; `output`: 2m frames at the high rate.
    fn up(&mut self, wide: bool, input: &[T], output: &mut [T]) {
        let k = self.k;
        let hist = 2 * (2 * k - 1);
        let len = input.len();
        self.up_in[hist..hist + len].copy_from_slice(input);
        let sums = &mut self.sums[..len];
        simd::run(
            wide,
            SymmetricFir {
                taps: &self.taps,
                span: &self.up_in[..hist + len],
                out: sums,
            },
        );
        // Even outputs: x[n−K] = up_in frame n + K − 1; odd outputs: twice the sums.
        let two = T::from_f64(2.0);
        let delayed = &self.up_in[2 * (k - 1)..2 * (k - 1) + len];
        for ((o, d), s) in output
            .chunks_exact_mut(4)
            .zip(delayed.chunks_exact(2))
            .zip(sums.chunks_exact(2))
        {
            o[0] = d[0];
            o[1] = d[1];
            o[2] = two * s[0];
            o[3] = two * s[1];
        }
        self.up_in.copy_within(len..len + hist, 0);
    }

    /// `input`: 2m interleaved frames at the high rate; `output`: m frames at the low rate.
    fn down(&mut self, wide: bool, input: &[T], output: &mut [T]) {
        let k = self.k;
        let len = output.len();
        let (he, ho) = (2 * k, 2 * 2 * k);
        for ((pair, e), o) in input
            .chunks_exact(4)
            .zip(self.down_even[he..he + len].chunks_exact_mut(2))
            .zip(self.down_odd[ho..ho + len].chunks_exact_mut(2))
        {
            e.copy_from_slice(&pair[..2]);
            o.copy_from_slice(&pair[2..]);
        }
        simd::run(
            wide,
            SymmetricFir {
                taps: &self.taps,
                span: &self.down_odd[..ho + len],
                out: output,
            },
        );
        // ½·z[2n−2K]: the even-phase frame n − K, which sits at frame n of the buffer.
        let half = T::from_f64(0.5);
        for (o, e) in output.iter_mut().zip(&self.down_even[..len]) {
            *o += half * *e;
        }
        self.down_even.copy_within(len..len + he, 0);
        self.down_odd.copy_within(len..len + ho, 0);
    }

    fn reset(&mut self) {
        self.up_in.fill(T::default());
        self.down_even.fill(T::default());
        self.down_odd.fill(T::default());
    }
}

/// out frame n = Σ t_i·(span frame n+K+i + span frame n+K−1−i), for interleaved stereo
/// frames; `span` holds `out` frames plus 2K−1 frames before them.
struct SymmetricFir<'a, T> {
    taps: &'a [T],
    span: &'a [T],
    out: &'a mut [T],
}

impl<T: Sample> Kernel for SymmetricFir<'_, T> {
    type Output = ();
    const WIDE_512: bool = true;

    #[inline(always)]
    fn call<M: Mac>(self, mac: M) {
        let k = self.taps.len();
        let frames = self.out.len() / 2;
        // Sixteen output frames (32 lanes) per pass: the windows of neighbouring outputs are
        // neighbouring memory, so each tap is a run of wide loads forward and backward, and the
        // eight AVX2 accumulators keep enough independent multiply-adds in flight to hide their
        // latency (with four frames per pass this loop ran at half the speed).
        const F: usize = 16;
        let mut n = 0;
        while n + F <= frames {
            let mut acc = [T::default(); 2 * F];
            for (i, &t) in self.taps.iter().enumerate() {
                let fwd = &self.span[2 * (n + k + i)..][..2 * F];
                let back = &self.span[2 * (n + k - 1 - i)..][..2 * F];
                for l in 0..2 * F {
                    acc[l] = T::mac(mac, acc[l], t, fwd[l] + back[l]);
                }
            }
            self.out[2 * n..2 * n + 2 * F].copy_from_slice(&acc);
            n += F;
        }
        while n < frames {
            let mut acc = [T::default(); 2];
            for (i, &t) in self.taps.iter().enumerate() {
                let fwd = &self.span[2 * (n + k + i)..][..2];
                let back = &self.span[2 * (n + k - 1 - i)..][..2];
                for ((a, &f), &b) in acc.iter_mut().zip(fwd).zip(back) {
                    *a = T::mac(mac, *a, t, f + b);
                }
            }
            self.out[2 * n..2 * n + 2].copy_from_slice(&acc);
            n += 1;
        }
    }
}

/// An oversampler by `2^stages` for a stereo pair: up, a nonlinearity, down. The oversampled
/// section runs in `T`: `f64`, or `f32` (about −140 dB of rounding, twice the values per vector)
/// where that precision suffices, as in the saturator and the clipper.
#[derive(Clone, Debug)]
pub struct StereoOversampler<T = f64> {
    stages: Vec<Stage<T>>,
    factor: usize,
    /// `levels[j]`: one chunk of interleaved frames at 2^j·fs.
    levels: Vec<Vec<T>>,
    wide: bool,
}

impl<T: Sample> StereoOversampler<T> {
    /// `factor` ∈ {1, 2, 4, 8}.
    pub fn new(factor: usize) -> Self {
        assert!(
            matches!(factor, 1 | 2 | 4 | 8),
            "oversampling factor must be 1, 2, 4 or 8"
        );
        let n = factor.trailing_zeros() as usize;
        let stages = (0..n)
            .map(|j| {
                // Transition as a fraction of the stage's high rate 2^(j+1)·fs: from 0.45·fs
                // to 2^j·fs − 0.45·fs.
                let hi = 2f64.powi(j as i32 + 1);
                let lo = 2f64.powi(j as i32);
                // The short later stages get more attenuation: the Kaiser length estimate is loose
                // for wide transitions, and the cost is a few taps.
                let db = if j == 0 { 100.0 } else { 120.0 };
                Stage::new((lo - 0.9) / hi, db, 1 << j, CHUNK << j)
            })
            .collect();
        Self {
            stages,
            factor,
            levels: (0..=n)
                .map(|j| vec![T::default(); 2 * (CHUNK << j)])
                .collect(),
            wide: simd::wide_available(),
        }
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Round-trip latency in base-rate samples.
    pub fn latency_samples(&self) -> usize {
        self.stages
            .iter()
            .enumerate()
            .map(|(j, s)| s.round_trip_latency() >> j)
            .sum()
    }

    /// Upsamples both channels, hands `f` the oversampled values (interleaved left/right, so
    /// `f` must treat every value alike), downsamples back into `left` and `right`.
    pub fn process(&mut self, left: &mut [f64], right: &mut [f64], mut f: impl FnMut(&mut [T])) {
        assert_eq!(left.len(), right.len());
        let top = self.stages.len();
        for (lc, rc) in left.chunks_mut(CHUNK).zip(right.chunks_mut(CHUNK)) {
            let m = lc.len();
            for ((fr, l), r) in self.levels[0].chunks_exact_mut(2).zip(&*lc).zip(&*rc) {
                fr[0] = T::from_f64(*l);
                fr[1] = T::from_f64(*r);
            }
            for j in 0..top {
                let (lo, hi) = self.levels.split_at_mut(j + 1);
                self.stages[j].up(
                    self.wide,
                    &lo[j][..2 * (m << j)],
                    &mut hi[0][..4 * (m << j)],
                );
            }
            f(&mut self.levels[top][..2 * (m << top)]);
            for j in (0..top).rev() {
                let (lo, hi) = self.levels.split_at_mut(j + 1);
                self.stages[j].down(
                    self.wide,
                    &hi[0][..4 * (m << j)],
                    &mut lo[j][..2 * (m << j)],
                );
            }
            for ((fr, l), r) in self.levels[0].chunks_exact(2).zip(lc).zip(rc) {
                *l = fr[0].to_f64();
                *r = fr[1].to_f64();
            }
        }
    }

    /// Whether the AVX2 + FMA kernels are in use.
    pub fn wide(&self) -> bool {
        self.wide
    }

    pub fn reset(&mut self) {
        self.stages.iter_mut().for_each(Stage::reset);
    }
}

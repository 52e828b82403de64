//! Oversampling by powers of two with linear-phase half-band FIR stages (polyphase).
//!
//! Stage `j` converts between `2^j·fs` and `2^(j+1)·fs`. Every stage protects 0…0.45·fs:
//! the first stage (fs ↔ 2fs) has its stopband from 0.55·fs (100 dB Kaiser design, 129 taps),
//! later stages only need to reject images around multiples of their input rate, so they are
//! short. Half-band filters have every second coefficient zero, and the centre tap is ½, so
//! each polyphase branch is cheap. Lengths are 4K+1, which makes the round-trip latency a whole
//! number of base-rate samples ([`Oversampler::latency_samples`]).

use crate::window::{kaiser, kaiser_beta};
use std::f64::consts::PI;

/// One 2x stage: the half-band coefficients and the state of one channel.
///
/// The filter h has 4K+1 taps around its centre c = 2K: h[c] = ½, h[c ± m] = t_i for odd
/// m = 2i+1, zero for other even offsets.
/// - Up: y[2n] = x[n−K] (centre tap, gain 2), y[2n+1] = 2·Σ t_i (x[n−K+1+i] + x[n−K−i]).
/// - Down (decimating at even high-rate samples): out[n] = ½·z[2n−2K] + Σ t_i (z[2(n−K+i)+1]
///   + z[2(n−K−1−i)+1]).
///
/// The round trip delays by 2K samples of the stage's low rate.
#[derive(Clone, Debug)]
struct Stage {
    /// t_i for i = 0 … K−1.
    taps: Vec<f64>,
    k: usize,
    /// Up-sampler input ring, mirrored (2 × 2K).
    up_hist: Vec<f64>,
    up_pos: usize,
    /// Down-sampler histories, mirrored rings: even-phase (K+1) and odd-phase (2K+1) samples.
    down_even: Vec<f64>,
    down_odd: Vec<f64>,
    even_pos: usize,
    odd_pos: usize,
}

impl Stage {
    /// `transition`: transition width as a fraction of the stage's high rate; `k_multiple`:
    /// K is rounded up to a multiple of it (to keep the latency whole at the base rate).
    fn new(transition: f64, attenuation_db: f64, k_multiple: usize) -> Self {
        let dw = 2.0 * PI * transition;
        let n_est = ((attenuation_db - 7.95) / (2.285 * dw)).ceil() as usize + 1;
        let k = n_est.div_ceil(4).max(1).next_multiple_of(k_multiple.max(1));
        let centre = (2 * k) as f64;
        let beta = kaiser_beta(attenuation_db);
        let taps = (0..k)
            .map(|i| {
                let m = (2 * i + 1) as f64;
                let sinc = (PI * m / 2.0).sin() / (PI * m / 2.0);
                0.5 * sinc * kaiser(m / (centre + 1.0), beta)
            })
            .collect();
        Self {
            taps,
            k,
            up_hist: vec![0.0; 4 * k],
            up_pos: 0,
            down_even: vec![0.0; 2 * (k + 1)],
            down_odd: vec![0.0; 2 * (2 * k + 1)],
            even_pos: 0,
            odd_pos: 0,
        }
    }

    /// Latency of an up + down round trip, in samples at the stage's low rate.
    fn round_trip_latency(&self) -> usize {
        2 * self.k
    }

    #[inline]
    fn up(&mut self, x: f64) -> [f64; 2] {
        let k = self.k;
        let len = 2 * k;
        self.up_hist[self.up_pos] = x;
        self.up_hist[self.up_pos + len] = x;
        // w[j] = x[n − 2K + 1 + j], oldest first.
        let w = &self.up_hist[self.up_pos + 1..self.up_pos + 1 + len];
        let odd = symmetric_dot(&self.taps, &w[k..], &w[..k]);
        let even = w[k - 1];
        self.up_pos = (self.up_pos + 1) % len;
        [even, 2.0 * odd]
    }

    #[inline]
    fn down(&mut self, z: [f64; 2]) -> f64 {
        let k = self.k;
        let (le, lo) = (k + 1, 2 * k + 1);
        self.down_even[self.even_pos] = z[0];
        self.down_even[self.even_pos + le] = z[0];
        self.down_odd[self.odd_pos] = z[1];
        self.down_odd[self.odd_pos + lo] = z[1];
        // Oldest-first windows: e[0] is the even sample of pair n−K; o[K+i] is the odd sample
        // of pair n−K+i and o[K−1−i] that of pair n−K−1−i.
        let e = &self.down_even[self.even_pos + 1..self.even_pos + 1 + le];
        let o = &self.down_odd[self.odd_pos + 1..self.odd_pos + 1 + lo];
        let acc = 0.5 * e[0] + symmetric_dot(&self.taps, &o[k..], &o[..k]);
        self.even_pos = (self.even_pos + 1) % le;
        self.odd_pos = (self.odd_pos + 1) % lo;
        acc
    }

    fn reset(&mut self) {
        self.up_hist.fill(0.0);
        self.up_pos = 0;
        self.down_even.fill(0.0);
        self.down_odd.fill(0.0);
        self.even_pos = 0;
        self.odd_pos = 0;
    }
}

/// Σ t_i·(fwd[i] + back[K−1−i]) for the symmetric half-band taps, in four independent
/// partial sums so that the loop vectorises.
#[inline(always)]
fn symmetric_dot(taps: &[f64], fwd: &[f64], back: &[f64]) -> f64 {
    let k = taps.len();
    let (fwd, back) = (&fwd[..k], &back[..k]);
    let mut acc = [0.0f64; 4];
    let mut i = 0;
    while i + 4 <= k {
        for j in 0..4 {
            acc[j] += taps[i + j] * (fwd[i + j] + back[k - 1 - i - j]);
        }
        i += 4;
    }
    while i < k {
        acc[0] += taps[i] * (fwd[i] + back[k - 1 - i]);
        i += 1;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// An oversampler by `2^stages` for one channel: `up` then `down` around a nonlinearity.
#[derive(Clone, Debug)]
pub struct Oversampler {
    stages: Vec<Stage>,
    /// Scratch: the oversampled block of one base sample.
    buf: Vec<f64>,
    tmp: Vec<f64>,
}

impl Oversampler {
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
                Stage::new((lo - 0.9) / hi, if j == 0 { 100.0 } else { 120.0 }, 1 << j)
            })
            .collect();
        Self {
            stages,
            buf: vec![0.0; factor],
            tmp: vec![0.0; factor],
        }
    }

    pub fn factor(&self) -> usize {
        self.buf.len()
    }

    /// Round-trip latency in base-rate samples.
    pub fn latency_samples(&self) -> usize {
        self.stages
            .iter()
            .enumerate()
            .map(|(j, s)| s.round_trip_latency() >> j)
            .sum()
    }

    /// Upsamples one base sample, applies `f` to every oversampled value, downsamples.
    #[inline]
    pub fn process(&mut self, x: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
        let factor = self.buf.len();
        if factor == 1 {
            return f(x);
        }
        self.buf[0] = x;
        let mut len = 1;
        for stage in self.stages.iter_mut() {
            for i in 0..len {
                let [a, b] = stage.up(self.buf[i]);
                self.tmp[2 * i] = a;
                self.tmp[2 * i + 1] = b;
            }
            len *= 2;
            self.buf[..len].copy_from_slice(&self.tmp[..len]);
        }
        for v in self.buf.iter_mut() {
            *v = f(*v);
        }
        for stage in self.stages.iter_mut().rev() {
            len /= 2;
            for i in 0..len {
                self.tmp[i] = stage.down([self.buf[2 * i], self.buf[2 * i + 1]]);
            }
            self.buf[..len].copy_from_slice(&self.tmp[..len]);
        }
        self.buf[0]
    }

    pub fn reset(&mut self) {
        self.stages.iter_mut().for_each(Stage::reset);
    }
}

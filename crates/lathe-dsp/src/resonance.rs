//! Resonance suppressor: narrow peaks that stand above the spectrum around them are lowered
//! while they ring; everything else passes unchanged.
//!
//! **Analysis** on a short-time Fourier transform ([`FRAME_MS`] frames, rounded up to a power
//! of two; Hann windows; hop a quarter frame): per bin, the power of both channels, averaged
//! over time by a one-pole of `detect_ms` (a resonance rings on; a single frame of noise or a
//! passing note's harmonic does not, once averaged), then in dB and averaged over
//! ±1/[`PEAK_SMOOTH_DIV`] octave (a resonance is several bins wide; a bin of noise is one).
//! **Envelope** of each bin: the mean dB level of the ring from `width_oct`/4 to `width_oct`/2
//! octave either side (the peak itself is left out, so it does not raise its own envelope).
//! `width_oct` is the sharpness: only peaks narrower than about a quarter of it stand out.
//! **Reduction** of a bin whose level stands `e` dB above its envelope:
//! `min(depth, e · clamp((e − threshold)/threshold, 0, 1))`: nothing below the threshold,
//! the whole excess from twice the threshold on (the peak is flattened into its
//! surroundings), never more than `depth_db`. Only bins between `low_hz` and `high_hz` are
//! treated.
//! **Synthesis**: the same real gain on both channels' spectra (no phase change), Hann
//! synthesis windows, overlap-add. Where no bin is reduced, the output is the input delayed
//! (to rounding). Latency: one frame, reported.

use crate::fft_plans;
use crate::processor::{Processor, StereoBlock};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealToComplex};
use std::f64::consts::PI;
use std::sync::Arc;

/// Frame length, ms (rounded up to a power of two in samples).
pub const FRAME_MS: f64 = 80.0;
/// The level of a bin is its mean over ±1/this octave.
pub const PEAK_SMOOTH_DIV: f64 = 48.0;

/// Resonance suppressor settings (also the `resonance` keys of a session file).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResonanceSettings {
    /// The most a bin is lowered, dB.
    pub depth_db: f64,
    /// Excess over the envelope where reduction starts, dB (the whole excess goes from twice
    /// this on).
    pub threshold_db: f64,
    /// Width of the envelope around each bin, octaves: the sharpness (smaller: only sharper
    /// peaks count).
    pub width_oct: f64,
    /// Averaging time of the analysis, ms.
    pub detect_ms: f64,
    pub low_hz: f64,
    pub high_hz: f64,
}

impl Default for ResonanceSettings {
    fn default() -> Self {
        Self {
            depth_db: 6.0,
            threshold_db: 3.0,
            width_oct: 1.0,
            detect_ms: 200.0,
            low_hz: 150.0,
            high_hz: 16000.0,
        }
    }
}

fn in_range(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), String> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!("{key} must be within {lo}…{hi}, got {v}"))
    }
}

impl ResonanceSettings {
    pub fn validate(&self) -> Result<(), String> {
        in_range("depth_db", self.depth_db, 0.0, 24.0)?;
        in_range("threshold_db", self.threshold_db, 1.0, 24.0)?;
        in_range("width_oct", self.width_oct, 0.25, 3.0)?;
        in_range("detect_ms", self.detect_ms, 20.0, 5000.0)?;
        in_range("low_hz", self.low_hz, 20.0, 20000.0)?;
        in_range("high_hz", self.high_hz, self.low_hz, 40000.0)
    }

    /// The reduction (dB, ≥ 0) of a bin standing `excess_db` above its envelope.
    pub fn reduction_db(&self, excess_db: f64) -> f64 {
        let t = self.threshold_db;
        (excess_db * ((excess_db - t) / t).clamp(0.0, 1.0)).min(self.depth_db)
    }
}

/// Bin ranges of one bin's analysis: its own level and its envelope's two sides.
#[derive(Clone, Copy, Debug, Default)]
struct Ranges {
    own: (usize, usize),
    below: (usize, usize),
    above: (usize, usize),
}

pub struct ResonanceSuppressor {
    s: ResonanceSettings,
    size: usize,
    hop: usize,
    window: Vec<f64>,
    /// Treated bins and their analysis ranges (half-open).
    ranges: Vec<(usize, Ranges)>,
    /// Per bin: time-averaged power.
    power: Vec<f64>,
    power_coef: f64,
    /// Per bin: level dB, prefix sums of it, the gain.
    level_db: Vec<f64>,
    prefix: Vec<f64>,
    gain: Vec<f64>,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    input: [Vec<f64>; 2],
    ola: [Vec<f64>; 2],
    fill: usize,
    time: Vec<f64>,
    spectra: [Vec<Complex<f64>>; 2],
    scratch: Vec<Complex<f64>>,
}

impl ResonanceSuppressor {
    pub fn new(settings: ResonanceSettings) -> Self {
        let mut me = Self {
            s: settings,
            size: 0,
            hop: 0,
            window: Vec::new(),
            ranges: Vec::new(),
            power: Vec::new(),
            power_coef: 0.0,
            level_db: Vec::new(),
            prefix: Vec::new(),
            gain: Vec::new(),
            forward: fft_plans::forward_f64(2),
            inverse: fft_plans::inverse_f64(2),
            input: [Vec::new(), Vec::new()],
            ola: [Vec::new(), Vec::new()],
            fill: 0,
            time: Vec::new(),
            spectra: [Vec::new(), Vec::new()],
            scratch: Vec::new(),
        };
        me.prepare(48000.0, 0);
        me
    }

    /// The current gain of the bin nearest `freq_hz`, dB (for metering and tests).
    pub fn gain_db_at(&self, freq_hz: f64, sample_rate_hz: f64) -> f64 {
        let k = (freq_hz / sample_rate_hz * self.size as f64).round() as usize;
        20.0 * self.gain[k.min(self.gain.len() - 1)].log10()
    }

    /// The analysis ranges of every treated bin.
    fn plan_ranges(&self, sample_rate_hz: f64) -> Vec<(usize, Ranges)> {
        let bins = self.size / 2 + 1;
        let hz_per_bin = sample_rate_hz / self.size as f64;
        let to_bin = |f: f64| ((f / hz_per_bin).round() as usize).clamp(1, bins - 1);
        let w = self.s.width_oct;
        let top = self.s.high_hz.min(0.45 * sample_rate_hz);
        (1..bins)
            .filter(|&k| {
                let f = k as f64 * hz_per_bin;
                f >= self.s.low_hz && f <= top
            })
            .map(|k| {
                let f = k as f64 * hz_per_bin;
                let at = |oct: f64| to_bin(f * oct.exp2());
                let own_half = 1.0 / PEAK_SMOOTH_DIV;
                let r = Ranges {
                    own: (at(-own_half).min(k), at(own_half).max(k) + 1),
                    below: (at(-w / 2.0), at(-w / 4.0).min(k)),
                    above: (at(w / 4.0).max(k) + 1, at(w / 2.0) + 1),
                };
                (k, r)
            })
            .collect()
    }

    /// Analyses and filters the frame in `input`, adding it into `ola`.
    fn frame(&mut self) {
        let n = self.size;
        for ch in 0..2 {
            for ((t, x), w) in self.time.iter_mut().zip(&self.input[ch]).zip(&self.window) {
                *t = x * w;
            }
            self.forward
                .process_with_scratch(&mut self.time, &mut self.spectra[ch], &mut self.scratch)
                .expect("buffer sizes come from the plan");
        }
        let c = self.power_coef;
        for (k, p) in self.power.iter_mut().enumerate() {
            let now = self.spectra[0][k].norm_sqr() + self.spectra[1][k].norm_sqr();
            *p = now + c * (*p - now);
        }
        for (l, p) in self.level_db.iter_mut().zip(&self.power) {
            *l = 10.0 * (p + 1e-30).log10();
        }
        self.prefix[0] = 0.0;
        for k in 0..self.level_db.len() {
            self.prefix[k + 1] = self.prefix[k] + self.level_db[k];
        }
        let mean = |prefix: &[f64], (a, b): (usize, usize)| {
            (b > a).then(|| (prefix[b] - prefix[a]) / (b - a) as f64)
        };
        for &(k, r) in &self.ranges {
            let own = mean(&self.prefix, r.own).unwrap_or(self.level_db[k]);
            let env = match (mean(&self.prefix, r.below), mean(&self.prefix, r.above)) {
                (Some(a), Some(b)) => 0.5 * (a + b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => own,
            };
            let cut = self.s.reduction_db(own - env);
            self.gain[k] = 10f64.powf(-cut / 20.0);
        }
        // Hann analysis × Hann synthesis at a quarter-frame hop sums to 1.5; 1/n undoes the
        // unnormalised inverse transform.
        let scale = 1.0 / (1.5 * n as f64);
        for ch in 0..2 {
            for (x, g) in self.spectra[ch].iter_mut().zip(&self.gain) {
                *x *= g * scale;
            }
            // The imaginary parts at DC and Nyquist must be zero for the inverse transform.
            self.spectra[ch][0].im = 0.0;
            self.spectra[ch][n / 2].im = 0.0;
            self.inverse
                .process_with_scratch(&mut self.spectra[ch], &mut self.time, &mut self.scratch)
                .expect("buffer sizes come from the plan");
            for ((o, t), w) in self.ola[ch].iter_mut().zip(&self.time).zip(&self.window) {
                *o += t * w;
            }
        }
    }
}

impl Processor for ResonanceSuppressor {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        self.size = ((FRAME_MS * 1e-3 * sample_rate_hz).ceil() as usize).next_power_of_two();
        self.hop = self.size / 4;
        let n = self.size;
        self.window = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
            .collect();
        self.forward = fft_plans::forward_f64(n);
        self.inverse = fft_plans::inverse_f64(n);
        let bins = n / 2 + 1;
        self.ranges = self.plan_ranges(sample_rate_hz);
        self.power_coef = (-(self.hop as f64) / (self.s.detect_ms * 1e-3 * sample_rate_hz)).exp();
        self.power = vec![0.0; bins];
        self.level_db = vec![0.0; bins];
        self.prefix = vec![0.0; bins + 1];
        self.gain = vec![1.0; bins];
        self.time = vec![0.0; n];
        self.spectra = [
            vec![Complex::default(); bins],
            vec![Complex::default(); bins],
        ];
        let scratch = self
            .forward
            .get_scratch_len()
            .max(self.inverse.get_scratch_len());
        self.scratch = vec![Complex::default(); scratch];
        self.input = [vec![0.0; n], vec![0.0; n]];
        self.ola = [vec![0.0; n], vec![0.0; n]];
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let (n, hop) = (self.size, self.hop);
        for i in 0..block.len() {
            let at = n - hop + self.fill;
            self.input[0][at] = block.left[i];
            self.input[1][at] = block.right[i];
            // The output `n` samples ago: the front of the overlap-add buffer, complete.
            block.left[i] = self.ola[0][self.fill];
            block.right[i] = self.ola[1][self.fill];
            self.fill += 1;
            if self.fill == hop {
                self.fill = 0;
                for ch in 0..2 {
                    self.ola[ch].copy_within(hop.., 0);
                    self.ola[ch][n - hop..].fill(0.0);
                }
                self.frame();
                for ch in 0..2 {
                    self.input[ch].copy_within(hop.., 0);
                }
            }
        }
    }

    fn latency_samples(&self) -> usize {
        self.size
    }

    fn reset(&mut self) {
        self.power.fill(0.0);
        self.gain.fill(1.0);
        for ch in 0..2 {
            self.input[ch].fill(0.0);
            self.ola[ch].fill(0.0);
        }
        self.fill = 0;
    }
}

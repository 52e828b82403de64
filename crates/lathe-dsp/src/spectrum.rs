//! Long-term average spectrum in 1/3-octave bands (Welch's method).
//!
//! Hann-windowed frames of [`FRAME_LEN`] samples with 50 % overlap; the power of every frame is
//! averaged over the file and over channels, then summed into ISO 266 1/3-octave bands
//! (nominal 20 Hz … 20 kHz; band `k` spans `fc·2^(±1/6)` around `fc = 1000·2^(k/3)`).
//! Levels are mean-square power relative to a full-scale sine: a 0 dBFS sine reads 0 dB in its
//! band, white noise of variance σ² reads `10·log10(2σ²·B/fs)` in a band of width B.
//!
//! The transforms are in `f32` (as [`crate::mid_side_spectrum`]'s): twice as fast as `f64`,
//! and their rounding (about −140 dB of a frame's largest bin) is far under anything a band
//! level shows; the powers are summed in `f64`.

use crate::window::hann_periodic;
use realfft::RealToComplex;
use std::sync::Arc;

/// FFT length in samples.
pub const FRAME_LEN: usize = 16384;
const HOP: usize = FRAME_LEN / 2;

/// Nominal centre frequencies (Hz) of the 31 bands, 20 Hz … 20 kHz.
pub const BAND_NOMINAL_HZ: [f64; 31] = [
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0,
    500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0,
    8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
];

/// Exact (base-2) centre frequency of band `i`, Hz.
pub fn band_centre_hz(i: usize) -> f64 {
    1000.0 * 2f64.powf((i as f64 - 17.0) / 3.0)
}

/// A streaming 1/3-octave spectrum analyser for one or more channels.
pub struct ThirdOctaveSpectrum {
    sample_rate_hz: f64,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Pending samples per channel (up to one frame).
    pending: Vec<Vec<f64>>,
    /// Accumulated |X_k|² per bin, summed over frames and channels.
    power: Vec<f64>,
    /// Frames × channels accumulated.
    frames: usize,
    scratch_in: Vec<f32>,
    scratch_out: Vec<realfft::num_complex::Complex<f32>>,
    scratch_fft: Vec<realfft::num_complex::Complex<f32>>,
}

impl ThirdOctaveSpectrum {
    pub fn new(sample_rate_hz: f64, channels: usize) -> Self {
        let fft = crate::fft_plans::forward_f32(FRAME_LEN);
        let scratch_out = fft.make_output_vec();
        let scratch_fft = fft.make_scratch_vec();
        Self {
            sample_rate_hz,
            window: hann_periodic(FRAME_LEN)
                .into_iter()
                .map(|w| w as f32)
                .collect(),
            pending: vec![Vec::with_capacity(FRAME_LEN); channels],
            power: vec![0.0; FRAME_LEN / 2 + 1],
            frames: 0,
            scratch_in: vec![0.0; FRAME_LEN],
            scratch_out,
            scratch_fft,
            fft,
        }
    }

    /// Feeds one planar block.
    pub fn process(&mut self, channels: &[&[f64]]) {
        for (ch, samples) in channels.iter().enumerate() {
            let mut rest: &[f64] = samples;
            while !rest.is_empty() {
                let take = (FRAME_LEN - self.pending[ch].len()).min(rest.len());
                self.pending[ch].extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if self.pending[ch].len() == FRAME_LEN {
                    self.analyse_frame(ch);
                    self.pending[ch].drain(..HOP);
                }
            }
        }
    }

    fn analyse_frame(&mut self, ch: usize) {
        for ((o, x), w) in self
            .scratch_in
            .iter_mut()
            .zip(&self.pending[ch])
            .zip(&self.window)
        {
            *o = *x as f32 * w;
        }
        self.fft
            .process_with_scratch(
                &mut self.scratch_in,
                &mut self.scratch_out,
                &mut self.scratch_fft,
            )
            .expect("buffer sizes come from the plan");
        for (p, c) in self.power.iter_mut().zip(&self.scratch_out) {
            *p += c.norm_sqr() as f64;
        }
        self.frames += 1;
    }

    /// Band levels in dB re a full-scale sine, one per entry of [`BAND_NOMINAL_HZ`]; `None` for
    /// bands above Nyquist or when less than one frame of audio was seen (shorter than
    /// [`FRAME_LEN`] samples: the file is analysed as one zero-padded frame instead).
    pub fn bands_db(&mut self) -> Vec<Option<f64>> {
        if self.frames == 0 {
            // Short input: analyse what there is, zero-padded, once.
            for ch in 0..self.pending.len() {
                if !self.pending[ch].is_empty() {
                    self.pending[ch].resize(FRAME_LEN, 0.0);
                    self.analyse_frame(ch);
                }
            }
        }
        let window_power: f64 = self.window.iter().map(|&w| w as f64 * w as f64).sum();
        let bin_hz = self.sample_rate_hz / FRAME_LEN as f64;
        let nyquist = self.sample_rate_hz / 2.0;
        (0..BAND_NOMINAL_HZ.len())
            .map(|i| {
                let fc = band_centre_hz(i);
                let (lo, hi) = (fc * 2f64.powf(-1.0 / 6.0), fc * 2f64.powf(1.0 / 6.0));
                if hi > nyquist || self.frames == 0 {
                    return None;
                }
                let first = (lo / bin_hz).ceil() as usize;
                let last = ((hi / bin_hz).ceil() as usize).min(self.power.len());
                let sum: f64 = self.power[first.max(1)..last].iter().sum();
                // One-sided mean square, relative to a full-scale sine (mean square 1/2).
                let mean_square =
                    2.0 * sum / (FRAME_LEN as f64 * window_power * self.frames as f64);
                Some(10.0 * (mean_square / 0.5).max(1e-30).log10())
            })
            .collect()
    }
}

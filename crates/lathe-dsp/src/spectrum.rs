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
//! level shows; the powers are summed in `f64`. Channels go through the transform in pairs,
//! one as the real part and one as the imaginary part: with `Z` the transform of `a + i·b`,
//! `|A[k]|² + |B[k]|² = (|Z[k]|² + |Z[N−k]|²)/2`, and the sum over channels is all the
//! spectrum keeps.

use crate::frame_ring::FrameRing;
use crate::simd::{self, Kernel, Mac};
use crate::window::hann_periodic;
use realfft::num_complex::Complex;
use rustfft::Fft;
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
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// The last [`FRAME_LEN`] samples of each channel.
    ring: FrameRing,
    /// Accumulated |X_k|² per bin, summed over frames and channels.
    power: Vec<f64>,
    /// Frames × channels accumulated.
    frames: usize,
    /// A windowed pair of channels (`a + i·b`), transformed in place.
    frame: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// Whether the kernels may use AVX2 + FMA ([`simd::wide_available`]).
    wide: bool,
}

impl ThirdOctaveSpectrum {
    pub fn new(sample_rate_hz: f64, channels: usize) -> Self {
        let fft = crate::fft_plans::forward_complex_f32(FRAME_LEN);
        let zero = Complex::new(0.0, 0.0);
        Self {
            sample_rate_hz,
            window: hann_periodic(FRAME_LEN)
                .into_iter()
                .map(|w| w as f32)
                .collect(),
            ring: FrameRing::new(channels, FRAME_LEN, HOP),
            power: vec![0.0; FRAME_LEN / 2 + 1],
            frames: 0,
            frame: vec![zero; FRAME_LEN],
            scratch: vec![zero; fft.get_inplace_scratch_len()],
            wide: simd::wide_available(),
            fft,
        }
    }

    /// Feeds one planar block (every channel the same length).
    pub fn process(&mut self, channels: &[&[f64]]) {
        let len = channels.first().map_or(0, |c| c.len());
        assert!(channels.iter().all(|c| c.len() == len), "planar block");
        let mut at = 0;
        while self.ring.fill(channels, &mut at) {
            self.analyse_frame();
        }
    }

    /// The frame in the rings, every channel, two channels per transform.
    fn analyse_frame(&mut self) {
        let older = self.ring.older_len();
        let channels = self.ring.channels();
        for a in (0..channels).step_by(2) {
            let (a_older, a_newer) = self.ring.segments(a);
            let b = (a + 1 < channels).then(|| self.ring.segments(a + 1));
            let (first, second) = self.frame.split_at_mut(older);
            for (out, a, b, window) in [
                (first, a_older, b.map(|b| b.0), &self.window[..older]),
                (second, a_newer, b.map(|b| b.1), &self.window[older..]),
            ] {
                simd::run(self.wide, WindowedPair { a, b, window, out });
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.scratch);
            simd::run(
                self.wide,
                PairPowers {
                    spectrum: &self.frame,
                    power: &mut self.power,
                },
            );
            self.frames += if b.is_some() { 2 } else { 1 };
        }
    }

    /// Band levels in dB re a full-scale sine, one per entry of [`BAND_NOMINAL_HZ`]; `None` for
    /// bands above Nyquist or when less than one frame of audio was seen (shorter than
    /// [`FRAME_LEN`] samples: the file is analysed as one zero-padded frame instead).
    pub fn bands_db(&mut self) -> Vec<Option<f64>> {
        if self.frames == 0 && self.ring.filled() > 0 {
            // Short input: analyse what there is, zero-padded, once.
            let zeros = vec![0.0; FRAME_LEN - self.ring.filled()];
            let channels = vec![zeros.as_slice(); self.ring.channels()];
            self.process(&channels);
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

/// Part of a frame of a channel pair, windowed, as the complex transform's input: `a·w` as the
/// real part, `b·w` (or 0 without `b`) as the imaginary part.
struct WindowedPair<'a> {
    a: &'a [f64],
    b: Option<&'a [f64]>,
    window: &'a [f32],
    out: &'a mut [Complex<f32>],
}

impl Kernel for WindowedPair<'_> {
    type Output = ();
    #[inline(always)]
    fn call<M: Mac>(self, _: M) {
        let frames = self.out.iter_mut().zip(self.a).zip(self.window);
        match self.b {
            Some(b) => {
                for (((o, a), w), b) in frames.zip(b) {
                    *o = Complex::new(*a as f32 * w, *b as f32 * w);
                }
            }
            None => {
                for ((o, a), w) in frames {
                    *o = Complex::new(*a as f32 * w, 0.0);
                }
            }
        }
    }
}

/// `power[k] += (|Z[k]|² + |Z[N−k]|²)/2` for `k = 0..=N/2`: the two channels' powers in bin
/// `k` (see the module notes; a lone channel's transform is symmetric, so this is its own).
struct PairPowers<'a> {
    spectrum: &'a [Complex<f32>],
    power: &'a mut [f64],
}

impl Kernel for PairPowers<'_> {
    type Output = ();
    #[inline(always)]
    fn call<M: Mac>(self, _: M) {
        let half = self.spectrum.len() / 2;
        let z = self.spectrum;
        self.power[0] += z[0].norm_sqr() as f64;
        self.power[half] += z[half].norm_sqr() as f64;
        let ups = z[1..half].iter();
        let downs = z[half + 1..].iter().rev();
        for ((p, u), d) in self.power[1..half].iter_mut().zip(ups).zip(downs) {
            *p += 0.5 * (u.norm_sqr() as f64 + d.norm_sqr() as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Channels transformed in pairs read what one real transform per channel reads (the
    /// powers of every frame and channel summed into the same bands), for one, two and three
    /// channels, over several overlapping frames.
    #[test]
    fn paired_transforms_equal_one_real_transform_per_channel() {
        let fs = 48000.0;
        let n = FRAME_LEN * 2 + 3000;
        let mut rng = crate::test_noise::TestNoise(11);
        let mut noise = move || rng.next_centred();
        let signals: Vec<Vec<f64>> = (0..3)
            .map(|c| {
                (0..n)
                    .map(|i| noise() * (c + 1) as f64 + (i as f64 * 0.02 * (c + 1) as f64).sin())
                    .collect()
            })
            .collect();
        let real = crate::fft_plans::forward_f32(FRAME_LEN);
        for channels in 1..=3 {
            let planar: Vec<&[f64]> = signals[..channels].iter().map(|s| s.as_slice()).collect();
            let mut meter = ThirdOctaveSpectrum::new(fs, channels);
            for at in (0..n).step_by(1000) {
                let end = (at + 1000).min(n);
                let block: Vec<&[f64]> = planar.iter().map(|c| &c[at..end]).collect();
                meter.process(&block);
            }
            let got = meter.bands_db();
            // The reference: every frame of every channel through its own real transform.
            let mut want = ThirdOctaveSpectrum::new(fs, channels);
            let mut start = 0;
            while start + FRAME_LEN <= n {
                for c in &planar {
                    let mut x: Vec<f32> = c[start..start + FRAME_LEN]
                        .iter()
                        .zip(&want.window)
                        .map(|(v, w)| *v as f32 * w)
                        .collect();
                    let mut spectrum = real.make_output_vec();
                    real.process(&mut x, &mut spectrum).unwrap();
                    for (p, z) in want.power.iter_mut().zip(&spectrum) {
                        *p += z.norm_sqr() as f64;
                    }
                    want.frames += 1;
                }
                start += HOP;
            }
            assert_eq!(meter.frames, want.frames);
            for (k, (a, b)) in got.iter().zip(want.bands_db()).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() < 1e-3, "{channels} ch, band {k}: {a} vs {b}")
                    }
                    _ => assert_eq!(*a, b, "{channels} ch, band {k}"),
                }
            }
        }
    }
}

//! Long-term mid and side spectra over the loudest sections of a stereo signal: the tonal
//! balance that reference matching compares.
//!
//! Hann frames of [`FRAME_LEN`] samples with 50 % overlap (as [`crate::spectrum`]). Each
//! frame's mid `(L+R)/2` and side `(L−R)/2` power spectra are summed into 1/12-octave fine
//! bands (aligned so that four of them make one ISO 266 1/3-octave band exactly) and added to
//! the bucket of the frame's level (1 dB buckets of `mean(M² + S²)`). At the end only frames
//! above a relative gate count: 10 dB below the power mean of the frames above −70 dB, the
//! gate of BS.1770 integrated loudness. So quiet intros and fades do not pull the average, and
//! memory stays fixed (buckets × fine bands) whatever the length.

use crate::frame_ring::FrameRing;
use crate::simd::{self, Kernel, Mac};
use crate::spectrum::{band_centre_hz, BAND_NOMINAL_HZ, FRAME_LEN};
use crate::window::hann_periodic;
use realfft::num_complex::Complex;
use rustfft::Fft;
use std::sync::Arc;

/// Frames overlap by half (Welch), unless a meter is made [`MidSideSpectrumMeter::sparse`].
const HOP: usize = FRAME_LEN / 2;
/// Fine band `j` starts at `1000·2^(j/12)` Hz; the first is `j = FIRST_FINE` (≈ 7.8 Hz).
const FIRST_FINE: i32 = -84;
/// Frame levels are bucketed from this level (dB) upwards, 1 dB per bucket.
const LOWEST_LEVEL_DB: f64 = -120.0;
const BUCKETS: usize = 130;
/// Frames quieter than this never count (dB re full scale, as BS.1770's absolute gate).
const ABSOLUTE_GATE_DB: f64 = -70.0;
/// Frames this far below the mean of the louder frames do not count, dB.
const RELATIVE_GATE_DB: f64 = -10.0;

/// Mid or side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Mid,
    Side,
}

#[derive(Clone, Default)]
struct Bucket {
    frames: u64,
    /// Sum of the frames' mean squares (for the gate).
    energy: f64,
    mid: Vec<f64>,
    side: Vec<f64>,
}

/// Streaming meter; [`MidSideSpectrumMeter::finish`] gives the [`MidSideSpectrum`].
pub struct MidSideSpectrumMeter {
    sample_rate_hz: f64,
    /// f32 transforms: twice as fast as f64, and their rounding (~−140 dB of the frame's
    /// largest bin) is far under the 70 dB the analysis looks at. One complex transform per
    /// frame carries both lanes, mid as the real part and side as the imaginary part (a real
    /// signal's spectrum is conjugate-symmetric, so the two separate exactly from bins `k` and
    /// `N − k`): the same arithmetic as two real transforms without their two unpacking passes.
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// First FFT bin of every fine band, and one past the last band's end.
    fine_bins: Vec<usize>,
    /// The last [`FRAME_LEN`] samples of left and right.
    ring: FrameRing,
    buckets: Vec<Bucket>,
    /// The windowed frame (mid + i·side), transformed in place.
    frame: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// Mid and side power of every bin of the frame (×4).
    bin_powers: [Vec<f32>; 2],
    mid_fine: Vec<f64>,
    side_fine: Vec<f64>,
    frames_seen: u64,
    /// Whether the frame kernels may use AVX2 + FMA ([`simd::wide_available`]).
    wide: bool,
}

/// Lower edge of fine band `j`, Hz.
fn fine_edge_hz(j: i32) -> f64 {
    1000.0 * 2f64.powf(j as f64 / 12.0)
}

impl MidSideSpectrumMeter {
    pub fn new(sample_rate_hz: f64) -> Self {
        let fft = crate::fft_plans::forward_complex_f32(FRAME_LEN);
        let bin_hz = sample_rate_hz / FRAME_LEN as f64;
        let bins = FRAME_LEN / 2 + 1;
        // Fine bands up to Nyquist; the last one ends after the Nyquist bin.
        let mut fine_bins = Vec::new();
        let mut j = FIRST_FINE;
        while fine_edge_hz(j) < sample_rate_hz / 2.0 {
            fine_bins.push(((fine_edge_hz(j) / bin_hz).ceil() as usize).min(bins));
            j += 1;
        }
        fine_bins.push(bins);
        let fine = fine_bins.len() - 1;
        Self {
            sample_rate_hz,
            window: hann_periodic(FRAME_LEN)
                .into_iter()
                .map(|w| w as f32)
                .collect(),
            fine_bins,
            ring: FrameRing::new(2, FRAME_LEN, HOP),
            buckets: vec![
                Bucket {
                    mid: vec![0.0; fine],
                    side: vec![0.0; fine],
                    ..Bucket::default()
                };
                BUCKETS
            ],
            frame: vec![Complex::new(0.0, 0.0); FRAME_LEN],
            scratch: vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()],
            bin_powers: [vec![0.0; bins], vec![0.0; bins]],
            mid_fine: vec![0.0; fine],
            side_fine: vec![0.0; fine],
            frames_seen: 0,
            wide: simd::wide_available(),
            fft,
        }
    }

    /// A meter whose frames do not overlap: half the work, for estimates (every sample still
    /// counts, weighted by the window).
    pub fn sparse(sample_rate_hz: f64) -> Self {
        Self {
            ring: FrameRing::new(2, FRAME_LEN, FRAME_LEN),
            ..Self::new(sample_rate_hz)
        }
    }

    /// Feeds one block of left and right samples.
    pub fn process(&mut self, left: &[f64], right: &[f64]) {
        assert_eq!(left.len(), right.len());
        let mut at = 0;
        while self.ring.fill(&[left, right], &mut at) {
            self.analyse_frame();
        }
    }

    fn analyse_frame(&mut self) {
        let (l, r) = (self.ring.stored(0), self.ring.stored(1));
        // M² + S² = (L² + R²)/2 (the order of the ring does not matter to a sum).
        let mean_square = simd::run(self.wide, SumOfSquares { l, r }) / (2.0 * FRAME_LEN as f64);
        let older = self.ring.older_len();
        let ((l_older, l_newer), (r_older, r_newer)) =
            (self.ring.segments(0), self.ring.segments(1));
        let (first, second) = self.frame.split_at_mut(older);
        for (out, l, r, window) in [
            (first, l_older, r_older, &self.window[..older]),
            (second, l_newer, r_newer, &self.window[older..]),
        ] {
            simd::run(self.wide, Windowed { l, r, window, out });
        }
        self.fft
            .process_with_scratch(&mut self.frame, &mut self.scratch);
        let [mid_bins, side_bins] = &mut self.bin_powers;
        simd::run(
            self.wide,
            BinPowers {
                spectrum: &self.frame,
                mid: mid_bins,
                side: side_bins,
            },
        );
        for (bins, out) in [
            (&*mid_bins, &mut self.mid_fine),
            (&*side_bins, &mut self.side_fine),
        ] {
            simd::run(
                self.wide,
                BandSums {
                    bins,
                    edges: &self.fine_bins,
                    out,
                },
            );
        }
        let level = 10.0 * mean_square.max(1e-30).log10();
        let b = ((level - LOWEST_LEVEL_DB).floor().max(0.0) as usize).min(BUCKETS - 1);
        let bucket = &mut self.buckets[b];
        bucket.frames += 1;
        bucket.energy += mean_square;
        for (a, v) in bucket.mid.iter_mut().zip(&self.mid_fine) {
            *a += v;
        }
        for (a, v) in bucket.side.iter_mut().zip(&self.side_fine) {
            *a += v;
        }
        self.frames_seen += 1;
    }

    /// The spectra of the frames that pass the gates (a shorter input than one frame is
    /// analysed as one zero-padded frame).
    pub fn finish(&mut self) -> MidSideSpectrum {
        if self.frames_seen == 0 && self.ring.filled() > 0 {
            let zeros = vec![0.0; FRAME_LEN - self.ring.filled()];
            self.process(&zeros, &zeros);
        }
        let fine = self.fine_bins.len() - 1;
        let level_of = |b: &Bucket| b.energy / b.frames.max(1) as f64;
        let above = |gate_db: f64| {
            self.buckets
                .iter()
                .filter(move |b| b.frames > 0 && 10.0 * level_of(b).log10() > gate_db)
        };
        let (n, e) =
            above(ABSOLUTE_GATE_DB).fold((0u64, 0.0), |(n, e), b| (n + b.frames, e + b.energy));
        let gate_db = if n == 0 {
            f64::INFINITY
        } else {
            10.0 * (e / n as f64).log10() + RELATIVE_GATE_DB
        };
        let window_power: f64 = self.window.iter().map(|&w| (w as f64) * (w as f64)).sum();
        let mut out = MidSideSpectrum {
            sample_rate_hz: self.sample_rate_hz,
            fine_bins: self.fine_bins.clone(),
            mid: vec![0.0; fine],
            side: vec![0.0; fine],
            frames: 0,
            all_frames: vec![0.0; fine],
        };
        let mut all_count = 0;
        for b in &self.buckets {
            all_count += b.frames;
            for ((o, m), s) in out.all_frames.iter_mut().zip(&b.mid).zip(&b.side) {
                *o += m + s;
            }
        }
        for b in above(gate_db.max(ABSOLUTE_GATE_DB)) {
            out.frames += b.frames;
            for (o, v) in out.mid.iter_mut().zip(&b.mid) {
                *o += v;
            }
            for (o, v) in out.side.iter_mut().zip(&b.side) {
                *o += v;
            }
        }
        // One-sided mean square per frame, relative to a full-scale sine (mean square 1/2).
        let scale = 2.0 / (FRAME_LEN as f64 * window_power * out.frames.max(1) as f64) / 0.5;
        for v in out.mid.iter_mut().chain(out.side.iter_mut()) {
            *v *= scale;
        }
        let scale_all = scale * out.frames.max(1) as f64 / all_count.max(1) as f64;
        for v in &mut out.all_frames {
            *v *= scale_all;
        }
        out
    }
}

/// Mid and side power in 1/12-octave fine bands, relative to a full-scale sine, averaged over
/// the gated frames.
#[derive(Clone, Debug)]
pub struct MidSideSpectrum {
    pub sample_rate_hz: f64,
    fine_bins: Vec<usize>,
    pub mid: Vec<f64>,
    pub side: Vec<f64>,
    /// Frames that passed the gates.
    pub frames: u64,
    /// Mid plus side power (= the mean of the channels' powers) over every frame, ungated.
    all_frames: Vec<f64>,
}

impl MidSideSpectrum {
    /// The spectrum between `a` (at `t` = 0) and `b` (at `t` = 1), interpolated in dB band by
    /// band (`t` outside 0…1 extrapolates); both must come from meters at the same rate.
    pub fn interpolate_db(a: &Self, b: &Self, t: f64) -> Self {
        let mix = |x: &[f64], y: &[f64]| -> Vec<f64> {
            x.iter()
                .zip(y)
                .map(|(&p, &q)| {
                    if p > 0.0 && q > 0.0 {
                        p.powf(1.0 - t) * q.powf(t)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        Self {
            sample_rate_hz: a.sample_rate_hz,
            fine_bins: a.fine_bins.clone(),
            mid: mix(&a.mid, &b.mid),
            side: mix(&a.side, &b.side),
            frames: a.frames.min(b.frames),
            all_frames: mix(&a.all_frames, &b.all_frames),
        }
    }

    /// Centre (geometric) of every fine band, Hz.
    pub fn fine_centres_hz(&self) -> Vec<f64> {
        (0..self.mid.len())
            .map(|k| fine_edge_hz(FIRST_FINE + k as i32) * 2f64.powf(1.0 / 24.0))
            .collect()
    }

    /// Fine bands (index range) making up 1/3-octave band `band` (an index into
    /// [`BAND_NOMINAL_HZ`]); `None` when the band reaches past Nyquist or holds no FFT bin.
    pub fn fine_range(&self, band: usize) -> Option<std::ops::Range<usize>> {
        let lo = (4 * band as i32 - 70 - FIRST_FINE) as usize;
        let hi = lo + 4;
        let nyquist = self.sample_rate_hz / 2.0;
        if band_centre_hz(band) * 2f64.powf(1.0 / 6.0) > nyquist || hi > self.mid.len() {
            return None;
        }
        (self.fine_bins[hi] > self.fine_bins[lo]).then_some(lo..hi)
    }

    /// The fine powers of one lane.
    pub fn lane(&self, lane: Lane) -> &[f64] {
        match lane {
            Lane::Mid => &self.mid,
            Lane::Side => &self.side,
        }
    }

    /// 1/3-octave levels of the channels' mean power over every frame (no gate), dB re a
    /// full-scale sine: what [`crate::spectrum::ThirdOctaveSpectrum`] reads of the same file.
    pub fn third_octave_all_frames_db(&self) -> Vec<Option<f64>> {
        self.third_octave_of(&self.all_frames)
    }

    /// 1/3-octave levels of one lane in dB re a full-scale sine, one per [`BAND_NOMINAL_HZ`]
    /// entry; `None` past Nyquist, for bands without bins, and for silence.
    pub fn third_octave_db(&self, lane: Lane) -> Vec<Option<f64>> {
        self.third_octave_of(self.lane(lane))
    }

    fn third_octave_of(&self, p: &[f64]) -> Vec<Option<f64>> {
        (0..BAND_NOMINAL_HZ.len())
            .map(|i| {
                let r = self.fine_range(i)?;
                let sum: f64 = p[r].iter().sum();
                (sum > 0.0).then(|| 10.0 * sum.log10())
            })
            .collect()
    }
}

/// Partial sums side by side: a float sum in one accumulator is a chain of dependent adds
/// (one per element); eight of them overlap and vectorise. The order of the additions
/// changes, so the last bits do.
const PARTIALS: usize = 8;

/// Part of a frame, windowed, as the complex transform's input: mid `(l + r)/2 · w` as the
/// real part, side `(l − r)/2 · w` as the imaginary part.
struct Windowed<'a> {
    l: &'a [f64],
    r: &'a [f64],
    window: &'a [f32],
    out: &'a mut [Complex<f32>],
}

impl Kernel for Windowed<'_> {
    type Output = ();
    #[inline(always)]
    fn call<M: Mac>(self, _: M) {
        for (((o, a), b), w) in self.out.iter_mut().zip(self.l).zip(self.r).zip(self.window) {
            *o = Complex::new((0.5 * (a + b)) as f32 * w, (0.5 * (a - b)) as f32 * w);
        }
    }
}

/// The mid and side power of every bin of a transformed frame (`0..=N/2`), ×4. With `Z` the
/// transform of `mid + i·side`, mid's bin `k` is `(Z[k] + conj Z[N−k])/2` and side's
/// `(Z[k] − conj Z[N−k])/2i`.
struct BinPowers<'a> {
    spectrum: &'a [Complex<f32>],
    mid: &'a mut [f32],
    side: &'a mut [f32],
}

impl Kernel for BinPowers<'_> {
    type Output = ();
    #[inline(always)]
    fn call<M: Mac>(self, _: M) {
        let n = self.spectrum.len();
        let half = n / 2;
        // Bin 0 (and its mirror, itself).
        let z = self.spectrum[0];
        self.mid[0] = 4.0 * z.re * z.re;
        self.side[0] = 4.0 * z.im * z.im;
        let ups = self.spectrum[1..=half].iter();
        let downs = self.spectrum[half..].iter().rev();
        let outs = self.mid[1..=half]
            .iter_mut()
            .zip(self.side[1..=half].iter_mut());
        for ((z, y), (m, s)) in ups.zip(downs).zip(outs) {
            let (a, b) = (z.re + y.re, z.im - y.im);
            let (c, d) = (z.re - y.re, z.im + y.im);
            *m = a * a + b * b;
            *s = c * c + d * d;
        }
    }
}

/// Bin powers (×4) summed over each fine band (`edges[k]..edges[k + 1]`), ÷4.
struct BandSums<'a> {
    bins: &'a [f32],
    edges: &'a [usize],
    out: &'a mut [f64],
}

impl Kernel for BandSums<'_> {
    type Output = ();
    #[inline(always)]
    fn call<M: Mac>(self, _: M) {
        for (k, o) in self.out.iter_mut().enumerate() {
            let bins = &self.bins[self.edges[k]..self.edges[k + 1]];
            let mut acc = [0.0f64; PARTIALS];
            let mut chunks = bins.chunks_exact(PARTIALS);
            for c in &mut chunks {
                for (a, &v) in acc.iter_mut().zip(c) {
                    *a += v as f64;
                }
            }
            let tail: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
            *o = 0.25 * (acc.iter().sum::<f64>() + tail);
        }
    }
}

/// `Σ l² + r²` over a frame.
struct SumOfSquares<'a> {
    l: &'a [f64],
    r: &'a [f64],
}

impl Kernel for SumOfSquares<'_> {
    type Output = f64;
    #[inline(always)]
    fn call<M: Mac>(self, m: M) -> f64 {
        let mut acc = [0.0f64; PARTIALS];
        let (lc, rc) = (self.l.chunks_exact(PARTIALS), self.r.chunks_exact(PARTIALS));
        let tail: f64 = lc
            .remainder()
            .iter()
            .zip(rc.remainder())
            .map(|(a, b)| a * a + b * b)
            .sum();
        for (a, b) in lc.zip(rc) {
            for j in 0..PARTIALS {
                acc[j] = m.mac(m.mac(acc[j], a[j], a[j]), b[j], b[j]);
            }
        }
        acc.iter().sum::<f64>() + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, fs: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / fs).sin())
            .collect()
    }

    /// A 1 kHz sine at −6 dBFS in phase on both channels is all mid, in the 1 kHz band, at
    /// −6 dB (side ≥ 120 dB under it); the same sine in antiphase is all side.
    #[test]
    fn a_sine_lands_in_its_band_and_lane() {
        let fs = 48000.0;
        let x = sine(1000.0, 0.5, fs, 96000);
        let neg: Vec<f64> = x.iter().map(|v| -v).collect();
        let mut m = MidSideSpectrumMeter::new(fs);
        m.process(&x, &x);
        let s = m.finish();
        let mid = s.third_octave_db(Lane::Mid);
        let k = BAND_NOMINAL_HZ.iter().position(|&f| f == 1000.0).unwrap();
        assert!((mid[k].unwrap() + 6.02).abs() < 0.05, "{:?}", mid[k]);
        // Mid and side share one f32 transform: a lane leaks into the other only by its
        // rounding, ≥ 120 dB down.
        let side = s.third_octave_db(Lane::Side)[k];
        assert!(side.is_none_or(|v| v < -6.02 - 120.0), "{side:?}");
        let mut m = MidSideSpectrumMeter::new(fs);
        m.process(&x, &neg);
        let s = m.finish();
        assert!((s.third_octave_db(Lane::Side)[k].unwrap() + 6.02).abs() < 0.05);
    }

    /// A section 24 dB down does not count (counted, its 100 Hz would read −33 dB); the loud
    /// section's spectrum is what remains (frames straddling the change leave ≈ −48 dB).
    #[test]
    fn quiet_sections_are_gated_out() {
        let fs = 44100.0;
        let mut l = sine(100.0, 0.0316, fs, 441000);
        l.extend(sine(1000.0, 0.5, fs, 441000));
        let mut m = MidSideSpectrumMeter::new(fs);
        m.process(&l, &l);
        let s = m.finish();
        let mid = s.third_octave_db(Lane::Mid);
        let k100 = BAND_NOMINAL_HZ.iter().position(|&f| f == 100.0).unwrap();
        let k1k = BAND_NOMINAL_HZ.iter().position(|&f| f == 1000.0).unwrap();
        assert!((mid[k1k].unwrap() + 6.02).abs() < 0.2, "{:?}", mid[k1k]);
        assert!(mid[k100].is_none_or(|v| v < -40.0), "{:?}", mid[k100]);
    }

    /// Mid and side separated from one complex transform equal each lane transformed on its
    /// own (a real transform of the windowed mid and of the side, summed into the same fine
    /// bands), for a stereo signal whose channels differ everywhere.
    #[test]
    fn the_packed_transform_equals_one_real_transform_per_lane() {
        let fs = 44100.0;
        let n = FRAME_LEN;
        let mut rng = crate::test_noise::TestNoise(7);
        let mut noise = move || rng.next_centred();
        let l: Vec<f64> = (0..n)
            .map(|i| noise() + 0.3 * (i as f64 * 0.01).sin())
            .collect();
        let r: Vec<f64> = (0..n)
            .map(|i| 0.5 * noise() - 0.2 * (i as f64 * 0.003).cos())
            .collect();
        let mut meter = MidSideSpectrumMeter::sparse(fs);
        meter.process(&l, &r);
        let got = meter.finish();
        let real = crate::fft_plans::forward_f64(n);
        let window = hann_periodic(n);
        let mut want = [Vec::new(), Vec::new()];
        for (lane, sign) in [(0, 1.0), (1, -1.0)] {
            let mut x: Vec<f64> = (0..n)
                .map(|i| 0.5 * (l[i] + sign * r[i]) * window[i])
                .collect();
            let mut spectrum = real.make_output_vec();
            real.process(&mut x, &mut spectrum).unwrap();
            want[lane] = (0..meter.fine_bins.len() - 1)
                .map(|k| {
                    spectrum[meter.fine_bins[k]..meter.fine_bins[k + 1]]
                        .iter()
                        .map(|z| z.norm_sqr())
                        .sum::<f64>()
                })
                .collect();
        }
        // The meter's scale, from its own reading of the first band with power.
        let k0 = (0..want[0].len()).find(|&k| want[0][k] > 0.0).unwrap();
        let scale = got.mid[k0] / want[0][k0];
        for (lane, ours) in [(0, &got.mid), (1, &got.side)] {
            for (k, (&a, &b)) in ours.iter().zip(&want[lane]).enumerate() {
                if b > 0.0 {
                    let db = 10.0 * (a / (b * scale)).log10();
                    assert!(db.abs() < 1e-3, "lane {lane} band {k}: {db} dB");
                } else {
                    assert_eq!(a, 0.0, "lane {lane} band {k}");
                }
            }
        }
    }
}

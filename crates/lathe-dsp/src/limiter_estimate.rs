//! Predicts, in one pass over a limiter's input, the integrated loudness the
//! [`TruePeakLimiter`](crate::limiter::TruePeakLimiter) would deliver if that input were raised
//! by each of a few gains — so that a loudness-target search can start its first real render
//! close to the answer instead of spending a render on finding out how much loudness the
//! limiter takes away.
//!
//! What is exact and what is approximated:
//! - detection is the limiter's own (8x upsampler, same rows, same peak rule) and so is the gain
//!   computer ([`GainComputer`]: hold, release, lookahead), run once per candidate gain on the
//!   peak scaled by that gain (a gain before the limiter scales its detected peaks exactly);
//! - the loudness is computed from the K-weighted *input* multiplied by the limiter's gain
//!   curve, i.e. K-weighting and the time-varying gain are swapped. The gain moves over
//!   milliseconds and K-weighting is a pair of low-order filters, so the error is small; it is
//!   what makes the estimate cheap (one K-weighting for every candidate);
//! - gating blocks are 400 ms every 100 ms from the start, as in [`crate::loudness`]; a
//!   partial last 100 ms is left out.
//!
//! With probes ([`LimitedLoudnessEstimator::with_probes`]), the lowest and the highest
//! candidate's limited output itself (the delayed input times that candidate's gain curve:
//! exactly what the limiter would deliver; a clipper before it is applied per sample, not
//! oversampled) is measured: its loudness (which, unlike the estimate, includes the energy a
//! clipper takes away) and, for reference matching, its mid/side spectrum, so that the
//! limiter's effect on the spectrum is known before anything is rendered.

use crate::block_energies::BlocksFrom100ms;
use crate::k_block::{KBlock, KEnergies, KState};
use crate::limiter::{GainComputer, LimiterSettings, INTERSAMPLE_MARGIN};
use crate::loudness::k_weighting;
use crate::mid_side_spectrum::{MidSideSpectrum, MidSideSpectrumMeter};
use crate::oversample::{Upsampler, UpsamplerCoefficients, BLOCK, FACTOR};
use crate::probe_loudness::ProbeLoudness;
use crate::simd::{self, Kernel, Mac};

pub struct LimitedLoudnessEstimator {
    gains_db: Vec<f64>,
    gains_lin: Vec<f64>,
    clip_lin: f64,
    computers: Vec<GainComputer>,
    /// Detection and weighting; `None` once handed out by [`LimitedLoudnessEstimator::take_front`].
    front: Option<EstimateFront>,
    /// The limiter's latency (input frames).
    latency: usize,
    /// Per frame of the current block: the detected peak, and the delayed K-weighted energy.
    peaks: Vec<f64>,
    energies: Vec<f64>,
    sub_block_frames: usize,
    frames_in_sub_block: usize,
    /// Per candidate: energy summed in the current 100 ms, and the gating blocks made from the
    /// complete ones.
    sums: Vec<f64>,
    sub_blocks: Vec<BlocksFrom100ms>,
    /// The candidates probed, and their probes.
    probed: Vec<usize>,
    probes: Probes,
    /// Whether the candidates' loop may be compiled for AVX2 ([`simd::wide_available`]).
    wide: bool,
}

/// The part of the estimate that does not depend on the candidates: the limiter's 8x detection
/// (the peak of each frame) and the K-weighted energy of each frame, delayed by the limiter's
/// latency. It can run on another thread than the rest ([`LimitedLoudnessEstimator::take_front`]).
pub struct EstimateFront {
    up: [Upsampler; 2],
    rows: [Vec<[f32; FACTOR]>; 2],
    prev_row_peak: f64,
    /// Rows at or below this (input units) need no gain reduction at any candidate gain.
    floor: f32,
    /// K-weighting in blocks of four, and its state per channel.
    k: KBlock,
    k_state: [KState; 2],
    /// Whether the weighting kernel may use AVX2 + FMA ([`simd::wide_available`]).
    wide: bool,
    /// K-weighted energy of the input, delayed by the limiter's latency so that it meets the
    /// gain the limiter would apply to it.
    energy_delay: Vec<f64>,
    delay_pos: usize,
}

/// The limited output of the probed candidates, measured: the input delayed by the limiter's
/// latency (one line shared by every probe), then per probe its gain, the clipper, and the gain
/// its limiter recorded.
struct Probes {
    /// The limiter's latency, frames.
    latency: usize,
    /// Per channel: the last `latency` input frames, then the current block's.
    history: [Vec<f64>; 2],
    /// Per probe: the limiter's gain over the current block (recorded by its gain computer).
    limiter_gain: Vec<Vec<f64>>,
    /// Per probe: its gain (linear).
    gains: Vec<f64>,
    /// The clipper's ceiling (linear): the probe clips the gained input at the sample rate (the
    /// clipper itself is oversampled; close enough for spectra and, checked against excerpts
    /// before the first render, for loudness).
    clip: f64,
    /// The probed outputs' loudness: with a clipper, a better prediction than the estimate's
    /// (which neglects the energy the clipper removes).
    loudness: Option<ProbeLoudness>,
    /// Spectrum meters, by probe.
    meters: Vec<(usize, MidSideSpectrumMeter)>,
    /// A probe's output over the current block, for its spectrum meter.
    out: [Vec<f64>; 2],
}

impl LimitedLoudnessEstimator {
    /// `gains_db`: the gains before the limiter to predict for. `clip_db`: the ceiling of a
    /// clipper between the gain and the limiter, if there is one; detected peaks above it are
    /// taken as clipped to it (its energy loss is neglected).
    pub fn new(
        settings: &LimiterSettings,
        sample_rate_hz: f64,
        gains_db: &[f64],
        clip_db: Option<f64>,
    ) -> Self {
        let gains_lin: Vec<f64> = gains_db.iter().map(|&g| crate::db_to_lin(g)).collect();
        let ceiling = crate::db_to_lin(settings.ceiling_dbtp);
        let max_gain = gains_lin.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
        let computer = GainComputer::new(settings, sample_rate_hz);
        let latency = computer.lookahead_samples() + UpsamplerCoefficients::LATENCY;
        Self {
            gains_db: gains_db.to_vec(),
            clip_lin: clip_db.map_or(f64::INFINITY, crate::db_to_lin),
            computers: vec![computer; gains_db.len()],
            gains_lin,
            front: Some(EstimateFront {
                up: [Upsampler::new(), Upsampler::new()],
                rows: [vec![[0.0; FACTOR]; BLOCK], vec![[0.0; FACTOR]; BLOCK]],
                prev_row_peak: 0.0,
                floor: (ceiling / (INTERSAMPLE_MARGIN * max_gain) * (1.0 - 1e-6)) as f32,
                k: KBlock::new(k_weighting(sample_rate_hz)),
                k_state: [[0.0; 4]; 2],
                wide: simd::wide_available(),
                energy_delay: vec![0.0; latency],
                delay_pos: 0,
            }),
            latency,
            peaks: vec![0.0; BLOCK],
            energies: vec![0.0; BLOCK],
            sub_block_frames: (sample_rate_hz / 10.0).round() as usize,
            frames_in_sub_block: 0,
            sums: vec![0.0; gains_db.len()],
            sub_blocks: vec![BlocksFrom100ms::default(); gains_db.len()],
            probed: Vec::new(),
            probes: Probes::none(latency),
            wide: simd::wide_available(),
        }
    }

    /// Also measures the limited (and clipped) output of candidates: with `loudness` the
    /// loudness of every candidate's (a clipper's energy loss bends the loudness curve, so
    /// each point is measured rather than interpolated), with `spectra` the mid/side spectrum
    /// of the lowest and the highest (non-overlapping frames: an estimate; interpolate between
    /// them).
    pub fn with_probes(mut self, sample_rate_hz: f64, loudness: bool, spectra: bool) -> Self {
        let latency = self.latency;
        let last = self.gains_lin.len().saturating_sub(1);
        self.probed = if loudness {
            (0..=last).collect()
        } else {
            vec![0, last]
        };
        self.probed.dedup();
        let gains: Vec<f64> = self.probed.iter().map(|&k| self.gains_lin[k]).collect();
        self.probes = Probes {
            latency,
            history: [vec![0.0; latency + BLOCK], vec![0.0; latency + BLOCK]],
            limiter_gain: vec![vec![1.0; BLOCK]; gains.len()],
            loudness: loudness.then(|| ProbeLoudness::new(sample_rate_hz, &gains, self.clip_lin)),
            meters: self
                .probed
                .iter()
                .enumerate()
                .filter(|&(_, &k)| spectra && (k == 0 || k == last))
                .map(|(i, _)| (i, MidSideSpectrumMeter::sparse(sample_rate_hz)))
                .collect(),
            out: [vec![0.0; BLOCK], vec![0.0; BLOCK]],
            gains,
            clip: self.clip_lin,
        };
        self
    }

    /// Each probed candidate's gain (dB) and the measured loudness of its limited (and
    /// clipped) output, LUFS; empty without loudness probes.
    pub fn probe_predictions(&self) -> Vec<(f64, f64)> {
        let Some(loudness) = self.probes.loudness.as_ref() else {
            return Vec::new();
        };
        self.probed
            .iter()
            .zip(loudness.integrated_lufs())
            .map(|(&k, lufs)| (self.gains_db[k], lufs))
            .collect()
    }

    /// Each probed candidate's gain (dB) and the spectrum of its limited output (frames beyond
    /// the input's end, still in the delay, are left out); empty without spectrum probes.
    pub fn probe_spectra(&mut self) -> Vec<(f64, MidSideSpectrum)> {
        self.probes
            .meters
            .iter_mut()
            .map(|(i, m)| (self.gains_db[self.probed[*i]], m.finish()))
            .collect()
    }

    /// Feeds a block of the limiter's input (any length).
    pub fn process(&mut self, left: &[f64], right: &[f64]) {
        let mut front = self
            .front
            .take()
            .expect("process() after take_front(): use process_detected()");
        let (mut peaks, mut energies) = (
            std::mem::take(&mut self.peaks),
            std::mem::take(&mut self.energies),
        );
        for (l, r) in left.chunks(BLOCK).zip(right.chunks(BLOCK)) {
            let n = l.len();
            front.run(l, r, &mut peaks[..n], &mut energies[..n]);
            self.process_detected(l, r, &peaks[..n], &energies[..n]);
        }
        (self.peaks, self.energies) = (peaks, energies);
        self.front = Some(front);
    }

    /// Hands out the detection and weighting, to run elsewhere (the thread that produces the
    /// blocks); feed its output with [`LimitedLoudnessEstimator::process_detected`].
    pub fn take_front(&mut self) -> EstimateFront {
        self.front.take().expect("the front is handed out once")
    }

    /// Feeds a block with its detected peaks and delayed energies from [`EstimateFront::run`].
    pub fn process_detected(
        &mut self,
        left: &[f64],
        right: &[f64],
        peaks: &[f64],
        energies: &[f64],
    ) {
        // Compiled for AVX2 where the CPU has it (three-operand forms, fewer moves in the
        // gain computers' branchy loops). Nothing in them multiplies and adds through
        // `Mac`, so the arithmetic, and every prediction, is the same on both builds.
        simd::run(
            self.wide,
            Candidates {
                me: self,
                x: [left, right],
                peaks,
                energies,
            },
        );
    }

    #[inline(always)]
    fn candidates_block(&mut self, l: &[f64], r: &[f64], peaks_in: &[f64], energies_in: &[f64]) {
        let n = l.len();
        self.probes.delay_block(l, r);
        // The candidates one after another over the block, split where a 100 ms sub-block
        // ends: each gain computer then runs as one tight loop.
        let mut start = 0;
        while start < n {
            let left_in_sub = self.sub_block_frames - self.frames_in_sub_block;
            let end = (start + left_in_sub).min(n);
            let (peaks, energies) = (&peaks_in[start..end], &energies_in[start..end]);
            for (k, ((c, &g), sum)) in self
                .computers
                .iter_mut()
                .zip(&self.gains_lin)
                .zip(&mut self.sums)
                .enumerate()
            {
                let clip = self.clip_lin;
                let mut record = self
                    .probed
                    .iter()
                    .position(|&p| p == k)
                    .map(|i| &mut self.probes.limiter_gain[i][start..end]);
                let mut acc = 0.0;
                let mut i = 0;
                while i < peaks.len() {
                    if c.is_idle() {
                        // A run that needs no reduction passes at gain g: the computer
                        // skips over it in one step.
                        let mut j = i;
                        let mut energy = 0.0;
                        while j < peaks.len() && c.is_unity((g * peaks[j]).min(clip)) {
                            energy += energies[j];
                            j += 1;
                        }
                        if j > i {
                            c.skip_idle(j - i);
                            acc += g * g * energy;
                            if let Some(a) = record.as_mut() {
                                a[i..j].fill(1.0);
                            }
                            i = j;
                            continue;
                        }
                    }
                    let limiter = c.gain_for((g * peaks[i]).min(clip));
                    let applied = g * limiter;
                    acc += applied * applied * energies[i];
                    if let Some(a) = record.as_mut() {
                        a[i] = limiter;
                    }
                    i += 1;
                }
                *sum += acc;
            }
            self.frames_in_sub_block += end - start;
            if self.frames_in_sub_block == self.sub_block_frames {
                for (sum, blocks) in self.sums.iter_mut().zip(&mut self.sub_blocks) {
                    blocks.push(*sum / self.sub_block_frames as f64);
                    *sum = 0.0;
                }
                self.frames_in_sub_block = 0;
            }
            start = end;
        }
        self.probes.measure(n);
    }
}

/// [`LimitedLoudnessEstimator::process_detected`]'s loop, as a kernel.
struct Candidates<'a> {
    me: &'a mut LimitedLoudnessEstimator,
    x: [&'a [f64]; 2],
    peaks: &'a [f64],
    energies: &'a [f64],
}

impl Kernel for Candidates<'_> {
    type Output = ();
    #[inline(always)]
    fn call<M: Mac>(self, _: M) {
        let [left, right] = self.x;
        for (((l, r), peaks), energies) in left
            .chunks(BLOCK)
            .zip(right.chunks(BLOCK))
            .zip(self.peaks.chunks(BLOCK))
            .zip(self.energies.chunks(BLOCK))
        {
            self.me.candidates_block(l, r, peaks, energies);
        }
    }
}

impl Probes {
    /// No probes.
    fn none(latency: usize) -> Self {
        Self {
            latency,
            history: [Vec::new(), Vec::new()],
            limiter_gain: Vec::new(),
            gains: Vec::new(),
            clip: f64::INFINITY,
            loudness: None,
            meters: Vec::new(),
            out: [Vec::new(), Vec::new()],
        }
    }

    /// Appends a block (at most [`BLOCK`] frames) to the history: its first `l.len()` frames are
    /// then the block delayed by the limiter's latency.
    fn delay_block(&mut self, l: &[f64], r: &[f64]) {
        if self.gains.is_empty() {
            return;
        }
        let d = self.latency;
        for (h, x) in self.history.iter_mut().zip([l, r]) {
            h[d..d + x.len()].copy_from_slice(x);
        }
    }

    /// Measures the delayed block under each probe's gain, clipper and recorded limiter gain,
    /// then keeps the last `latency` frames for the next block.
    fn measure(&mut self, n: usize) {
        if self.gains.is_empty() {
            return;
        }
        let [hl, hr] = &self.history;
        let (dl, dr) = (&hl[..n], &hr[..n]);
        if let Some(m) = self.loudness.as_mut() {
            m.process(dl, dr, &self.limiter_gain);
        }
        for (i, meter) in &mut self.meters {
            let (g, clip, limiter) = (self.gains[*i], self.clip, &self.limiter_gain[*i][..n]);
            let [ol, or] = &mut self.out;
            for ((((a, b), &x), &y), &lim) in ol
                .iter_mut()
                .zip(or.iter_mut())
                .zip(dl)
                .zip(dr)
                .zip(limiter)
            {
                // The gain g, then the clipper, then the limiter's gain.
                *a = (x * g).clamp(-clip, clip) * lim;
                *b = (y * g).clamp(-clip, clip) * lim;
            }
            meter.process(&ol[..n], &or[..n]);
        }
        let d = self.latency;
        for h in &mut self.history {
            h.copy_within(n..n + d, 0);
        }
    }
}

impl EstimateFront {
    /// A block (at most [`BLOCK`] frames): each frame's detected peak into `peaks`, its
    /// delayed K-weighted energy into `energies`.
    pub fn run(&mut self, l: &[f64], r: &[f64], peaks: &mut [f64], energies: &mut [f64]) {
        for (((l, r), p), e) in l
            .chunks(BLOCK)
            .zip(r.chunks(BLOCK))
            .zip(peaks.chunks_mut(BLOCK))
            .zip(energies.chunks_mut(BLOCK))
        {
            self.detect(l, r, p);
            self.weigh(l, r, e);
        }
    }

    /// The limiter's detection for a block: the peak of each upsampled row of both channels,
    /// and of the row before it, into `peaks`.
    fn detect(&mut self, l: &[f64], r: &[f64], peaks: &mut [f64]) {
        self.up[0].process_block_above(l, &mut self.rows[0], self.floor);
        self.up[1].process_block_above(r, &mut self.rows[1], self.floor);
        let rows = self.rows[0].iter().zip(&self.rows[1]);
        for (p, (a, b)) in peaks[..l.len()].iter_mut().zip(rows) {
            *p = crate::oversample::stereo_row_peak(a, b) as f64;
        }
        for p in peaks[..l.len()].iter_mut() {
            let row_peak = *p;
            *p = row_peak.max(self.prev_row_peak);
            self.prev_row_peak = row_peak;
        }
    }

    /// The K-weighted energy of each frame, delayed by the limiter's latency, into `energies`.
    fn weigh(&mut self, l: &[f64], r: &[f64], energies: &mut [f64]) {
        let [s0, s1] = &mut self.k_state;
        simd::run(
            self.wide,
            KEnergies {
                x: [l, r],
                k: &self.k,
                state: [s0, s1],
                out: &mut energies[..l.len()],
            },
        );
        // Silence after a signal would leave the filters computing on denormals.
        for v in self.k_state.iter_mut().flatten() {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
        let len = self.energy_delay.len();
        if len > 0 {
            for e in energies[..l.len()].iter_mut() {
                *e = std::mem::replace(&mut self.energy_delay[self.delay_pos], *e);
                self.delay_pos += 1;
                if self.delay_pos == len {
                    self.delay_pos = 0;
                }
            }
        }
    }
}

impl LimitedLoudnessEstimator {
    /// (gain dB, predicted integrated loudness LUFS) for every candidate gain.
    pub fn predictions(&self) -> Vec<(f64, f64)> {
        self.gains_db
            .iter()
            .zip(&self.sub_blocks)
            .map(|(&g, blocks)| (g, blocks.integrated_lufs()))
            .collect()
    }
}

/// The gain at which the loudness curve through `predictions` (gain dB, loudness LUFS;
/// loudness rising with gain) reaches `target_lufs`: the parabola through the three points
/// nearest the piecewise-linear answer (two points: the line), extrapolating outside their
/// range; `None` with fewer than two usable points.
pub fn gain_for_loudness(predictions: &[(f64, f64)], target_lufs: f64) -> Option<f64> {
    let mut pts: Vec<(f64, f64)> = predictions
        .iter()
        .copied()
        .filter(|(g, i)| g.is_finite() && i.is_finite())
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if pts.len() < 2 {
        return None;
    }
    let seg = pts
        .windows(2)
        .position(|w| target_lufs <= w[1].1)
        .unwrap_or(pts.len() - 2);
    let ((g0, i0), (g1, i1)) = (pts[seg], pts[seg + 1]);
    if (i1 - i0).abs() < 1e-9 {
        return None;
    }
    let linear = g0 + (target_lufs - i0) * (g1 - g0) / (i1 - i0);
    if pts.len() == 2 {
        return Some(linear);
    }
    // The three points nearest the linear answer, then Newton steps on their parabola.
    pts.sort_by(|a, b| (a.0 - linear).abs().total_cmp(&(b.0 - linear).abs()));
    let [(xa, ya), (xb, yb), (xc, yc)] = [pts[0], pts[1], pts[2]];
    let curve = |x: f64| {
        let la = (x - xb) * (x - xc) / ((xa - xb) * (xa - xc));
        let lb = (x - xa) * (x - xc) / ((xb - xa) * (xb - xc));
        let lc = (x - xa) * (x - xb) / ((xc - xa) * (xc - xb));
        ya * la + yb * lb + yc * lc
    };
    let mut x = linear;
    for _ in 0..4 {
        let h = 1e-4;
        let slope = (curve(x + h) - curve(x - h)) / (2.0 * h);
        if slope <= 1e-6 {
            return Some(linear);
        }
        x -= (curve(x) - target_lufs) / slope;
    }
    // A parabola can turn back; trust it only near the straight-line answer.
    Some(if (x - linear).abs() <= 0.5 { x } else { linear })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::TruePeakLimiter;
    use crate::loudness::{ChannelRole, LoudnessMeter};
    use crate::processor::{Processor, StereoBlock};

    /// The prediction agrees with rendering through the real limiter and metering the result.
    fn music_like() -> (f64, Vec<f64>, Vec<f64>) {
        let fs = 48_000.0;
        // 12 s of music-like material: a chord with a decaying kick every 0.5 s.
        let n = (12.0 * fs) as usize;
        let mut seed = 7u64;
        let (l, r): (Vec<f64>, Vec<f64>) = (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let beat = t % 0.5;
                let kick = (-beat / 0.04).exp() * (2.0 * std::f64::consts::PI * 60.0 * beat).sin();
                let chord = (2.0 * std::f64::consts::PI * 220.0 * t).sin() * 0.2
                    + (2.0 * std::f64::consts::PI * 331.0 * t).sin() * 0.15;
                (
                    0.25 * kick + chord + 0.03 * noise,
                    0.25 * kick + 0.9 * chord - 0.03 * noise,
                )
            })
            .unzip();
        (fs, l, r)
    }

    #[test]
    fn predicts_the_rendered_loudness() {
        let (fs, l, r) = music_like();
        let settings = LimiterSettings::default();
        let gains = [0.0, 3.0, 6.0, 9.0];
        let mut est = LimitedLoudnessEstimator::new(&settings, fs, &gains, None);
        for (a, b) in l.chunks(4096).zip(r.chunks(4096)) {
            est.process(a, b);
        }
        for (g, predicted) in est.predictions() {
            let mut lim = TruePeakLimiter::new(settings);
            lim.prepare(fs, 4096);
            let gain = crate::db_to_lin(g);
            let (mut a, mut b): (Vec<f64>, Vec<f64>) = (
                l.iter().map(|v| v * gain).collect(),
                r.iter().map(|v| v * gain).collect(),
            );
            a.extend(std::iter::repeat_n(0.0, lim.latency_samples()));
            b.extend(std::iter::repeat_n(0.0, lim.latency_samples()));
            lim.process(&mut StereoBlock {
                left: &mut a,
                right: &mut b,
            });
            let mut meter = LoudnessMeter::new(fs, &ChannelRole::default_layout(2));
            let d = lim.latency_samples();
            meter.process(&[&a[d..], &b[d..]]);
            let rendered = meter.integrated_lufs();
            eprintln!("gain {g} dB: predicted {predicted:.3}, rendered {rendered:.3} LUFS");
            assert!(
                (predicted - rendered).abs() < 0.02,
                "{predicted} vs {rendered}"
            );
        }
    }

    #[test]
    fn solves_on_the_parabola_through_the_nearest_points() {
        // Loudness I(g) = −16 + g − 0.1·g² (limiting takes more as the gain rises).
        let curve = |g: f64| -16.0 + g - 0.1 * g * g;
        let p: Vec<(f64, f64)> = [0.0, 0.75, 1.5, 2.25]
            .iter()
            .map(|&g| (g, curve(g)))
            .collect();
        for want in [0.3, 1.1, 2.0] {
            let got = gain_for_loudness(&p, curve(want)).unwrap();
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Straight lines interpolate and extrapolate exactly.
        let line = [(0.0, -16.0), (1.0, -15.0)];
        assert!((gain_for_loudness(&line, -15.6).unwrap() - 0.4).abs() < 1e-12);
        assert!((gain_for_loudness(&line, -13.0).unwrap() - 3.0).abs() < 1e-12);
        assert_eq!(gain_for_loudness(&line[..1], -15.0), None);
    }

    /// The probed spectrum is the spectrum of the real limiter's output at that gain: every
    /// 1/3-octave band of mid and side within 0.05 dB (the probe leaves out the last
    /// lookahead's frames, the render includes them).
    #[test]
    fn the_probe_measures_what_the_limiter_delivers() {
        use crate::mid_side_spectrum::Lane;
        let (fs, l, r) = music_like();
        let settings = LimiterSettings::default();
        let gains = [3.0, 9.0];
        let mut est =
            LimitedLoudnessEstimator::new(&settings, fs, &gains, None).with_probes(fs, false, true);
        for (a, b) in l.chunks(4096).zip(r.chunks(4096)) {
            est.process(a, b);
        }
        let (g, probed) = est.probe_spectra().pop().unwrap();
        assert_eq!(g, 9.0);
        let mut lim = TruePeakLimiter::new(settings);
        lim.prepare(fs, 4096);
        let gain = crate::db_to_lin(g);
        let d = lim.latency_samples();
        let (mut a, mut b): (Vec<f64>, Vec<f64>) = (
            l.iter().map(|v| v * gain).collect(),
            r.iter().map(|v| v * gain).collect(),
        );
        lim.process(&mut StereoBlock {
            left: &mut a,
            right: &mut b,
        });
        // Both start `d` frames late (the limiter's delay; the probe's delay line).
        let mut m = MidSideSpectrumMeter::sparse(fs);
        m.process(&a, &b);
        let rendered = m.finish();
        let mut worst = 0.0f64;
        for lane in [Lane::Mid, Lane::Side] {
            for (x, y) in probed
                .third_octave_db(lane)
                .iter()
                .zip(rendered.third_octave_db(lane))
            {
                if let (Some(x), Some(y)) = (x, y) {
                    if y > -80.0 {
                        worst = worst.max((x - y).abs());
                    }
                }
            }
        }
        eprintln!("probe vs rendered limiter output: worst band {worst:.4} dB (delay {d})");
        assert!(worst < 0.05, "worst {worst} dB");
    }
}

//! True-peak lookahead limiter whose ceiling is a construction, not a hope.
//!
//! Gain computer (designed so that the ceiling follows from the construction, not from tuning):
//! 1. **Detector**: both channels upsampled 8x ([`crate::oversample`]); for each input sample
//!    the largest |value| on the two inter-sample intervals around it, both channels (stereo
//!    link). Between two 8x points a band-limited peak can exceed them by at most
//!    ½·(π/16)² ≈ 1.9 % (second-derivative bound), so the detected peak is raised by
//!    [`INTERSAMPLE_MARGIN`] before computing the required gain `r = min(1, ceiling / peak)`.
//! 2. **Hold and release**: `r` passes a running minimum over the hold time (so the gain does
//!    not follow the waveform of low frequencies), then may only rise at the release rate
//!    (one-pole towards 1). Both steps only ever lower the gain, so they keep the guarantee.
//!    **Automatic hold** (`auto_hold`): the hold lengthens to the spacing of recurring
//!    over-ceiling peaks (the start of one run of samples that need reduction to the start of
//!    the next, +12.5 %), up to [`MAX_AUTO_HOLD_MS`] — half a period of 10 Hz. A bass note's
//!    half-waves then sit under one held gain instead of each pulling the gain down and
//!    letting it recover in between (which modulates the note: distortion). Peaks further
//!    apart than that return the hold to `hold_ms`.
//! 3. **Lookahead**: a running minimum over the last `D + 1` values, then a moving average over
//!    `D + 1` values, while the audio is delayed by `D`. Every term of that average is a minimum
//!    over a window that contains the sample being output, so the applied gain never exceeds
//!    the gain that sample requires; the average makes the attack a smooth ramp of length `D`.
//!
//! Latency: `D` plus the upsampler's 16 samples, reported by `latency_samples()`.

use crate::lanes::LaneProcessor;
pub use crate::limiter_detector::{LimiterDetector, INTERSAMPLE_MARGIN};
use crate::limiter_gain::lookahead_samples;
pub use crate::limiter_gain::{GainComputer, LimiterSettings, MAX_AUTO_HOLD_MS};
use crate::oversample::{UpsamplerCoefficients, BLOCK};
use crate::processor::{Processor, StereoBlock};

/// The limiter. As a [`LaneProcessor`] it limits several lanes with one gain: at every
/// instant the most-reducing gain any lane needs, so that every lane stays under the ceiling.
///
/// It is its detector ([`LimiterDetector`]) followed by its gain stage ([`LimiterShaper`]);
/// [`TruePeakLimiter::into_parts`] hands them out to run on two threads, with the same result.
pub struct TruePeakLimiter {
    settings: LimiterSettings,
    detector: LimiterDetector,
    /// Per frame of a chunk: the detected peak of every lane, and of lane 0 alone.
    peaks: Vec<f32>,
    lead_peaks: Vec<f32>,
    shaper: LimiterShaper,
}

/// The limiter after its detector: from the detected peaks to the gain (the gain computer)
/// and the delayed audio times that gain.
pub struct LimiterShaper {
    prev_row_peak: f64,
    gain: GainComputer,
    /// Per frame of a chunk: the gain applied.
    gains: Vec<f64>,
    /// Per lane, per channel: the last `latency` input samples (the delay line).
    history: Vec<[Vec<f64>; 2]>,
    /// Scratch: one channel's history followed by its chunk.
    delayed: Vec<f64>,
    min_gain: f64,
    /// With more than one lane: the gain lane 0 alone would get, to measure what the others
    /// cost it.
    lead_alone: Option<LeadAlone>,
}

/// The gain computer of lane 0 on its own, and what the shared gain took beyond it.
struct LeadAlone {
    gain: GainComputer,
    prev_row_peak: f64,
    extra: ExtraReduction,
}

/// Gain reduction the shared (locked) gain applies to lane 0 beyond what lane 0 alone needs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExtraReduction {
    /// Deepest extra reduction, dB.
    pub max_db: f64,
    /// Frames with more than [`EXTRA_COUNTS_DB`] of extra reduction.
    pub frames: u64,
    /// Sum over frames of the extra reduction, dB·frames (÷ rate = dB·s).
    pub sum_db_frames: f64,
}

/// Extra reduction below this (dB) is not counted in [`ExtraReduction::frames`].
pub const EXTRA_COUNTS_DB: f64 = 0.001;

impl TruePeakLimiter {
    pub fn new(settings: LimiterSettings) -> Self {
        let mut me = Self {
            settings,
            detector: LimiterDetector::new(1, 1.0),
            peaks: vec![0.0; BLOCK],
            lead_peaks: vec![0.0; BLOCK],
            shaper: LimiterShaper::new(&settings, 48000.0, 1),
        };
        me.prepare(48000.0, BLOCK);
        me
    }

    pub fn settings(&self) -> &LimiterSettings {
        &self.settings
    }

    /// The lowest gain applied since the last call (linear).
    pub fn take_min_gain(&mut self) -> f64 {
        self.shaper.take_min_gain()
    }

    /// With several lanes: the extra reduction lane 0 got since the last call because of the
    /// other lanes.
    pub fn take_extra_reduction(&mut self) -> ExtraReduction {
        self.shaper.take_extra_reduction()
    }

    /// The detector and the gain stage, to run apart (prepared as this limiter was): feed
    /// every frame to [`LimiterDetector::detect_lane`] for each lane, then the same frames
    /// with their peaks to [`LimiterShaper::process_detected`].
    pub fn into_parts(self) -> (LimiterDetector, LimiterShaper) {
        (self.detector, self.shaper)
    }
}

impl LimiterShaper {
    fn new(s: &LimiterSettings, sample_rate_hz: f64, lanes: usize) -> Self {
        let latency = lookahead_samples(s, sample_rate_hz) + UpsamplerCoefficients::LATENCY;
        let mut me = Self {
            prev_row_peak: 0.0,
            gain: GainComputer::new(s, sample_rate_hz),
            gains: vec![1.0; BLOCK],
            history: (0..lanes)
                .map(|_| [vec![0.0; latency], vec![0.0; latency]])
                .collect(),
            delayed: vec![0.0; latency + BLOCK],
            min_gain: 1.0,
            lead_alone: (lanes > 1).then(|| LeadAlone {
                gain: GainComputer::new(s, sample_rate_hz),
                prev_row_peak: 0.0,
                extra: ExtraReduction::default(),
            }),
        };
        me.reset();
        me
    }

    /// The lowest gain applied since the last call (linear).
    pub fn take_min_gain(&mut self) -> f64 {
        std::mem::replace(&mut self.min_gain, 1.0)
    }

    /// See [`TruePeakLimiter::take_extra_reduction`].
    pub fn take_extra_reduction(&mut self) -> ExtraReduction {
        self.lead_alone
            .as_mut()
            .map(|a| std::mem::take(&mut a.extra))
            .unwrap_or_default()
    }

    /// Limits frames `range` of every lane in place, given their detected `peaks` (of every
    /// lane) and `lead` (lane 0's alone; read only with several lanes), one per frame of
    /// `range`.
    pub fn process_detected(
        &mut self,
        lanes: &mut [StereoBlock<'_>],
        range: std::ops::Range<usize>,
        peaks: &[f32],
        lead: &[f32],
    ) {
        assert!(
            lanes.len() <= self.history.len(),
            "more lanes than prepared"
        );
        let mut start = range.start;
        while start < range.end {
            let end = (start + BLOCK).min(range.end);
            let at = start - range.start..end - range.start;
            self.compute_gains(&peaks[at.clone()]);
            let gains = &self.gains[..end - start];
            if let Some(a) = &mut self.lead_alone {
                a.compare(&lead[at], gains);
            }
            // Each channel, delayed by the latency: its history, then the chunk, of which the
            // first `len` samples go out (times the gain) and the last `latency` are kept.
            let latency = self.history[0][0].len();
            let delayed = &mut self.delayed[..latency + end - start];
            for (lane, history) in lanes.iter_mut().zip(self.history.iter_mut()) {
                for (x, h) in [&mut lane.left[start..end], &mut lane.right[start..end]]
                    .into_iter()
                    .zip(history.iter_mut())
                {
                    delayed[..latency].copy_from_slice(h);
                    delayed[latency..].copy_from_slice(x);
                    for ((o, d), g) in x.iter_mut().zip(&*delayed).zip(gains) {
                        *o = d * g;
                    }
                    h.copy_from_slice(&delayed[end - start..]);
                }
            }
            start = end;
        }
    }

    /// Gains for one chunk (at most [`BLOCK`] frames) from its `peaks`, into `self.gains`.
    fn compute_gains(&mut self, peaks: &[f32]) {
        let len = peaks.len();
        let mut i = 0;
        while i < len {
            let row_peak = peaks[i] as f64;
            let peak = row_peak.max(self.prev_row_peak);
            if self.gain.is_idle() && self.gain.is_unity(peak) {
                // A run of rows that need no reduction: skipped in one step.
                let mut prev = row_peak;
                let mut run = 1;
                while i + run < len {
                    let p = peaks[i + run] as f64;
                    if !self.gain.is_unity(p.max(prev)) {
                        break;
                    }
                    prev = p;
                    run += 1;
                }
                self.gain.skip_idle(run);
                self.prev_row_peak = prev;
                self.gains[i..i + run].fill(1.0);
                i += run;
            } else {
                self.prev_row_peak = row_peak;
                let gain = self.gain.gain_for(peak);
                self.min_gain = self.min_gain.min(gain);
                self.gains[i] = gain;
                i += 1;
            }
        }
    }

    fn reset(&mut self) {
        self.prev_row_peak = 0.0;
        self.gain.reset();
        for h in self.history.iter_mut().flatten() {
            h.fill(0.0);
        }
        self.min_gain = 1.0;
        if let Some(a) = &mut self.lead_alone {
            a.gain.reset();
            a.prev_row_peak = 0.0;
            a.extra = ExtraReduction::default();
        }
    }
}

impl LeadAlone {
    /// Lane 0's own gains for its `peaks`, compared with the `shared` gains.
    fn compare(&mut self, peaks: &[f32], shared: &[f64]) {
        for (&row, &g) in peaks.iter().zip(shared) {
            let row = row as f64;
            let peak = row.max(self.prev_row_peak);
            self.prev_row_peak = row;
            let own = if self.gain.is_idle() && self.gain.is_unity(peak) {
                self.gain.skip_idle(1);
                1.0
            } else {
                self.gain.gain_for(peak)
            };
            if g < own {
                let db = 20.0 * (own / g).log10();
                let e = &mut self.extra;
                e.max_db = e.max_db.max(db);
                e.sum_db_frames += db;
                e.frames += (db > EXTRA_COUNTS_DB) as u64;
            }
        }
    }
}

impl Processor for TruePeakLimiter {
    fn prepare(&mut self, sample_rate_hz: f64, max_block: usize) {
        self.prepare_lanes(sample_rate_hz, max_block, 1);
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        self.process_lanes(std::slice::from_mut(block));
    }

    fn latency_samples(&self) -> usize {
        self.shaper.history[0][0].len()
    }

    fn reset(&mut self) {
        LaneProcessor::reset(self);
    }
}

impl LaneProcessor for TruePeakLimiter {
    fn prepare_lanes(&mut self, sample_rate_hz: f64, _max_block: usize, lanes: usize) {
        let s = self.settings;
        let lanes = lanes.max(1);
        self.detector = LimiterDetector::new(lanes, 10f64.powf(s.ceiling_dbtp / 20.0));
        self.shaper = LimiterShaper::new(&s, sample_rate_hz, lanes);
    }

    fn process_lanes(&mut self, lanes: &mut [StereoBlock<'_>]) {
        let Some(n) = lanes.first().map(|b| b.len()) else {
            return;
        };
        assert!(
            lanes.len() <= self.detector.lanes(),
            "more lanes than prepared"
        );
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let len = end - start;
            let chunk = lanes
                .iter()
                .map(|lane| (&lane.left[start..end], &lane.right[start..end]));
            self.detector
                .detect_lanes(chunk, &mut self.peaks, &mut self.lead_peaks);
            self.shaper.process_detected(
                lanes,
                start..end,
                &self.peaks[..len],
                &self.lead_peaks[..len],
            );
            start = end;
        }
    }

    fn latency_samples(&self) -> usize {
        Processor::latency_samples(self)
    }

    fn reset(&mut self) {
        self.detector.reset();
        self.shaper.reset();
    }
}

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
use crate::oversample::{Upsampler, UpsamplerCoefficients, BLOCK, FACTOR};
use crate::processor::{Processor, StereoBlock};

/// Factor applied to the detected 8x peak to cover what lies between the 8x points
/// (1 / (1 − ½(π/16)²) ≈ +0.17 dB).
pub const INTERSAMPLE_MARGIN: f64 =
    1.0 / (1.0 - 0.5 * (std::f64::consts::PI / 16.0) * (std::f64::consts::PI / 16.0));

/// Limiter settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimiterSettings {
    /// Highest output true peak, dBTP.
    pub ceiling_dbtp: f64,
    /// Time for the gain to recover by 63 % of its distance to unity, ms.
    pub release_ms: f64,
    /// Lookahead (attack ramp length), ms.
    pub lookahead_ms: f64,
    /// Minimum time a gain reduction is held before release starts, ms.
    pub hold_ms: f64,
    /// Lengthen the hold to the spacing of recurring peaks (low frequencies); see the module
    /// notes.
    pub auto_hold: bool,
}

/// A release within this of unity (linear) finishes at unity.
const RELEASE_SNAP: f64 = 1e-6;

/// Longest hold the automatic hold chooses, ms (half a period of 10 Hz).
pub const MAX_AUTO_HOLD_MS: f64 = 50.0;

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            ceiling_dbtp: -1.0,
            release_ms: 80.0,
            lookahead_ms: 1.5,
            hold_ms: 20.0,
            auto_hold: true,
        }
    }
}

/// A running minimum over the last `len` values (monotone deque; no allocation after `new`).
#[derive(Clone, Debug)]
struct RunningMin {
    len: u64,
    /// (index, value) pairs with increasing values, in a ring of power-of-two size: the
    /// entries live at positions `head..tail` (counters, masked into the ring).
    ring: Vec<(u64, f64)>,
    mask: usize,
    head: usize,
    tail: usize,
    index: u64,
}

impl RunningMin {
    fn new(len: usize) -> Self {
        let len = len.max(1);
        let size = (len + 1).next_power_of_two();
        Self {
            len: len as u64,
            ring: vec![(0, 0.0); size],
            mask: size - 1,
            head: 0,
            tail: 0,
            index: 0,
        }
    }
    #[inline(always)]
    fn push(&mut self, v: f64) -> f64 {
        while self.tail != self.head && self.ring[(self.tail - 1) & self.mask].1 >= v {
            self.tail -= 1;
        }
        self.ring[self.tail & self.mask] = (self.index, v);
        self.tail += 1;
        while self.ring[self.head & self.mask].0 + self.len <= self.index {
            self.head += 1;
        }
        self.index += 1;
        self.ring[self.head & self.mask].1
    }
    /// Changes the window length (at most the length given to `new`); values older than the
    /// new window leave at the next push.
    #[inline]
    fn set_len(&mut self, len: usize) {
        self.len = len.clamp(1, self.mask) as u64;
    }
    /// Pushes 1.0 when every value in the window is 1.0 (the deque then holds one entry).
    #[inline]
    fn push_idle(&mut self) {
        self.head = 0;
        self.ring[0] = (self.index, 1.0);
        self.tail = 1;
        self.index += 1;
    }
    /// `n` idle pushes at once.
    #[inline]
    fn skip_idle(&mut self, n: usize) {
        self.index += n as u64;
        self.head = 0;
        self.ring[0] = (self.index - 1, 1.0);
        self.tail = 1;
    }
    /// The current minimum (1.0 when empty).
    #[inline]
    fn min(&self) -> f64 {
        if self.head == self.tail {
            1.0
        } else {
            self.ring[self.head & self.mask].1
        }
    }
    fn reset(&mut self) {
        self.head = 0;
        self.tail = 0;
        self.index = 0;
    }
}

/// The gain computer of the limiter (steps 1–3 of the module documentation, after detection):
/// from the detected peak of each sample to the gain applied to the sample `D` later. Kept
/// apart from the detector and the delay so that an estimate of the limiter's effect
/// (the engine's loudness-target search) runs exactly the same rules.
#[derive(Clone, Debug)]
pub struct GainComputer {
    ceiling_lin: f64,
    release_coef: f64,
    /// `1 − release_coef`: the release step `r + (1 − r)·c` is taken as `r·(1 − c) + c`, a
    /// multiplication and an addition on the sample-to-sample dependency chain instead of a
    /// subtraction, a multiplication and an addition (the chain bounds the gain computer's
    /// speed; the two forms differ in rounding only).
    release_keep: f64,
    hold: RunningMin,
    /// Hold length from `hold_ms`, and the longest automatic hold (0: automatic hold off).
    hold_min: usize,
    hold_auto_max: usize,
    /// Samples since the last run of samples needing reduction began, and whether one is on.
    since_run_start: usize,
    in_run: bool,
    released_gain: f64,
    lookahead_min: RunningMin,
    /// Ring of the last D + 1 min-held gains, their sum, and how many are below 1.
    box_ring: Vec<f64>,
    box_pos: usize,
    box_sum: f64,
    box_below_one: usize,
    inv_box_len: f64,
}

impl GainComputer {
    pub fn new(s: &LimiterSettings, sample_rate_hz: f64) -> Self {
        let lookahead = lookahead_samples(s, sample_rate_hz);
        let hold_min = ((s.hold_ms * 1e-3 * sample_rate_hz).round() as usize).max(1);
        let hold_auto_max = if s.auto_hold {
            (MAX_AUTO_HOLD_MS * 1e-3 * sample_rate_hz).round() as usize
        } else {
            0
        };
        let mut hold = RunningMin::new(hold_min.max(hold_auto_max));
        hold.set_len(hold_min);
        let release_coef = 1.0 - (-1.0 / (s.release_ms.max(0.01) * 1e-3 * sample_rate_hz)).exp();
        let mut me = Self {
            ceiling_lin: 10f64.powf(s.ceiling_dbtp / 20.0),
            release_coef,
            release_keep: 1.0 - release_coef,
            hold,
            hold_min,
            hold_auto_max,
            since_run_start: usize::MAX,
            in_run: false,
            released_gain: 1.0,
            lookahead_min: RunningMin::new(lookahead + 1),
            box_ring: vec![1.0; lookahead + 1],
            box_pos: 0,
            box_sum: 0.0,
            box_below_one: 0,
            inv_box_len: 1.0 / (lookahead + 1) as f64,
        };
        me.reset();
        me
    }

    /// The gain for the sample whose detected (8x) peak is `peak`, linear; it applies to the
    /// audio delayed by the lookahead.
    #[inline(always)]
    pub fn gain_for(&mut self, peak: f64) -> f64 {
        let detected = peak * INTERSAMPLE_MARGIN;
        let required = if detected <= self.ceiling_lin {
            1.0
        } else {
            self.ceiling_lin / detected
        };
        self.since_run_start = self.since_run_start.saturating_add(1);
        let starts_run = required < 1.0 && !self.in_run;
        self.in_run = required < 1.0;
        if starts_run {
            self.adapt_hold();
        }
        if required == 1.0 && self.is_idle() {
            // Nothing to reduce and nothing pending: every step below would keep the state
            // at unity, so only the positions move.
            self.hold.push_idle();
            self.lookahead_min.push_idle();
            self.box_pos += 1;
            if self.box_pos == self.box_ring.len() {
                self.box_pos = 0;
            }
            return 1.0;
        }
        let held = self.hold.push(required);
        self.released_gain = held.min(self.released_gain * self.release_keep + self.release_coef);
        if held == 1.0 && self.released_gain > 1.0 - RELEASE_SNAP {
            // The release approaches 1 exponentially and would take seconds to get there in
            // floating point; nothing in the hold window needs reduction, so finishing it is
            // safe, and the step (< 1e-6, −120 dB) lets the computer go idle.
            self.released_gain = 1.0;
        }
        let min = self.lookahead_min.push(self.released_gain);
        let old = self.box_ring[self.box_pos];
        self.box_sum += min - old;
        self.box_below_one = self.box_below_one + (min < 1.0) as usize - (old < 1.0) as usize;
        self.box_ring[self.box_pos] = min;
        self.box_pos += 1;
        if self.box_pos == self.box_ring.len() {
            self.box_pos = 0;
        }
        if self.box_below_one == 0 {
            // Every term is exactly 1 again: drop the rounding the running sum collected.
            self.box_sum = self.box_ring.len() as f64;
        }
        // Rounding in the running sum is ~1e-15 relative: far inside INTERSAMPLE_MARGIN.
        (self.box_sum * self.inv_box_len).min(1.0)
    }

    /// At the start of a run of samples needing reduction: the automatic hold covers the gap
    /// since the previous run started (+12.5 %) when that gap is short enough to be a
    /// waveform's half-period, else the hold returns to `hold_ms`.
    #[cold]
    fn adapt_hold(&mut self) {
        let gap = self.since_run_start;
        self.since_run_start = 0;
        let len = if gap <= self.hold_auto_max {
            self.hold_min.max(gap + gap / 8)
        } else {
            self.hold_min
        };
        self.hold.set_len(len);
    }

    /// The lookahead D in samples.
    pub fn lookahead_samples(&self) -> usize {
        self.box_ring.len() - 1
    }

    /// Whether `peak` needs no reduction (exactly the test [`GainComputer::gain_for`] makes).
    #[inline(always)]
    pub fn is_unity(&self, peak: f64) -> bool {
        peak * INTERSAMPLE_MARGIN <= self.ceiling_lin
    }

    /// Advances over `n` samples that need no reduction while the computer is idle
    /// ([`GainComputer::is_idle`]): the same state as `n` calls of `gain_for` (each returning
    /// 1), in O(1).
    pub fn skip_idle(&mut self, n: usize) {
        debug_assert!(self.is_idle());
        if n == 0 {
            return;
        }
        self.since_run_start = self.since_run_start.saturating_add(n);
        self.in_run = false;
        self.hold.skip_idle(n);
        self.lookahead_min.skip_idle(n);
        self.box_pos = (self.box_pos + n) % self.box_ring.len();
    }

    /// Nothing to reduce and nothing pending: every gain is 1 until a peak needs reduction.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.box_below_one == 0
            && self.released_gain == 1.0
            && self.hold.min() == 1.0
            && self.lookahead_min.min() == 1.0
    }

    pub fn reset(&mut self) {
        self.hold.reset();
        self.hold.set_len(self.hold_min);
        self.since_run_start = usize::MAX;
        self.in_run = false;
        self.released_gain = 1.0;
        self.lookahead_min.reset();
        self.box_ring.fill(1.0);
        self.box_pos = 0;
        self.box_sum = self.box_ring.len() as f64;
        self.box_below_one = 0;
    }
}

/// Lookahead D in samples.
fn lookahead_samples(s: &LimiterSettings, sample_rate_hz: f64) -> usize {
    ((s.lookahead_ms * 1e-3 * sample_rate_hz).round() as usize).max(1)
}

/// The limiter. As a [`LaneProcessor`] it limits several lanes with one gain: at every
/// instant the most-reducing gain any lane needs, so that every lane stays under the ceiling.
pub struct TruePeakLimiter {
    settings: LimiterSettings,
    /// Ceiling as a linear amplitude.
    ceiling_lin: f64,
    lookahead: usize,
    /// Per lane, per channel.
    up: Vec<[Upsampler; 2]>,
    rows: [Vec<[f32; FACTOR]>; 2],
    /// Per frame of a block: the largest 8x value of any lane and channel.
    peaks: Vec<f32>,
    prev_row_peak: f64,
    gain: GainComputer,
    /// Per frame of a block: the gain applied.
    gains: Vec<f64>,
    /// Per lane, per channel: the last `latency` input samples (the delay line).
    history: Vec<[Vec<f64>; 2]>,
    /// Scratch: one channel's history followed by its block.
    delayed: Vec<f64>,
    min_gain: f64,
    /// With more than one lane: the gain lane 0 alone would get, to measure what the others
    /// cost it.
    lead_alone: Option<LeadAlone>,
}

/// The gain computer of lane 0 on its own, and what the shared gain took beyond it.
struct LeadAlone {
    gain: GainComputer,
    peaks: Vec<f32>,
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
            ceiling_lin: 1.0,
            lookahead: 1,
            up: Vec::new(),
            rows: [vec![[0.0; FACTOR]; BLOCK], vec![[0.0; FACTOR]; BLOCK]],
            peaks: vec![0.0; BLOCK],
            prev_row_peak: 0.0,
            gain: GainComputer::new(&settings, 48000.0),
            gains: vec![1.0; BLOCK],
            history: Vec::new(),
            delayed: Vec::new(),
            min_gain: 1.0,
            lead_alone: None,
        };
        me.prepare(48000.0, BLOCK);
        me
    }

    pub fn settings(&self) -> &LimiterSettings {
        &self.settings
    }

    /// The lowest gain applied since the last call (linear).
    pub fn take_min_gain(&mut self) -> f64 {
        std::mem::replace(&mut self.min_gain, 1.0)
    }

    /// With several lanes: the extra reduction lane 0 got since the last call because of the
    /// other lanes.
    pub fn take_extra_reduction(&mut self) -> ExtraReduction {
        self.lead_alone
            .as_mut()
            .map(|a| std::mem::take(&mut a.extra))
            .unwrap_or_default()
    }

    /// Largest 8x value of each row of lane `lane`, both channels, into `self.rows`.
    fn detect(&mut self, lane: usize, l: &[f64], r: &[f64], floor: f32) {
        let [ul, ur] = &mut self.up[lane];
        ul.process_block_above(l, &mut self.rows[0], floor);
        ur.process_block_above(r, &mut self.rows[1], floor);
    }

    /// Gains for one chunk of `len` frames from `self.peaks`, into `self.gains`.
    fn compute_gains(&mut self, len: usize) {
        let mut i = 0;
        while i < len {
            let row_peak = self.peaks[i] as f64;
            let peak = row_peak.max(self.prev_row_peak);
            if self.gain.is_idle() && self.gain.is_unity(peak) {
                // A run of rows that need no reduction: skipped in one step.
                let mut prev = row_peak;
                let mut run = 1;
                while i + run < len {
                    let p = self.peaks[i + run] as f64;
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
}

/// Row peaks (largest |value| of both channels' rows), combined into `peaks` by maximum when
/// `combine`, else written.
fn row_peaks(rows: &[Vec<[f32; FACTOR]>; 2], peaks: &mut [f32], combine: bool) {
    let row_max = crate::oversample::stereo_row_peak;
    let rows = rows[0].iter().zip(&rows[1]);
    if combine {
        for (p, (a, b)) in peaks.iter_mut().zip(rows) {
            *p = p.max(row_max(a, b));
        }
    } else {
        for (p, (a, b)) in peaks.iter_mut().zip(rows) {
            *p = row_max(a, b);
        }
    }
}

impl LeadAlone {
    /// Lane 0's own gains for `len` frames, compared with the `shared` gains.
    fn compare(&mut self, len: usize, shared: &[f64]) {
        for (&row, &g) in self.peaks[..len].iter().zip(shared) {
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
        self.lookahead + UpsamplerCoefficients::LATENCY
    }

    fn reset(&mut self) {
        LaneProcessor::reset(self);
    }
}

impl LaneProcessor for TruePeakLimiter {
    fn prepare_lanes(&mut self, sample_rate_hz: f64, _max_block: usize, lanes: usize) {
        let s = self.settings;
        let lanes = lanes.max(1);
        self.ceiling_lin = 10f64.powf(s.ceiling_dbtp / 20.0);
        self.lookahead = lookahead_samples(&s, sample_rate_hz);
        self.gain = GainComputer::new(&s, sample_rate_hz);
        self.up = (0..lanes)
            .map(|_| [Upsampler::new(), Upsampler::new()])
            .collect();
        let latency = Processor::latency_samples(self);
        self.history = (0..lanes)
            .map(|_| [vec![0.0; latency], vec![0.0; latency]])
            .collect();
        self.delayed = vec![0.0; latency + BLOCK];
        self.lead_alone = (lanes > 1).then(|| LeadAlone {
            gain: GainComputer::new(&s, sample_rate_hz),
            peaks: vec![0.0; BLOCK],
            prev_row_peak: 0.0,
            extra: ExtraReduction::default(),
        });
        LaneProcessor::reset(self);
    }

    fn process_lanes(&mut self, lanes: &mut [StereoBlock<'_>]) {
        let Some(n) = lanes.first().map(|b| b.len()) else {
            return;
        };
        assert!(lanes.len() <= self.up.len(), "more lanes than prepared");
        // Rows whose values stay at or below this need no gain reduction, so the upsampler
        // may skip computing them (see `Upsampler::process_block_above`).
        let floor = (self.ceiling_lin / INTERSAMPLE_MARGIN * (1.0 - 1e-6)) as f32;
        let latency = self.history[0][0].len();
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let len = end - start;
            for (k, lane) in lanes.iter().enumerate() {
                self.detect(k, &lane.left[start..end], &lane.right[start..end], floor);
                row_peaks(&self.rows, &mut self.peaks[..len], k > 0);
                if k == 0 {
                    if let Some(a) = &mut self.lead_alone {
                        a.peaks[..len].copy_from_slice(&self.peaks[..len]);
                    }
                }
            }
            self.compute_gains(len);
            if let Some(a) = &mut self.lead_alone {
                a.compare(len, &self.gains[..len]);
            }
            // Each channel, delayed by the latency: its history, then the block, of which the
            // first `len` samples go out (times the gain) and the last `latency` are kept.
            let gains = &self.gains[..len];
            let delayed = &mut self.delayed[..latency + len];
            for (lane, history) in lanes.iter_mut().zip(self.history.iter_mut()) {
                for (x, h) in [&mut lane.left[start..end], &mut lane.right[start..end]]
                    .into_iter()
                    .zip(history.iter_mut())
                {
                    delayed[..latency].copy_from_slice(h);
                    delayed[latency..].copy_from_slice(x);
                    for ((o, d), g) in x.iter_mut().zip(&delayed[..len]).zip(gains) {
                        *o = d * g;
                    }
                    h.copy_from_slice(&delayed[len..]);
                }
            }
            start = end;
        }
    }

    fn latency_samples(&self) -> usize {
        Processor::latency_samples(self)
    }

    fn reset(&mut self) {
        for u in self.up.iter_mut().flatten() {
            u.reset();
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Skipping idle stretches in one step leaves the gain computer exactly where
        /// sample-by-sample calls leave it: the same gains afterwards, for any peaks.
        #[test]
        fn skip_idle_equals_calling_gain_for(
            peaks in prop::collection::vec(0.0f64..2.0, 1..3000),
            quiet in 0.0f64..1.0,
        ) {
            let s = LimiterSettings::default();
            let (mut a, mut b) = (GainComputer::new(&s, 48000.0), GainComputer::new(&s, 48000.0));
            // Quiet stretches (peaks scaled by `quiet` · 0.5, under the ceiling) between loud ones.
            let x: Vec<f64> = peaks
                .iter()
                .enumerate()
                .map(|(i, &p)| if (i / 300) % 2 == 0 { p * quiet * 0.5 } else { p })
                .collect();
            let mut i = 0;
            while i < x.len() {
                if b.is_idle() && b.is_unity(x[i]) {
                    let mut j = i;
                    while j < x.len() && b.is_unity(x[j]) {
                        prop_assert_eq!(a.gain_for(x[j]), 1.0);
                        j += 1;
                    }
                    b.skip_idle(j - i);
                    i = j;
                } else {
                    prop_assert_eq!(a.gain_for(x[i]), b.gain_for(x[i]));
                    i += 1;
                }
            }
            for &p in x.iter().rev().take(500) {
                prop_assert_eq!(a.gain_for(p), b.gain_for(p));
            }
        }

        /// The running minimum equals the minimum of the last `len` values (fewer at the
        /// start), computed directly, for any values and window length, through resets.
        #[test]
        fn running_min_is_the_window_minimum(
            values in prop::collection::vec(0.0f64..2.0, 1..600),
            len in 1usize..70,
            reset_at in 0usize..600,
        ) {
            let mut rm = RunningMin::new(len);
            let mut start = 0;
            for (t, &v) in values.iter().enumerate() {
                if t == reset_at {
                    rm.reset();
                    start = t;
                    prop_assert_eq!(rm.min(), 1.0);
                }
                let from = (t + 1).saturating_sub(len).max(start);
                let want = values[from..=t].iter().copied().fold(f64::INFINITY, f64::min);
                prop_assert_eq!(rm.push(v), want);
                prop_assert_eq!(rm.min(), want);
            }
        }
    }
}

//! The true-peak limiter's gain computer (steps 2 and 3 of [`crate::limiter`]: hold and
//! release, lookahead) and its settings: from the detected peak of each frame to the gain
//! applied to the frame `D` later. Apart from the detector and the delay line so that the
//! limited-loudness estimate ([`crate::limiter_estimate`]) runs exactly the same rules.

use crate::limiter_detector::INTERSAMPLE_MARGIN;

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
pub(crate) fn lookahead_samples(s: &LimiterSettings, sample_rate_hz: f64) -> usize {
    ((s.lookahead_ms * 1e-3 * sample_rate_hz).round() as usize).max(1)
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

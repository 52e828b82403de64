//! The true-peak limiter's detector (step 1 of [`crate::limiter`]): every channel upsampled
//! 8x, and per frame the largest |value| of its 8x row, over both channels of every lane.
//!
//! Apart from the gain stage ([`crate::limiter::LimiterShaper`]) so that a render can run the
//! two on different threads ([`crate::limiter::TruePeakLimiter::into_parts`]): the detection
//! is the larger half of the limiter's work, and the peaks it hands on are one number a frame.

use crate::oversample::{stereo_row_peak, Upsampler, BLOCK, FACTOR};

/// Factor applied to the detected 8x peak to cover what lies between the 8x points
/// (1 / (1 − ½(π/16)²) ≈ +0.17 dB).
pub const INTERSAMPLE_MARGIN: f64 =
    1.0 / (1.0 - 0.5 * (std::f64::consts::PI / 16.0) * (std::f64::consts::PI / 16.0));

/// Detection for one or more lanes of stereo blocks.
pub struct LimiterDetector {
    /// Per lane, per channel.
    up: Vec<[Upsampler; 2]>,
    rows: [Vec<[f32; FACTOR]>; 2],
    /// Rows whose values stay at or below this need no gain reduction, so the upsampler may
    /// skip computing them (see [`Upsampler::process_block_above`]).
    floor: f32,
}

impl LimiterDetector {
    /// A detector for `lanes` lanes, for a limiter whose ceiling is `ceiling_lin`.
    pub fn new(lanes: usize, ceiling_lin: f64) -> Self {
        Self {
            up: (0..lanes.max(1))
                .map(|_| [Upsampler::new(), Upsampler::new()])
                .collect(),
            rows: [vec![[0.0; FACTOR]; BLOCK], vec![[0.0; FACTOR]; BLOCK]],
            floor: (ceiling_lin / INTERSAMPLE_MARGIN * (1.0 - 1e-6)) as f32,
        }
    }

    /// Lanes prepared for.
    pub fn lanes(&self) -> usize {
        self.up.len()
    }

    /// The peaks of lane `lane`'s `left` and `right` (equal lengths, any length), one per
    /// frame: written into `peaks` for lane 0, combined by maximum for the other lanes (so
    /// call lane 0 first). Delayed by the upsampler's latency, as the limiter expects.
    pub fn detect_lane(&mut self, lane: usize, left: &[f64], right: &[f64], peaks: &mut [f32]) {
        assert!(lane < self.up.len(), "more lanes than prepared");
        let [ul, ur] = &mut self.up[lane];
        for ((l, r), p) in left
            .chunks(BLOCK)
            .zip(right.chunks(BLOCK))
            .zip(peaks.chunks_mut(BLOCK))
        {
            ul.process_block_above(l, &mut self.rows[0], self.floor);
            ur.process_block_above(r, &mut self.rows[1], self.floor);
            row_peaks(&self.rows, p, lane > 0);
        }
    }

    /// [`LimiterDetector::detect_lane`] for every lane (`lanes`: left and right of each, lane
    /// 0 first): every lane's peaks into `peaks`, and lane 0's alone into `lead` when there
    /// are several lanes (what the shared gain's extra reduction is measured against).
    pub fn detect_lanes<'a>(
        &mut self,
        lanes: impl ExactSizeIterator<Item = (&'a [f64], &'a [f64])>,
        peaks: &mut [f32],
        lead: &mut [f32],
    ) {
        let several = lanes.len() > 1;
        for (k, (l, r)) in lanes.enumerate() {
            let peaks = &mut peaks[..l.len()];
            self.detect_lane(k, l, r, peaks);
            if k == 0 && several {
                lead[..l.len()].copy_from_slice(peaks);
            }
        }
    }

    pub fn reset(&mut self) {
        for u in self.up.iter_mut().flatten() {
            u.reset();
        }
    }
}

/// Row peaks (largest |value| of both channels' rows), combined into `peaks` by maximum when
/// `combine`, else written.
fn row_peaks(rows: &[Vec<[f32; FACTOR]>; 2], peaks: &mut [f32], combine: bool) {
    let rows = rows[0].iter().zip(&rows[1]);
    if combine {
        for (p, (a, b)) in peaks.iter_mut().zip(rows) {
            *p = p.max(stereo_row_peak(a, b));
        }
    } else {
        for (p, (a, b)) in peaks.iter_mut().zip(rows) {
            *p = stereo_row_peak(a, b);
        }
    }
}

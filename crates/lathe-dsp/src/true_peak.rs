//! True-peak meter: 8x polyphase windowed-sinc interpolation plus a parabolic refinement.
//!
//! BS.1770 Annex 2 asks for ≥ 4x oversampling; its worst-case under-read at 8x is 0.136 dB for
//! content at 0.45·fs (Attachment 1). To read within 0.1 dB of the band-limited peak at every
//! rate, each local maximum of the 8x signal that could be the file's peak is refined by fitting
//! a parabola through it and its two neighbours (for a sine at 0.45·fs the residual error is
//! −0.004 dB). The refinement runs only on candidates, so it costs nothing measurable.

use crate::oversample::{max_abs, Upsampler, UpsamplerCoefficients, BLOCK, FACTOR};

/// A streaming true-peak meter for one channel.
#[derive(Clone, Debug)]
pub struct TruePeakMeter {
    upsampler: Upsampler,
    /// Oversampled rows of the current block.
    rows: Vec<[f32; FACTOR]>,
    /// Oversampled outputs of the previous input sample (phases 0..8).
    prev: [f32; FACTOR],
    /// Last phase of the sample before `prev`.
    prev_prev_last: f32,
    /// Highest |x| found so far (linear, refined).
    peak: f32,
}

impl TruePeakMeter {
    pub fn new() -> Self {
        Self {
            upsampler: Upsampler::new(),
            rows: vec![[0.0; FACTOR]; BLOCK],
            prev: [0.0; FACTOR],
            prev_prev_last: 0.0,
            peak: 0.0,
        }
    }

    /// Feeds a block of samples.
    pub fn process(&mut self, samples: &[f64]) {
        for block in samples.chunks(BLOCK) {
            // Rows that cannot reach the running peak, even refined (+2 %), are not computed.
            let floor = self.peak / 1.0201;
            self.upsampler
                .process_block_above(block, &mut self.rows, floor);
            let rows = &self.rows[..block.len()];
            let block_max = max_abs(rows.as_flattened());
            if block_max * 1.02 <= self.peak && rows.len() >= 2 {
                // No row of this block can raise the peak: examine only the previous block's
                // last row (it needs this block's first value), then keep the last two rows.
                let (first, last) = (rows[0], rows[rows.len() - 1]);
                let before_last = rows[rows.len() - 2][FACTOR - 1];
                self.push_row(first);
                self.prev_prev_last = before_last;
                self.prev = last;
                continue;
            }
            for i in 0..block.len() {
                let cur = self.rows[i];
                self.push_row(cur);
            }
        }
    }

    /// Examines the previous row now that its right neighbour (`cur[0]`) is known.
    #[inline]
    fn push_row(&mut self, cur: [f32; FACTOR]) {
        let row_max = crate::oversample::row_peak(&self.prev);
        // A parabolic refinement adds at most ~0.14 dB (1.7 %), so only rows within 2 % of the
        // running peak can raise it.
        if row_max * 1.02 > self.peak {
            self.refine_row(cur[0]);
        }
        self.prev_prev_last = self.prev[FACTOR - 1];
        self.prev = cur;
    }

    fn refine_row(&mut self, next_first: f32) {
        for p in 0..FACTOR {
            let y0 = self.prev[p].abs();
            let ym = if p == 0 {
                self.prev_prev_last
            } else {
                self.prev[p - 1]
            }
            .abs();
            let yp = if p + 1 == FACTOR {
                next_first
            } else {
                self.prev[p + 1]
            }
            .abs();
            let mut peak = y0;
            if y0 >= ym && y0 >= yp {
                let curvature = ym - 2.0 * y0 + yp;
                if curvature < 0.0 {
                    let offset = 0.5 * (ym - yp) / curvature;
                    if offset.abs() <= 0.5 {
                        peak = y0 - 0.25 * (ym - yp) * offset;
                    }
                }
            }
            self.peak = self.peak.max(peak);
        }
    }

    /// Flushes the interpolator's delay (call once after the last block), then returns the peak.
    pub fn finish(&mut self) -> f64 {
        self.process(&[0.0; UpsamplerCoefficients::LATENCY + 2]);
        self.peak_lin()
    }

    /// The highest true peak found so far, linear (the last ~16 input samples are only
    /// included after [`TruePeakMeter::finish`]).
    pub fn peak_lin(&self) -> f64 {
        self.peak as f64
    }

    /// Clears state and the reading.
    pub fn reset(&mut self) {
        self.upsampler.reset();
        self.prev = [0.0; FACTOR];
        self.prev_prev_last = 0.0;
        self.peak = 0.0;
    }
}

impl Default for TruePeakMeter {
    fn default() -> Self {
        Self::new()
    }
}

//! Two-channel loudness and true-peak metering of a pass's output.

use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};
use lathe_dsp::true_peak::TruePeakMeter;

/// Two-channel loudness and true-peak metering.
pub(crate) struct StereoMeter {
    pub loudness: LoudnessMeter,
    peak: Option<[TruePeakMeter; 2]>,
}

impl StereoMeter {
    pub fn new(fs: f64, true_peak: bool) -> Self {
        Self {
            loudness: LoudnessMeter::new(fs, &ChannelRole::default_layout(2)),
            peak: true_peak.then(|| [TruePeakMeter::new(), TruePeakMeter::new()]),
        }
    }

    pub fn process(&mut self, l: &[f64], r: &[f64]) {
        self.loudness.process(&[l, r]);
        if let Some([a, b]) = &mut self.peak {
            a.process(l);
            b.process(r);
        }
    }

    pub fn true_peak_dbtp(&mut self) -> Option<f64> {
        let [a, b] = self.peak.as_mut()?;
        Some(lathe_dsp::lin_to_db(a.finish().max(b.finish())))
    }
}

//! Gain (and trim): a smoothed level change, polarity per channel, channel swap.

use crate::processor::{Processor, StereoBlock};
use crate::smoothing::LinearSmoother;

/// Ramp time for gain changes, ms.
pub const GAIN_RAMP_MS: f64 = 20.0;

/// Gain settings.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct GainSettings {
    /// Level change, dB.
    pub gain_db: f64,
    /// Invert the polarity of the left channel.
    pub invert_left: bool,
    /// Invert the polarity of the right channel.
    pub invert_right: bool,
    /// Exchange left and right.
    pub swap: bool,
}

/// A smoothed gain stage. Changing `gain_db` ramps the linear gain over [`GAIN_RAMP_MS`].
pub struct Gain {
    settings: GainSettings,
    /// Linear gain, smoothed.
    gain: LinearSmoother,
}

impl Gain {
    pub fn new(settings: GainSettings) -> Self {
        Self {
            settings,
            gain: LinearSmoother::new(crate::db_to_lin(settings.gain_db), GAIN_RAMP_MS),
        }
    }

    /// Changes the settings; the level change is smoothed, polarity and swap apply at once.
    pub fn set(&mut self, settings: GainSettings) {
        self.settings = settings;
        self.gain.set_target(crate::db_to_lin(settings.gain_db));
    }
}

impl Processor for Gain {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        self.gain.prepare(sample_rate_hz);
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let s = self.settings;
        if s.swap {
            block.left.swap_with_slice(block.right);
        }
        let sign_l = if s.invert_left { -1.0 } else { 1.0 };
        let sign_r = if s.invert_right { -1.0 } else { 1.0 };
        if !self.gain.is_smoothing() {
            let (gl, gr) = (self.gain.target() * sign_l, self.gain.target() * sign_r);
            if gl != 1.0 {
                block.left.iter_mut().for_each(|v| *v *= gl);
            }
            if gr != 1.0 {
                block.right.iter_mut().for_each(|v| *v *= gr);
            }
            return;
        }
        for (l, r) in block.left.iter_mut().zip(block.right.iter_mut()) {
            let g = self.gain.next_value();
            *l *= g * sign_l;
            *r *= g * sign_r;
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.gain.jump_to(crate::db_to_lin(self.settings.gain_db));
    }
}

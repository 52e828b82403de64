//! Parameter smoothing: changes reach their target along a linear ramp, so a jump in a control
//! never becomes a step in the audio (zipper noise).

/// A value that moves linearly to its target over a fixed time.
#[derive(Clone, Debug)]
pub struct LinearSmoother {
    current: f64,
    target: f64,
    step: f64,
    steps_left: u32,
    /// Ramp length in samples (set by `prepare`).
    ramp_samples: u32,
    ramp_ms: f64,
}

impl LinearSmoother {
    /// A smoother sitting at `value`, with ramps of `ramp_ms`.
    pub fn new(value: f64, ramp_ms: f64) -> Self {
        Self {
            current: value,
            target: value,
            step: 0.0,
            steps_left: 0,
            ramp_samples: 1,
            ramp_ms,
        }
    }

    pub fn prepare(&mut self, sample_rate_hz: f64) {
        self.ramp_samples = ((self.ramp_ms * 1e-3 * sample_rate_hz).round() as u32).max(1);
    }

    /// Starts a ramp from the current value to `target`.
    pub fn set_target(&mut self, target: f64) {
        if target == self.target {
            return;
        }
        self.target = target;
        self.steps_left = self.ramp_samples;
        self.step = (target - self.current) / self.ramp_samples as f64;
    }

    /// Jumps to `value` at once (for reset and initial values).
    pub fn jump_to(&mut self, value: f64) {
        self.current = value;
        self.target = value;
        self.steps_left = 0;
    }

    /// True while a ramp is in progress.
    #[inline]
    pub fn is_smoothing(&self) -> bool {
        self.steps_left > 0
    }

    /// The next value.
    #[inline]
    pub fn next_value(&mut self) -> f64 {
        if self.steps_left > 0 {
            self.steps_left -= 1;
            self.current = if self.steps_left == 0 {
                self.target
            } else {
                self.current + self.step
            };
        }
        self.current
    }

    pub fn target(&self) -> f64 {
        self.target
    }
}

//! A fixed integer delay line.

/// Delays a signal by a fixed number of samples (0 is allowed: then it passes through).
#[derive(Clone, Debug, Default)]
pub struct DelayLine {
    buf: Vec<f64>,
    pos: usize,
}

impl DelayLine {
    pub fn new(delay_samples: usize) -> Self {
        Self {
            buf: vec![0.0; delay_samples],
            pos: 0,
        }
    }

    pub fn delay_samples(&self) -> usize {
        self.buf.len()
    }

    /// Delays one sample.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        if self.buf.is_empty() {
            return x;
        }
        let y = std::mem::replace(&mut self.buf[self.pos], x);
        self.pos = (self.pos + 1) % self.buf.len();
        y
    }

    /// Delays a block in place.
    pub fn process(&mut self, block: &mut [f64]) {
        for v in block.iter_mut() {
            *v = self.tick(*v);
        }
    }

    pub fn reset(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

//! Bit-exact, latency-compensated bypass for any processor.

use crate::delay::DelayLine;
use crate::processor::{KeyBlock, Processor, StereoBlock};

/// Wraps a processor. When bypassed, the input passes through a pure delay equal to the
/// processor's latency, so a chain keeps its alignment and the output is the input, bit for bit.
pub struct Bypass<P: Processor> {
    pub inner: P,
    bypassed: bool,
    delay: [DelayLine; 2],
}

impl<P: Processor> Bypass<P> {
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            bypassed: false,
            delay: [DelayLine::new(0), DelayLine::new(0)],
        }
    }

    pub fn set_bypassed(&mut self, bypassed: bool) {
        self.bypassed = bypassed;
    }
}

impl<P: Processor> Processor for Bypass<P> {
    fn prepare(&mut self, sample_rate_hz: f64, max_block: usize) {
        self.inner.prepare(sample_rate_hz, max_block);
        let d = self.inner.latency_samples();
        self.delay = [DelayLine::new(d), DelayLine::new(d)];
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        if self.bypassed {
            self.delay[0].process(block.left);
            self.delay[1].process(block.right);
        } else {
            self.inner.process(block);
        }
    }

    fn process_keyed(&mut self, block: &mut StereoBlock<'_>, key: &KeyBlock<'_>) {
        if self.bypassed {
            self.process(block);
        } else {
            self.inner.process_keyed(block, key);
        }
    }

    fn latency_samples(&self) -> usize {
        self.inner.latency_samples()
    }

    fn reset(&mut self) {
        self.inner.reset();
        for d in &mut self.delay {
            d.reset();
        }
    }
}

//! Several signals ("lanes") through one chain in lockstep: the main master and its alternate
//! versions (instrumental, a cappella ...), so that every version carries the main master's
//! gain moves sample for sample.
//!
//! Lane 0 leads. A *locked* dynamics stage (compressor, multiband, limiter) computes its
//! time-varying gain once and applies that same gain to every lane; the compressors take it
//! from lane 0's detector, the limiter from all lanes at once (the most-reducing gain any lane
//! needs, so that no lane exceeds the ceiling). Every other stage runs one instance per lane
//! ([`PerLane`]): linear stages then treat each lane exactly as the main, and nonlinear ones
//! (saturation, clipper) shape each lane's own signal.

use crate::processor::{Processor, StereoBlock};

/// A processor run on several lanes in lockstep. The contract of [`Processor`] holds:
/// `prepare_lanes` may allocate, `process_lanes` must not.
pub trait LaneProcessor: Send {
    /// Prepares for `lanes` lanes (at least 1) of at most `max_block` frames.
    fn prepare_lanes(&mut self, sample_rate_hz: f64, max_block: usize, lanes: usize);
    /// Processes one block of every lane in place (all of the same length; as many lanes as
    /// prepared; lane 0 leads).
    fn process_lanes(&mut self, lanes: &mut [StereoBlock<'_>]);
    /// Delay in samples, the same for every lane.
    fn latency_samples(&self) -> usize;
    fn reset(&mut self);
}

/// One instance of a processor per lane, each processing its own lane.
pub struct PerLane {
    make: Box<dyn Fn() -> Box<dyn Processor> + Send>,
    each: Vec<Box<dyn Processor>>,
}

impl PerLane {
    /// `make` builds one (unprepared) instance.
    pub fn new(make: impl Fn() -> Box<dyn Processor> + Send + 'static) -> Self {
        Self {
            each: vec![make()],
            make: Box::new(make),
        }
    }
}

impl LaneProcessor for PerLane {
    fn prepare_lanes(&mut self, sample_rate_hz: f64, max_block: usize, lanes: usize) {
        self.each = (0..lanes.max(1)).map(|_| (self.make)()).collect();
        for p in &mut self.each {
            p.prepare(sample_rate_hz, max_block);
        }
    }

    fn process_lanes(&mut self, lanes: &mut [StereoBlock<'_>]) {
        assert!(lanes.len() <= self.each.len(), "more lanes than prepared");
        for (p, b) in self.each.iter_mut().zip(lanes.iter_mut()) {
            p.process(b);
        }
    }

    fn latency_samples(&self) -> usize {
        self.each[0].latency_samples()
    }

    fn reset(&mut self) {
        self.each.iter_mut().for_each(|p| p.reset());
    }
}

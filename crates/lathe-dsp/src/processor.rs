//! The processor contract: `prepare(rate, max_block)` sets up (and may allocate), `reset()`
//! returns to the initial state, `process()` works in place without allocating, and
//! `latency_samples()` says how late the output is; `tests/processor_contract.rs` checks
//! every processor against it.

/// One block of stereo audio, processed in place.
pub struct StereoBlock<'a> {
    pub left: &'a mut [f64],
    pub right: &'a mut [f64],
}

impl StereoBlock<'_> {
    /// Frames in the block.
    pub fn len(&self) -> usize {
        self.left.len()
    }

    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }
}

/// A read-only stereo block: the key (side chain) of a keyed processor, as long as the block
/// it keys.
pub struct KeyBlock<'a> {
    pub left: &'a [f64],
    pub right: &'a [f64],
}

/// A stereo processor. `prepare` may allocate; `process` must not allocate, lock or do I/O.
pub trait Processor: Send {
    /// Called before processing and whenever the rate or the largest block size changes.
    fn prepare(&mut self, sample_rate_hz: f64, max_block: usize);
    /// Processes one block (at most `max_block` frames) in place.
    fn process(&mut self, block: &mut StereoBlock<'_>);
    /// Processes one block with an external key (side chain) of the same length. Processors
    /// that listen only to their own input ignore the key.
    fn process_keyed(&mut self, block: &mut StereoBlock<'_>, key: &KeyBlock<'_>) {
        let _ = key;
        self.process(block);
    }
    /// Delay in samples this processor adds. Constant after `prepare`.
    fn latency_samples(&self) -> usize;
    /// Clears state (delay lines, envelopes) without changing parameters.
    fn reset(&mut self);
}

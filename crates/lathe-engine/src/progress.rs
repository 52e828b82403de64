//! Progress reporting from a render to whoever shows it (the command line draws bars on a
//! terminal; a service could record it). Stages are announced with their length in frames
//! when it is known; the render then reports frames as they are written.

/// Receives progress. Called from the render's threads, so it must be `Sync`.
pub trait Progress: Sync {
    /// A new stage begins; `total_frames` is its length when known.
    fn stage(&self, name: &str, total_frames: Option<u64>);
    /// `frames` more frames of the current stage are done.
    fn advance(&self, frames: u64);
    /// The current stage decodes and processes these stems (audible ones, in session order);
    /// `total_frames` is the master's length when known. Default: ignored.
    fn stems(&self, _names: &[String], _total_frames: Option<u64>) {}
    /// Stem `index` (into the names of [`Progress::stems`]) produced `frames` more frames of
    /// its own audio (a stem shorter than the master stops advancing at its end).
    fn stem_advance(&self, _index: usize, _frames: u64) {}
    /// The render is over.
    fn done(&self);
}

/// Shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn done(&self) {}
}

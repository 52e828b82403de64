//! Where a pass reads its frames from: the stem mixer (reporting each stem's progress), or
//! a cached copy of the bus (`bus_cache.rs`).

use crate::progress::Progress;
use crate::render::block::Lane;
use crate::render::pass::RenderError;
use crate::render::stem_mix::StemMix;

/// Where a pass reads its frames from: the stem mixer, or a cached copy of the bus.
pub trait BlockSource {
    /// Lanes the source produces: the main mix first, then each locked version.
    fn lanes(&self) -> usize {
        1
    }

    /// Fills the start of every lane's buffers with the next frames (at most `len`); returns
    /// how many (0 at the end; fewer than asked only at the end).
    fn read(&mut self, lanes: &mut [Lane], len: usize) -> Result<usize, RenderError>;
}

impl BlockSource for StemMix {
    fn lanes(&self) -> usize {
        StemMix::lanes(self)
    }

    fn read(&mut self, lanes: &mut [Lane], len: usize) -> Result<usize, RenderError> {
        Ok(self.read_lanes(lanes, len)?)
    }
}

/// A [`StemMix`] that reports each stem's progress.
pub(crate) struct ReportedStemMix<'a> {
    pub mix: StemMix,
    pub progress: &'a dyn Progress,
}

impl BlockSource for ReportedStemMix<'_> {
    fn lanes(&self) -> usize {
        self.mix.lanes()
    }

    fn read(&mut self, lanes: &mut [Lane], len: usize) -> Result<usize, RenderError> {
        let n = self.mix.read_lanes(lanes, len)?;
        for (i, &frames) in self.mix.last_read().iter().enumerate() {
            if frames > 0 {
                self.progress.stem_advance(i, frames as u64);
            }
        }
        Ok(n)
    }
}

//! Streaming render passes: stems decoded and mixed, chains run block by block over one or
//! more locked lanes, the pre-gain bus cached to disk and replayed.

pub mod block;
pub mod block_source;
pub mod bus_cache;
pub mod cache_excerpts;
pub mod lanes;
pub mod pass;
pub mod pipeline;
pub mod source;
pub mod stem_mix;
mod stem_reader;
pub mod stereo_meter;

pub use block::{Lane, BLOCK};
pub use block_source::BlockSource;
pub use lanes::{render_lanes, render_pass, render_stem_lanes, render_stems};
pub use pass::{ExtraReductionReport, LaneLevels, Levels, Metering, PassResult, RenderError};

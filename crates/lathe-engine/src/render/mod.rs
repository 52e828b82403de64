//! Streaming render passes: stems decoded and mixed, chains run block by block over one or
//! more locked lanes, the pre-gain bus cached to disk and replayed.

pub mod bus_cache;
pub mod lanes;
pub mod pipeline;
pub mod source;
pub mod stem_mix;

pub use lanes::*;

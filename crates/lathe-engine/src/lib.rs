//! lathe-engine: analysis now; sessions, render passes, deliverables and reports build on it.
#![forbid(unsafe_code)]

pub mod album;
pub mod analyze;
pub mod assistant;
pub mod bus_cache;
pub mod cd;
pub mod chain;
pub mod ddp;
pub mod deliver;
pub mod master;
pub mod out_lock;
pub mod pipeline;
pub mod plot;
pub mod preset;
pub mod progress;
pub mod reference;
pub mod render;
pub mod session;
pub mod source;
pub mod stems;
pub mod version;

pub use analyze::{analyze_file, Analysis, AnalyzeError};

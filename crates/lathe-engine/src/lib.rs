//! lathe-engine: analysis now; sessions, render passes, deliverables and reports build on it.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod chain;
pub mod deliver;
pub mod master;
pub mod preset;
pub mod render;
pub mod source;

pub use analyze::{analyze_file, Analysis, AnalyzeError};

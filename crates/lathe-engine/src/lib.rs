//! lathe-engine: analysis now; sessions, render passes, deliverables and reports build on it.
#![forbid(unsafe_code)]

pub mod analyze;
pub mod chain;

pub use analyze::{analyze_file, Analysis, AnalyzeError};

//! lathe-engine: sessions, render passes, deliverables, reports, reference matching and albums.
//!
//! Layers, each using only those below it (docs/ARCHITECTURE.md draws them):
//! `album` → `master` → `matching` → `render`, `deliver` → `analyze` → `spec`, `progress`.
#![forbid(unsafe_code)]

pub mod album;
pub mod analyze;
pub mod deliver;
pub mod error;
pub mod master;
pub mod matching;
pub mod progress;
pub mod render;
pub mod spec;

pub use analyze::{analyze_file, Analysis, AnalyzeError};

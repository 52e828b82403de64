//! Delivered files: written under a temporary name, with the true-peak safety stage at
//! another rate, tagged, and renamed when complete; the output folder's lock.

pub mod out_lock;
pub mod writer;

pub use writer::*;
pub mod same_file;

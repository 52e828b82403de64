//! The unit every pass works in.

/// Frames per processing block.
pub const BLOCK: usize = 4096;

/// One lane's stereo buffers (the main mix, or a locked version).
pub type Lane = [Vec<f64>; 2];

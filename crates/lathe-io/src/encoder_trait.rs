//! The interface every format's writer implements ([`Encoder`]), apart from the writers and
//! from [`crate::encoder::open`] that picks one, so that wrappers of any encoder (the
//! background thread of `background.rs`) depend on the interface alone.

/// What an encoder is fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Integer samples at this many bits (the caller dithers and quantises).
    Int { bits: u32 },
    /// Float samples (−1…1 is full scale); lossy encoders and 32-bit float files.
    Float,
}

/// A file being written, stereo block by block.
pub trait Encoder: Send {
    /// What [`Encoder::write_int`] or [`Encoder::write_float`] must be given.
    fn input(&self) -> Input;
    /// Writes integer frames (when [`Encoder::input`] is `Int`).
    fn write_int(&mut self, l: &[i32], r: &[i32]) -> std::io::Result<()>;
    /// Writes float frames (when [`Encoder::input`] is `Float`).
    fn write_float(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()>;
    /// Completes the file (headers, last frames), flushed to the operating system.
    fn finish(self: Box<Self>) -> std::io::Result<()>;
}

//! Streaming FLAC encoding with libFLAC (`libflac.rs`) at `flac -5`'s settings: 4096-sample
//! blocks, mid/side where it pays, LPC up to order 8. libFLAC computes the MD5 of the samples
//! and completes STREAMINFO itself. The tags go in a VORBIS_COMMENT block after STREAMINFO,
//! and a PADDING block after them leaves room to edit them later without rewriting the file.
//!
//! (lathe used flacenc until it measured it: about 3x libFLAC's time for files 9–23 % larger,
//! at any of its settings; docs/BENCHMARKS.md §3f.)

use std::path::Path;

use crate::libflac::{LibFlacEncoder, LibFlacSettings};

/// libFLAC's preset: `flac -5`, its own default, the usual balance of size and speed.
pub const FLAC_COMPRESSION_LEVEL: u32 = 5;

/// Bytes of the PADDING block after STREAMINFO: room for tags (a title, an artist, an ISRC).
const PADDING_BYTES: u32 = 1024;

/// Why FLAC encoding failed.
#[derive(Debug, thiserror::Error)]
pub enum FlacError {
    #[error("FLAC: {0}")]
    Encoder(String),
}

/// A stereo FLAC file being written. Samples are integers at `bits` (16 or 24).
pub struct FlacWriter {
    encoder: LibFlacEncoder,
    bits: u32,
}

impl FlacWriter {
    /// `comments`: Vorbis comments (name, value), written in the file's header.
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        bits: u32,
        comments: &[(String, String)],
    ) -> Result<Self, FlacError> {
        let settings = LibFlacSettings {
            sample_rate_hz,
            channels: 2,
            bits,
            compression_level: FLAC_COMPRESSION_LEVEL,
            padding_bytes: PADDING_BYTES,
            comments: comments.to_vec(),
        };
        let encoder = LibFlacEncoder::create(path, &settings).map_err(FlacError::Encoder)?;
        Ok(Self { encoder, bits })
    }

    /// Bits per sample.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Adds stereo frames of integer samples.
    pub fn write(&mut self, left: &[i32], right: &[i32]) -> Result<(), FlacError> {
        self.encoder
            .process(&[left, right])
            .map_err(FlacError::Encoder)
    }

    /// Writes the last frame and completes STREAMINFO.
    pub fn finish(self) -> Result<(), FlacError> {
        self.encoder.finish().map_err(FlacError::Encoder)
    }
}

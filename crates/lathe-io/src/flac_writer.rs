//! Streaming FLAC encoding with flacenc's frame-level API, so memory does not grow with the
//! length of the music (`encode_with_fixed_block_size` would hold every sample).
//!
//! The STREAMINFO block is written first with placeholder values and rewritten at the end
//! (it has a fixed size). Two traps handled here:
//! - flacenc counts the short last block in `min_block_size`, which symphonia then rejects
//!   (flacenc-rs issue #242); the FLAC format excludes the last block from it, so the header
//!   gets min = max = the fixed block size;
//! - the MD5 of the decoded samples is computed here, as the format asks.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use flacenc::bitsink::MemSink;
use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::error::Verify;
use flacenc::source::{Fill, FrameBuf};
use md5::{Digest, Md5};

/// Samples per channel in each FLAC frame.
pub const FLAC_BLOCK: usize = 4096;

/// Why FLAC encoding failed.
#[derive(Debug, thiserror::Error)]
pub enum FlacError {
    #[error("FLAC: {0}")]
    Encoder(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn enc<E: std::fmt::Debug>(e: E) -> FlacError {
    FlacError::Encoder(format!("{e:?}"))
}

/// A stereo FLAC file being written. Samples are integers at `bits` (16 or 24).
pub struct FlacWriter {
    out: BufWriter<File>,
    config: flacenc::error::Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    framebuf: FrameBuf,
    pending: Vec<i32>,
    frame_number: usize,
    md5: Md5,
    bits: usize,
    total_frames: u64,
}

impl FlacWriter {
    pub fn create(path: &Path, sample_rate_hz: u32, bits: u32) -> Result<Self, FlacError> {
        let bits = bits as usize;
        let mut info = StreamInfo::new(sample_rate_hz as usize, 2, bits).map_err(enc)?;
        // Valid placeholders (flacenc's own are out of range and fail its debug checks).
        info.set_block_sizes(FLAC_BLOCK, FLAC_BLOCK).map_err(enc)?;
        info.set_frame_sizes(0, 0).map_err(enc)?;
        let config = flacenc::config::Encoder::default()
            .into_verified()
            .map_err(|(_, e)| enc(e))?;
        let mut out = BufWriter::new(File::create(path)?);
        write_header(&mut out, &info)?;
        Ok(Self {
            out,
            config,
            info,
            framebuf: FrameBuf::with_size(2, FLAC_BLOCK).map_err(enc)?,
            pending: Vec::with_capacity(2 * FLAC_BLOCK),
            frame_number: 0,
            md5: Md5::new(),
            bits,
            total_frames: 0,
        })
    }

    /// Bits per sample.
    pub fn bits(&self) -> u32 {
        self.bits as u32
    }

    /// Adds stereo frames of integer samples.
    pub fn write(&mut self, left: &[i32], right: &[i32]) -> Result<(), FlacError> {
        let bytes_per_sample = self.bits / 8;
        for (&l, &r) in left.iter().zip(right) {
            for v in [l, r] {
                self.md5.update(&v.to_le_bytes()[..bytes_per_sample]);
                self.pending.push(v);
            }
            if self.pending.len() == 2 * FLAC_BLOCK {
                self.flush_frame()?;
            }
        }
        self.total_frames += left.len() as u64;
        Ok(())
    }

    fn flush_frame(&mut self) -> Result<(), FlacError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.framebuf.fill_interleaved(&self.pending).map_err(enc)?;
        let frame = flacenc::encode_fixed_size_frame(
            &self.config,
            &self.framebuf,
            self.frame_number,
            &self.info,
        )
        .map_err(enc)?;
        self.info.update_frame_info(&frame);
        let mut sink = MemSink::<u8>::with_capacity(frame.count_bits());
        frame.write(&mut sink).map_err(enc)?;
        self.out.write_all(sink.as_slice())?;
        self.frame_number += 1;
        self.pending.clear();
        Ok(())
    }

    /// Writes the last frame and the final STREAMINFO.
    pub fn finish(mut self) -> Result<(), FlacError> {
        self.flush_frame()?;
        let digest: [u8; 16] = self.md5.finalize().into();
        self.info.set_md5_digest(&digest);
        self.out.seek(SeekFrom::Start(0))?;
        write_header(&mut self.out, &self.info)?;
        // min_block_size (STREAMINFO bytes 8–9, big-endian) excludes the last block in the
        // FLAC format; flacenc counts it. With more than one frame every block but the last
        // has FLAC_BLOCK samples.
        if self.frame_number > 1 {
            self.out.seek(SeekFrom::Start(8))?;
            self.out.write_all(&(FLAC_BLOCK as u16).to_be_bytes())?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// Bytes of the PADDING block after STREAMINFO: room for tags (as libFLAC leaves), so a tag
/// writer fills it instead of rewriting the file.
const PADDING_BYTES: usize = 1024;

/// "fLaC", the STREAMINFO block (42 bytes in all) and a PADDING block (fixed size).
fn write_header(out: &mut impl Write, info: &StreamInfo) -> Result<(), FlacError> {
    let stream = Stream::with_stream_info(info.clone());
    let mut sink = MemSink::<u8>::new();
    stream.write(&mut sink).map_err(enc)?;
    let mut header = sink.as_slice().to_vec();
    // flacenc marks STREAMINFO as the last metadata block; the padding follows it. (A tag
    // writer that inserts a block after a "last" STREAMINFO produces an unreadable file:
    // lofty 0.22 does.)
    header[4] &= 0x7F;
    header.push(0x80 | 1); // last block, type 1 = PADDING
    header.extend_from_slice(&(PADDING_BYTES as u32).to_be_bytes()[1..]);
    header.resize(header.len() + PADDING_BYTES, 0);
    out.write_all(&header)?;
    Ok(())
}

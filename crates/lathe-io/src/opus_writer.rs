//! Opus in an Ogg file (`.opus`, RFC 7845), encoded by libopus (crate `opus`, linked to the
//! system's libopus) and paged by the `ogg` crate.
//!
//! Settings: the "audio" application (music, full band), complexity 10 (the best; Opus is
//! fast enough that the render, not the encoder, sets the pace), unconstrained VBR at the
//! bitrate asked for (libopus spends more bits where the music needs them and averages out
//! at the target), 20 ms frames.
//!
//! Gapless: the header's pre-skip is the encoder's lookahead, and the last page's granule
//! position ends the stream at exactly the frames written; decoders cut both.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels, Encoder};

/// Ogg Opus always decodes at 48 kHz; lathe delivers it at that rate.
pub const OPUS_RATE_HZ: u32 = 48_000;
/// 20 ms at 48 kHz.
const FRAME: usize = 960;
/// The largest packet libopus writes (RFC 6716: 1275 bytes per frame).
const MAX_PACKET: usize = 1500;
const SERIAL: u32 = 0x6c61_7468; // "lath"

pub struct OpusWriter {
    pages: PacketWriter<'static, BufWriter<File>>,
    encoder: Encoder,
    pre_skip: u64,
    /// Input frames so far.
    frames_in: u64,
    /// Frames handed to the encoder so far (input and the closing silence).
    frames_encoded: u64,
    /// Interleaved samples waiting for a whole frame.
    pending: Vec<f32>,
    packet: Vec<u8>,
    /// The packet held back until the next, so that the last one can end the stream.
    held: Option<Vec<u8>>,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("Opus: {e}")
}

impl OpusWriter {
    /// `comments`: Vorbis comments (name, value), written in the comment header.
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        bitrate_kbps: u32,
        comments: &[(String, String)],
    ) -> Result<Self, String> {
        if sample_rate_hz != OPUS_RATE_HZ {
            return Err(format!("{sample_rate_hz} Hz: Opus is made at 48 kHz"));
        }
        let mut encoder =
            Encoder::new(OPUS_RATE_HZ, Channels::Stereo, Application::Audio).map_err(err)?;
        encoder
            .set_bitrate(Bitrate::Bits(bitrate_kbps as i32 * 1000))
            .map_err(err)?;
        encoder.set_complexity(10).map_err(err)?;
        encoder.set_vbr(true).map_err(err)?;
        encoder.set_vbr_constraint(false).map_err(err)?;
        let pre_skip = encoder.get_lookahead().map_err(err)?.max(0) as u64;
        let file = BufWriter::new(File::create(path).map_err(|e| e.to_string())?);
        let mut pages = PacketWriter::new(file);
        let io = |e: std::io::Error| e.to_string();
        pages
            .write_packet(
                head(pre_skip as u16),
                SERIAL,
                PacketWriteEndInfo::EndPage,
                0,
            )
            .map_err(io)?;
        pages
            .write_packet(
                comment_header(comments),
                SERIAL,
                PacketWriteEndInfo::EndPage,
                0,
            )
            .map_err(io)?;
        Ok(Self {
            pages,
            encoder,
            pre_skip,
            frames_in: 0,
            frames_encoded: 0,
            pending: Vec::with_capacity(4 * FRAME),
            packet: vec![0; MAX_PACKET],
            held: None,
        })
    }

    /// Encodes stereo frames (floats, full scale ±1).
    pub fn write(&mut self, left: &[f64], right: &[f64]) -> Result<(), String> {
        for (&l, &r) in left.iter().zip(right) {
            self.pending.push(l as f32);
            self.pending.push(r as f32);
            if self.pending.len() == 2 * FRAME {
                self.encode_pending()?;
            }
        }
        self.frames_in += left.len().min(right.len()) as u64;
        Ok(())
    }

    fn encode_pending(&mut self) -> Result<(), String> {
        self.pending.resize(2 * FRAME, 0.0);
        let n = self
            .encoder
            .encode_float(&self.pending, &mut self.packet)
            .map_err(err)?;
        self.pending.clear();
        self.frames_encoded += FRAME as u64;
        let packet = self.packet[..n].to_vec();
        if let Some(prev) = self.held.replace(packet) {
            // Its granule position: the frames decoded through it, pre-skip included.
            let granule = self.pre_skip + self.frames_encoded - FRAME as u64;
            self.pages
                .write_packet(prev, SERIAL, PacketWriteEndInfo::NormalPacket, granule)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Encodes the last partial frame and enough silence to push the encoder's lookahead
    /// out, and ends the stream at the input's length.
    pub fn finish(mut self) -> Result<(), String> {
        let needed = self.frames_in + self.pre_skip;
        if !self.pending.is_empty() {
            self.encode_pending()?;
        }
        while self.frames_encoded < needed || self.held.is_none() {
            self.encode_pending()?;
        }
        let last = self.held.take().expect("at least one packet");
        self.pages
            .write_packet(last, SERIAL, PacketWriteEndInfo::EndStream, needed)
            .map_err(|e| e.to_string())?;
        let mut file = self.pages.into_inner();
        file.flush().map_err(|e| e.to_string())
    }
}

/// The identification header (RFC 7845 §5.1): version 1, stereo, mapping family 0.
fn head(pre_skip: u16) -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1);
    h.push(2);
    h.extend_from_slice(&pre_skip.to_le_bytes());
    h.extend_from_slice(&OPUS_RATE_HZ.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain
    h.push(0);
    h
}

/// The comment header (RFC 7845 §5.2): the vendor string and `NAME=value` per comment.
fn comment_header(comments: &[(String, String)]) -> Vec<u8> {
    let vendor = format!("lathe, {}", opus::version());
    let mut c = b"OpusTags".to_vec();
    c.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    c.extend_from_slice(vendor.as_bytes());
    c.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for (name, value) in comments {
        let entry = format!("{name}={value}");
        c.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        c.extend_from_slice(entry.as_bytes());
    }
    c
}

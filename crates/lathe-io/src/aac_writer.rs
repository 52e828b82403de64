//! AAC-LC in an MPEG-4 audio file (`.m4a`), encoded by the Fraunhofer FDK AAC library
//! (`fdk_aac.rs`) at a constant bitrate with the afterburner on, muxed by `mp4_audio.rs`.
//!
//! Why FDK: of the AAC encoders that can be linked as a library, it is the one listening
//! tests rank with Apple's; ffmpeg's native encoder needs libavcodec and its bindings (a far
//! heavier build) and is rated below it at the same bitrate. Its licence (the "Software
//! License for The Fraunhofer FDK AAC Codec Library") allows use and redistribution in
//! source and binary form; it is not GPL-compatible, which does not bind lathe (MIT/Apache).
//!
//! FDK takes 16-bit input: the float samples are TPDF-dithered to 16 bits first (the
//! dither's noise lies some 80 dB under the codec's own at any bitrate offered).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::fdk_aac::{FdkEncoder, FdkSettings};
use crate::mp4_audio::{self, TrackFacts};

/// The sample rates offered: those of music distribution.
pub const AAC_RATES: [u32; 3] = [32_000, 44_100, 48_000];

pub struct AacWriter {
    out: BufWriter<File>,
    encoder: FdkEncoder,
    rate_hz: u32,
    bitrate_bps: u32,
    data_offset: u64,
    data_len: u64,
    sizes: Vec<u32>,
    frames_in: u64,
    /// Interleaved 16-bit samples waiting for a whole access unit.
    pending: Vec<i16>,
    unit: Vec<u8>,
    dither: Tpdf,
    tags: Vec<(String, String)>,
}

impl AacWriter {
    /// `tags`: (name, value) as Vorbis comments name them; they go into the movie box.
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        bitrate_kbps: u32,
        tags: &[(String, String)],
    ) -> Result<Self, String> {
        if !AAC_RATES.contains(&sample_rate_hz) {
            return Err(format!(
                "{sample_rate_hz} Hz: AAC is made at 32, 44.1 or 48 kHz"
            ));
        }
        let bitrate_bps = bitrate_kbps * 1000;
        let encoder = FdkEncoder::new(&FdkSettings {
            sample_rate_hz,
            bitrate_bps,
        })?;
        let mut out = BufWriter::new(File::create(path).map_err(|e| e.to_string())?);
        let data_offset = mp4_audio::start(&mut out).map_err(|e| e.to_string())?;
        let unit = vec![0; encoder.info().max_out_bytes.max(8192)];
        Ok(Self {
            out,
            encoder,
            rate_hz: sample_rate_hz,
            bitrate_bps,
            data_offset,
            data_len: 0,
            sizes: Vec::new(),
            frames_in: 0,
            pending: Vec::new(),
            unit,
            dither: Tpdf::new(),
            tags: tags.to_vec(),
        })
    }

    /// Encodes stereo frames (floats, full scale ±1).
    pub fn write(&mut self, left: &[f64], right: &[f64]) -> Result<(), String> {
        for (&l, &r) in left.iter().zip(right) {
            self.pending.push(self.dither.quantise(l));
            self.pending.push(self.dither.quantise(r));
        }
        self.frames_in += left.len().min(right.len()) as u64;
        let whole = 2 * self.encoder.info().frame_len as usize;
        let mut taken = 0;
        while self.pending.len() - taken >= whole {
            let step = self
                .encoder
                .encode(Some(&self.pending[taken..taken + whole]), &mut self.unit)?;
            self.store(step.written)?;
            taken += step.consumed;
            if step.consumed == 0 {
                break;
            }
        }
        self.pending.drain(..taken);
        Ok(())
    }

    fn store(&mut self, written: usize) -> Result<(), String> {
        if written > 0 {
            self.out
                .write_all(&self.unit[..written])
                .map_err(|e| e.to_string())?;
            self.sizes.push(written as u32);
            self.data_len += written as u64;
        }
        Ok(())
    }

    /// Encodes what is left, empties the encoder, and writes the movie box.
    pub fn finish(mut self) -> Result<(), String> {
        let rest = std::mem::take(&mut self.pending);
        let mut at = 0;
        while at < rest.len() {
            let step = self.encoder.encode(Some(&rest[at..]), &mut self.unit)?;
            self.store(step.written)?;
            at += step.consumed;
            if step.consumed == 0 && step.written == 0 {
                break;
            }
        }
        loop {
            let step = self.encoder.encode(None, &mut self.unit)?;
            self.store(step.written)?;
            if step.done || step.written == 0 {
                break;
            }
        }
        let info = self.encoder.info();
        let moov = mp4_audio::moov(&TrackFacts {
            sample_rate_hz: self.rate_hz,
            channels: 2,
            frame_len: info.frame_len,
            audio_specific_config: &info.audio_specific_config,
            sizes: &self.sizes,
            delay: info.delay,
            frames: self.frames_in,
            data_offset: self.data_offset,
            avg_bitrate_bps: self.bitrate_bps,
            tags: &self.tags,
        })
        .map_err(|e| e.to_string())?;
        let io = |e: std::io::Error| e.to_string();
        mp4_audio::finish_mdat(&mut self.out, self.data_offset, self.data_len).map_err(io)?;
        self.out.write_all(&moov).map_err(io)?;
        self.out.flush().map_err(io)
    }
}

/// Triangular dither to 16 bits from a small xorshift generator (the same sequence every
/// run, so a render is reproducible).
struct Tpdf {
    state: u64,
}

impl Tpdf {
    fn new() -> Self {
        Tpdf {
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn uniform(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    fn quantise(&mut self, v: f64) -> i16 {
        let scaled = v * 32768.0 + self.uniform() + self.uniform();
        scaled.round().clamp(-32768.0, 32767.0) as i16
    }
}

//! Deliverables: WAV files written under a temporary name and renamed when complete.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use lathe_dsp::dither::{DitherKind, Quantizer};
use serde::Serialize;

/// What to deliver.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliverSpec {
    pub format: String,
    /// 16, 24, or 32 (32 = 32-bit float).
    pub bits: u32,
    pub sample_rate_hz: Option<u32>,
    pub dither: DitherKind,
}

impl DeliverSpec {
    /// Parses `wav:24`, `wav:16@44100`, `wav:32`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (main, rate) = match spec.split_once('@') {
            Some((m, r)) => (
                m,
                Some(
                    r.parse::<u32>()
                        .map_err(|_| format!("--deliver {spec}: bad sample rate '{r}'"))?,
                ),
            ),
            None => (spec, None),
        };
        let (format, bits) = match main.split_once(':') {
            Some((f, b)) => (
                f,
                b.parse::<u32>()
                    .map_err(|_| format!("--deliver {spec}: bad bit depth '{b}'"))?,
            ),
            None => (main, 24),
        };
        if format != "wav" {
            return Err(format!(
                "--deliver {spec}: format '{format}' is not available yet (wav only)"
            ));
        }
        if !matches!(bits, 16 | 24 | 32) {
            return Err(format!(
                "--deliver {spec}: wav bits must be 16, 24 or 32 (float)"
            ));
        }
        let dither = if bits == 16 {
            DitherKind::TpdfShaped
        } else if bits == 24 {
            DitherKind::Tpdf
        } else {
            DitherKind::None
        };
        Ok(Self {
            format: format.into(),
            bits,
            sample_rate_hz: rate,
            dither,
        })
    }

    /// File name for a master of `stem` at `rate_hz`.
    pub fn file_name(&self, stem: &str, rate_hz: u32) -> String {
        // 44100 → "44k1", 48000 → "48k", 88200 → "88k2".
        let (k, tenths) = (rate_hz / 1000, (rate_hz % 1000) / 100);
        let rate = if tenths == 0 {
            format!("{k}k")
        } else {
            format!("{k}k{tenths}")
        };
        let bits = if self.bits == 32 {
            "32f".to_string()
        } else {
            format!("{}b", self.bits)
        };
        format!("{stem}_master_{rate}_{bits}.wav")
    }
}

/// A WAV being written under `<final>.part`.
pub struct WavWriter {
    writer: hound::WavWriter<BufWriter<File>>,
    quantizers: Option<[Quantizer; 2]>,
    bits: u32,
    part: PathBuf,
    path: PathBuf,
}

/// The seed of the dither generator (reported, so a render can be reproduced bit for bit).
pub const DITHER_SEED: u64 = 0x1A7E;

impl WavWriter {
    pub fn create(path: &Path, spec: &DeliverSpec, rate_hz: u32) -> std::io::Result<Self> {
        let part = path.with_extension("wav.part");
        let wav_spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate_hz,
            bits_per_sample: spec.bits as u16,
            sample_format: if spec.bits == 32 {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let writer = hound::WavWriter::create(&part, wav_spec).map_err(std::io::Error::other)?;
        let quantizers = (spec.bits != 32).then(|| {
            [
                Quantizer::new(spec.bits, spec.dither, DITHER_SEED),
                Quantizer::new(spec.bits, spec.dither, DITHER_SEED ^ 0x5555),
            ]
        });
        Ok(Self {
            writer,
            quantizers,
            bits: spec.bits,
            part,
            path: path.to_owned(),
        })
    }

    pub fn write(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()> {
        let scale = 2f64.powi(self.bits as i32 - 1);
        for (&a, &b) in l.iter().zip(r) {
            match &mut self.quantizers {
                Some([ql, qr]) => {
                    let (x, y) = (ql.tick(a), qr.tick(b));
                    self.writer
                        .write_sample((x * scale) as i32)
                        .map_err(std::io::Error::other)?;
                    self.writer
                        .write_sample((y * scale) as i32)
                        .map_err(std::io::Error::other)?;
                }
                None => {
                    self.writer
                        .write_sample(a as f32)
                        .map_err(std::io::Error::other)?;
                    self.writer
                        .write_sample(b as f32)
                        .map_err(std::io::Error::other)?;
                }
            }
        }
        Ok(())
    }

    /// Finishes the file and renames it to its final name.
    pub fn finish(self) -> std::io::Result<PathBuf> {
        self.writer.finalize().map_err(std::io::Error::other)?;
        std::fs::rename(&self.part, &self.path)?;
        Ok(self.path)
    }

    /// Abandons the file (removes the partial file).
    pub fn discard(self) {
        drop(self.writer);
        let _ = std::fs::remove_file(&self.part);
    }
}

//! One interface for every format's writer: the engine hands blocks to an [`Encoder`] and
//! never names a format's writer itself. [`open`] is the one place that maps a [`Format`]
//! to its writer (`wav_writer.rs`, `flac_writer.rs`, `mp3_writer.rs`, `aac_writer.rs`,
//! `opus_writer.rs`, one file each); a new
//! format is a new writer file, an arm of [`Format`] and an arm here.

use std::path::Path;

pub use crate::encoder_trait::{Encoder, Input};

use crate::aac_writer::AacWriter;
use crate::background::Background;
use crate::flac_writer::FlacWriter;
use crate::format::Format;
use crate::mp3_writer::Mp3Writer;
use crate::opus_writer::OpusWriter;
use crate::wav_writer::{PcmWavWriter, WavSampleFormat};

/// How to encode: the format and what it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderSettings {
    pub format: Format,
    pub sample_rate_hz: u32,
    /// Lossless formats: 16, 24, or 32 (float, WAV only).
    pub bits: u32,
    /// Lossy formats: bitrate, kbit/s.
    pub bitrate_kbps: Option<u32>,
}

/// Creates `path` and the encoder that writes `settings.format` into it. Every format but
/// WAV (which only copies samples) encodes on a thread of its own ([`Background`]), beside
/// whatever feeds it.
pub fn open(path: &Path, settings: EncoderSettings) -> std::io::Result<Box<dyn Encoder>> {
    open_with_header(path, settings, &HeaderTags::default())
}

/// Tags an encoder writes into the file's own header, so that tagging never has to move the
/// encoded audio afterwards (a WAV's go after the audio: [`crate::wav_tags`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderTags {
    /// An MP3's ID3v2 tag, the bytes before its first frame.
    pub id3v2: Vec<u8>,
    /// Vorbis comments (name, value): FLAC's VORBIS_COMMENT block, Opus's comment header,
    /// AAC's iTunes items in the movie box (TITLE, ARTIST, and others by name).
    pub comments: Vec<(String, String)>,
}

/// As [`open`], with `tags` in the file's header. A format that takes none of the kinds given
/// is refused (tags would be lost).
pub fn open_with_header(
    path: &Path,
    settings: EncoderSettings,
    tags: &HeaderTags,
) -> std::io::Result<Box<dyn Encoder>> {
    let takes = match settings.format {
        Format::Mp3 => tags.comments.is_empty(),
        Format::Flac | Format::Opus | Format::Aac => tags.id3v2.is_empty(),
        Format::Wav => *tags == HeaderTags::default(),
    };
    if !takes {
        return Err(other(format!(
            "{} files do not take these header tags (an internal error of lathe)",
            settings.format.name()
        )));
    }
    let inner = open_here(path, settings, tags)?;
    match settings.format {
        Format::Wav => Ok(inner),
        _ => Ok(Box::new(Background::spawn(inner)?)),
    }
}

/// The format's writer itself, on the caller's thread.
fn open_here(
    path: &Path,
    settings: EncoderSettings,
    tags: &HeaderTags,
) -> std::io::Result<Box<dyn Encoder>> {
    let rate = settings.sample_rate_hz;
    Ok(match settings.format {
        Format::Wav => {
            let sample = match settings.bits {
                16 => WavSampleFormat::Int16,
                24 => WavSampleFormat::Int24,
                32 => WavSampleFormat::Float32,
                b => return Err(other(format!("WAV at {b} bits is not supported"))),
            };
            Box::new(PcmWavWriter::create(path, rate, sample)?)
        }
        Format::Flac => {
            Box::new(FlacWriter::create(path, rate, settings.bits, &tags.comments).map_err(other)?)
        }
        Format::Mp3 => {
            let kbps = settings.bitrate_kbps.unwrap_or(320);
            Box::new(Mp3Writer::create(path, rate, kbps, &tags.id3v2).map_err(other)?)
        }
        Format::Aac => {
            let kbps = settings
                .bitrate_kbps
                .unwrap_or(Format::Aac.default_bitrate_kbps());
            Box::new(AacWriter::create(path, rate, kbps, &tags.comments).map_err(other)?)
        }
        Format::Opus => {
            let kbps = settings
                .bitrate_kbps
                .unwrap_or(Format::Opus.default_bitrate_kbps());
            Box::new(OpusWriter::create(path, rate, kbps, &tags.comments).map_err(other)?)
        }
    })
}

pub(crate) fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Refuses a block of the kind an encoder does not take (a caller's mistake).
pub(crate) fn wrong_input(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("this encoder takes no {what} samples"),
    )
}

impl Encoder for PcmWavWriter {
    fn input(&self) -> Input {
        match self.sample_format() {
            WavSampleFormat::Int16 => Input::Int { bits: 16 },
            WavSampleFormat::Int24 => Input::Int { bits: 24 },
            WavSampleFormat::Float32 => Input::Float,
        }
    }
    fn write_int(&mut self, l: &[i32], r: &[i32]) -> std::io::Result<()> {
        match self.input() {
            Input::Int { .. } => PcmWavWriter::write_int(self, l, r),
            Input::Float => Err(wrong_input("integer")),
        }
    }
    fn write_float(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()> {
        match self.input() {
            Input::Float => PcmWavWriter::write_float(self, l, r),
            Input::Int { .. } => Err(wrong_input("float")),
        }
    }
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        PcmWavWriter::finish(*self)
    }
}

impl Encoder for FlacWriter {
    fn input(&self) -> Input {
        Input::Int { bits: self.bits() }
    }
    fn write_int(&mut self, l: &[i32], r: &[i32]) -> std::io::Result<()> {
        FlacWriter::write(self, l, r).map_err(other)
    }
    fn write_float(&mut self, _: &[f64], _: &[f64]) -> std::io::Result<()> {
        Err(wrong_input("float"))
    }
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        FlacWriter::finish(*self).map_err(other)
    }
}

/// The float-fed lossy writers: the trait's methods are their own.
macro_rules! float_encoder {
    ($writer:ty) => {
        impl Encoder for $writer {
            fn input(&self) -> Input {
                Input::Float
            }
            fn write_int(&mut self, _: &[i32], _: &[i32]) -> std::io::Result<()> {
                Err(wrong_input("integer"))
            }
            fn write_float(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()> {
                <$writer>::write(self, l, r).map_err(other)
            }
            fn finish(self: Box<Self>) -> std::io::Result<()> {
                <$writer>::finish(*self).map_err(other)
            }
        }
    };
}

float_encoder!(Mp3Writer);
float_encoder!(AacWriter);
float_encoder!(OpusWriter);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every format writes a second of a 1 kHz tone through the trait, and the file decodes
    /// back (by symphonia) to as many frames, at the rate asked for.
    #[test]
    fn every_format_encodes_through_the_trait_and_decodes_back() {
        let dir = tempfile::tempdir().unwrap();
        for format in Format::ALL {
            let rate = format.only_rate_hz().unwrap_or(44_100);
            let l: Vec<f64> = (0..rate)
                .map(|n| 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / rate as f64).sin())
                .collect();
            let bits = format.bit_depths().first().copied().unwrap_or(0);
            let path = dir.path().join(format!("tone.{}", format.extension()));
            let settings = EncoderSettings {
                format,
                sample_rate_hz: rate,
                bits,
                bitrate_kbps: format.is_lossy().then_some(192),
            };
            let mut e = open(&path, settings).unwrap();
            for block in l.chunks(4096) {
                match e.input() {
                    Input::Float => {
                        e.write_float(block, block).unwrap();
                        assert!(e.write_int(&[0], &[0]).is_err(), "{format}");
                    }
                    Input::Int { bits } => {
                        let scale = 2f64.powi(bits as i32 - 1);
                        let ints: Vec<i32> = block.iter().map(|v| (v * scale) as i32).collect();
                        e.write_int(&ints, &ints).unwrap();
                        assert!(e.write_float(&[0.0], &[0.0]).is_err(), "{format}");
                    }
                }
            }
            e.finish().unwrap();
            let mut d = crate::Decoder::open(&path).unwrap();
            assert_eq!(d.info().sample_rate_hz, rate, "{format}");
            let mut frames = 0u64;
            while let Some(block) = d.next_block().unwrap() {
                frames += block[0].len() as u64;
            }
            if format == Format::Aac {
                // symphonia ignores MPEG-4 edit lists: it hands out the encoder's 2048
                // priming samples and the last access unit's padding as well.
                assert!(
                    (rate as u64 + 2048..rate as u64 + 2048 + 1024).contains(&frames),
                    "{format}: {frames}"
                );
            } else {
                assert_eq!(frames, rate as u64, "{format}");
            }
        }
    }
}

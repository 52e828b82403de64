//! MP3 encoding with LAME (mp3lame-encoder, which builds the bundled LAME 3.100; LGPL-3.0,
//! statically linked). CBR, joint stereo, LAME's algorithm quality 3 (`-q 3`, LAME's own
//! default, what `lame -b 320` and ffmpeg's libmp3lame deliver). Quality 2 (`-h`) took 1.6x
//! the time (4.6 s against 2.9 s for a 3-minute track, `lame -q 2|3 -b 320`) for no
//! measurable gain at 320 kbps: the decoded residual was −40.1 dB (q2) and −41.2 dB (q3)
//! under the signal (docs/BENCHMARKS.md §3h).
//!
//! Gapless playback: LAME writes a Xing/LAME tag frame at the start of the stream holding the
//! encoder delay and padding; it is only complete once encoding has finished, so the first
//! bytes of the file are rewritten at the end (`lame_tag_encode`). Without it a decoder plays
//! about a thousand extra frames (measured: 480 001 frames came back as 480 384).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use mp3lame_encoder::{Bitrate, Builder, DualPcm, Encoder, FlushGap, Mode, Quality};

#[derive(Debug, thiserror::Error)]
pub enum Mp3Error {
    #[error("MP3: {0}")]
    Encoder(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn enc<E: std::fmt::Debug>(e: E) -> Mp3Error {
    Mp3Error::Encoder(format!("{e:?}"))
}

/// The sample rates MPEG-1 Layer III encodes without resampling.
pub const MP3_RATES: [u32; 3] = [32000, 44100, 48000];

fn bitrate(kbps: u32) -> Result<Bitrate, Mp3Error> {
    Ok(match kbps {
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        other => {
            return Err(Mp3Error::Encoder(format!(
                "bitrate {other} kbps not offered (128, 160, 192, 224, 256, 320)"
            )))
        }
    })
}

pub struct Mp3Writer {
    out: BufWriter<File>,
    encoder: Encoder,
    buf: Vec<u8>,
    /// Where the first frame (LAME's tag frame, rewritten at the end) starts.
    audio_start: u64,
}

impl Mp3Writer {
    /// `header`: bytes before the first frame (an ID3v2 tag), or none.
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        bitrate_kbps: u32,
        header: &[u8],
    ) -> Result<Self, Mp3Error> {
        if !MP3_RATES.contains(&sample_rate_hz) {
            return Err(Mp3Error::Encoder(format!(
                "{sample_rate_hz} Hz: MP3 needs 32, 44.1 or 48 kHz"
            )));
        }
        let mut b =
            Builder::new().ok_or_else(|| Mp3Error::Encoder("LAME could not start".into()))?;
        b.set_num_channels(2).map_err(enc)?;
        b.set_sample_rate(sample_rate_hz).map_err(enc)?;
        b.set_brate(bitrate(bitrate_kbps)?).map_err(enc)?;
        b.set_mode(Mode::JointStereo).map_err(enc)?;
        b.set_quality(Quality::VeryNice).map_err(enc)?;
        b.set_to_write_vbr_tag(true).map_err(enc)?;
        let encoder = b.build().map_err(enc)?;
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(header)?;
        Ok(Self {
            out,
            encoder,
            buf: Vec::new(),
            audio_start: header.len() as u64,
        })
    }

    /// Encodes stereo frames (floats, full scale ±1).
    pub fn write(&mut self, left: &[f64], right: &[f64]) -> Result<(), Mp3Error> {
        self.buf.clear();
        self.buf
            .reserve(mp3lame_encoder::max_required_buffer_size(left.len()));
        self.encoder
            .encode_to_vec(DualPcm { left, right }, &mut self.buf)
            .map_err(enc)?;
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    /// Flushes the encoder and writes the LAME tag over the reserved first frame.
    pub fn finish(mut self) -> Result<(), Mp3Error> {
        self.buf.clear();
        self.buf.reserve(7200);
        self.encoder
            .flush_to_vec::<FlushGap>(&mut self.buf)
            .map_err(enc)?;
        self.out.write_all(&self.buf)?;
        let mut tag = Vec::with_capacity(self.encoder.lame_tag_size());
        if self.encoder.lame_tag_encode_to_vec(&mut tag).is_some() {
            self.out.seek(SeekFrom::Start(self.audio_start))?;
            self.out.write_all(&tag)?;
        }
        self.out.flush()?;
        Ok(())
    }
}

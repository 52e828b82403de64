//! A streaming stereo WAV writer for 16- and 24-bit integer and 32-bit float PCM.
//!
//! Why not hound's writer: it writes one sample per call through a generic path, about 5 ns per
//! sample, which made it the largest single cost of a master render after the limiter. This
//! one packs a whole block into bytes and writes it at once. The header follows what hound and
//! most tools write: plain PCM (format 1) for 16 bits, `WAVE_FORMAT_EXTENSIBLE` with the PCM
//! or IEEE-float sub-format for 24 and 32 bits (Microsoft's rule for more than 16 bits).
//! Sizes are patched in [`PcmWavWriter::finish`]; more than 4 GiB of audio is refused with an
//! error (RIFF's size fields are 32-bit).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// Sample encoding of a [`PcmWavWriter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavSampleFormat {
    Int16,
    Int24,
    Float32,
}

impl WavSampleFormat {
    fn bytes(self) -> usize {
        match self {
            Self::Int16 => 2,
            Self::Int24 => 3,
            Self::Float32 => 4,
        }
    }
}

/// The largest header [`PcmWavWriter`] writes (RIFF, an extensible `fmt ` chunk, the `data`
/// chunk's id and size), bytes.
const HEADER_MAX_BYTES: u64 = 68;

/// The most stereo frames of `bits`-bit samples (16, 24, or 32 for float) that one WAV file
/// holds: RIFF's sizes are 32-bit, so a file ends at 4 GiB.
pub fn max_stereo_frames(bits: u32) -> u64 {
    (u64::from(u32::MAX) - HEADER_MAX_BYTES) / (2 * u64::from(bits.div_ceil(8)))
}

const KSDATAFORMAT_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

pub struct PcmWavWriter {
    out: BufWriter<File>,
    format: WavSampleFormat,
    /// Offset of the data chunk's size field.
    data_size_at: u64,
    data_bytes: u64,
    bytes: Vec<u8>,
}

impl PcmWavWriter {
    pub fn create(
        path: &Path,
        sample_rate_hz: u32,
        format: WavSampleFormat,
    ) -> std::io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        let block_align = 2 * format.bytes() as u16;
        let bits = 8 * format.bytes() as u16;
        let extensible = format != WavSampleFormat::Int16;
        let fmt_len: u32 = if extensible { 40 } else { 16 };
        let mut h = Vec::with_capacity(80);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes()); // patched
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&fmt_len.to_le_bytes());
        h.extend_from_slice(&(if extensible { 0xFFFEu16 } else { 1 }).to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&sample_rate_hz.to_le_bytes());
        h.extend_from_slice(&(sample_rate_hz * block_align as u32).to_le_bytes());
        h.extend_from_slice(&block_align.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        if extensible {
            h.extend_from_slice(&22u16.to_le_bytes()); // cbSize
            h.extend_from_slice(&bits.to_le_bytes()); // valid bits
            h.extend_from_slice(&3u32.to_le_bytes()); // front left | front right
            let sub: u16 = if format == WavSampleFormat::Float32 {
                3
            } else {
                1
            };
            h.extend_from_slice(&sub.to_le_bytes());
            h.extend_from_slice(&KSDATAFORMAT_TAIL);
        }
        h.extend_from_slice(b"data");
        let data_size_at = h.len() as u64;
        h.extend_from_slice(&0u32.to_le_bytes()); // patched
        out.write_all(&h)?;
        Ok(Self {
            out,
            format,
            data_size_at,
            data_bytes: 0,
            bytes: Vec::new(),
        })
    }

    fn check_size(&self, more: usize) -> std::io::Result<()> {
        if self.data_size_at + 4 + self.data_bytes + more as u64 > u32::MAX as u64 {
            return Err(std::io::Error::other(
                "a WAV file holds at most 4 GiB of audio; deliver FLAC for longer masters",
            ));
        }
        Ok(())
    }

    /// The sample format it writes.
    pub fn sample_format(&self) -> WavSampleFormat {
        self.format
    }

    /// Writes integer frames (values in the format's range; 16 or 24 bits).
    pub fn write_int(&mut self, l: &[i32], r: &[i32]) -> std::io::Result<()> {
        let width = self.format.bytes();
        assert!(width < 4, "integer samples need a 16- or 24-bit writer");
        self.check_size(l.len() * 2 * width)?;
        self.bytes.clear();
        self.bytes.resize(l.len() * 2 * width, 0);
        // One fixed-width store per sample (a copy of `width` bytes whose length the compiler
        // does not know becomes a call to memcpy per sample).
        match width {
            2 => interleave::<2>(&mut self.bytes, l, r),
            _ => interleave::<3>(&mut self.bytes, l, r),
        }
        self.data_bytes += self.bytes.len() as u64;
        self.out.write_all(&self.bytes)
    }

    /// Writes float frames (32-bit float writer).
    pub fn write_float(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()> {
        assert_eq!(self.format, WavSampleFormat::Float32);
        self.check_size(l.len() * 8)?;
        self.bytes.clear();
        for (&a, &b) in l.iter().zip(r) {
            self.bytes.extend_from_slice(&(a as f32).to_le_bytes());
            self.bytes.extend_from_slice(&(b as f32).to_le_bytes());
        }
        self.data_bytes += self.bytes.len() as u64;
        self.out.write_all(&self.bytes)
    }

    /// Patches the sizes and flushes to the operating system. Making the file durable
    /// (`sync_data`) is the caller's part: it can overlap that wait with other work.
    pub fn finish(mut self) -> std::io::Result<()> {
        let data = self.data_bytes as u32;
        if data % 2 == 1 {
            self.out.write_all(&[0])?; // pad byte (never with stereo frames, kept for form)
        }
        let riff = (self.data_size_at + 4 + self.data_bytes + (data % 2) as u64 - 8) as u32;
        self.out.seek(SeekFrom::Start(4))?;
        self.out.write_all(&riff.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(self.data_size_at))?;
        self.out.write_all(&data.to_le_bytes())?;
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

/// Frames of `l` and `r` as interleaved little-endian samples of `W` bytes into `out` (its
/// length: `2·W` per frame); each value is cut to its low `W` bytes.
fn interleave<const W: usize>(out: &mut [u8], l: &[i32], r: &[i32]) {
    for ((o, a), b) in out.chunks_exact_mut(2 * W).zip(l).zip(r) {
        let (ol, or) = o.split_at_mut(W);
        ol.copy_from_slice(&a.to_le_bytes()[..W]);
        or.copy_from_slice(&b.to_le_bytes()[..W]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The announced limit is where the writer starts refusing: the last frame that fits is
    /// taken, the next refused (for every format and both header sizes).
    #[test]
    fn max_stereo_frames_is_where_writing_stops() {
        let dir = tempfile::tempdir().unwrap();
        for (format, bits) in [
            (WavSampleFormat::Int16, 16),
            (WavSampleFormat::Int24, 24),
            (WavSampleFormat::Float32, 32),
        ] {
            let path = dir.path().join(format!("{bits}.wav"));
            let mut w = PcmWavWriter::create(&path, 44_100, format).unwrap();
            let frame = 2 * format.bytes();
            w.data_bytes = (max_stereo_frames(bits) - 1) * frame as u64;
            // The 16-bit header is 24 bytes shorter: up to 6 more frames fit there.
            let slack = (HEADER_MAX_BYTES - w.data_size_at - 4) as usize / frame;
            assert!(w.check_size(frame * (1 + slack)).is_ok(), "{bits} bits");
            assert!(w.check_size(frame * (2 + slack)).is_err(), "{bits} bits");
            // 4 GiB: 6 h 46 min of 16-bit 44.1 kHz stereo, 3 h 23 min of 32-bit float.
            let hours = max_stereo_frames(bits) as f64 / 44_100.0 / 3600.0;
            assert!(
                (hours - 13.526 / (bits as f64 / 8.0)).abs() < 0.01,
                "{hours} h"
            );
        }
    }

    /// hound and symphonia (independent readers) read back what was written.
    #[test]
    fn hound_and_symphonia_read_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let l: Vec<i32> = (0..10_000).map(|i| (i * 611 % 65_536) - 32_768).collect();
        let r: Vec<i32> = l.iter().map(|v| -v - 1).collect();
        for (format, bits, scale) in [
            (WavSampleFormat::Int16, 16, 1),
            (WavSampleFormat::Int24, 24, 256),
        ] {
            let path = dir.path().join(format!("{bits}.wav"));
            let mut w = PcmWavWriter::create(&path, 44_100, format).unwrap();
            let (sl, sr): (Vec<i32>, Vec<i32>) = (
                l.iter().map(|v| v * scale).collect(),
                r.iter().map(|v| v * scale).collect(),
            );
            w.write_int(&sl[..3000], &sr[..3000]).unwrap();
            w.write_int(&sl[3000..], &sr[3000..]).unwrap();
            w.finish().unwrap();
            let mut reader = hound::WavReader::open(&path).unwrap();
            assert_eq!(reader.spec().bits_per_sample, bits);
            assert_eq!(reader.spec().sample_rate, 44_100);
            let got: Vec<i32> = reader.samples::<i32>().map(|s| s.unwrap()).collect();
            let want: Vec<i32> = sl.iter().zip(&sr).flat_map(|(&a, &b)| [a, b]).collect();
            assert_eq!(got, want);
            let mut d = crate::Decoder::open(&path).unwrap();
            assert_eq!(d.info().frames_announced, Some(10_000));
            let mut first = None;
            while let Some(block) = d.next_block().unwrap() {
                first.get_or_insert(block[1][5]);
            }
            let full = 2f64.powi(bits as i32 - 1);
            assert!((first.unwrap() - sr[5] as f64 / full).abs() < 1e-9);
        }
        let path = dir.path().join("f.wav");
        let mut w = PcmWavWriter::create(&path, 48_000, WavSampleFormat::Float32).unwrap();
        let x: Vec<f64> = (0..999).map(|i| (i as f64 * 0.01).sin()).collect();
        w.write_float(&x, &x).unwrap();
        w.finish().unwrap();
        let mut reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.spec().sample_format, hound::SampleFormat::Float);
        let got: Vec<f32> = reader.samples::<f32>().map(|s| s.unwrap()).collect();
        assert_eq!(got.len(), 1998);
        assert_eq!(got[301], x[150] as f32);
    }
}

//! A temporary on-disk copy of the master bus before the target gain.
//!
//! The chain before the gain does not depend on the gain, so the passes that search for the
//! gain reaching a loudness target replay this copy instead of decoding, resampling and
//! processing the stems again. It holds interleaved stereo `f32` frames (little-endian): the
//! rounding, about −150 dB below full scale, is far under the 24-bit floor. Memory stays
//! bounded (the copy is streamed through a buffer); disk use is 8 bytes per frame
//! (a 3-minute 44.1 kHz track: 64 MB). The file is removed when the [`BusCache`] is dropped.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::render::block::Lane;
use crate::render::block_source::BlockSource;
use crate::render::pass::RenderError;

/// Bytes per stereo frame.
const FRAME_BYTES: usize = 8;

/// A finished copy, deleted on drop.
#[derive(Debug)]
pub struct BusCache {
    path: PathBuf,
    frames: u64,
}

/// Writes the copy block by block.
pub struct BusCacheWriter {
    path: PathBuf,
    out: BufWriter<File>,
    bytes: Vec<u8>,
    frames: u64,
}

impl BusCacheWriter {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
            bytes: Vec::new(),
            frames: 0,
        })
    }

    pub fn write(&mut self, l: &[f64], r: &[f64]) -> std::io::Result<()> {
        self.bytes.clear();
        for (&a, &b) in l.iter().zip(r) {
            self.bytes.extend_from_slice(&(a as f32).to_le_bytes());
            self.bytes.extend_from_slice(&(b as f32).to_le_bytes());
        }
        self.frames += l.len() as u64;
        self.out.write_all(&self.bytes)
    }

    pub fn finish(self) -> std::io::Result<BusCache> {
        let cache = BusCache {
            path: self.path,
            frames: self.frames,
        };
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(cache)
    }
}

impl BusCache {
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// A reader from the first frame.
    pub fn reader(&self) -> std::io::Result<BusCacheReader> {
        Ok(BusCacheReader {
            input: BufReader::with_capacity(1 << 16, File::open(&self.path)?),
            bytes: Vec::new(),
            left: self.frames,
            frames: self.frames,
        })
    }
}

impl Drop for BusCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Replays a [`BusCache`].
pub struct BusCacheReader {
    input: BufReader<File>,
    bytes: Vec<u8>,
    left: u64,
    frames: u64,
}

impl BusCacheReader {
    /// Moves to frame `frame` (at most the copy's length).
    pub fn seek_to(&mut self, frame: u64) -> std::io::Result<()> {
        let frame = frame.min(self.frames);
        self.input
            .seek(SeekFrom::Start(frame * FRAME_BYTES as u64))?;
        self.left = self.frames - frame;
        Ok(())
    }

    /// Fills the start of `l` and `r` with the next frames; returns how many (0 at the end).
    pub fn read_into(&mut self, l: &mut [f64], r: &mut [f64]) -> std::io::Result<usize> {
        let n = (l.len().min(r.len()) as u64).min(self.left) as usize;
        self.bytes.resize(n * FRAME_BYTES, 0);
        self.input.read_exact(&mut self.bytes)?;
        for (i, frame) in self.bytes.chunks_exact(FRAME_BYTES).enumerate() {
            l[i] = f32::from_le_bytes(frame[..4].try_into().expect("4 bytes")) as f64;
            r[i] = f32::from_le_bytes(frame[4..].try_into().expect("4 bytes")) as f64;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl BlockSource for BusCacheReader {
    fn read(&mut self, lanes: &mut [Lane], len: usize) -> Result<usize, RenderError> {
        let [l, r] = &mut lanes[0];
        Ok(self.read_into(&mut l[..len], &mut r[..len])?)
    }
}

/// Replays one cached bus per lane (the main mix and its locked versions), in lockstep.
pub struct LaneCacheReader(pub Vec<BusCacheReader>);

impl BlockSource for LaneCacheReader {
    fn lanes(&self) -> usize {
        self.0.len()
    }

    fn read(&mut self, lanes: &mut [Lane], len: usize) -> Result<usize, RenderError> {
        let mut n = 0;
        for (reader, [l, r]) in self.0.iter_mut().zip(lanes.iter_mut()) {
            n = reader.read_into(&mut l[..len], &mut r[..len])?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_f32_exact_and_the_file_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus.f32");
        let mut w = BusCacheWriter::create(&path).unwrap();
        let l: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.01).sin()).collect();
        let r: Vec<f64> = (0..5000).map(|i| (i as f64 * 0.013).cos() * 0.5).collect();
        w.write(&l[..3000], &r[..3000]).unwrap();
        w.write(&l[3000..], &r[3000..]).unwrap();
        let cache = w.finish().unwrap();
        assert_eq!(cache.frames(), 5000);
        let mut reader = cache.reader().unwrap();
        let (mut a, mut b) = (vec![0.0; 4096], vec![0.0; 4096]);
        let mut got = Vec::new();
        loop {
            let n = reader.read_into(&mut a, &mut b).unwrap();
            if n == 0 {
                break;
            }
            got.extend(a[..n].iter().zip(&b[..n]).map(|(&x, &y)| (x, y)));
        }
        assert_eq!(got.len(), 5000);
        for (i, (x, y)) in got.into_iter().enumerate() {
            assert_eq!(x, l[i] as f32 as f64);
            assert_eq!(y, r[i] as f32 as f64);
        }
        drop(cache);
        assert!(!path.exists());
    }
}

//! WAV files whose RIFF or data chunk size is 0: streaming writers (and crashed recorders)
//! write the header before they know the length and never come back to fill it in.
//!
//! symphonia reads a size of 0xFFFFFFFF as "unknown, up to the end of the file" but rejects 0.
//! [`PatchedFile`] presents such a file to the decoder with those size fields read as
//! 0xFFFFFFFF; the file itself is never modified.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// Byte offsets of size fields that read as 0 although audio data follows.
pub fn zero_size_fields(file: &mut File) -> io::Result<Vec<u64>> {
    let len = file.metadata()?.len();
    let mut header = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    if len < 12 || file.read_exact(&mut header).is_err() {
        return Ok(Vec::new());
    }
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Ok(Vec::new());
    }
    let mut patches = Vec::new();
    if u32::from_le_bytes(header[4..8].try_into().unwrap()) == 0 {
        patches.push(4);
    }
    // Walk the chunks to the data chunk (bounded: a malformed file cannot loop us).
    let mut pos = 12u64;
    for _ in 0..1000 {
        if pos + 8 > len {
            break;
        }
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk)?;
        let size = u32::from_le_bytes(chunk[4..8].try_into().unwrap()) as u64;
        if &chunk[0..4] == b"data" {
            if size == 0 && pos + 8 < len {
                patches.push(pos + 4);
            }
            break;
        }
        pos += 8 + size + (size & 1);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(patches)
}

/// A file whose 4-byte fields at `patches` read as 0xFFFFFFFF.
pub struct PatchedFile {
    file: File,
    patches: Vec<u64>,
    pos: u64,
}

impl PatchedFile {
    pub fn new(file: File, patches: Vec<u64>) -> Self {
        Self {
            file,
            patches,
            pos: 0,
        }
    }
}

impl Read for PatchedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        for &p in &self.patches {
            for i in p..p + 4 {
                if i >= self.pos && i < self.pos + n as u64 {
                    buf[(i - self.pos) as usize] = 0xFF;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PatchedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}

impl MediaSource for PatchedFile {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }
}

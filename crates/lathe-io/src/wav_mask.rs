//! Whether a WAV file names its channels' speakers.
//!
//! Only `WAVE_FORMAT_EXTENSIBLE` carries a channel mask. For any other WAV with more than two
//! channels the decoder assigns speakers by count (for five: L R C LFE Ls), which would weight
//! the fourth channel as an LFE (left out of loudness). libebur128 and every loudness meter
//! in the EBU tests read such files in the usual film order (L R C Ls Rs, with an LFE only at
//! six channels and more), so lathe trusts speaker positions only when the file states them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// What a file's header says about its channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavChannels {
    /// Not a RIFF/WAVE file: its container's own channel layout stands.
    NotWav,
    /// A WAV without a usable channel mask (none, zero, or bits that do not match the count).
    Unstated,
    /// `WAVE_FORMAT_EXTENSIBLE` with this mask, one bit per channel.
    Mask(u32),
}

/// Reads the `fmt ` chunk of `file` (left at its start afterwards).
pub fn wav_channels(file: &mut File) -> io::Result<WavChannels> {
    let len = file.metadata()?.len();
    let mut header = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    let is_wav = len >= 12
        && file.read_exact(&mut header).is_ok()
        && (&header[0..4] == b"RIFF" || &header[0..4] == b"RF64")
        && &header[8..12] == b"WAVE";
    let mut found = if is_wav {
        WavChannels::Unstated
    } else {
        WavChannels::NotWav
    };
    let mut pos = 12u64;
    // Bounded: a malformed file cannot loop us.
    for _ in 0..1000 {
        if !is_wav || pos + 8 > len {
            break;
        }
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk)?;
        let size = u32::from_le_bytes(chunk[4..8].try_into().expect("4 bytes")) as u64;
        if &chunk[0..4] == b"fmt " {
            let mut fmt = [0u8; 24];
            if size >= 24 && file.read_exact(&mut fmt).is_ok() {
                let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]) as u32;
                let mask = u32::from_le_bytes(fmt[20..24].try_into().expect("4 bytes"));
                if tag == 0xFFFE && mask != 0 && mask.count_ones() == channels {
                    found = WavChannels::Mask(mask);
                }
            }
            break;
        }
        pos += 8 + size + (size & 1);
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wav(tag: u16, channels: u16, mask: Option<u32>) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&48_000u32.to_le_bytes());
        fmt.extend_from_slice(&(48_000u32 * 2 * channels as u32).to_le_bytes());
        fmt.extend_from_slice(&(2 * channels).to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        if let Some(m) = mask {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&16u16.to_le_bytes());
            fmt.extend_from_slice(&m.to_le_bytes());
            fmt.extend_from_slice(&[0u8; 16]);
        }
        let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
        b.extend_from_slice(b"fmt ");
        b.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        b.extend_from_slice(&fmt);
        b.extend_from_slice(b"data\0\0\0\0");
        f.write_all(&b).unwrap();
        f
    }

    #[test]
    fn only_an_extensible_header_with_a_matching_mask_states_the_speakers() {
        let read =
            |f: &tempfile::NamedTempFile| wav_channels(&mut File::open(f.path()).unwrap()).unwrap();
        assert_eq!(read(&wav(1, 5, None)), WavChannels::Unstated);
        assert_eq!(read(&wav(0xFFFE, 5, Some(0))), WavChannels::Unstated);
        assert_eq!(read(&wav(0xFFFE, 5, Some(0x3F))), WavChannels::Unstated);
        assert_eq!(read(&wav(0xFFFE, 5, Some(0x607))), WavChannels::Mask(0x607));
        let mut not_wav = tempfile::NamedTempFile::new().unwrap();
        not_wav.write_all(b"fLaC and more bytes").unwrap();
        assert_eq!(read(&not_wav), WavChannels::NotWav);
    }
}

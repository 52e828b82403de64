//! Tag chunks appended to a finished WAV file, in place: the chunks go after the audio and the
//! RIFF size is patched. Tag libraries rewrite the whole file through memory (lofty read a
//! 26 MB master into a 53 MB buffer to add its title), which breaks lathe's bounded memory on
//! long masters; a RIFF file takes new chunks at its end, so nothing needs to move.

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// One chunk: its four-character id and its body (padded to an even length on disk, as RIFF
/// requires; the size field holds the body's own length).
pub fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// Appends `chunks` (whole chunks, each of even length, as [`chunk`] makes them) to the RIFF
/// WAVE file at `path` and patches its RIFF size. A data chunk of odd length gets its pad
/// byte first. Refused: a file that is not RIFF WAVE, or one that would pass 4 GiB.
pub fn append_chunks(path: &Path, chunks: &[u8]) -> io::Result<()> {
    let bad = |msg: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {msg}", path.display()),
        )
    };
    if chunks.len() % 2 == 1 {
        return Err(bad(
            "a tag chunk of odd length (an internal error of lathe)",
        ));
    }
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut header = [0u8; 12];
    file.read_exact(&mut header)
        .map_err(|_| bad("too short for a WAV file"))?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(bad("not a RIFF WAVE file"));
    }
    let mut len = file.seek(SeekFrom::End(0))?;
    if len % 2 == 1 {
        file.write_all(&[0])?;
        len += 1;
    }
    let riff_size = len + chunks.len() as u64 - 8;
    let riff_size =
        u32::try_from(riff_size).map_err(|_| bad("too large for tags in RIFF (over 4 GiB)"))?;
    file.write_all(chunks)?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff_size.to_le_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, frames: usize, channels: u16, bits: u16) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames * channels as usize {
            w.write_sample((i as i32 % 2000) - 1000).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn chunks_go_after_the_audio_and_the_riff_size_follows() {
        let dir = tempfile::tempdir().unwrap();
        // Mono 24-bit with an odd frame count: the data chunk has odd length.
        let p = dir.path().join("a.wav");
        wav(&p, 1001, 1, 24);
        let before: Vec<i32> = hound::WavReader::open(&p)
            .unwrap()
            .samples::<i32>()
            .map(|s| s.unwrap())
            .collect();
        let mut tags = chunk(b"LIST", b"INFOINAM\x04\x00\x00\x00abc\x00");
        tags.extend(chunk(b"abcd", b"xyz"));
        append_chunks(&p, &tags).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, bytes.len());
        assert_eq!(bytes.len() % 2, 0);
        assert!(bytes.ends_with(b"abcd\x03\x00\x00\x00xyz\x00"));
        let after: Vec<i32> = hound::WavReader::open(&p)
            .unwrap()
            .samples::<i32>()
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn a_file_that_is_not_wav_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        std::fs::write(&p, b"fLaC and more bytes").unwrap();
        let err = append_chunks(&p, &chunk(b"abcd", b"xy")).unwrap_err();
        assert!(err.to_string().contains("not a RIFF WAVE"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"fLaC and more bytes");
    }
}

//! Decoding any bytes as WAV, AIFF, FLAC, MP3, M4A or Ogg (the first byte picks the file
//! extension the decoder is hinted with): an error or audio, never a panic, a hang or
//! unbounded memory; every sample handed out is finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

const EXTENSIONS: [&str; 6] = ["wav", "aiff", "flac", "mp3", "m4a", "ogg"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[pick as usize % EXTENSIONS.len()];
    let mut file = tempfile_in_shm(ext);
    file.1.write_all(bytes).unwrap();
    drop(file.1);
    if let Ok(mut d) = lathe_io::Decoder::open(&file.0) {
        let mut frames = 0u64;
        // Bounded: a few seconds of audio is all a seed of this size can hold honestly.
        while let Ok(Some(block)) = d.next_block() {
            for ch in &block {
                assert!(ch.iter().all(|v| v.is_finite()));
            }
            frames += block.first().map_or(0, |c| c.len() as u64);
            if frames > 50_000_000 {
                break;
            }
        }
        let _ = d.warnings();
    }
    let _ = std::fs::remove_file(&file.0);
});

/// A fresh file in /dev/shm (memory, not disk) with the extension `ext`.
fn tempfile_in_shm(ext: &str) -> (std::path::PathBuf, std::fs::File) {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("lathe-fuzz-{}.{ext}", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    (path, f)
}

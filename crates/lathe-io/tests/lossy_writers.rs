//! lathe's AAC (.m4a) and Opus (.opus) files, decoded by an independent decoder (ffmpeg):
//! the container is understood, the stream starts where the input started (the encoder's
//! delay is cut by the edit list or the pre-skip), it is as long as the input (Opus exactly;
//! ffmpeg does not cut AAC's end padding, at most one access unit), and the music is the
//! input's (correlation with the source at lag 0, level within 0.3 dB).

use std::path::Path;
use std::process::Command;

use lathe_io::encoder::{self, EncoderSettings};
use lathe_io::Format;

fn ffmpeg_decode(file: &Path, wav: &Path) -> Option<(u32, Vec<f32>)> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(file)
        .args(["-c:a", "pcm_f32le"])
        .arg(wav)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: ffmpeg is not available");
        return None;
    }
    let mut r = hound::WavReader::open(wav).unwrap();
    let rate = r.spec().sample_rate;
    Some((rate, r.samples::<f32>().map(Result::unwrap).collect()))
}

/// A chord of three partials with a slow swell, different in each channel.
fn music(rate: u32, frames: usize) -> (Vec<f64>, Vec<f64>) {
    let t = |n: usize| n as f64 / rate as f64;
    let tone = |n: usize, f: f64| (2.0 * std::f64::consts::PI * f * t(n)).sin();
    let l = (0..frames)
        .map(|n| (0.3 * tone(n, 220.0) + 0.2 * tone(n, 1330.0)) * (0.5 + 0.5 * t(n)))
        .collect();
    let r = (0..frames)
        .map(|n| (0.3 * tone(n, 330.0) + 0.15 * tone(n, 4100.0)) * (0.5 + 0.5 * t(n)))
        .collect();
    (l, r)
}

#[test]
fn aac_and_opus_files_decode_in_ffmpeg_aligned_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    for (format, rate, kbps) in [
        (Format::Aac, 44_100u32, 256u32),
        (Format::Opus, 48_000, 160),
    ] {
        let frames = rate as usize + 777; // not a whole number of codec frames
        let (l, r) = music(rate, frames);
        let path = dir.path().join(format!("x.{}", format.extension()));
        let settings = EncoderSettings {
            format,
            sample_rate_hz: rate,
            bits: 0,
            bitrate_kbps: Some(kbps),
        };
        let mut e = encoder::open(&path, settings).unwrap();
        for (a, b) in l.chunks(1000).zip(r.chunks(1000)) {
            e.write_float(a, b).unwrap();
        }
        e.finish().unwrap();
        let Some((got_rate, got)) = ffmpeg_decode(&path, &dir.path().join("x.wav")) else {
            return;
        };
        assert_eq!(got_rate, rate, "{format}");
        let n = got.len() / 2;
        match format {
            Format::Opus => assert_eq!(n, frames, "{format}: length"),
            _ => assert!((frames..frames + 1024).contains(&n), "{format}: {n} frames"),
        }
        // Correlation at lag 0 over the whole input, per channel.
        for (ch, src) in [(0usize, &l), (1, &r)] {
            let dec: Vec<f64> = (0..frames).map(|i| got[2 * i + ch] as f64).collect();
            let dot: f64 = src.iter().zip(&dec).map(|(a, b)| a * b).sum();
            let ea: f64 = src.iter().map(|a| a * a).sum();
            let eb: f64 = dec.iter().map(|b| b * b).sum();
            let corr = dot / (ea * eb).sqrt();
            let level_db = 10.0 * (eb / ea).log10();
            assert!(corr > 0.99, "{format} ch{ch}: correlation {corr:.4}");
            assert!(
                level_db.abs() < 0.3,
                "{format} ch{ch}: level {level_db:+.2} dB"
            );
        }
    }
}

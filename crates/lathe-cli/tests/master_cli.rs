//! `lathe master` end to end on a synthesised mix: targets met (measured by the independent
//! reference meter when available), length and alignment kept, preset `none` is a bit-exact
//! float round trip, files are never overwritten without `--force`, bad input exits 2.

mod common;

use common::*;
use std::f64::consts::PI;
use std::path::Path;

/// 20 s of a "mix": a chord, a kick-like thump every 0.5 s and some noise, 44.1 kHz float.
fn write_mix(path: &Path) -> Vec<[f32; 2]> {
    let fs = 44100.0;
    let mut s: u64 = 0x1234_5678;
    let mut frames = Vec::new();
    for n in 0..(20.0 * fs) as usize {
        let t = n as f64 / fs;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let noise = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let beat = t % 0.5;
        let kick = (-beat / 0.05).exp() * (2.0 * PI * 55.0 * beat).sin();
        let chord: f64 = [220.0, 277.2, 329.6]
            .iter()
            .map(|f| (2.0 * PI * f * t).sin())
            .sum::<f64>()
            / 3.0;
        let l = 0.25 * chord + 0.3 * kick + 0.05 * noise;
        let r = 0.25 * chord * 0.9 + 0.3 * kick + -(0.05 * noise);
        frames.push([l as f32, r as f32]);
    }
    write_stereo_f32(path, 44100, frames.iter().copied());
    frames
}

/// A mastered test mix: the temporary folder (bind it, e.g. as `dir: _dir`: dropping it deletes
/// the files), the mix, its frames, and the output folder.
struct Mastered {
    dir: tempfile::TempDir,
    mix: std::path::PathBuf,
    input: Vec<[f32; 2]>,
    out: std::path::PathBuf,
}

/// Writes the test mix to `song.wav` and runs `lathe master ARGS -o out song.wav`, which must
/// succeed.
fn master_song(args: &[&str]) -> Mastered {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    let input = write_mix(&mix);
    let out = dir.path().join("out");
    let res = lathe()
        .arg("master")
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg(&mix)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    Mastered {
        dir,
        mix,
        input,
        out,
    }
}

fn read_f32(path: &Path) -> Vec<f32> {
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<f32>()
        .map(|s| s.unwrap())
        .collect()
}

fn read_i32(path: &Path) -> (Vec<i32>, hound::WavSpec) {
    let r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    (r.into_samples::<i32>().map(|s| s.unwrap()).collect(), spec)
}

#[test]
fn streaming_master_meets_its_target_keeps_length_and_alignment() {
    let Mastered {
        dir: _dir,
        input,
        out,
        ..
    } = master_song(&[]);
    let master = out.join("song_master_44k1_24b.wav");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["deliverables"][0]["pass"], true);
    // Same length, and aligned: the cross-correlation of input and output peaks at lag 0.
    let (samples, spec) = read_i32(&master);
    assert_eq!(spec.bits_per_sample, 24);
    assert_eq!(samples.len(), input.len() * 2);
    let xl: Vec<f64> = input.iter().map(|f| f[0] as f64).collect();
    let yl: Vec<f64> = samples.iter().step_by(2).map(|&v| v as f64).collect();
    let xcorr = |lag: isize| -> f64 {
        (44100..xl.len() - 44100)
            .map(|i| xl[i] * yl[(i as isize + lag) as usize])
            .sum()
    };
    let best = (-50..=50)
        .max_by(|&a, &b| xcorr(a).total_cmp(&xcorr(b)))
        .unwrap();
    assert_eq!(best, 0, "output is shifted by {best} samples");
    // Independent measurement of the delivered file.
    if let Some(py) = reference_python("streaming_master_meets_its_target") {
        assert_reference_meets(&py, std::slice::from_ref(&master), -14.0, -1.0);
    }
}

#[test]
fn preset_none_as_float_is_a_bit_exact_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    let input = write_mix(&mix);
    let out = dir.path().join("out");
    let res = lathe()
        .args(["master", "--preset", "none", "--deliver", "wav:32"])
        .arg(&mix)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let y = read_f32(&out.join("song_master_44k1_32f.wav"));
    let x: Vec<f32> = input.iter().flatten().copied().collect();
    assert_eq!(x, y);
}

#[test]
fn existing_outputs_and_the_input_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_mix(&mix);
    let before = std::fs::read(&mix).unwrap();
    let out = dir.path().join("out");
    assert_eq!(
        lathe()
            .args(["master", "--preset", "none"])
            .arg(&mix)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    let master = out.join("song_master_44k1_32f.wav");
    let first = std::fs::read(&master).unwrap();
    // Again without --force: refused, exit 2, file untouched.
    let res = lathe()
        .args(["master", "--preset", "none"])
        .arg(&mix)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--force"));
    assert_eq!(std::fs::read(&master).unwrap(), first);
    // With --force: replaced (same content: deterministic).
    assert_eq!(
        lathe()
            .args(["master", "--preset", "none", "--force"])
            .arg(&mix)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    assert_eq!(std::fs::read(&master).unwrap(), first);
    // An output that would be the input (a mix saved as the report's name in the output
    // folder): refused even with --force, and the input is untouched.
    let same = dir.path().join("x");
    std::fs::create_dir_all(&same).unwrap();
    let trap = same.join("report.json");
    std::fs::copy(&mix, &trap).unwrap();
    let res = lathe()
        .args(["master", "--preset", "none", "--force"])
        .arg(&trap)
        .arg("-o")
        .arg(&same)
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(String::from_utf8_lossy(&res.stderr).contains("overwrite the input"));
    assert_eq!(std::fs::read(&trap).unwrap(), before);
    assert_eq!(std::fs::read(&mix).unwrap(), before);
    // No partial files left behind.
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".part"), "{name}");
    }
}

#[test]
fn bad_requests_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_mix(&mix);
    for args in [
        vec!["master", "--preset", "loudest"],
        vec!["master", "--deliver", "ogg:5"],
        vec!["master", "--target-lufs", "5"],
    ] {
        let res = lathe()
            .args(&args)
            .arg(&mix)
            .arg("-o")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(res.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&res.stderr).lines().count(),
            1,
            "{args:?}"
        );
    }
    let res = lathe()
        .args(["master"])
        .arg(dir.path().join("missing.wav"))
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
}

/// A WAV deliverable longer than RIFF's 4 GiB is refused from the input's announced length,
/// before any audio work, and nothing is written. The input: a 16-bit WAV header announcing
/// 4 GiB of audio (6 h 45 min at 44.1 kHz) over one second of data. A 24-bit WAV at 44.1 kHz
/// holds (2^32 − header) / 6 bytes = 16 231 s (4 h 30 min); 16 bits would fit.
#[test]
fn a_wav_too_long_for_riff_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&long, spec).unwrap();
    for n in 0..44_100 {
        let v = ((n * 7919) % 2000) as i16 - 1000;
        w.write_sample(v).unwrap();
        w.write_sample(-v).unwrap();
    }
    w.finalize().unwrap();
    let mut bytes = std::fs::read(&long).unwrap();
    let data_size: u32 = u32::MAX - 44 - 3;
    bytes[40..44].copy_from_slice(&data_size.to_le_bytes());
    bytes[4..8].copy_from_slice(&(data_size + 36).to_le_bytes());
    assert_eq!(&bytes[36..40], b"data");
    std::fs::write(&long, bytes).unwrap();

    let out = dir.path().join("out");
    let res = lathe()
        .args(["master", "--deliver", "wav:24", "-o"])
        .arg(&out)
        .arg(&long)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("6 h 45 min long") && err.contains("holds at most 4 h 30 min"),
        "{err}"
    );
    assert!(names_in(&out).is_empty(), "{:?}", names_in(&out));
}

#[test]
fn flac_deliverables_verify_with_the_flac_tool_and_equal_the_wav() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_mix(&mix);
    let out = dir.path().join("out");
    let res = lathe()
        .args([
            "master",
            "--deliver",
            "wav:24",
            "--deliver",
            "flac:24",
            "--deliver",
            "flac:16",
        ])
        .arg(&mix)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let flac24 = out.join("song_master_44k1_24b.flac");
    let flac16 = out.join("song_master_44k1_16b.flac");
    // The reference FLAC decoder checks the stream and its MD5, then decodes it for comparison.
    match std::process::Command::new("flac")
        .args(["-t", "-s"])
        .arg(&flac24)
        .arg(&flac16)
        .status()
    {
        Ok(s) => assert!(s.success(), "flac -t rejected the files"),
        Err(_) => {
            eprintln!("SKIPPED flac check: flac not installed");
            return;
        }
    }
    let decoded = dir.path().join("decoded.wav");
    assert!(std::process::Command::new("flac")
        .args(["-d", "-s", "-f", "-o"])
        .arg(&decoded)
        .arg(&flac24)
        .status()
        .unwrap()
        .success());
    let (a, _) = read_i32(&decoded);
    let (b, _) = read_i32(&out.join("song_master_44k1_24b.wav"));
    assert!(
        a == b,
        "the 24-bit FLAC does not hold the same samples as the 24-bit WAV"
    );
}

#[test]
fn streaming_preset_mp3_is_gapless_and_codec_safe() {
    let Mastered {
        dir, input, out, ..
    } = master_song(&[]);
    let mp3 = out.join("song_master_44k1_320k.mp3");
    assert!(mp3.exists(), "the streaming preset delivers an MP3");
    // Decode with ffmpeg (an independent decoder that honours the LAME tag): same length.
    let decoded = dir.path().join("mp3_decoded.wav");
    match std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&mp3)
        .args(["-c:a", "pcm_f32le"])
        .arg(&decoded)
        .status()
    {
        Ok(s) => assert!(s.success()),
        Err(_) => {
            eprintln!("SKIPPED mp3 checks: ffmpeg not installed");
            return;
        }
    }
    let frames = hound::WavReader::open(&decoded).unwrap().duration() as usize;
    assert_eq!(
        frames,
        input.len(),
        "gapless: the MP3 decodes to the input's length"
    );
    if let Some(py) = reference_python("streaming_preset_mp3_is_gapless_and_codec_safe") {
        let r = &reference_measure(&py, std::slice::from_ref(&decoded))[0];
        let (i, tp) = (
            r["integrated_lufs"].as_f64().unwrap(),
            r["true_peak_dbtp"].as_f64().unwrap(),
        );
        eprintln!("MP3 decoded by ffmpeg: {i:.3} LUFS, TP {tp:.3} dBTP (16x)");
        assert!((i + 14.0).abs() <= 0.1, "{i} LUFS");
        assert!(tp <= -1.0, "{tp} dBTP over the ceiling");
    }
}

/// Deliverables at other rates than the session's: resampled from the master bus, held under
/// the ceiling by the safety stage at the delivery rate, with exactly the converted length.
#[test]
fn deliverables_at_other_rates_keep_length_and_ceiling() {
    let Mastered {
        dir: _dir,
        input,
        out,
        ..
    } = master_song(&[
        "--deliver",
        "wav:24",
        "--deliver",
        "wav:16@48000",
        "--deliver",
        "flac:24@96000",
    ]);
    let files = [
        (out.join("song_master_44k1_24b.wav"), 44_100u64),
        (out.join("song_master_48k_16b.wav"), 48_000),
        (out.join("song_master_96k_24b.flac"), 96_000),
    ];
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for (i, (path, rate)) in files.iter().enumerate() {
        let d = &report["deliverables"][i];
        assert_eq!(d["sample_rate_hz"], *rate, "{}", path.display());
        assert_eq!(d["pass"], true, "{d}");
        assert_eq!(
            d.get("safety_limiter_max_reduction_db").is_some(),
            *rate != 44_100
        );
        let mut dec = lathe_io::Decoder::open(path).unwrap();
        let mut frames = 0u64;
        while let Some(b) = dec.next_block().unwrap() {
            frames += b[0].len() as u64;
        }
        assert_eq!(frames, (input.len() as u64 * rate).div_ceil(44_100));
    }
    if let Some(py) = reference_python("deliverables_at_other_rates") {
        let paths: Vec<_> = files.iter().map(|(p, _)| p.clone()).collect();
        assert_reference_meets(&py, &paths, -14.0, -1.0);
    }
}

/// An MP3 at a rate other than the session's is converted (with the true-peak safety stage at
/// its rate) before encoding: ffmpeg (an independent decoder) reads it at 48 kHz with the
/// input's length at that rate (gapless), and lathe's own check of the decoded file passes
/// the target and the ceiling. A rate MP3 cannot carry is refused before any work.
#[test]
fn an_mp3_at_another_rate_is_converted_then_encoded() {
    let Mastered {
        dir,
        mix,
        input,
        out,
    } = master_song(&["--deliver", "wav:24", "--deliver", "mp3:320@48000"]);
    let mp3 = out.join("song_master_48k_320k.mp3");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let d = &report["deliverables"][1];
    assert_eq!(d["sample_rate_hz"], 48_000, "{d}");
    assert_eq!(d["pass"], true, "{d}");
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
    let refused = lathe()
        .args(["master", "--deliver", "mp3:320@96000", "-o"])
        .arg(dir.path().join("out2"))
        .arg(&mix)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let decoded = dir.path().join("decoded.wav");
    let Ok(o) = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&mp3)
        .args(["-c:a", "pcm_f32le"])
        .arg(&decoded)
        .output()
    else {
        eprintln!("SKIPPED independent decode: ffmpeg not installed");
        return;
    };
    assert!(o.status.success());
    let r = hound::WavReader::open(&decoded).unwrap();
    assert_eq!(r.spec().sample_rate, 48_000);
    assert_eq!(
        r.duration() as u64,
        (input.len() as u64 * 48_000).div_ceil(44_100)
    );
}

/// `--title`, `--artist` and `--isrc` end up in every file, read back by ffprobe (an
/// independent reader): Vorbis comments in FLAC (which `flac -t` still accepts), ID3v2 in MP3
/// (still gapless: ffmpeg decodes exactly the input's length), RIFF INFO plus an ID3v2 chunk
/// in WAV. A malformed ISRC is refused before any work.
#[test]
fn tags_are_written_into_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    let input = write_mix(&mix);
    let out = dir.path().join("out");
    let res = lathe()
        .args(["master", "--deliver", "wav:24", "--deliver", "flac:24"])
        .args([
            "--deliver",
            "mp3:320",
            "--title",
            "Night Drive",
            "--artist",
            "Ana Ö",
        ])
        .args(["--isrc", "GBAYE0601498", "-o"])
        .arg(&out)
        .arg(&mix)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let files = ["wav", "flac", "mp3"].map(|ext| {
        out.join(format!(
            "Night_Drive_master_44k1_{}.{ext}",
            if ext == "mp3" { "320k" } else { "24b" }
        ))
    });
    let wav = std::fs::read(&files[0]).unwrap();
    let has = |needle: &[u8]| wav.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"INAM") && has(b"GBAYE0601498"), "WAV tags missing");
    let probe = |path: &Path| -> Option<String> {
        let o = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format_tags",
                "-of",
                "compact",
            ])
            .arg(path)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&o.stdout).to_lowercase())
    };
    let Some(wav_tags) = probe(&files[0]) else {
        eprintln!("SKIPPED tag read-back: ffprobe not installed");
        return;
    };
    assert!(wav_tags.contains("title=night drive") && wav_tags.contains("artist=ana ö"));
    for f in &files[1..] {
        let tags = probe(f).unwrap();
        eprintln!("{}: {tags}", f.display());
        assert!(tags.contains("title=night drive"), "{tags}");
        assert!(tags.contains("artist=ana ö"), "{tags}");
        assert!(
            tags.contains("isrc=gbaye0601498") || tags.contains("tsrc=gbaye0601498"),
            "{tags}"
        );
    }
    if let Ok(t) = std::process::Command::new("flac")
        .args(["-t", "-s"])
        .arg(&files[1])
        .status()
    {
        assert!(t.success(), "flac -t rejects the tagged FLAC");
    }
    let pcm = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&files[2])
        .args(["-f", "s16le", "-"])
        .output()
        .unwrap();
    assert_eq!(
        pcm.stdout.len(),
        input.len() * 4,
        "tagged MP3 is not gapless"
    );
    let bad = lathe()
        .args(["master", "--isrc", "GB-AYE-06-01498", "-o"])
        .arg(dir.path().join("bad"))
        .arg(&mix)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("isrc must be 12 characters"));
    assert!(!dir.path().join("bad").exists());
}

//! Stems and session files: float stems sum exactly; a stem whose chain has latency stays
//! aligned; `--save-session` reproduces a master bit for bit through `lathe render`; session
//! errors name the key; the corpus's mismatched and MIDI stem sets null against their
//! references at the floor their own measurements report.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn write_f32(path: &Path, rate: u32, channels: u16, frames: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..frames[0].len() {
        for ch in frames {
            w.write_sample(ch[n]).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn read_any(path: &Path) -> (Vec<f64>, u16) {
    let r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let v = match spec.sample_format {
        hound::SampleFormat::Float => r.into_samples::<f32>().map(|s| s.unwrap() as f64).collect(),
        hound::SampleFormat::Int => {
            let scale = 2f64.powi(spec.bits_per_sample as i32 - 1);
            r.into_samples::<i32>()
                .map(|s| s.unwrap() as f64 / scale)
                .collect()
        }
    };
    (v, spec.channels)
}

fn tone(n: usize, f: f64, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * f * i as f64 / 48000.0).sin()) as f32)
        .collect()
}

#[test]
fn float_stems_with_preset_none_sum_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    write_f32(
        &a,
        48000,
        2,
        &[tone(48000, 440.0, 0.3), tone(48000, 660.0, 0.2)],
    );
    // A shorter mono stem: both channels, then silence.
    write_f32(&b, 48000, 1, &[tone(30000, 1000.0, 0.25)]);
    let out = dir.path().join("out");
    let res = lathe()
        .args([
            "master",
            "--preset",
            "none",
            "--deliver",
            "wav:32",
            "--stems",
        ])
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let (y, _) = read_any(&out.join("stems_master_48k_32f.wav"));
    let (xa, _) = read_any(&a);
    let (xb, _) = read_any(&b);
    assert_eq!(
        y.len(),
        xa.len(),
        "the master has the longest stem's length"
    );
    let mut worst = 0.0f64;
    for n in 0..48000 {
        let m = if n < 30000 { xb[n] } else { 0.0 };
        for ch in 0..2 {
            let expected = (xa[2 * n + ch] + m) as f32 as f64;
            worst = worst.max((y[2 * n + ch] - expected).abs());
        }
    }
    let db = 20.0 * worst.log10();
    eprintln!(
        "float stem sum: peak residual {}",
        if worst == 0.0 {
            "0 (bit-exact)".to_string()
        } else {
            format!("{db:.1} dBFS")
        }
    );
    assert!(worst == 0.0 || db <= -140.0);
}

#[test]
fn a_stem_chain_with_latency_still_sums_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let mut click = vec![0.0f32; 48000];
    click[10000] = 0.5;
    write_f32(
        &dir.path().join("a.wav"),
        48000,
        2,
        &[click.clone(), click.clone()],
    );
    write_f32(
        &dir.path().join("b.wav"),
        48000,
        2,
        &[click.clone(), click.clone()],
    );
    write_f32(
        &dir.path().join("c.wav"),
        48000,
        2,
        &[click.clone(), click.clone()],
    );
    // Stem a passes a limiter that never acts (its lookahead makes it a pure delay of 88
    // samples here); b passes nothing; c passes a linear-phase EQ with a 0 dB band (a pure
    // delay of 0.34 s of taps plus a block). The three clicks must land on the same sample.
    let session = r#"
[[stem]]
name = "a"
file = "a.wav"
chain = [ { gain = { gain_db = 0.0 } }, { limiter = { ceiling_dbtp = -0.1 } } ]
[[stem]]
name = "b"
file = "b.wav"
[[stem]]
name = "c"
file = "c.wav"
chain = [ { eq = { phase = "linear", bands = [ { kind = "bell", freq_hz = 1000.0, gain_db = 0.0 } ] } } ]
[[deliver]]
format = "wav"
bits = 32
"#;
    let path = dir.path().join("s.toml");
    std::fs::write(&path, session).unwrap();
    let res = lathe()
        .arg("render")
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let (y, _) = read_any(&dir.path().join("out/stems_master_48k_32f.wav"));
    let left: Vec<f64> = y.iter().step_by(2).copied().collect();
    let argmax = left
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap()
        .0;
    assert_eq!(argmax, 10000);
    assert!(
        (left[10000] - 1.5).abs() < 1e-6,
        "the three clicks add at sample 10000: {}",
        left[10000]
    );
    assert!(left[9990..10010]
        .iter()
        .enumerate()
        .all(|(i, v)| i == 10 || v.abs() < 1e-6));
}

#[test]
fn saved_session_reproduces_the_master_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("mix.wav");
    write_f32(
        &mix,
        48000,
        2,
        &[tone(96000, 220.0, 0.5), tone(96000, 330.0, 0.4)],
    );
    let saved = dir.path().join("session.toml");
    let res = lathe()
        .arg("master")
        .arg(&mix)
        .arg("-o")
        .arg(dir.path().join("a"))
        .arg("--save-session")
        .arg(&saved)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let res = lathe()
        .arg("render")
        .arg(&saved)
        .arg("-o")
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let a = std::fs::read(dir.path().join("a/mix_master_48k_24b.wav")).unwrap();
    let b = std::fs::read(dir.path().join("b/mix_master_48k_24b.wav")).unwrap();
    assert!(a == b, "the saved session renders a different file");
}

#[test]
fn session_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write_f32(
        &dir.path().join("a.wav"),
        48000,
        2,
        &[tone(4800, 440.0, 0.3), tone(4800, 440.0, 0.3)],
    );
    let cases = [
        ("[[stem]]\nname = \"a\"\nfile = \"a.wav\"\ngian_db = 3\n", "gian_db"),
        ("[[stem]]\nname = \"a\"\nfile = \"a.wav\"\n[master]\ntarget = { integrated_lufs = 3, true_peak_dbtp = -1 }\n", "master.target.integrated_lufs"),
        ("[[stem]]\nname = \"a\"\nfile = \"a.wav\"\nchain = [ { compressor = { ratio = 0 } } ]\n", "stem[0].chain[0].compressor.ratio"),
        ("[[stem]]\nname = \"a\"\nfile = \"a.wav\"\n[[deliver]]\nformat = \"ogg\"\n", "deliver[0].format"),
        ("[[stem]]\nname = \"a\"\nfile = \"a.wav\"\n[[version]]\nname = \"instrumental\"\nmute = [\"a\"]\n", "version"),
        ("title = \"x\"\n", "stem"),
    ];
    for (text, key) in cases {
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        let res = lathe()
            .arg("render")
            .arg(&path)
            .arg("-o")
            .arg(dir.path().join("out"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{key}: {stderr}");
        assert!(stderr.contains(key), "expected {key} in: {stderr}");
        assert!(
            !dir.path().join("out").exists()
                || std::fs::read_dir(dir.path().join("out"))
                    .unwrap()
                    .next()
                    .is_none()
        );
    }
    // Unknown keys come with their line.
    std::fs::write(
        dir.path().join("s.toml"),
        "[[stem]]\nname = \"a\"\nfile = \"a.wav\"\ngian_db = 3\n",
    )
    .unwrap();
    let res = lathe()
        .arg("render")
        .arg(dir.path().join("s.toml"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&res.stderr).contains("line 4"),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Residual of `a` against `b` (interleaved, same length): (peak, RMS) in dBFS.
fn residual_db(a: &[f64], b: &[f64]) -> (f64, f64) {
    let n = a.len().min(b.len());
    let (mut peak, mut sum) = (0.0f64, 0.0);
    for i in 0..n {
        let d = a[i] - b[i];
        peak = peak.max(d.abs());
        sum += d * d;
    }
    (20.0 * peak.log10(), 10.0 * (sum / n as f64).log10())
}

#[test]
fn corpus_stem_sets_null_against_their_references() {
    let Some(corpus) = corpus("corpus_stem_sets_null_against_their_references") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Mismatched stems (48 kHz 24-bit, 44.1 kHz 16-bit, float, a short 22.05 kHz mono stem)
    // against the float sum of the originals at 44.1 kHz.
    let u14 = corpus.join("ugly/u14_stems_mismatch_freedoom_d_stlks2");
    let stems: Vec<PathBuf> = [
        "drums_48k_24bit_2ch.wav",
        "bass_44.1k_16bit_2ch.wav",
        "guitar_44.1k_float32_2ch.wav",
        "pad_22.05k_16bit_1ch.wav",
    ]
    .iter()
    .map(|f| u14.join(f))
    .collect();
    let out = dir.path().join("u14");
    let res = lathe()
        .args([
            "master",
            "--preset",
            "none",
            "--deliver",
            "wav:32@44100",
            "--stems",
        ])
        .args(&stems)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let (y, _) = read_any(&out.join("stems_master_44k1_32f.wav"));
    let (reference, _) = read_any(&u14.join("reference_sum_44k1_float.wav"));
    assert_eq!(y.len(), reference.len(), "length");
    let (peak, rms) = residual_db(&y, &reference);
    // The reference is the sum before the rate and bit-depth conversions; what remains is what
    // those conversions lost (16-bit rounding; the 22.05 kHz stem has nothing above 11 kHz).
    eprintln!("u14 mismatched stems vs reference_sum_44k1_float.wav: residual peak {peak:.1} dBFS, RMS {rms:.1} dBFS");
    assert!(rms <= -80.0, "u14 residual RMS {rms:.1} dBFS");
    // MIDI stem sets (16-bit files) against their independently rendered 16-bit mixdown: the
    // residual must sit at the rounding floor null_test.json measured.
    for set in ["s01_freedoom_d_runnin", "s02_freedoom_d_doom2"] {
        let folder = corpus.join("stems").join(set);
        let null: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("null_test.json")).unwrap()).unwrap();
        let expected_rms = null["null_residual_16bit_files_rms_dbfs"].as_f64().unwrap();
        let expected_peak = null["null_residual_16bit_files_peak_dbfs"]
            .as_f64()
            .unwrap();
        let stems: Vec<PathBuf> = files_in(&folder, &["wav"])
            .into_iter()
            .filter(|p| !p.ends_with("mix.wav"))
            .collect();
        let out = dir.path().join(set);
        let res = lathe()
            .args([
                "master",
                "--preset",
                "none",
                "--deliver",
                "wav:32",
                "--stems",
            ])
            .args(&stems)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            res.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        let (y, _) = read_any(&out.join("stems_master_44k1_32f.wav"));
        let (mix, _) = read_any(&folder.join("mix.wav"));
        let (peak, rms) = residual_db(&y, &mix);
        eprintln!("{set}: residual vs mix.wav peak {peak:.1} dBFS, RMS {rms:.1} dBFS (null_test.json: {expected_peak}, {expected_rms})");
        assert!(
            (rms - expected_rms).abs() <= 1.0,
            "{set}: RMS {rms:.1} vs {expected_rms}"
        );
        assert!(
            peak <= expected_peak + 1.0,
            "{set}: peak {peak:.1} vs {expected_peak}"
        );
    }
}

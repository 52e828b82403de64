//! `lathe analyze` end to end on files written here: the JSON fields of DESIGN.md §6, the
//! table, and the error contract (one line naming the file, exit code 2).

mod common;

use common::*;
use std::f64::consts::PI;

fn write_tone(path: &std::path::Path, rate: u32, seconds: f64, level_dbfs: f64) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let amp = 10f64.powf(level_dbfs / 20.0);
    for n in 0..(seconds * rate as f64) as usize {
        let x = (amp * (2.0 * PI * 997.0 * n as f64 / rate as f64).sin()) as f32;
        w.write_sample(x).unwrap();
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn json_has_the_documented_fields_and_a_997_hz_tone_reads_as_bs1770_says() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tone.wav");
    write_tone(&f, 48000, 10.0, -20.0);
    let (out, v) = analyze_json(&[f]);
    assert!(out.status.success());
    let a = &v[0];
    for key in [
        "file",
        "sample_rate_hz",
        "channels",
        "duration_s",
        "integrated_lufs",
        "lra_lu",
        "short_term_max_lufs",
        "momentary_max_lufs",
        "sample_peak_dbfs",
        "true_peak_dbtp",
        "dc_offset",
        "correlation",
        "clipped_samples",
        "spectrum_db",
    ] {
        assert!(a.get(key).is_some(), "missing {key}");
    }
    // BS.1770: a 997 Hz sine in both channels at −20 dBFS peak reads −20 + 3.01 − 3.01 = −20.0
    // LUFS (the K-weighting gain at 997 Hz cancels the −0.691 offset; two channels add 3.01 dB,
    // a sine's mean square is peak − 3.01 dB).
    assert!(
        (a["integrated_lufs"].as_f64().unwrap() + 20.0).abs() < 0.02,
        "{a}"
    );
    assert!(
        (a["true_peak_dbtp"].as_f64().unwrap() + 20.0).abs() < 0.01,
        "{a}"
    );
    assert_eq!(a["correlation"].as_f64(), Some(1.0));
    assert_eq!(a["clipped_samples"].as_u64(), Some(0));
    // The 1 kHz third-octave band holds the sine: 0 dB re full scale at −20 dBFS → −20 dB.
    let bands = a["spectrum_db"].as_array().unwrap();
    assert!(
        (bands[17].as_f64().unwrap() + 20.0).abs() < 0.1,
        "{}",
        bands[17]
    );
}

#[test]
fn table_lists_every_file_and_bad_files_fail_with_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.wav");
    write_tone(&good, 44100, 2.0, -6.0);
    let bad = dir.path().join("bad.flac");
    std::fs::write(&bad, b"fLaC but then nothing useful").unwrap();
    let missing = dir.path().join("missing.wav");
    let out = lathe()
        .arg("analyze")
        .args([&good, &bad, &missing])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("good.wav"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines.iter().any(|l| l.contains("bad.flac")), "{stderr}");
    assert!(lines.iter().any(|l| l.contains("missing.wav")), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let out = lathe().arg("analyze").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = lathe().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

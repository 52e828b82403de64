//! `lathe analyze` end to end on files written here: the JSON fields the README documents, the
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

/// A 16-bit PCM WAV (format tag 1: no channel mask) with `channels` channels, `seconds` of a
/// 997 Hz tone at `level_dbfs` on channel `on` and silence on the others.
fn write_plain_multichannel(path: &std::path::Path, channels: u16, on: usize, level_dbfs: f64) {
    let rate = 48_000u32;
    let frames = 10 * rate as usize;
    let amp = 10f64.powf(level_dbfs / 20.0) * 32767.0;
    let mut data = Vec::with_capacity(frames * channels as usize * 2);
    for n in 0..frames {
        let x = (amp * (2.0 * PI * 997.0 * n as f64 / rate as f64).sin()).round() as i16;
        for c in 0..channels as usize {
            data.extend_from_slice(&if c == on { x } else { 0 }.to_le_bytes());
        }
    }
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2 * channels as u32).to_le_bytes());
    b.extend_from_slice(&(2 * channels).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    std::fs::write(path, b).unwrap();
}

/// A five-channel WAV without a channel mask is L R C Ls Rs, as libebur128 reads it: a tone on
/// the fourth channel is a surround (weight 1.41, +1.5 dB), not an LFE left out of loudness.
#[test]
fn a_five_channel_wav_without_a_mask_is_read_as_l_r_c_ls_rs() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("five.wav");
    write_plain_multichannel(&f, 5, 3, -20.0);
    let (out, rows) = analyze_json(std::slice::from_ref(&f));
    assert_exit_ok(&out);
    let i = rows[0]["integrated_lufs"].as_f64().expect("not silent");
    // BS.1770: a 997 Hz sine at −20 dBFS in one front channel reads −23.0 LUFS (±0.05 for the
    // weighting at 997 Hz); a surround channel weighs 1.41.
    let expected = -23.0 + 10.0 * 1.41f64.log10();
    assert!(
        (i - expected).abs() < 0.1,
        "{i} LUFS, expected {expected:.2}"
    );
    if let Some(py) = reference_python("five_channel_wav") {
        let r = reference_measure(&py, std::slice::from_ref(&f));
        let lib = r[0]["integrated_lufs"].as_f64().unwrap();
        assert!((i - lib).abs() < 0.02, "lathe {i}, libebur128 {lib}");
    }
}

/// Rates under 8 kHz are refused with a clear error (they used to read as silent), and a file
/// holding NaN is measured with a warning that says how many samples were read as silence.
#[test]
fn low_rates_are_refused_and_nan_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let low = dir.path().join("low.wav");
    write_tone(&low, 2000, 2.0, -20.0);
    let (out, _) = analyze_json(std::slice::from_ref(&low));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sample rate 2000 Hz"), "{err}");
    let nan = dir.path().join("nan.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&nan, spec).unwrap();
    for n in 0..96_000 {
        let x = if n % 4800 == 0 {
            f32::NAN
        } else {
            (0.1 * (n as f64 * 0.13).sin()) as f32
        };
        w.write_sample(x).unwrap();
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
    let (out, rows) = analyze_json(std::slice::from_ref(&nan));
    assert_exit_ok(&out);
    assert_eq!(rows[0]["non_finite_samples"], 40);
    let warnings = rows[0]["warnings"].to_string();
    assert!(
        warnings.contains("40 samples are NaN or infinite"),
        "{warnings}"
    );
    assert!(rows[0]["integrated_lufs"].as_f64().is_some());
}

/// At 8 kHz, full-band content reaches up to the Nyquist frequency, where the 8x meter's
/// interpolation filter rolls off; lathe's true peak must still agree with the reference
/// meter's 16x FFT interpolation (an exact band-limited interpolator) within 0.1 dB, so that a
/// master over its ceiling at a low rate cannot pass the verifier.
#[test]
fn true_peak_at_8_khz_agrees_with_the_reference_interpolation() {
    let Some(py) = reference_python("true_peak_at_8_khz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("noise8k.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&f, spec).unwrap();
    // Full-band noise, hard-limited at ±0.5 so that its peaks are many and near-equal (as a
    // limited master's are): the true peak is set by what lies between the samples.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..8000 * 10 {
        for _ in 0..2 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            w.write_sample((u * 0.8).clamp(-0.5, 0.5) as f32).unwrap();
        }
    }
    w.finalize().unwrap();
    let (out, rows) = analyze_json(std::slice::from_ref(&f));
    assert_exit_ok(&out);
    let ours = rows[0]["true_peak_dbtp"].as_f64().unwrap();
    let reference = reference_measure(&py, std::slice::from_ref(&f))[0]["true_peak_dbtp"]
        .as_f64()
        .unwrap();
    eprintln!("8 kHz true peak: lathe {ours:.3} dBTP, 16x FFT reference {reference:.3} dBTP");
    assert!(
        (ours - reference).abs() <= 0.1,
        "lathe {ours:.3}, reference {reference:.3}"
    );
}

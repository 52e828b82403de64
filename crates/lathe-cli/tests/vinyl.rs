//! `--preset vinyl` on every corpus mix: 24-bit WAV at the mix's rate, −14 LUFS within 0.1 LU
//! and at or under −0.5 dBTP by the reference meter (libebur128, 16x true peak), and the side
//! below 150 Hz at least 30 dB under the mid (measured by `tools/low_side.py`, numpy only).
//! The mixes themselves are measured too, so the test shows what the preset changed.

mod common;

use common::*;

#[test]
fn vinyl_premasters_have_mono_bass_and_hold_the_ceiling() {
    let name = "vinyl_premasters_have_mono_bass_and_hold_the_ceiling";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    let mixes = files_in(&corpus.join("mixes"), &["wav"]);
    let tmp = tempfile::tempdir().unwrap();
    let mut masters = Vec::new();
    for mix in &mixes {
        let out = tmp.path().join(mix.file_stem().unwrap());
        let res = lathe()
            .arg("master")
            .arg(mix)
            .args(["--preset", "vinyl", "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert_exit_ok(&res);
        let files = files_in(&out, &["wav"]);
        assert_eq!(files.len(), 1, "{files:?}");
        let rate = hound::WavReader::open(mix).unwrap().spec().sample_rate;
        let spec = hound::WavReader::open(&files[0]).unwrap().spec();
        assert_eq!((spec.bits_per_sample, spec.sample_rate), (24, rate));
        masters.push(files[0].clone());
    }
    let before = low_side(&py, &mixes);
    let after = low_side(&py, &masters);
    let measured = reference_measure(&py, &masters);
    for (((mix, b), a), m) in mixes.iter().zip(&before).zip(&after).zip(&measured) {
        let i = m["integrated_lufs"].as_f64().unwrap();
        let tp = m["true_peak_dbtp"].as_f64().unwrap();
        eprintln!(
            "{}: side under mid below 150 Hz {b:.1} dB → {a:.1} dB; {i:.3} LUFS, {tp:.3} dBTP",
            mix.file_name().unwrap().to_string_lossy()
        );
        assert!(
            *a >= 30.0,
            "{}: side only {a:.1} dB under mid",
            mix.display()
        );
        assert!((i + 14.0).abs() <= 0.1, "{}: {i:.3} LUFS", mix.display());
        assert!(tp <= -0.5, "{}: TP {tp:.3}", mix.display());
    }
}

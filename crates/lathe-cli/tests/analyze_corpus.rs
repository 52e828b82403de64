//! `lathe analyze` on the real-music corpus, against independent meters: libebur128 (through
//! pyebur128) for I and LRA, and 16x FFT band-limited interpolation for the true peak
//! (`tools/reference_meter.py`). Also every damaged file in `ugly/`.

mod common;

use common::*;
use std::path::PathBuf;

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn corpus_mixes_agree_with_libebur128_and_a_16x_true_peak() {
    let Some(corpus) = corpus("corpus_mixes_agree_with_libebur128_and_a_16x_true_peak") else {
        return;
    };
    let Some(py) = reference_python("corpus_mixes_agree_with_libebur128_and_a_16x_true_peak")
    else {
        return;
    };
    let mut files = files_in(&corpus.join("mixes"), &["wav"]);
    for set in std::fs::read_dir(corpus.join("stems")).unwrap() {
        let mix = set.unwrap().path().join("mix.wav");
        if mix.exists() {
            files.push(mix);
        }
    }
    assert!(files.len() >= 5, "corpus incomplete: {files:?}");
    let (out, ours) = analyze_json(&files);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = reference_measure(&py, &files);
    let mut worst = [0.0f64; 3];
    for (o, r) in ours.iter().zip(&reference) {
        let name = o["file"].as_str().unwrap();
        let d_i = num(o, "integrated_lufs") - num(r, "integrated_lufs");
        let d_lra = num(o, "lra_1hz_lu") - num(r, "lra_lu");
        let d_tp = num(o, "true_peak_dbtp") - num(r, "true_peak_dbtp");
        eprintln!(
            "{name}: ΔI {d_i:+.4} LU, ΔLRA(1 Hz) {d_lra:+.3} LU, ΔLRA(10 Hz) {:+.3} LU, ΔTP {d_tp:+.4} dB",
            num(o, "lra_lu") - num(r, "lra_lu")
        );
        assert!(
            d_i.abs() <= 0.02,
            "{name}: integrated differs by {d_i:.4} LU"
        );
        assert!(d_lra.abs() <= 0.1, "{name}: LRA differs by {d_lra:.3} LU");
        assert!(
            d_tp.abs() <= 0.1,
            "{name}: true peak differs by {d_tp:.4} dB"
        );
        for (w, d) in worst.iter_mut().zip([d_i, d_lra, d_tp]) {
            *w = w.max(d.abs());
        }
    }
    eprintln!(
        "worst |ΔI| {:.4} LU, |ΔLRA| {:.3} LU, |ΔTP| {:.4} dB",
        worst[0], worst[1], worst[2]
    );
}

/// Every damaged or unusual file either analyses or fails with one stderr line naming the file,
/// exit code 2; never a panic or a hang.
#[test]
fn ugly_files_analyse_or_fail_cleanly() {
    let Some(corpus) = corpus("ugly_files_analyse_or_fail_cleanly") else {
        return;
    };
    let mut files = files_in(&corpus.join("ugly"), &["wav", "mp3", "flac"]);
    files.extend(files_in(
        &corpus.join("ugly/u14_stems_mismatch_freedoom_d_stlks2"),
        &["wav"],
    ));
    assert!(files.len() >= 13);
    for f in &files {
        let (out, parsed) = analyze_json(std::slice::from_ref(f));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "{}: panic: {stderr}",
            f.display()
        );
        match out.status.code() {
            Some(0) => {
                assert_eq!(parsed.len(), 1, "{}", f.display());
                let a = &parsed[0];
                assert!(a["frames"].as_u64().unwrap() > 0, "{}", f.display());
            }
            Some(2) => {
                let lines: Vec<_> = stderr.lines().collect();
                assert_eq!(lines.len(), 1, "{}: {stderr}", f.display());
                assert!(
                    lines[0].contains(&*f.to_string_lossy()),
                    "{}: {stderr}",
                    f.display()
                );
            }
            other => panic!("{}: exit {other:?}: {stderr}", f.display()),
        }
    }
}

/// What the corpus manifest says the damaged files are, checked one by one.
#[test]
fn ugly_files_read_as_their_manifest_describes() {
    let Some(corpus) = corpus("ugly_files_read_as_their_manifest_describes") else {
        return;
    };
    let u = |name: &str| corpus.join("ugly").join(name);
    let get = |p: PathBuf| {
        let (out, parsed) = analyze_json(std::slice::from_ref(&p));
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code(),
            parsed[0].clone(),
        )
    };
    // Truncated: decodes what is there (14.943 s) and warns with the frames lost.
    let (stderr, code, a) = get(u("u10_truncated_16bit.wav"));
    assert_eq!(code, Some(0));
    assert!(stderr.contains("2501 lost"), "{stderr}");
    assert_eq!(a["frames"].as_u64(), Some(661_500 - 2501));
    // Sizes 0xFFFFFFFF: the data runs to the end of the file, 15 s, no warning.
    let (stderr, _, a) = get(u("u11_lying_header_sizes_ffffffff.wav"));
    assert_eq!(a["frames"].as_u64(), Some(661_500), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // LAME -V2 of 60 s at 44.1 kHz: gapless, exactly 2 646 000 frames.
    let (_, _, a) = get(u("u06_mp3_lame_v2_44k1.mp3"));
    assert_eq!(a["frames"].as_u64(), Some(2_646_000));
    // DC offset of +0.1 added (−2 dB of music on top): reads 0.1 within the music's own DC.
    let (_, _, a) = get(u("u08_dc_offset_plus0.1_44k1_16bit.wav"));
    assert!(
        (a["dc_offset"].as_f64().unwrap() - 0.1).abs() < 0.005,
        "{a}"
    );
    // Float overs: sample peak +7.13 dBFS is kept, not clipped.
    let (_, _, a) = get(u("u09_float32_overs_plus6dB.wav"));
    assert!(
        (a["sample_peak_dbfs"].as_f64().unwrap() - 7.13).abs() < 0.01,
        "{a}"
    );
    // Mono stays one channel (BS.1770 weight 1).
    let (_, _, a) = get(u("u01_mono_44k1_16bit.wav"));
    assert_eq!(a["channels"].as_u64(), Some(1));
}

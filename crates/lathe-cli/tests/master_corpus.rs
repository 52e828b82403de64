//! `lathe master` on every corpus mix and every corpus stem set (`--stems`) with presets
//! streaming, apple and club: each delivered
//! file, measured by the independent reference meter (libebur128 for loudness, 16x FFT
//! interpolation for true peak), is within ±0.1 LU of its target and at or below its ceiling.
//! The streaming preset's MP3 is decoded by ffmpeg and measured the same way.

mod common;

use common::*;
use std::path::PathBuf;

#[test]
fn every_corpus_mix_and_stem_set_meets_streaming_apple_and_club_targets() {
    let name = "every_corpus_mix_and_stem_set_meets_streaming_apple_and_club_targets";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    // Each job's inputs: one mix, or the stems of a set (its reference mix.wav left out).
    let mut inputs: Vec<Vec<PathBuf>> = files_in(&corpus.join("mixes"), &["wav"])
        .into_iter()
        .map(|m| vec![m])
        .collect();
    let mut sets: Vec<PathBuf> = std::fs::read_dir(corpus.join("stems"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    for set in &sets {
        let stems = stems_in(set);
        assert!(stems.len() >= 2, "{}: no stems", set.display());
        inputs.push(stems);
    }
    let tmp = tempfile::tempdir().unwrap();
    let presets = [
        ("streaming", -14.0, -1.0),
        ("apple", -16.0, -1.0),
        ("club", -7.0, -0.3),
    ];
    let jobs: Vec<(Vec<PathBuf>, &str, f64, f64)> = inputs
        .iter()
        .flat_map(|m| presets.iter().map(move |&(p, i, tp)| (m.clone(), p, i, tp)))
        .collect();
    // Two renders at a time (CI has two cores).
    let results: Vec<Vec<(PathBuf, f64, f64)>> = std::thread::scope(|s| {
        jobs.chunks(2)
            .flat_map(|pair| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|(files, preset, i, tp)| {
                        // A mix is named after its file, a stem set after its folder.
                        let label = if files.len() == 1 {
                            files[0].file_stem()
                        } else {
                            files[0].parent().and_then(|d| d.file_name())
                        }
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                        let out = tmp.path().join(format!("{label}_{preset}"));
                        s.spawn(move || {
                            let mut cmd = lathe();
                            cmd.args(["master", "--preset", preset]);
                            if files.len() > 1 {
                                cmd.arg("--stems");
                            }
                            let res = cmd.args(files).arg("-o").arg(&out).output().unwrap();
                            assert!(
                                res.status.code() == Some(0),
                                "{label} {preset}: {}",
                                String::from_utf8_lossy(&res.stderr)
                            );
                            let mut delivered = Vec::new();
                            for p in std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()) {
                                match p.extension().and_then(|e| e.to_str()) {
                                    Some("wav") => delivered.push((p, *i, *tp)),
                                    Some("mp3") => {
                                        if let Some(wav) = ffmpeg_decode(&p) {
                                            delivered.push((wav, *i, *tp));
                                        }
                                    }
                                    _ => {}
                                }
                            }
                            delivered
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    let results: Vec<(PathBuf, f64, f64)> = results.into_iter().flatten().collect();
    assert!(
        results
            .iter()
            .any(|r| r.0.to_string_lossy().contains(".mp3.")),
        "no MP3 was measured"
    );
    let files: Vec<PathBuf> = results.iter().map(|r| r.0.clone()).collect();
    let measured = reference_measure(&py, &files);
    let mut worst = (0.0f64, f64::NEG_INFINITY);
    for ((file, target_i, ceiling), m) in results.iter().zip(&measured) {
        let i = m["integrated_lufs"].as_f64().unwrap();
        let tp = m["true_peak_dbtp"].as_f64().unwrap();
        eprintln!(
            "{}: {i:.3} LUFS (target {target_i}), TP {tp:.3} dBTP (ceiling {ceiling})",
            file.file_name().unwrap().to_string_lossy()
        );
        worst = (worst.0.max((i - target_i).abs()), worst.1.max(tp - ceiling));
        assert!(
            (i - target_i).abs() <= 0.1,
            "{}: {i:.3} LUFS vs {target_i}",
            file.display()
        );
        assert!(
            tp <= *ceiling,
            "{}: TP {tp:.3} over {ceiling}",
            file.display()
        );
    }
    eprintln!(
        "worst |ΔI| {:.3} LU; worst TP re ceiling {:+.3} dB over {} masters",
        worst.0,
        worst.1,
        results.len()
    );
}

/// An MP3 encoded during the render whose decoded peak still overshoots (corpus mix m05 at
/// 256 kbit/s overshot the 0.15 dB codec headroom with LAME 3.100) is made again through the
/// codec-safe loop: the delivered MP3, decoded by ffmpeg and measured by the reference meter,
/// is on target and under the ceiling whichever way it was made, and the report says which.
#[test]
fn an_inline_mp3_that_overshoots_is_made_again_under_the_ceiling() {
    let name = "an_inline_mp3_that_overshoots_is_made_again_under_the_ceiling";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    let mix = files_in(&corpus.join("mixes"), &["wav"])
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("m05"))
        .expect("corpus mix m05");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let res = lathe()
        .args(["master", "--preset", "streaming", "--deliver", "mp3:256"])
        .arg(&mix)
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
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let mp3 = &report["deliverables"][0];
    let used = mp3["codec_ceiling_dbtp"].as_f64().unwrap();
    let renders = report["passes"].as_array().unwrap().len() - 1;
    // Inline: one render at the ceiling less the headroom. Made again: a lower ceiling, and
    // the renders of the loop.
    let inline = (used - (-1.15)).abs() < 1e-9;
    assert!(
        inline == (renders == 1),
        "ceiling {used}, {renders} renders"
    );
    eprintln!(
        "m05 mp3:256: codec ceiling {used:.3} dBTP after {renders} renders (inline: {inline})"
    );
    let path = PathBuf::from(mp3["path"].as_str().unwrap());
    let wav = ffmpeg_decode(&path).expect("ffmpeg decodes the MP3");
    let m = &reference_measure(&py, &[wav])[0];
    let (i, tp) = (
        m["integrated_lufs"].as_f64().unwrap(),
        m["true_peak_dbtp"].as_f64().unwrap(),
    );
    assert!((i + 14.0).abs() <= 0.1, "{i:.3} LUFS");
    assert!(tp <= -1.0, "TP {tp:.3} dBTP");
    // Nothing of the codec-safe loop is left behind.
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

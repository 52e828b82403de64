//! `lathe master` on every corpus mix with presets streaming, apple and club: each delivered
//! file, measured by the independent reference meter (libebur128 for loudness, 16x FFT
//! interpolation for true peak), is within ±0.1 LU of its target and at or below its ceiling.
//! The streaming preset's MP3 is decoded by ffmpeg and measured the same way.

mod common;

use common::*;
use std::path::PathBuf;

#[test]
fn every_corpus_mix_meets_streaming_apple_and_club_targets() {
    let name = "every_corpus_mix_meets_streaming_apple_and_club_targets";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    let mixes = files_in(&corpus.join("mixes"), &["wav"]);
    let tmp = tempfile::tempdir().unwrap();
    let presets = [
        ("streaming", -14.0, -1.0),
        ("apple", -16.0, -1.0),
        ("club", -7.0, -0.3),
    ];
    let jobs: Vec<(PathBuf, &str, f64, f64)> = mixes
        .iter()
        .flat_map(|m| presets.iter().map(move |&(p, i, tp)| (m.clone(), p, i, tp)))
        .collect();
    // Two renders at a time (CI has two cores).
    let results: Vec<Vec<(PathBuf, f64, f64)>> = std::thread::scope(|s| {
        jobs.chunks(2)
            .flat_map(|pair| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|(mix, preset, i, tp)| {
                        let out = tmp.path().join(format!(
                            "{}_{preset}",
                            mix.file_stem().unwrap().to_string_lossy()
                        ));
                        s.spawn(move || {
                            let res = lathe()
                                .args(["master", "--preset", preset])
                                .arg(mix)
                                .arg("-o")
                                .arg(&out)
                                .output()
                                .unwrap();
                            assert!(
                                res.status.code() == Some(0),
                                "{} {preset}: {}",
                                mix.display(),
                                String::from_utf8_lossy(&res.stderr)
                            );
                            let mut files = Vec::new();
                            for p in std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()) {
                                match p.extension().and_then(|e| e.to_str()) {
                                    Some("wav") => files.push((p, *i, *tp)),
                                    Some("mp3") => {
                                        let wav = p.with_extension("mp3.decoded.wav");
                                        let ok = std::process::Command::new("ffmpeg")
                                            .args(["-v", "error", "-y", "-i"])
                                            .arg(&p)
                                            .args(["-c:a", "pcm_f32le"])
                                            .arg(&wav)
                                            .status();
                                        if ok.is_ok_and(|s| s.success()) {
                                            files.push((wav, *i, *tp));
                                        }
                                    }
                                    _ => {}
                                }
                            }
                            files
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

//! Every corpus mix mastered to the streaming target (−14 LUFS, −1 dBTP) and delivered as AAC
//! (`aac:256`), Opus (`opus:160`) and hi-res FLAC (`flac:24@96000`): each file, decoded by
//! ffmpeg and measured by the reference meter (libebur128, 16x true peak), is within 0.1 LU
//! of the target and at or under the ceiling; the lossy files carry their tags, read back by
//! mutagen (an independent tag reader).

mod common;

use common::*;
use std::path::PathBuf;

const TAG_CHECK: &str = r#"
import json, sys, mutagen
out = []
for f in sys.argv[1:]:
    m = mutagen.File(f)
    t = {k.lower(): str(v[0]) for k, v in (m.tags or {}).items()}
    isrc = t.get("isrc") or t.get("----:com.apple.itunes:isrc", "").replace("b'", "").strip("'")
    out.append({"title": t.get("title") or t.get("©nam"), "isrc": isrc})
print(json.dumps(out))
"#;

#[test]
fn corpus_mixes_as_aac_opus_and_hi_res_flac_meet_the_target_after_decoding() {
    let name = "corpus_mixes_as_aac_opus_and_hi_res_flac_meet_the_target_after_decoding";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    let mixes = files_in(&corpus.join("mixes"), &["wav"]);
    let tmp = tempfile::tempdir().unwrap();
    // Two renders at a time (CI has two cores).
    let delivered: Vec<PathBuf> = std::thread::scope(|s| {
        mixes
            .chunks(2)
            .flat_map(|pair| {
                let handles: Vec<_> = pair
                    .iter()
                    .map(|mix| {
                        let out = tmp.path().join(mix.file_stem().unwrap());
                        s.spawn(move || {
                            let res = lathe()
                                .arg("master")
                                .arg(mix)
                                .args(["--preset", "streaming", "--deliver", "aac:256"])
                                .args(["--deliver", "opus:160", "--deliver", "flac:24@96000"])
                                .args(["--title", "Corpus", "--isrc", "XXA0A2600001", "-o"])
                                .arg(&out)
                                .output()
                                .unwrap();
                            assert_exit_ok(&res);
                            files_in(&out, &["m4a", "opus", "flac"])
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    });
    assert_eq!(delivered.len(), 3 * mixes.len(), "{delivered:?}");
    let Some(decoded) = delivered
        .iter()
        .map(|f| ffmpeg_decode(f))
        .collect::<Option<Vec<_>>>()
    else {
        eprintln!("SKIPPED {name}: ffmpeg could not decode (is it installed?)");
        return;
    };
    let measured = reference_measure(&py, &decoded);
    let mut worst = (0.0f64, f64::NEG_INFINITY);
    for (file, m) in delivered.iter().zip(&measured) {
        let i = m["integrated_lufs"].as_f64().unwrap();
        let tp = m["true_peak_dbtp"].as_f64().unwrap();
        let mix = file.parent().and_then(|d| d.file_name()).unwrap();
        let name = file.file_name().unwrap();
        eprintln!("{mix:?}/{name:?}: {i:.3} LUFS, TP {tp:.3} dBTP");
        worst = (worst.0.max((i + 14.0).abs()), worst.1.max(tp + 1.0));
        assert!((i + 14.0).abs() <= 0.1, "{}: {i:.3} LUFS", file.display());
        assert!(tp <= -1.0, "{}: TP {tp:.3}", file.display());
    }
    eprintln!(
        "worst |ΔI| {:.3} LU, worst TP re ceiling {:+.3} dB over {} files",
        worst.0,
        worst.1,
        delivered.len()
    );
    let lossy: Vec<&PathBuf> = delivered
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e != "flac"))
        .collect();
    let out = std::process::Command::new(&py)
        .args(["-c", TAG_CHECK])
        .args(&lossy)
        .output()
        .unwrap();
    let tags: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("mutagen: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    for (file, t) in lossy.iter().zip(&tags) {
        assert_eq!(t["title"], "Corpus", "{}", file.display());
        assert_eq!(t["isrc"], "XXA0A2600001", "{}", file.display());
    }
}

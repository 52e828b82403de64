//! Alternate versions (`[[version]]`, `--version`): locked versions line up with the main
//! master sample for sample and carry its gain moves, so that main − instrumental − a cappella
//! vanishes; every version meets the ceiling on the decoded file (measured by the independent
//! reference meter: libebur128 and 16x FFT interpolation); own versions reach their own target.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Interleaved samples of a 32-bit float WAV.
fn read_f32(path: &Path) -> Vec<f64> {
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<f32>()
        .map(|s| s.unwrap() as f64)
        .collect()
}

/// Peak of `main − a − b`, dBFS.
fn residual_peak_dbfs(main: &[f64], a: &[f64], b: &[f64]) -> f64 {
    let peak = main
        .iter()
        .zip(a)
        .zip(b)
        .fold(0.0f64, |m, ((x, y), z)| m.max((x - y - z).abs()));
    20.0 * peak.max(1e-300).log10()
}

/// The corpus's Freedoom stem set with the lead synth as "the vocal".
const STEM_SET: &str = "stems/s02_freedoom_d_doom2";
const STEMS: [&str; 6] = [
    "bass",
    "choir_fx",
    "drums",
    "guitars",
    "orchestra",
    "synth_lead",
];

/// A session over the corpus stems with `master_chain` (TOML array items), three locked
/// versions, a −14 LUFS / −1 dBTP target and WAV 32-bit float, WAV 16-bit at 48 kHz and MP3
/// deliverables.
fn corpus_session(corpus: &Path, master_chain: &str) -> String {
    let mut s = String::from("title = \"doom\"\n");
    for name in STEMS {
        let file = corpus.join(STEM_SET).join(format!("{name}.wav"));
        s += &format!(
            "[[stem]]\nname = \"{name}\"\nfile = {:?}\n",
            file.display().to_string()
        );
    }
    s += &format!(
        "[master]\nchain = [\n{master_chain}\n]\ntarget = {{ integrated_lufs = -14.0, true_peak_dbtp = -1.0 }}\n"
    );
    s += "[[deliver]]\nformat = \"wav\"\nbits = 32\n";
    s += "[[deliver]]\nformat = \"wav\"\nbits = 16\nsample_rate_hz = 48000\n";
    s += "[[deliver]]\nformat = \"mp3\"\nbitrate_kbps = 320\n";
    s += "[[version]]\nname = \"instrumental\"\nmute = [\"synth_lead\"]\n";
    s += "[[version]]\nname = \"acappella\"\nonly = [\"synth_lead\"]\n";
    s += "[[version]]\nname = \"tv\"\nmute = [\"synth_lead\"]\ngain_db = { choir_fx = 3.0 }\n";
    s
}

const LINEAR_CHAIN: &str = r#"
  { eq = { bands = [ { kind = "high_pass", freq_hz = 25, slope_db_oct = 12 },
                     { kind = "low_shelf", freq_hz = 90, gain_db = 1.5 },
                     { kind = "bell", freq_hz = 3000, gain_db = -1.0, q = 1.0 } ] } },
  { compressor = { threshold_db = -20, ratio = 2.0, attack_ms = 20, release_ms = 200, detection = "rms" } },
  { multiband = { crossovers_hz = [150, 3000], bands = [ { threshold_db = -24, ratio = 2.0 }, { threshold_db = -26, ratio = 1.5 }, { threshold_db = -30, ratio = 2.0 } ] } },
  { limiter = { ceiling_dbtp = -1.0 } },"#;

/// Renders the corpus session with `chain`; returns the output folder and the report.
fn render_corpus(corpus: &Path, dir: &Path, chain: &str) -> (PathBuf, serde_json::Value) {
    let session = dir.join("doom.toml");
    std::fs::write(&session, corpus_session(corpus, chain)).unwrap();
    run_json("render", &session, dir)
}

/// Every delivered file of the main master and every version: under the ceiling by the
/// reference meter. At the session rate no safety stage exists (the locked limiter holds every
/// lane); after a rate conversion the safety stage is shared by the lanes, so a version's
/// figure is the main master's for the same format (whatever it did, it did to all alike).
fn assert_all_under_the_ceiling(py: &str, report: &serde_json::Value) {
    let mut files: Vec<PathBuf> = Vec::new();
    let main = report["deliverables"].as_array().unwrap();
    for d in main {
        files.push(d["path"].as_str().unwrap().into());
    }
    for v in report["versions"].as_array().unwrap() {
        assert_eq!(v["pass"], true, "{v}");
        for (d, m) in v["deliverables"].as_array().unwrap().iter().zip(main) {
            files.push(d["path"].as_str().unwrap().into());
            let safety = d["safety_limiter_max_reduction_db"].as_f64();
            if d["sample_rate_hz"] == report["session_rate_hz"] {
                assert_eq!(safety, None, "{}", d["path"]);
            } else {
                assert_eq!(
                    safety,
                    m["safety_limiter_max_reduction_db"].as_f64(),
                    "{}",
                    d["path"]
                );
            }
        }
    }
    assert_eq!(files.len(), 12);
    for r in reference_measure(py, &files) {
        let tp = r["true_peak_dbtp"].as_f64().unwrap();
        eprintln!(
            "{}: {:.2} LUFS, {tp:.3} dBTP",
            r["file"],
            r["integrated_lufs"].as_f64().unwrap()
        );
        assert!(
            tp <= -1.0,
            "{}: {tp} dBTP over the −1 dBTP ceiling",
            r["file"]
        );
    }
}

#[test]
fn locked_versions_null_against_the_main_master() {
    let (Some(corpus), Some(py)) = (
        corpus("locked_versions_null_against_the_main_master"),
        reference_python("locked_versions_null_against_the_main_master"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = render_corpus(&corpus, dir.path(), LINEAR_CHAIN);
    let main = read_f32(&out.join("doom_master_44k1_32f.wav"));
    let inst = read_f32(&out.join("doom_instrumental_44k1_32f.wav"));
    let acap = read_f32(&out.join("doom_acappella_44k1_32f.wav"));
    let tv = read_f32(&out.join("doom_tv_44k1_32f.wav"));
    assert_eq!(main.len(), inst.len());
    assert_eq!(main.len(), acap.len());
    assert_eq!(main.len(), tv.len());
    let residual = residual_peak_dbfs(&main, &inst, &acap);
    eprintln!("main − instrumental − a cappella: {residual:.1} dBFS peak");
    assert!(residual <= -100.0, "{residual} dBFS");
    // The main master still meets its own target (libebur128).
    assert_reference_meets(&py, &[out.join("doom_master_44k1_32f.wav")], -14.0, -1.0);
    assert_all_under_the_ceiling(&py, &report);
    let extra = &report["limiter"]["locked_extra_reduction"];
    eprintln!("the main master's extra limiting for its versions: {extra}");
    assert!(extra["max_db"].as_f64().unwrap() >= 0.0);
}

#[test]
fn with_saturation_the_residual_is_the_distortion_of_the_sum() {
    let (Some(corpus), Some(py)) = (
        corpus("with_saturation_the_residual_is_the_distortion_of_the_sum"),
        reference_python("with_saturation_the_residual_is_the_distortion_of_the_sum"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let chain = LINEAR_CHAIN.replace(
        "  { limiter",
        "  { saturate = { kind = \"tape\", drive_db = 6.0 } },\n  { limiter",
    );
    let (out, report) = render_corpus(&corpus, dir.path(), &chain);
    let main = read_f32(&out.join("doom_master_44k1_32f.wav"));
    let inst = read_f32(&out.join("doom_instrumental_44k1_32f.wav"));
    let acap = read_f32(&out.join("doom_acappella_44k1_32f.wav"));
    assert_eq!((main.len(), main.len()), (inst.len(), acap.len()));
    let residual = residual_peak_dbfs(&main, &inst, &acap);
    let rms = |x: &[f64]| 10.0 * (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).log10();
    let diff: Vec<f64> = (0..main.len())
        .map(|i| main[i] - inst[i] - acap[i])
        .collect();
    eprintln!(
        "with tape saturation: main − instrumental − a cappella {residual:.1} dBFS peak, {:.1} dBFS RMS (main {:.1} dBFS RMS)",
        rms(&diff),
        rms(&main)
    );
    // The saturation's cross products of the lead and the rest: real, and well under the music.
    assert!(residual > -100.0 && rms(&diff) < rms(&main) - 20.0);
    assert_all_under_the_ceiling(&py, &report);
}

fn write_tone_stem(path: &Path, freq: f64, amp: f64, frames: usize) {
    write_stereo_f32(
        path,
        48_000,
        (0..frames).map(|n| {
            let t = n as f64 / 48_000.0;
            let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            let v = (amp * env * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32;
            [v, v * 0.9]
        }),
    );
}

/// `--version` on the command line: a locked version and an own one (its own render to the
/// target, named after it), the session saved with them renders the same files again, and a
/// version naming a stem that does not exist is refused before any work.
#[test]
fn command_line_versions_locked_and_own() {
    let dir = tempfile::tempdir().unwrap();
    let (beat, voc) = (dir.path().join("beat.wav"), dir.path().join("vocals.wav"));
    write_tone_stem(&beat, 110.0, 0.5, 48_000 * 6);
    write_tone_stem(&voc, 880.0, 0.3, 48_000 * 5);
    let out = dir.path().join("out");
    let res = lathe()
        .args(["master", "--stems"])
        .arg(&beat)
        .arg(&voc)
        .arg("-o")
        .arg(&out)
        .args(["--title", "song", "--deliver", "wav:32"])
        .args(["--version", "instrumental:mute=vocals"])
        .args(["--version", "acappella:only=vocals:dynamics=own"])
        .arg("--save-session")
        .arg(dir.path().join("saved.toml"))
        .arg("--json")
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let report: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let versions = report["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["name"], "instrumental");
    assert_eq!(versions[0]["dynamics"], "locked");
    assert_eq!(versions[0]["stems"], serde_json::json!(["beat"]));
    assert_eq!(versions[1]["dynamics"], "own");
    // The own version reaches the target on its own (lathe's verification, decoded back).
    let own = &versions[1]["deliverables"][0];
    assert!(own["path"]
        .as_str()
        .unwrap()
        .ends_with("song_acappella_48k_32f.wav"));
    let own_lufs = own["measured"]["integrated_lufs"].as_f64().unwrap();
    assert!((own_lufs + 14.0).abs() <= 0.1, "{own_lufs}");
    // The locked one follows the master: quieter, same length.
    let main = read_f32(&out.join("song_master_48k_32f.wav"));
    let inst = read_f32(&out.join("song_instrumental_48k_32f.wav"));
    assert_eq!(main.len(), inst.len());
    assert_eq!(main.len(), 2 * 48_000 * 6);
    // The saved session holds the versions and renders them again. (A stem session's render
    // starts its gain search without the measured sum `lathe master` had, so it may settle on
    // another gain within the tolerance: the files are compared by loudness, not bit for bit.)
    let saved = std::fs::read_to_string(dir.path().join("saved.toml")).unwrap();
    assert!(saved.contains("[[version]]"), "{saved}");
    let again = dir.path().join("again");
    let res = lathe()
        .arg("render")
        .arg(dir.path().join("saved.toml"))
        .arg("-o")
        .arg(&again)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let second: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let lufs = |r: &serde_json::Value, v: Option<usize>| {
        let d = match v {
            None => &r["deliverables"][0],
            Some(i) => &r["versions"][i]["deliverables"][0],
        };
        d["measured"]["integrated_lufs"].as_f64().unwrap()
    };
    for v in [None, Some(0), Some(1)] {
        let (a, b) = (lufs(&report, v), lufs(&second, v));
        assert!((a - b).abs() <= 0.1, "{v:?}: {a} against {b} LUFS");
    }
    let inst2 = read_f32(&again.join("song_instrumental_48k_32f.wav"));
    assert_eq!(inst2.len(), inst.len());
    // A stem that does not exist: exit 2, nothing written.
    let bad = dir.path().join("bad");
    let res = lathe()
        .args(["master", "--stems"])
        .arg(&beat)
        .arg(&voc)
        .arg("-o")
        .arg(&bad)
        .args(["--version", "instrumental:mute=vox"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'vox' is not a stem"), "{stderr}");
    assert!(!bad.exists());
}

/// With no target and an empty chain (`--preset none`, 32-bit float), a locked version is
/// exactly its stems' sum: the version that plays only `beat` equals the beat file, sample for
/// sample (the reference is the input file itself).
#[test]
fn without_processing_a_version_is_exactly_its_stems() {
    let dir = tempfile::tempdir().unwrap();
    let (beat, voc) = (dir.path().join("beat.wav"), dir.path().join("vocals.wav"));
    write_tone_stem(&beat, 110.0, 0.5, 48_000 * 3);
    write_tone_stem(&voc, 880.0, 0.3, 48_000 * 2);
    let out = dir.path().join("out");
    let res = lathe()
        .args(["master", "--preset", "none", "--stems"])
        .arg(&beat)
        .arg(&voc)
        .arg("-o")
        .arg(&out)
        .args([
            "--version",
            "beat_only:only=beat",
            "--version",
            "voc_quieter:gain=vocals=-6.0206",
        ])
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let want = read_f32(&beat);
    let got = read_f32(&out.join("stems_beat_only_48k_32f.wav"));
    assert_eq!(got, want, "the beat-only version is not the beat file");
    // Vocals at −6.0206 dB (× 0.5) plus the beat, against the files summed here.
    let voc_samples = read_f32(&voc);
    let quieter = read_f32(&out.join("stems_voc_quieter_48k_32f.wav"));
    assert_eq!(quieter.len(), want.len());
    let worst = (0..want.len())
        .map(|i| {
            let v = voc_samples.get(i).copied().unwrap_or(0.0);
            (quieter[i] - (want[i] + 0.5 * v)).abs()
        })
        .fold(0.0f64, f64::max);
    assert!(worst < 1e-6, "{worst}");
}

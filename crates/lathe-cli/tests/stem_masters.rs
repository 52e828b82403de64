//! Stem masters: every stem of a corpus stem set through a master bus of EQ, compressor,
//! multiband compressor and true-peak limiter, locked to the master's gain moves. Measured
//! outside lathe (numpy): the sum of the stem masters equals the master to −90 dBFS or better
//! (32-bit float files, no dither), every stem master holds the ceiling (reference meter,
//! 16x true peak), and the report's own residual agrees. With the loud preset's clipper the
//! report says how far they differ and why. Stem masters without stems are refused before
//! any work (exit 2, nothing written).

mod common;

use common::*;
use std::path::PathBuf;

const SUM_CHECK: &str = r#"
import json, sys, numpy as np, soundfile as sf
master, parts = sys.argv[1], sys.argv[2:]
m, _ = sf.read(master, dtype="float64", always_2d=True)
s = sum(sf.read(p, dtype="float64", always_2d=True)[0] for p in parts)
peak = float(np.max(np.abs(s - m)))
print(json.dumps({"residual_peak_dbfs": 20 * np.log10(max(peak, 1e-300))}))
"#;

fn session(stems: &[PathBuf]) -> String {
    let mut s = String::new();
    for f in stems {
        let name = f.file_stem().unwrap().to_string_lossy();
        s += &format!(
            "[[stem]]\nname = {name:?}\nfile = {:?}\n",
            f.display().to_string()
        );
    }
    s += r#"
[master]
stem_masters = true
target = { integrated_lufs = -12.0, true_peak_dbtp = -1.0 }
chain = [
  { eq = { bands = [ { kind = "bell", freq_hz = 250.0, gain_db = -2.0, q = 1.0 },
                     { kind = "high_shelf", freq_hz = 8000.0, gain_db = 1.5 } ] } },
  { compressor = { threshold_db = -20.0, ratio = 2.0, attack_ms = 10.0, release_ms = 150.0 } },
  { multiband = { crossovers_hz = [150.0, 3000.0] } },
]
[[deliver]]
format = "wav"
bits = 32
"#;
    s
}

fn report_in(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn stem_masters_sum_to_the_master_and_hold_the_ceiling() {
    let name = "stem_masters_sum_to_the_master_and_hold_the_ceiling";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    let set = corpus.join("stems/s02_freedoom_d_doom2");
    let stems = stems_in(&set);
    let tmp = tempfile::tempdir().unwrap();
    let toml = tmp.path().join("session.toml");
    std::fs::write(&toml, session(&stems)).unwrap();
    let out = tmp.path().join("out");
    let res = lathe()
        .arg("render")
        .arg(&toml)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let report = report_in(&out);
    let master = PathBuf::from(report["deliverables"][0]["path"].as_str().unwrap());
    let parts: Vec<PathBuf> = report["stem_masters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| PathBuf::from(v["deliverables"][0]["path"].as_str().unwrap()))
        .collect();
    assert_eq!(parts.len(), stems.len());
    for (p, s) in parts.iter().zip(&stems) {
        let stem = s.file_stem().unwrap().to_string_lossy();
        let file = p.file_name().unwrap().to_string_lossy();
        assert!(file.ends_with(&format!("_{stem}_44k1_32f.wav")), "{file}");
    }
    let sum = std::process::Command::new(&py)
        .args(["-c", SUM_CHECK])
        .arg(&master)
        .args(&parts)
        .output()
        .unwrap();
    assert!(
        sum.status.success(),
        "{}",
        String::from_utf8_lossy(&sum.stderr)
    );
    let sum: serde_json::Value = serde_json::from_slice(&sum.stdout).unwrap();
    let residual = sum["residual_peak_dbfs"].as_f64().unwrap();
    let own = report["stem_sum"]["residual_peak_dbfs"].as_f64().unwrap();
    eprintln!("residual of the sum: {residual:.1} dBFS (numpy), {own:.1} dBFS (lathe's report)");
    assert!(
        residual <= -90.0,
        "stem masters sum to the master within {residual:.1} dBFS"
    );
    assert!(
        (residual - own).abs() < 3.0,
        "numpy {residual:.1} vs report {own:.1}"
    );
    let mut all = parts.clone();
    all.push(master);
    for (f, m) in all.iter().zip(reference_measure(&py, &all)) {
        let tp = m["true_peak_dbtp"].as_f64().unwrap();
        assert!(tp <= -1.0, "{}: TP {tp:.3}", f.display());
    }
}

#[test]
fn a_clipper_in_the_bus_is_reported_and_a_mix_alone_is_refused() {
    let name = "a_clipper_in_the_bus_is_reported_and_a_mix_alone_is_refused";
    let Some(corpus) = corpus(name) else {
        return;
    };
    let set = corpus.join("stems/s01_freedoom_d_runnin");
    let stems = stems_in(&set);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("loud");
    let res = lathe()
        .args([
            "master",
            "--preset",
            "loud",
            "--stem-masters",
            "--deliver",
            "wav:32",
        ])
        .arg("--stems")
        .args(&stems)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let report = report_in(&out);
    let why = report["stem_sum"]["why"].as_str().unwrap_or_default();
    assert!(why.contains("clipper"), "{}", report["stem_sum"]);
    // A single mix: refused before any work.
    let alone = tmp.path().join("alone");
    let res = lathe()
        .args(["master", "--stem-masters"])
        .arg(&stems[0])
        .arg("-o")
        .arg(&alone)
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(String::from_utf8_lossy(&res.stderr).contains("stem masters need stems"));
    assert!(names_in(&alone).is_empty(), "{:?}", names_in(&alone));
}

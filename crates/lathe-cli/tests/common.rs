//! Helpers shared by the CLI tests: the corpus and the independent reference meter.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `lathe` binary under test.
pub fn lathe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lathe"))
}

/// Fails the test, showing lathe's stderr, unless the run exited 0.
pub fn assert_exit_ok(res: &Output) {
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Measures `files` with the reference meter and asserts each is within ±0.1 LU of
/// `target_lufs` and at or under `ceiling_dbtp`.
pub fn assert_reference_meets(py: &str, files: &[PathBuf], target_lufs: f64, ceiling_dbtp: f64) {
    for r in reference_measure(py, files) {
        let i = r["integrated_lufs"].as_f64().unwrap();
        let tp = r["true_peak_dbtp"].as_f64().unwrap();
        eprintln!(
            "{}: libebur128 {i:.3} LUFS, 16x true peak {tp:.3} dBTP",
            r["file"]
        );
        assert!((i - target_lufs).abs() <= 0.1, "{i} LUFS");
        assert!(tp <= ceiling_dbtp, "{tp} dBTP");
    }
}

/// The corpus folder (the one holding `public/`), from `LATHE_CORPUS`. Prints a SKIPPED line
/// and returns `None` when it is absent: build it with
/// `sudo OUT=/some/dir sh ../shared/corpus/make_corpus.sh` and set `LATHE_CORPUS=/some/dir`.
pub fn corpus(test: &str) -> Option<PathBuf> {
    match std::env::var_os("LATHE_CORPUS").map(PathBuf::from) {
        Some(p) if p.join("public").is_dir() => Some(p.join("public")),
        _ => {
            eprintln!(
                "SKIPPED {test}: corpus not found (set LATHE_CORPUS to the folder holding public/)"
            );
            None
        }
    }
}

/// A Python with pyebur128, numpy and soundfile, from `LATHE_REF_PYTHON` (default `python3`).
/// `None` with a SKIPPED line when it cannot import them.
pub fn reference_python(test: &str) -> Option<String> {
    let py = std::env::var("LATHE_REF_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pyebur128, numpy, soundfile"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some(py)
    } else {
        eprintln!(
            "SKIPPED {test}: {py} cannot import pyebur128/numpy/soundfile (set LATHE_REF_PYTHON)"
        );
        None
    }
}

/// Runs `tools/reference_meter.py` on `files`; returns its JSON array.
pub fn reference_measure(py: &str, files: &[PathBuf]) -> Vec<serde_json::Value> {
    run_tool(py, "reference_meter.py", files.iter())
}

/// Runs `tools/low_side.py` on `files`: how far the side lies under the mid below 150 Hz, dB.
pub fn low_side(py: &str, files: &[PathBuf]) -> Vec<f64> {
    run_tool(py, "low_side.py", files.iter())
        .iter()
        .map(|m| m["side_under_mid_db"].as_f64().unwrap())
        .collect()
}

/// Runs a Python script from `tools/` with `args`; returns the JSON array it prints.
fn run_tool<'a>(
    py: &str,
    script: &str,
    args: impl Iterator<Item = &'a PathBuf>,
) -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools")
        .join(script);
    let out = Command::new(py)
        .arg(path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} JSON: {e}"))
}

/// Runs `lathe analyze --json` on `files`.
pub fn analyze_json(files: &[PathBuf]) -> (Output, Vec<serde_json::Value>) {
    let out = lathe()
        .arg("analyze")
        .arg("--json")
        .args(files)
        .output()
        .expect("run lathe");
    let parsed = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (out, parsed)
}

/// Every entry of `dir` by name, sorted (none when it does not exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Files in `dir` with one of `exts`, sorted.
pub fn files_in(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    v.sort();
    v
}

/// The stems of a corpus stem set: its WAV files but the reference `mix.wav`, sorted.
pub fn stems_in(set: &Path) -> Vec<PathBuf> {
    files_in(set, &["wav"])
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "mix.wav"))
        .collect()
}

/// Runs `tools/spectral_distance.py` on pairs of files; returns each pair's JSON object
/// (`distance_db`: mean |difference| of the mid and side 1/3-octave spectra, 31.5 Hz–16 kHz,
/// after one common offset; the band levels of both files).
pub fn spectral_distance(py: &str, pairs: &[(PathBuf, PathBuf)]) -> Vec<serde_json::Value> {
    run_tool(
        py,
        "spectral_distance.py",
        pairs.iter().flat_map(|(a, b)| [a, b]),
    )
}

/// Writes stereo frames as a 32-bit float WAV at `rate_hz`.
pub fn write_stereo_f32(path: &Path, rate_hz: u32, frames: impl IntoIterator<Item = [f32; 2]>) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate_hz,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for [l, r] in frames {
        w.write_sample(l).unwrap();
        w.write_sample(r).unwrap();
    }
    w.finalize().unwrap();
}

/// Runs `lathe <command> <input> -o <dir>/out --json`, asserts exit 0, shows stderr, and
/// returns the output folder and the JSON report.
pub fn run_json(command: &str, input: &Path, dir: &Path) -> (PathBuf, serde_json::Value) {
    let out = dir.join("out");
    let res = lathe()
        .arg(command)
        .arg(input)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit_ok(&res);
    eprintln!("{}", String::from_utf8_lossy(&res.stderr));
    (out, serde_json::from_slice(&res.stdout).unwrap())
}

/// Decodes `file` with ffmpeg (an independent decoder) into a 32-bit float WAV beside it;
/// `None` when ffmpeg is missing or fails.
pub fn ffmpeg_decode(file: &Path) -> Option<PathBuf> {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("audio");
    let wav = file.with_extension(format!("{ext}.decoded.wav"));
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(file)
        .args(["-c:a", "pcm_f32le"])
        .arg(&wav)
        .status();
    ok.is_ok_and(|s| s.success()).then_some(wav)
}

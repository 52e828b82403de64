//! The true-peak limiter on every corpus mix driven 12 dB over a −1 dBTP ceiling, at 44.1, 48
//! and 96 kHz (resampled with lathe-io). The output's true peak is measured by an independent
//! tool: `tools/reference_meter.py` (16x FFT band-limited interpolation). Requirement (issue 3):
//! ≤ ceiling + 0.02 dB.

use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_io::{Decoder, StreamResampler};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("LATHE_CORPUS").map(PathBuf::from) {
        Some(p) if p.join("public/mixes").is_dir() => Some(p.join("public/mixes")),
        _ => {
            eprintln!("SKIPPED limiter_corpus: corpus not found (set LATHE_CORPUS)");
            None
        }
    }
}

fn reference_python() -> Option<String> {
    let py = std::env::var("LATHE_REF_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pyebur128, numpy, soundfile"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!(
            "SKIPPED limiter_corpus: {py} lacks pyebur128/numpy/soundfile (set LATHE_REF_PYTHON)"
        );
    }
    ok.then_some(py)
}

/// Decodes `path` and converts it to `rate` Hz stereo.
fn load(path: &Path, rate: u32) -> [Vec<f64>; 2] {
    let mut d = Decoder::open(path).unwrap();
    let from = d.info().sample_rate_hz;
    let mut r = (from != rate).then(|| StreamResampler::new(from, rate, 2).unwrap());
    let mut out = [Vec::new(), Vec::new()];
    while let Some(block) = d.next_block().unwrap() {
        let stereo: Vec<&[f64]> = if block.len() == 1 {
            vec![block[0], block[0]]
        } else {
            block[..2].to_vec()
        };
        match &mut r {
            Some(r) => r.process(&stereo, &mut out),
            None => {
                out[0].extend_from_slice(stereo[0]);
                out[1].extend_from_slice(stereo[1]);
            }
        }
    }
    if let Some(r) = &mut r {
        r.finish(&mut out);
    }
    out
}

fn write_f32_wav(path: &Path, rate: u32, x: &[Vec<f64>; 2]) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for (l, r) in x[0].iter().zip(&x[1]) {
        w.write_sample(*l as f32).unwrap();
        w.write_sample(*r as f32).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn ceiling_holds_on_corpus_mixes_driven_12_db_over() {
    let (Some(dir), Some(py)) = (corpus(), reference_python()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let settings = LimiterSettings::default();
    let drive = 10f64.powf(12.0 / 20.0);
    let mut outputs = Vec::new();
    let mut mixes: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    mixes.sort();
    for mix in &mixes {
        for rate in [44100u32, 48000, 96000] {
            let mut x = load(mix, rate);
            let mut lim = TruePeakLimiter::new(settings);
            lim.prepare(rate as f64, 4096);
            let flush = lim.latency_samples();
            for ch in &mut x {
                ch.iter_mut().for_each(|v| *v *= drive);
                ch.extend(std::iter::repeat_n(0.0, flush));
            }
            let [l, r] = &mut x;
            for (lc, rc) in l.chunks_mut(4096).zip(r.chunks_mut(4096)) {
                lim.process(&mut StereoBlock {
                    left: lc,
                    right: rc,
                });
            }
            let out = tmp.path().join(format!(
                "{}_{rate}.wav",
                mix.file_stem().unwrap().to_string_lossy()
            ));
            write_f32_wav(&out, rate, &x);
            outputs.push(out);
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/reference_meter.py");
    let res = Command::new(&py)
        .arg(script)
        .args(&outputs)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let readings: Vec<serde_json::Value> = serde_json::from_slice(&res.stdout).unwrap();
    let mut worst = f64::NEG_INFINITY;
    for r in &readings {
        let over = r["true_peak_dbtp"].as_f64().unwrap() - settings.ceiling_dbtp;
        eprintln!(
            "{}: output true peak {over:+.3} dB re ceiling",
            r["file"].as_str().unwrap()
        );
        worst = worst.max(over);
    }
    eprintln!(
        "worst: {worst:+.3} dB re ceiling over {} renders",
        readings.len()
    );
    assert!(
        worst <= 0.02,
        "output true peak {worst:+.3} dB over the ceiling"
    );
}

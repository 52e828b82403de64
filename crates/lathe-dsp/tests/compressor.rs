//! The compressor against its specification: the static curve (analytic, Giannoulis et al.
//! 2012 eq. 4) within ±0.1 dB, attack and release times (63.2 % of a step, in dB) within ±10 %,
//! and an exact mid/side round trip.

use lathe_dsp::compressor::{ChannelMode, Compressor, CompressorSettings, Detection};
use lathe_dsp::processor::{Processor, StereoBlock};
use std::f64::consts::PI;

const FS: f64 = 48000.0;

/// A signal of constant magnitude `amp` (alternating sign): a peak detector sees a steady level.
fn steady(amp: f64, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| if n % 2 == 0 { amp } else { -amp })
        .collect()
}

fn analytic_gain_db(s: &CompressorSettings, level_db: f64) -> f64 {
    // The analytic curve, written out here independently of the implementation.
    let (t, r, w) = (s.threshold_db, s.ratio, s.knee_db);
    let out = if 2.0 * (level_db - t) < -w {
        level_db
    } else if 2.0 * (level_db - t).abs() <= w {
        level_db + (1.0 / r - 1.0) * (level_db - t + w / 2.0).powi(2) / (2.0 * w)
    } else {
        t + (level_db - t) / r
    };
    out - level_db + s.makeup_db
}

#[test]
fn static_curve_within_0_1_db_peak_and_rms() {
    let base = CompressorSettings {
        threshold_db: -20.0,
        ratio: 4.0,
        knee_db: 6.0,
        attack_ms: 1.0,
        release_ms: 1000.0,
        makeup_db: 2.0,
        ..Default::default()
    };
    let mut worst = 0.0f64;
    for detection in [Detection::Peak, Detection::Rms] {
        let s = CompressorSettings { detection, ..base };
        for step in 0..=30 {
            let level_db = -60.0 + 2.0 * step as f64;
            let amp = 10f64.powf(level_db / 20.0);
            let (x, detector_level) = match detection {
                Detection::Peak => (steady(amp, 48000), level_db),
                Detection::Rms => (
                    (0..48000)
                        .map(|n| amp * (2.0 * PI * 1000.0 * n as f64 / FS).sin())
                        .collect::<Vec<_>>(),
                    level_db - 10.0 * 2f64.log10(),
                ),
            };
            let mut c = Compressor::new(s);
            c.prepare(FS, 48000);
            let (mut l, mut r) = (x.clone(), x.clone());
            c.process(&mut StereoBlock {
                left: &mut l,
                right: &mut r,
            });
            // Gain over the last 100 ms, from the peak of output over the peak of input.
            let tail = 48000 - 4800;
            let peak = |v: &[f64]| v[tail..].iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let measured = 20.0 * (peak(&l) / peak(&x)).log10();
            let err = measured - analytic_gain_db(&s, detector_level);
            worst = worst.max(err.abs());
            assert!(
                err.abs() <= 0.1,
                "{detection:?} at {level_db} dBFS: gain {measured:.3} dB, error {err:+.3}"
            );
        }
    }
    eprintln!("static curve: worst error {worst:.4} dB");
}

/// Time for the gain reduction to cover 63.2 % of its change after a level step.
fn time_constant_ms(s: CompressorSettings, from_db: f64, to_db: f64) -> f64 {
    let mut c = Compressor::new(s);
    c.prepare(FS, 1);
    let settle = (2.0 * FS) as usize;
    let after = (6.0 * FS) as usize; // ≥ 10 release time constants
    let x: Vec<f64> = steady(10f64.powf(from_db / 20.0), settle)
        .into_iter()
        .chain(steady(10f64.powf(to_db / 20.0), after))
        .collect();
    let mut trace = Vec::with_capacity(x.len());
    for &v in &x {
        let (mut l, mut r) = ([v], [v]);
        c.process(&mut StereoBlock {
            left: &mut l,
            right: &mut r,
        });
        trace.push(c.gain_reduction_db());
    }
    let start = trace[settle - 1];
    let end = trace[x.len() - 1];
    let target = start + (end - start) * (1.0 - (-1.0f64).exp());
    let crossed = trace[settle..]
        .iter()
        .position(|&g| {
            if end < start {
                g <= target
            } else {
                g >= target
            }
        })
        .expect("never crossed");
    (crossed + 1) as f64 / FS * 1000.0
}

#[test]
fn attack_and_release_within_10_percent() {
    for (attack_ms, release_ms) in [(1.0, 50.0), (10.0, 120.0), (30.0, 500.0)] {
        let s = CompressorSettings {
            threshold_db: -30.0,
            ratio: 10.0,
            knee_db: 0.0,
            attack_ms,
            release_ms,
            ..Default::default()
        };
        let a = time_constant_ms(s, -40.0, -10.0);
        let r = time_constant_ms(s, -10.0, -40.0);
        eprintln!("attack set {attack_ms} ms → {a:.2} ms; release set {release_ms} ms → {r:.2} ms");
        assert!(
            (a / attack_ms - 1.0).abs() <= 0.10,
            "attack {a:.2} ms vs {attack_ms}"
        );
        assert!(
            (r / release_ms - 1.0).abs() <= 0.10,
            "release {r:.2} ms vs {release_ms}"
        );
    }
}

#[test]
fn mid_side_round_trip_is_within_one_ulp_when_not_compressing() {
    let s = CompressorSettings {
        threshold_db: 0.0,
        ratio: 1.0,
        knee_db: 0.0,
        mode: ChannelMode::MidSide,
        ..Default::default()
    };
    let mut c = Compressor::new(s);
    c.prepare(FS, 4096);
    let x: Vec<f64> = (0..4096)
        .map(|n| ((n * 7919) % 2000) as f64 / 1000.0 - 1.0)
        .collect();
    let y: Vec<f64> = (0..4096)
        .map(|n| ((n * 104729) % 2000) as f64 / 1000.0 - 1.0)
        .collect();
    let (mut l, mut r) = (x.clone(), y.clone());
    c.process(&mut StereoBlock {
        left: &mut l,
        right: &mut r,
    });
    for i in 0..4096 {
        // One ulp of the larger input: M = (L+R)/2 and S = (L−R)/2 each round once.
        let ulp = f64::EPSILON * x[i].abs().max(y[i].abs()).max(f64::MIN_POSITIVE);
        for (a, b) in [(l[i], x[i]), (r[i], y[i])] {
            assert!((a - b).abs() <= ulp, "sample {i}: {a} vs {b}");
        }
    }
}

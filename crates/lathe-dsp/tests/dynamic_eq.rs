//! The dynamic EQ against its specification: the static curve (written out here from the
//! definition of a downward/upward hard-knee band with a range) within ±0.1 dB, attack and
//! release times (63.2 % of a step, in dB) within ±10 %, the signal away from the band
//! unchanged within 0.1 dB while the band cuts 12 dB, and detection from an external key.

use lathe_dsp::compressor::Detection;
use lathe_dsp::dynamic_eq::{DynamicBand, DynamicEq, DynamicMode, DynamicShape};
use lathe_dsp::processor::{KeyBlock, Processor, StereoBlock};
use std::f64::consts::PI;

const FS: f64 = 48000.0;

fn sine(freq_hz: f64, amp: f64, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| amp * (2.0 * PI * freq_hz * n as f64 / FS).sin())
        .collect()
}

/// A signal of constant magnitude at Nyquist: a peak detector behind a high-pass sees a
/// steady level, and a first-order high shelf passes it with exactly its gain.
fn nyquist(amp: f64, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| if n % 2 == 0 { amp } else { -amp })
        .collect()
}

/// The gain a band should apply at a detector level, from its definition.
fn analytic_gain_db(b: &DynamicBand, level_db: f64) -> f64 {
    let amount = match b.mode {
        DynamicMode::Above => (level_db - b.threshold_db).max(0.0),
        DynamicMode::Below => (b.threshold_db - level_db).max(0.0),
    } * (1.0 - 1.0 / b.ratio);
    let amount = amount.min(b.range_db);
    match b.mode {
        DynamicMode::Above => -amount,
        DynamicMode::Below => amount,
    }
}

fn run(eq: &mut DynamicEq, x: &[f64]) -> Vec<f64> {
    let (mut l, mut r) = (x.to_vec(), x.to_vec());
    for (lc, rc) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
        eq.process(&mut StereoBlock {
            left: lc,
            right: rc,
        });
    }
    l
}

fn tail_peak(v: &[f64]) -> f64 {
    v[v.len() - 4800..]
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn static_curve_within_0_1_db() {
    let mut worst = 0.0f64;
    let bell = DynamicBand {
        freq_hz: 1000.0,
        q: 2.0,
        threshold_db: -30.0,
        ratio: 3.0,
        range_db: 12.0,
        attack_ms: 1.0,
        release_ms: 50.0,
        ..Default::default()
    };
    let shelf = DynamicBand {
        shape: DynamicShape::HighShelf,
        freq_hz: 6000.0,
        detection: Detection::Peak,
        ..bell
    };
    for band in [bell, shelf] {
        for mode in [DynamicMode::Above, DynamicMode::Below] {
            let b = DynamicBand { mode, ..band };
            for step in 0..=25 {
                let level_db = -60.0 + 2.4 * step as f64;
                let amp = 10f64.powf(level_db / 20.0);
                let (x, detector_db) = match b.shape {
                    // RMS of a sine at the centre, where the band-pass passes it unchanged.
                    DynamicShape::Bell => {
                        (sine(1000.0, amp, 48000), level_db - 10.0 * 2f64.log10())
                    }
                    _ => (nyquist(amp, 48000), level_db),
                };
                let mut eq = DynamicEq::new(vec![b]);
                eq.prepare(FS, 512);
                let y = run(&mut eq, &x);
                let measured = 20.0 * (tail_peak(&y) / tail_peak(&x)).log10();
                let err = measured - analytic_gain_db(&b, detector_db);
                worst = worst.max(err.abs());
                assert!(
                    err.abs() <= 0.1,
                    "{:?} {mode:?} at {level_db} dBFS: gain {measured:.3} dB, error {err:+.3}",
                    b.shape
                );
            }
        }
    }
    eprintln!("static curve: worst error {worst:.4} dB");
}

/// Time for the band's gain to cover 63.2 % of its change after a level step.
fn time_constant_ms(b: DynamicBand, from_db: f64, to_db: f64) -> f64 {
    let mut eq = DynamicEq::new(vec![b]);
    eq.prepare(FS, 1);
    let settle = (2.0 * FS) as usize;
    let after = (6.0 * FS) as usize;
    let x: Vec<f64> = nyquist(10f64.powf(from_db / 20.0), settle)
        .into_iter()
        .chain(nyquist(10f64.powf(to_db / 20.0), after))
        .collect();
    let mut trace = Vec::with_capacity(x.len());
    for &v in &x {
        let (mut l, mut r) = ([v], [v]);
        eq.process(&mut StereoBlock {
            left: &mut l,
            right: &mut r,
        });
        trace.push(eq.gain_db(0));
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
        for mode in [DynamicMode::Above, DynamicMode::Below] {
            let b = DynamicBand {
                shape: DynamicShape::HighShelf,
                freq_hz: 5000.0,
                threshold_db: -25.0,
                ratio: 10.0,
                range_db: 24.0,
                attack_ms,
                release_ms,
                mode,
                detection: Detection::Peak,
                ..Default::default()
            };
            // Into the band's action, then out of it.
            let (quiet, loud) = (-40.0, -10.0);
            let (a, r) = match mode {
                DynamicMode::Above => (
                    time_constant_ms(b, quiet, loud),
                    time_constant_ms(b, loud, quiet),
                ),
                DynamicMode::Below => (
                    time_constant_ms(b, loud, quiet),
                    time_constant_ms(b, quiet, loud),
                ),
            };
            eprintln!(
                "{mode:?}: attack {attack_ms} ms → {a:.2} ms; release {release_ms} ms → {r:.2} ms"
            );
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
}

/// Level of an integer frequency over the last second (an exact DFT bin), dB.
fn bin_db(x: &[f64], freq_hz: f64) -> f64 {
    let seg = &x[x.len() - FS as usize..];
    let (mut re, mut im) = (0.0, 0.0);
    for (n, v) in seg.iter().enumerate() {
        let w = 2.0 * PI * freq_hz * n as f64 / FS;
        re += v * w.cos();
        im -= v * w.sin();
    }
    10.0 * (re * re + im * im).log10()
}

#[test]
fn away_from_the_band_the_signal_is_unchanged_while_it_cuts() {
    let b = DynamicBand {
        freq_hz: 1000.0,
        q: 2.0,
        threshold_db: -40.0,
        ratio: 10.0,
        range_db: 12.0,
        ..Default::default()
    };
    let len = 3 * FS as usize;
    let drive = sine(1000.0, 0.5, len);
    let mut worst = 0.0f64;
    for probe_hz in [60.0, 100.0, 150.0, 7000.0, 12000.0] {
        let probe = sine(probe_hz, 0.03, len);
        let x: Vec<f64> = drive.iter().zip(&probe).map(|(a, b)| a + b).collect();
        let mut eq = DynamicEq::new(vec![b]);
        eq.prepare(FS, 512);
        let y = run(&mut eq, &x);
        assert!(
            eq.gain_db(0) < -11.9,
            "the band cuts its full range: {}",
            eq.gain_db(0)
        );
        let centre = bin_db(&y, 1000.0) - bin_db(&x, 1000.0);
        assert!((centre + 12.0).abs() < 0.1, "centre {centre:.3} dB");
        let change = bin_db(&y, probe_hz) - bin_db(&x, probe_hz);
        worst = worst.max(change.abs());
        assert!(
            change.abs() <= 0.1,
            "{probe_hz} Hz changed by {change:+.3} dB"
        );
    }
    eprintln!("away from a 12 dB cut at 1 kHz (Q 2): worst change {worst:.4} dB");
}

#[test]
fn an_external_key_decides_and_silence_in_it_changes_nothing() {
    let b = DynamicBand {
        freq_hz: 2000.0,
        q: 1.0,
        threshold_db: -30.0,
        ratio: 4.0,
        range_db: 6.0,
        ..Default::default()
    };
    let len = 2 * FS as usize;
    // The signal itself is well under the threshold: alone, it is left untouched.
    let x = sine(2000.0, 0.01, len);
    let mut alone = DynamicEq::new(vec![b]);
    alone.prepare(FS, 512);
    assert_eq!(run(&mut alone, &x), x);
    let keyed = |key: &[f64]| {
        let mut eq = DynamicEq::new(vec![b]);
        eq.prepare(FS, 512);
        let (mut l, mut r) = (x.clone(), x.clone());
        for ((lc, rc), kc) in l
            .chunks_mut(512)
            .zip(r.chunks_mut(512))
            .zip(key.chunks(512))
        {
            eq.process_keyed(
                &mut StereoBlock {
                    left: lc,
                    right: rc,
                },
                &KeyBlock {
                    left: kc,
                    right: kc,
                },
            );
        }
        l
    };
    assert_eq!(keyed(&vec![0.0; len]), x, "a silent key changes nothing");
    // A loud key at the band's centre: the quiet signal is cut by the key's static gain.
    let key_db = -6.0;
    let y = keyed(&sine(2000.0, 10f64.powf(key_db / 20.0), len));
    let measured = 20.0 * (tail_peak(&y) / tail_peak(&x)).log10();
    let expected = analytic_gain_db(&b, key_db - 10.0 * 2f64.log10());
    assert!(
        (measured - expected).abs() <= 0.1,
        "keyed gain {measured:.3} dB, expected {expected:.3}"
    );
}

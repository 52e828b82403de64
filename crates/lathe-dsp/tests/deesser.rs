//! The de-esser against its specification, on synthetic signals: a voiced sound (harmonics
//! below 3 kHz) passes bit for bit (delayed by the reported latency); a hiss (noise above
//! 6 kHz) is lowered by the set depth within 0.3 dB above the split and left alone below it;
//! the reduction does not depend on the level (−40 and −6 dBFS alike). The spoken-voice test
//! (espeak-ng) is in lathe-engine's tests.

mod test_rng;

use lathe_dsp::deesser::{DeEsser, DeEsserSettings};
use lathe_dsp::processor::{Processor, StereoBlock};
use std::f64::consts::PI;
use test_rng::Rng;

const FS: f64 = 48000.0;

fn run(p: &mut DeEsser, x: &[f64]) -> Vec<f64> {
    let (mut l, mut r) = (x.to_vec(), x.to_vec());
    for (lc, rc) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
        p.process(&mut StereoBlock {
            left: lc,
            right: rc,
        });
    }
    l
}

/// Harmonics of 150 Hz up to 3 kHz, faded in over 20 ms (a voice starts smoothly; a hard
/// start is a click, whose spectrum reaches the top).
fn voiced(amp: f64, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| {
            let fade = (n as f64 / (0.02 * FS)).min(1.0);
            let fade = 0.5 - 0.5 * (PI * fade).cos();
            fade * (1..=20)
                .map(|k| amp / k as f64 * (2.0 * PI * 150.0 * k as f64 * n as f64 / FS).sin())
                .sum::<f64>()
        })
        .collect()
}

/// Power of `x` in a frequency range, by a DFT over the last `seg` samples (Hann window).
fn band_power(x: &[f64], lo_hz: f64, hi_hz: f64, seg: usize) -> f64 {
    let s = &x[x.len() - seg..];
    let mut total = 0.0;
    let k_lo = (lo_hz / FS * seg as f64).ceil() as usize;
    let k_hi = (hi_hz / FS * seg as f64).floor() as usize;
    for k in k_lo..=k_hi {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, v) in s.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * PI * n as f64 / seg as f64).cos();
            let ph = 2.0 * PI * k as f64 * n as f64 / seg as f64;
            re += w * v * ph.cos();
            im -= w * v * ph.sin();
        }
        total += re * re + im * im;
    }
    total
}

#[test]
fn a_voiced_sound_passes_bit_for_bit() {
    for amp in [0.01, 0.3] {
        let x = voiced(amp, 48000);
        let mut d = DeEsser::new(DeEsserSettings::default());
        d.prepare(FS, 512);
        let lat = d.latency_samples();
        let y = run(&mut d, &x);
        assert_eq!(&y[lat..], &x[..x.len() - lat], "amplitude {amp}");
    }
}

#[test]
fn a_hiss_is_lowered_by_the_depth_above_the_split_only() {
    let s = DeEsserSettings::default();
    for level_db in [-40.0, -6.0] {
        let amp = 10f64.powf(level_db / 20.0);
        // White noise plus a quiet voiced part: the share above 4.5 kHz is about −1 dB.
        let mut rng = Rng(7);
        let len = 48000;
        let v = voiced(amp * 0.05, len);
        let x: Vec<f64> = (0..len).map(|n| amp * rng.bipolar() + v[n]).collect();
        let mut d = DeEsser::new(s);
        d.prepare(FS, 512);
        let y = run(&mut d, &x);
        let seg = 8192;
        let high = 10.0
            * (band_power(&y, 7000.0, 20000.0, seg) / band_power(&x, 7000.0, 20000.0, seg)).log10();
        let low = 10.0
            * (band_power(&y, 100.0, 2500.0, seg) / band_power(&x, 100.0, 2500.0, seg)).log10();
        eprintln!(
            "{level_db} dBFS: above the split {high:+.2} dB, below {low:+.2} dB (depth {})",
            s.depth_db
        );
        assert!(
            (high + s.depth_db).abs() <= 0.3,
            "above the split: {high:+.2} dB"
        );
        assert!(low.abs() <= 0.3, "below the split: {low:+.2} dB");
    }
}

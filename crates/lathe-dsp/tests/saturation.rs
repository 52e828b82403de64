//! Oversampling and saturation: the half-band oversampler is transparent (round trip equals the
//! delayed input), and the aliasing of a stepped sweep (bin-centred tones 1–20 kHz at −6 dBFS,
//! 44.1 kHz, the worst common rate) through the saturator is measured at 1x/2x/4x/8x.
//! Alias = the largest spectral line that is not a harmonic of the tone (the usual alias
//! measurement of a swept sine, with steady tones instead of a continuous sweep).
//! Requirement: ≤ −90 dBFS with the defaults.

use lathe_dsp::halfband::StereoOversampler;
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_dsp::saturate::{Saturation, SaturationSettings};
use realfft::RealFftPlanner;
use std::f64::consts::PI;

const FS: f64 = 44100.0;
const N: usize = 16384;

#[test]
fn oversampler_round_trip_is_the_delayed_input() {
    for factor in [2, 4, 8] {
        for f in [1000.0, 10000.0, 19000.0] {
            let mut os = StereoOversampler::<f32>::new(factor);
            let d = os.latency_samples();
            let x: Vec<f64> = (0..20000)
                .map(|n| 0.5 * (2.0 * PI * f * n as f64 / FS).sin())
                .collect();
            // Right = −left at a different level, in uneven blocks.
            let (mut l, mut r) = (x.clone(), x.iter().map(|v| -0.5 * v).collect::<Vec<_>>());
            let mut at = 0;
            for len in [1, 7, 300, 256, 1000].into_iter().cycle() {
                let end = (at + len).min(x.len());
                os.process(&mut l[at..end], &mut r[at..end], |_| {});
                at = end;
                if at == x.len() {
                    break;
                }
            }
            let err = (5000..20000)
                .map(|n| (l[n] - x[n - d]).abs().max((r[n] + 0.5 * x[n - d]).abs()))
                .fold(0.0, f64::max);
            let err_db = 20.0 * (err / 0.5).log10();
            assert!(
                err_db < -90.0,
                "{factor}x at {f} Hz: round-trip error {err_db:.1} dB (latency {d})"
            );
        }
    }
}

/// Largest non-harmonic line, dBFS, of `y` for a tone at bin `k`.
fn alias_dbfs(y: &[f64], k: usize) -> f64 {
    let w: Vec<f64> = (0..N)
        .map(|i| {
            let t = 2.0 * PI * i as f64 / N as f64;
            0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos()
        })
        .collect();
    let wsum: f64 = w.iter().sum();
    let mut buf: Vec<f64> = y.iter().zip(&w).map(|(a, b)| a * b).collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N);
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    let harmonic = |bin: usize| {
        let near = |c: usize| bin + 4 >= c && bin <= c + 4;
        near(0)
            || (1..)
                .map(|j| j * k)
                .take_while(|&c| c <= N / 2 + 4)
                .any(near)
    };
    spec.iter()
        .enumerate()
        .filter(|(bin, _)| !harmonic(*bin))
        .map(|(_, c)| 20.0 * (2.0 * c.norm() / wsum).max(1e-20).log10())
        .fold(f64::NEG_INFINITY, f64::max)
}

fn worst_alias(settings: SaturationSettings) -> (f64, f64) {
    let mut worst = (f64::NEG_INFINITY, 0.0);
    for target in (1..=20).map(|k| k as f64 * 1000.0) {
        let k = (target / FS * N as f64).round() as usize;
        let f = k as f64 * FS / N as f64;
        let mut sat = Saturation::new(settings);
        sat.prepare(FS, 2 * N);
        let amp = 10f64.powf(-6.0 / 20.0);
        let mut l: Vec<f64> = (0..2 * N)
            .map(|n| amp * (2.0 * PI * f * n as f64 / FS).sin())
            .collect();
        let mut r = l.clone();
        sat.process(&mut StereoBlock {
            left: &mut l,
            right: &mut r,
        });
        let a = alias_dbfs(&l[N..], k);
        if a > worst.0 {
            worst = (a, f);
        }
    }
    worst
}

#[test]
fn aliasing_of_the_default_saturation_is_below_minus_90_dbfs() {
    let defaults = SaturationSettings::default();
    for os in [1, 2, 4, 8] {
        let (a, f) = worst_alias(SaturationSettings {
            oversampling: os,
            ..defaults
        });
        eprintln!(
            "{:?}, drive {} dB, {os}x: worst alias {a:.1} dBFS (tone {f:.0} Hz)",
            defaults.kind, defaults.drive_db
        );
        if os == defaults.oversampling {
            assert!(a <= -90.0, "default {os}x: alias {a:.1} dBFS at {f:.0} Hz");
        }
    }
}

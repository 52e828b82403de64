//! The true-peak meter against band-limited peaks computed independently of it:
//! - steady sines, whose band-limited peak is their amplitude (analytic);
//! - periodic band-limited noise, whose peak is found by 64x FFT interpolation (zero-padding
//!   the spectrum, an exact band-limited interpolator for a periodic signal).
//!
//! Requirement (issue 2): within 0.1 dB at every rate from 44.1 to 192 kHz, for content up to
//! 20 kHz.

use lathe_dsp::true_peak::TruePeakMeter;
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;
use std::f64::consts::PI;

const RATES: [f64; 6] = [44100.0, 48000.0, 88200.0, 96000.0, 176400.0, 192000.0];

fn meter_db(x: &[f64]) -> f64 {
    let mut m = TruePeakMeter::new();
    m.process(x);
    20.0 * m.finish().log10()
}

mod test_rng;
use test_rng::Rng;

#[test]
fn steady_sines_read_their_amplitude_within_0_1_db() {
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let mut worst = 0.0f64;
    for fs in RATES {
        for f in [
            100.0, 997.0, 5000.0, 11025.0, 12000.0, 15000.0, 18000.0, 19000.0, 20000.0,
        ] {
            for _ in 0..8 {
                let phase = rng.uniform() * 2.0 * PI;
                let len = (0.2 * fs) as usize;
                let fade = (0.02 * fs) as usize;
                let x: Vec<f64> = (0..len)
                    .map(|n| {
                        let env = (n.min(len - 1 - n) as f64 / fade as f64).min(1.0);
                        env * 0.5 * (2.0 * PI * f * n as f64 / fs + phase).sin()
                    })
                    .collect();
                let err = meter_db(&x) - 20.0 * 0.5f64.log10();
                worst = if err.abs() > worst.abs() { err } else { worst };
                assert!(err.abs() <= 0.1, "{f} Hz at {fs} Hz: error {err:.4} dB");
            }
        }
    }
    eprintln!("steady sines: worst error {worst:+.4} dB");
}

/// 64x band-limited interpolation of a periodic signal by zero-padding its spectrum.
fn fft_interpolated_peak(x: &[f64]) -> f64 {
    let n = x.len();
    let up = 64;
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n * up);
    let mut input = x.to_vec();
    let mut spec = fwd.make_output_vec();
    fwd.process(&mut input, &mut spec).unwrap();
    let mut big = vec![Complex::new(0.0, 0.0); n * up / 2 + 1];
    big[..spec.len()].copy_from_slice(&spec);
    let mut out = vec![0.0; n * up];
    inv.process(&mut big, &mut out).unwrap();
    out.iter().fold(0.0f64, |m, v| m.max(v.abs())) / n as f64
}

#[test]
fn band_limited_noise_reads_within_0_1_db_of_64x_fft_interpolation() {
    let mut rng = Rng(12345);
    let mut worst = 0.0f64;
    for fs in RATES {
        for trial in 0..6 {
            // Periodic noise with random phases, flat to 20 kHz.
            let n = 8192;
            let mut spec = vec![Complex::new(0.0, 0.0); n / 2 + 1];
            let top_bin = (20000.0 / fs * n as f64) as usize;
            for bin in spec.iter_mut().take(top_bin + 1).skip(1) {
                let ph = rng.uniform() * 2.0 * PI;
                *bin = Complex::from_polar(1.0, ph);
            }
            let mut planner = RealFftPlanner::<f64>::new();
            let inv = planner.plan_fft_inverse(n);
            let mut x = vec![0.0; n];
            inv.process(&mut spec, &mut x).unwrap();
            let scale = 0.9 / x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            x.iter_mut().for_each(|v| *v *= scale);
            let reference = 20.0 * fft_interpolated_peak(&x).log10();
            // Three periods: the middle one is steady state for the meter's filter; the outer
            // ones fade in and out slowly so that the start and end add no Gibbs overshoot.
            let tiled: Vec<f64> = (0..3 * n)
                .map(|i| {
                    let ramp = |t: f64| 0.5 - 0.5 * (PI * t).cos();
                    let env = match i / n {
                        0 => ramp(i as f64 / n as f64),
                        1 => 1.0,
                        _ => ramp((3 * n - i) as f64 / n as f64),
                    };
                    env * x[i % n]
                })
                .collect();
            let err = meter_db(&tiled) - reference;
            worst = if err.abs() > worst.abs() { err } else { worst };
            assert!(
                err.abs() <= 0.1,
                "trial {trial} at {fs} Hz: error {err:.4} dB"
            );
        }
    }
    eprintln!("band-limited noise: worst error {worst:+.4} dB");
}

#[test]
fn sample_peak_is_a_lower_bound() {
    // Phase 0 of the interpolator passes the samples through: TP ≥ sample peak, exactly.
    let mut rng = Rng(777);
    let x: Vec<f64> = (0..10000).map(|_| rng.uniform() * 2.0 - 1.0).collect();
    let sp = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut m = TruePeakMeter::new();
    m.process(&x);
    assert!(m.finish() >= sp as f32 as f64);
}

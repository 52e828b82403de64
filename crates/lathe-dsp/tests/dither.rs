//! Dither against the theory's predictions (`src/dither.rs`): TPDF total error variance Δ²/4, mean 0,
//! independent of the input value; the noise-shaped error spectrum equal to |E(e^{jω})|²·Δ²/4
//! within ±1 dB per 1/3 octave; no overload at full scale; determinism.

mod test_rng;

use lathe_dsp::dither::{shaping_filter, DitherKind, Quantizer, LIPSHITZ_FILTER};
use realfft::RealFftPlanner;
use std::f64::consts::PI;
use test_rng::Rng;

#[test]
fn tpdf_error_variance_is_a_quarter_lsb_squared_whatever_the_input_value() {
    let mut q = Quantizer::new(16, DitherKind::Tpdf, 42);
    let step = q.step();
    let expected = step * step / 4.0;
    let mut rng = Rng(7);
    let n = 2_000_000;
    let mut bins = [(0.0f64, 0u64); 10];
    let (mut sum, mut sum2) = (0.0, 0.0);
    for _ in 0..n {
        let x = rng.bipolar() * 0.5;
        let y = q.tick(x);
        assert_eq!((y / step).fract(), 0.0, "output not on the 16-bit grid");
        let e = y - x;
        sum += e;
        sum2 += e * e;
        let frac = (x / step).rem_euclid(1.0);
        let b = &mut bins[(frac * 10.0) as usize];
        b.0 += e * e;
        b.1 += 1;
    }
    let mean = sum / n as f64;
    let var = sum2 / n as f64 - mean * mean;
    eprintln!(
        "TPDF: variance / (Δ²/4) = {:.4}, mean = {:.4} Δ",
        var / expected,
        mean / step
    );
    assert!((var / expected - 1.0).abs() < 0.01);
    assert!((mean / step).abs() < 0.01);
    for (i, (s, c)) in bins.iter().enumerate() {
        let ratio = s / *c as f64 / expected;
        assert!(
            (ratio - 1.0).abs() < 0.03,
            "input fraction bin {i}: conditional variance ratio {ratio:.3}"
        );
    }
}

/// Mean power per 1/3-octave band of the error (Welch, Blackman-Harris, 50 % overlap) against
/// the prediction |1 − Σ h_k e^{−jω(k+1)}|²·Δ²/4.
#[test]
fn shaped_error_spectrum_follows_the_shaping_filter_within_1_db() {
    shaped_error_spectrum_follows(DitherKind::TpdfShaped, 48000.0);
}

/// The psychoacoustic filter, at the rate it was designed for, with the published coefficients
/// (Lipshitz, Vanderkooy and Wannamaker 1991; the table SoX uses for `lipshitz`).
#[test]
fn lipshitz_error_spectrum_follows_its_filter_within_1_db() {
    assert_eq!(LIPSHITZ_FILTER, [2.033, -2.165, 1.959, -1.590, 0.6149]);
    shaped_error_spectrum_follows(DitherKind::TpdfLipshitz, 44100.0);
}

fn shaped_error_spectrum_follows(kind: DitherKind, fs: f64) {
    let mut q = Quantizer::new(16, kind, 3);
    let step = q.step();
    let mut rng = Rng(11);
    let n = 1 << 21;
    let err: Vec<f64> = (0..n)
        .map(|_| {
            let x = rng.bipolar() * 0.25;
            q.tick(x) - x
        })
        .collect();
    let len = 8192;
    let w: Vec<f64> = (0..len)
        .map(|i| {
            let t = 2.0 * PI * i as f64 / len as f64;
            0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos()
        })
        .collect();
    let wpow: f64 = w.iter().map(|v| v * v).sum();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(len);
    let mut psd = vec![0.0; len / 2 + 1];
    let mut frames = 0;
    let mut start = 0;
    while start + len <= n {
        let mut buf: Vec<f64> = err[start..start + len]
            .iter()
            .zip(&w)
            .map(|(e, w)| e * w)
            .collect();
        let mut spec = fft.make_output_vec();
        fft.process(&mut buf, &mut spec).unwrap();
        for (p, c) in psd.iter_mut().zip(&spec) {
            *p += c.norm_sqr();
        }
        frames += 1;
        start += len / 2;
    }
    // Two-sided PSD per bin, normalised so that white noise of variance σ² reads σ² per bin.
    let psd: Vec<f64> = psd.iter().map(|p| p / (frames as f64 * wpow)).collect();
    let predicted = |f: f64| {
        let wv = 2.0 * PI * f / fs;
        let (mut re, mut im) = (1.0, 0.0);
        for (k, h) in shaping_filter(kind).iter().enumerate() {
            re -= h * (wv * (k + 1) as f64).cos();
            im += h * (wv * (k + 1) as f64).sin();
        }
        (re * re + im * im) * step * step / 4.0
    };
    let mut worst = 0.0f64;
    for b in 0..30 {
        let fc = 1000.0 * 2f64.powf((b as f64 - 7.0) / 3.0); // 200 Hz … 20 kHz
        if fc > 20000.0 {
            break;
        }
        let (lo, hi) = (fc * 2f64.powf(-1.0 / 6.0), fc * 2f64.powf(1.0 / 6.0));
        let bins: Vec<usize> = (1..len / 2)
            .filter(|&k| {
                let f = k as f64 * fs / len as f64;
                f >= lo && f < hi
            })
            .collect();
        let measured: f64 = bins.iter().map(|&k| psd[k]).sum::<f64>() / bins.len() as f64;
        let expect: f64 = bins
            .iter()
            .map(|&k| predicted(k as f64 * fs / len as f64))
            .sum::<f64>()
            / bins.len() as f64;
        let diff = 10.0 * (measured / expect).log10();
        worst = worst.max(diff.abs());
        assert!(
            diff.abs() <= 1.0,
            "{fc:.0} Hz band: {diff:+.2} dB from prediction"
        );
    }
    eprintln!(
        "{kind:?} error spectrum at {fs} Hz: worst band {worst:.2} dB from prediction (200 Hz–20 kHz)"
    );
}

/// At a CD master's highest level (−0.3 dBFS sine) the Lipshitz loop stays out of overload:
/// the error never exceeds the analytic bound (1 + Σ|h|)·1.5Δ (rounding ±½Δ plus TPDF ±Δ,
/// through the feedback).
#[test]
fn lipshitz_loop_stays_bounded_at_the_cd_ceiling() {
    let mut q = Quantizer::new(16, DitherKind::TpdfLipshitz, 5);
    let step = q.step();
    let bound = (1.0 + LIPSHITZ_FILTER.iter().map(|h| h.abs()).sum::<f64>()) * 1.5 * step;
    let amp = 10f64.powf(-0.3 / 20.0);
    let mut worst = 0.0f64;
    for n in 0..441_000 {
        let x = amp * (2.0 * PI * 997.0 * n as f64 / 44100.0).sin();
        worst = worst.max((q.tick(x) - x).abs());
    }
    eprintln!(
        "Lipshitz loop at -0.3 dBFS: worst error {:.2} Δ (bound {:.2} Δ)",
        worst / step,
        bound / step
    );
    assert!(worst <= bound, "error reached {:.1} Δ", worst / step);
}

#[test]
fn full_scale_sine_does_not_overload_the_shaped_loop() {
    let mut q = Quantizer::new(16, DitherKind::TpdfShaped, 5);
    let step = q.step();
    let mut worst = 0.0f64;
    for n in 0..480_000 {
        let x = (2.0 * PI * 997.0 * n as f64 / 48000.0).sin();
        let y = q.tick(x);
        assert!((-1.0..=1.0 - step).contains(&y));
        worst = worst.max((y - x).abs());
    }
    assert!(worst <= 12.0 * step, "error reached {:.1} Δ", worst / step);
}

#[test]
fn same_seed_same_output_other_seed_other_output() {
    let run = |seed| {
        let mut q = Quantizer::new(24, DitherKind::TpdfShaped, seed);
        (0..1000)
            .map(|n| q.tick((n as f64 * 0.01).sin() * 0.3))
            .collect::<Vec<f64>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

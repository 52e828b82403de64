//! Crossover bands sum to an allpass (flat magnitude, the analytic LR4 identity); stereo width,
//! bass mono and the mid/side round trip.

use lathe_dsp::compressor::CompressorSettings;
use lathe_dsp::crossover::Lr4Allpass;
use lathe_dsp::multiband::{BandSettings, Multiband, MultibandSettings};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_dsp::stereo::{ms_decode, ms_encode, Stereo, StereoSettings};
use realfft::RealFftPlanner;
use std::f64::consts::PI;

const FS: f64 = 48000.0;

fn unity_bands(crossovers: &[f64]) -> MultibandSettings {
    let neutral = BandSettings {
        compressor: CompressorSettings {
            ratio: 1.0,
            threshold_db: 0.0,
            knee_db: 0.0,
            ..Default::default()
        },
        ..Default::default()
    };
    MultibandSettings {
        crossovers_hz: crossovers.to_vec(),
        bands: vec![neutral; crossovers.len() + 1],
    }
}

fn impulse_response(p: &mut dyn Processor, n: usize) -> Vec<f64> {
    let mut l = vec![0.0; n];
    l[0] = 1.0;
    let mut r = l.clone();
    for (lc, rc) in l.chunks_mut(1024).zip(r.chunks_mut(1024)) {
        p.process(&mut StereoBlock {
            left: lc,
            right: rc,
        });
    }
    l
}

#[test]
fn bands_sum_flat_and_null_against_the_allpass() {
    for crossovers in [
        vec![1000.0],
        vec![120.0, 2500.0],
        vec![80.0, 400.0, 3000.0, 10000.0],
    ] {
        let s = unity_bands(&crossovers);
        s.validate().unwrap();
        let mut mb = Multiband::new(s);
        mb.prepare(FS, 1024);
        let n = 1 << 16;
        let h = impulse_response(&mut mb, n);
        // Magnitude of the summed bands: an allpass has |H| = 1 at every frequency.
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let mut spec = fft.make_output_vec();
        fft.process(&mut h.clone(), &mut spec).unwrap();
        let worst_db = spec[1..]
            .iter()
            .map(|c| (20.0 * c.norm().log10()).abs())
            .fold(0.0, f64::max);
        // Residual against the cascade of the crossovers' allpasses.
        let mut aps: Vec<Lr4Allpass> = crossovers.iter().map(|&f| Lr4Allpass::new(f, FS)).collect();
        let mut residual = 0.0f64;
        for (i, &y) in h.iter().enumerate() {
            let x = if i == 0 { 1.0 } else { 0.0 };
            let reference = aps.iter_mut().fold([x, x], |v, ap| ap.tick(v))[0];
            residual = residual.max((y - reference).abs());
        }
        let residual_db = 20.0 * residual.max(1e-300).log10();
        eprintln!("{} bands: magnitude within ±{worst_db:.2e} dB, residual vs allpass {residual_db:.1} dB", crossovers.len() + 1);
        assert!(worst_db <= 0.01);
        assert!(residual_db <= -120.0);
    }
}

#[test]
fn solo_plays_only_the_soloed_band() {
    let mut s = unity_bands(&[500.0]);
    s.bands[1].solo = true;
    let mut mb = Multiband::new(s);
    mb.prepare(FS, 1024);
    let tone = |f: f64| {
        (0..24000)
            .map(|n| 0.5 * (2.0 * PI * f * n as f64 / FS).sin())
            .collect::<Vec<f64>>()
    };
    for (f, expect_db) in [(60.0, -40.0), (5000.0, 0.0)] {
        let mut l = tone(f);
        let mut r = l.clone();
        for (lc, rc) in l.chunks_mut(1024).zip(r.chunks_mut(1024)) {
            mb.process(&mut StereoBlock {
                left: lc,
                right: rc,
            });
        }
        let peak = l[12000..].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let db = 20.0 * (peak / 0.5).log10();
        if expect_db == 0.0 {
            assert!(db.abs() < 0.05, "{f} Hz: {db:.2} dB");
        } else {
            assert!(db < expect_db, "{f} Hz leaks at {db:.1} dB");
        }
    }
}

#[test]
fn mid_side_round_trip_within_one_ulp() {
    for i in 0..10000u64 {
        let l = ((i * 7919) % 20011) as f64 / 10005.5 - 1.0;
        let r = ((i * 104729) % 19997) as f64 / 9998.5 - 1.0;
        let (m, s) = ms_encode(l, r);
        let (l2, r2) = ms_decode(m, s);
        let ulp = f64::EPSILON * l.abs().max(r.abs());
        assert!(
            (l2 - l).abs() <= ulp && (r2 - r).abs() <= ulp,
            "{l} {r} → {l2} {r2}"
        );
    }
}

#[test]
fn width_zero_is_mono_and_bass_mono_removes_low_side_only() {
    let run = |settings: StereoSettings, l: Vec<f64>, r: Vec<f64>| {
        let mut st = Stereo::new(settings);
        st.prepare(FS, 48000);
        let (mut l, mut r) = (l, r);
        st.process(&mut StereoBlock {
            left: &mut l,
            right: &mut r,
        });
        (l, r)
    };
    let tone = |f: f64, sign: f64| {
        (0..48000)
            .map(|n| sign * 0.5 * (2.0 * PI * f * n as f64 / FS).sin())
            .collect::<Vec<f64>>()
    };
    // Width 0: both channels carry the mid signal.
    let (l, r) = run(
        StereoSettings {
            width: 0.0,
            ..Default::default()
        },
        tone(440.0, 1.0),
        tone(300.0, 1.0),
    );
    assert!(l.iter().zip(&r).skip(2000).all(|(a, b)| a == b));
    // Bass mono at 120 Hz: a side-only 40 Hz tone is removed (LR4: ≤ −36 dB), a side-only
    // 2 kHz tone passes at unity, and a mid-only 40 Hz tone keeps its level (allpass).
    // Amplitude from the RMS of the last 0.5 s (a whole number of periods of both tones).
    let peak =
        |v: &[f64]| (v[24000..].iter().map(|x| x * x).sum::<f64>() / 24000.0).sqrt() * 2f64.sqrt();
    let bass = StereoSettings {
        mono_below_hz: 120.0,
        ..Default::default()
    };
    let (l, _) = run(bass, tone(40.0, 1.0), tone(40.0, -1.0));
    assert!(20.0 * (peak(&l) / 0.5).log10() < -36.0);
    let (l, _) = run(bass, tone(2000.0, 1.0), tone(2000.0, -1.0));
    assert!((20.0 * (peak(&l) / 0.5).log10()).abs() < 0.01);
    let (l, r) = run(bass, tone(40.0, 1.0), tone(40.0, 1.0));
    assert!(
        (20.0 * (peak(&l) / 0.5).log10()).abs() < 0.01
            && (20.0 * (peak(&r) / 0.5).log10()).abs() < 0.01
    );
}

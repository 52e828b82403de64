//! Reference matching's EQ, end to end on synthetic signals whose answer is known: noise is
//! measured ([`MidSideSpectrumMeter`]), a "reference" is the same spectrum with an imposed
//! shape (a tilt on mid, a different tilt and a level step on side), the match curves are made
//! ([`FullMatch`]) and applied by the linear-phase mid/side EQ, and the result is measured
//! again. The imposed shape is the reference; amounts scale it (issue 6: amount 0.5 lands half
//! way in dB on each band).

mod test_rng;

use lathe_dsp::linear_phase_eq::LinearPhaseEq;
use lathe_dsp::mid_side_spectrum::{MidSideSpectrum, MidSideSpectrumMeter};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_dsp::spectrum::BAND_NOMINAL_HZ;
use lathe_dsp::tonal_match::{CurveLimits, FullMatch, ThirdOctaveLevels};
use test_rng::Rng;

const FS: f64 = 48000.0;
const SECONDS: usize = 20;

/// Independent noise on two channels: mid and side both broadband.
fn noise() -> [Vec<f64>; 2] {
    let mut rng = Rng(0x5eed);
    let n = SECONDS * FS as usize;
    let l: Vec<f64> = (0..n).map(|_| 0.25 * rng.bipolar()).collect();
    let r: Vec<f64> = (0..n).map(|_| 0.25 * rng.bipolar()).collect();
    [l, r]
}

fn measure(x: &[Vec<f64>; 2]) -> MidSideSpectrum {
    let mut m = MidSideSpectrumMeter::new(FS);
    m.process(&x[0], &x[1]);
    m.finish()
}

/// The imposed shape per band: mid tilts +0.4 dB per band above 1 kHz and −0.3 dB per band
/// below; side tilts the other way and sits 4 dB lower above 2 kHz.
fn shape(i: usize) -> (f64, f64) {
    let k = i as f64 - 17.0; // band 17 is 1 kHz
    let mid = if k >= 0.0 { 0.4 * k } else { 0.3 * k };
    let side = -0.2 * k
        - if BAND_NOMINAL_HZ[i] >= 2000.0 {
            4.0
        } else {
            0.0
        };
    (mid, side)
}

fn apply(x: &[Vec<f64>; 2], m: &FullMatch, eq: f64, width: f64) -> [Vec<f64>; 2] {
    let limits = CurveLimits {
        max_boost_db: 24.0,
        max_cut_db: 24.0,
    };
    let (mid, side) = m.curves(eq, width, limits);
    let mut p = LinearPhaseEq::mid_side(mid, side);
    p.prepare(FS, 4096);
    let d = p.latency_samples();
    let (mut l, mut r) = (x[0].clone(), x[1].clone());
    l.resize(l.len() + d, 0.0);
    r.resize(r.len() + d, 0.0);
    for (a, b) in l.chunks_mut(4096).zip(r.chunks_mut(4096)) {
        p.process(&mut StereoBlock { left: a, right: b });
    }
    [l[d..].to_vec(), r[d..].to_vec()]
}

/// Per band (31.5 Hz–16 kHz, the bands of issue 6's figure): the change from `before` to
/// `after`, mid and side, less the median change (one common offset).
fn changes(before: &MidSideSpectrum, after: &MidSideSpectrum) -> Vec<(usize, f64, f64)> {
    let (b, a) = (ThirdOctaveLevels::of(before), ThirdOctaveLevels::of(after));
    let v: Vec<(usize, f64, f64)> = (2..=29)
        .filter_map(|i| {
            Some((
                i,
                a.mid_db[i]? - b.mid_db[i]?,
                a.side_db[i]? - b.side_db[i]?,
            ))
        })
        .collect();
    less_median(v)
}

/// (band, mid, side) changes less their common median (one level offset).
fn less_median(mut v: Vec<(usize, f64, f64)>) -> Vec<(usize, f64, f64)> {
    let mut all: Vec<f64> = v.iter().flat_map(|c| [c.1, c.2]).collect();
    all.sort_by(f64::total_cmp);
    let median = all[all.len() / 2];
    for c in &mut v {
        c.1 -= median;
        c.2 -= median;
    }
    v
}

/// The wanted shape, also less its median.
fn wanted(eq: f64, width: f64) -> Vec<(usize, f64, f64)> {
    let v: Vec<(usize, f64, f64)> = (2..=29)
        .map(|i| {
            let (m, s) = shape(i);
            (i, eq * m, eq * m + width * (s - m))
        })
        .collect();
    less_median(v)
}

fn reference_of(input: &MidSideSpectrum) -> ThirdOctaveLevels {
    let mut r = ThirdOctaveLevels::of(input);
    for i in 0..BAND_NOMINAL_HZ.len() {
        let (m, s) = shape(i);
        r.mid_db[i] = r.mid_db[i].map(|v| v + m);
        r.side_db[i] = r.side_db[i].map(|v| v + s);
    }
    r
}

fn worst_error(eq: f64, width: f64) -> f64 {
    let x = noise();
    let before = measure(&x);
    let m = FullMatch::new(&before, &reference_of(&before));
    let after = measure(&apply(&x, &m, eq, width));
    let got = changes(&before, &after);
    let want = wanted(eq, width);
    got.iter()
        .zip(&want)
        .map(|(g, w)| (g.1 - w.1).abs().max((g.2 - w.2).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn amount_one_reproduces_the_reference_shape() {
    let worst = worst_error(1.0, 1.0);
    eprintln!("amount 1: worst band error {worst:.3} dB");
    assert!(worst < 0.25, "worst band error {worst} dB");
}

#[test]
fn amount_half_lands_half_way_in_db() {
    let worst = worst_error(0.5, 0.5);
    eprintln!("amount 0.5: worst band error {worst:.3} dB against half the shape");
    assert!(worst < 0.25, "worst band error {worst} dB");
}

/// `width` alone moves side against mid and leaves mid's tonal balance.
#[test]
fn width_alone_changes_only_the_side_to_mid_balance() {
    let worst = worst_error(0.0, 1.0);
    eprintln!("width only: worst band error {worst:.3} dB");
    assert!(worst < 0.25, "worst band error {worst} dB");
}

/// Amount 0: flat curves, the signal comes back unchanged (to rounding).
#[test]
fn amount_zero_changes_nothing() {
    let x = noise();
    let before = measure(&x);
    let m = FullMatch::new(&before, &reference_of(&before));
    let y = apply(&x, &m, 0.0, 0.0);
    let worst = x[0]
        .iter()
        .zip(&y[0])
        .chain(x[1].iter().zip(&y[1]))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-9, "residual {worst:e}");
}

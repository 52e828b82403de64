//! Parameter jumps leave no zipper noise: a 1 kHz sine at −6 dBFS runs while a control jumps
//! (gain 0 → −12 dB; an EQ bell at 1 kHz 0 → −12 dB). The spectrum of the 8192 samples around
//! the jump (Blackman-Harris window) must hold nothing above 8 kHz louder than −90 dBFS
//! (a parameter change smoothed over a few milliseconds leaves nothing there).

use lathe_dsp::eq::{BandKind, Eq, EqBand};
use lathe_dsp::gain::{Gain, GainSettings};
use lathe_dsp::processor::{Processor, StereoBlock};
use realfft::RealFftPlanner;
use std::f64::consts::PI;

const FS: f64 = 48000.0;

/// Highest level above 8 kHz, dBFS (re a full-scale sine), of `x` around `centre`.
fn hf_level_dbfs(x: &[f64], centre: usize) -> f64 {
    let n = 8192;
    let seg = &x[centre - n / 2..centre + n / 2];
    let w = |i: usize| {
        let t = 2.0 * PI * i as f64 / n as f64;
        0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos()
    };
    let wsum: f64 = (0..n).map(w).sum();
    let mut input: Vec<f64> = seg.iter().enumerate().map(|(i, v)| v * w(i)).collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut spec = fft.make_output_vec();
    fft.process(&mut input, &mut spec).unwrap();
    let first = (8000.0 / FS * n as f64) as usize;
    spec[first..]
        .iter()
        .map(|c| 20.0 * (2.0 * c.norm() / wsum).log10())
        .fold(f64::NEG_INFINITY, f64::max)
}

fn sine(len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| 0.5 * (2.0 * PI * 1000.0 * n as f64 / FS).sin())
        .collect()
}

/// Runs `p` on a sine in blocks of 256, calling `change` before the block that starts at `at`.
fn run_with_change<P: Processor>(p: &mut P, at: usize, change: impl Fn(&mut P)) -> Vec<f64> {
    let mut l = sine(48000);
    let mut r = l.clone();
    p.prepare(FS, 256);
    for (i, (lc, rc)) in l.chunks_mut(256).zip(r.chunks_mut(256)).enumerate() {
        if i * 256 == at {
            change(p);
        }
        p.process(&mut StereoBlock {
            left: lc,
            right: rc,
        });
    }
    l
}

const AT: usize = 24064;

#[test]
fn gain_jump_leaves_no_zipper_noise() {
    let mut g = Gain::new(GainSettings::default());
    let y = run_with_change(&mut g, AT, |g| {
        g.set(GainSettings {
            gain_db: -12.0,
            ..Default::default()
        })
    });
    let level = hf_level_dbfs(&y, AT);
    eprintln!("gain 0 → −12 dB: above 8 kHz {level:.1} dBFS");
    assert!(level <= -90.0, "{level:.1} dBFS");
}

#[test]
fn eq_jump_leaves_no_zipper_noise() {
    let band = |gain_db| {
        vec![EqBand {
            gain_db,
            q: 1.0,
            ..EqBand::new(BandKind::Bell, 1000.0)
        }]
    };
    let mut eq = Eq::new(band(0.0));
    let y = run_with_change(&mut eq, AT, |eq| eq.set_bands(band(-12.0)));
    let level = hf_level_dbfs(&y, AT);
    eprintln!("EQ bell 0 → −12 dB: above 8 kHz {level:.1} dBFS");
    assert!(level <= -90.0, "{level:.1} dBFS");
}

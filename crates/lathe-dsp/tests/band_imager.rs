//! The band imager against its specification, with sines in the middle of each band (far from
//! the crossovers, where the LR4 bands are within 0.1 dB of flat): the side signal of each band
//! is scaled by its width within 0.1 dB, the mid signal of every band is unchanged within
//! 0.05 dB, and a band of width 0 keeps no more side than the other bands' skirts (< −40 dB two
//! octaves from the crossover).

use lathe_dsp::band_imager::{BandImager, ImagerSettings};
use lathe_dsp::processor::{Processor, StereoBlock};
use std::f64::consts::PI;

const FS: f64 = 48000.0;

fn tone(f: f64, amp: f64, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| amp * (2.0 * PI * f * n as f64 / FS).sin())
        .collect()
}

fn peak_tail(v: &[f64]) -> f64 {
    v[v.len() - 9600..]
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn each_band_gets_its_width_and_the_mid_is_untouched() {
    let s = ImagerSettings {
        crossovers_hz: vec![200.0, 4000.0],
        widths: vec![0.0, 1.5, 0.5],
    };
    let len = 48000;
    for (band, f) in [(0, 50.0), (1, 1000.0), (2, 14000.0)] {
        // Left only: mid and side of equal size.
        let l = tone(f, 0.25, len);
        let r = vec![0.0; len];
        let mut p = BandImager::new(s.clone());
        p.prepare(FS, 512);
        let (mut yl, mut yr) = (l.clone(), r.clone());
        for (a, b) in yl.chunks_mut(512).zip(yr.chunks_mut(512)) {
            p.process(&mut StereoBlock { left: a, right: b });
        }
        let mid: Vec<f64> = yl.iter().zip(&yr).map(|(a, b)| (a + b) / 2.0).collect();
        let side: Vec<f64> = yl.iter().zip(&yr).map(|(a, b)| (a - b) / 2.0).collect();
        let mid_db = 20.0 * (peak_tail(&mid) / 0.125).log10();
        let w = s.widths[band];
        let side_peak = peak_tail(&side);
        eprintln!(
            "{f} Hz: mid {mid_db:+.3} dB, side ×{:.3} (width {w})",
            side_peak / 0.125
        );
        assert!(mid_db.abs() <= 0.05, "mid moved {mid_db:+.3} dB");
        if w == 0.0 {
            // What is left is the other bands' skirts two octaves away (LR4: about −48 dB
            // each, times their widths).
            let left_db = 20.0 * (side_peak / 0.125).log10();
            assert!(
                left_db < -40.0,
                "band {band} is not mono: side at {left_db:.1} dB"
            );
        } else {
            let side_db = 20.0 * (side_peak / (0.125 * w)).log10();
            assert!(side_db.abs() <= 0.1, "side off by {side_db:+.3} dB");
        }
    }
}

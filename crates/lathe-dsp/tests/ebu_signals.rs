//! Test signals of EBU Tech 3341 (V4, 2023) and Tech 3342 (2023), synthesised from the
//! specifications' own descriptions of their test cases: a 1 kHz sine at the given
//! per-channel peak level in dBFS, identical in every channel, one continuous oscillator with
//! gain steps at segment boundaries.

#![allow(dead_code)]

use std::f64::consts::PI;

/// A planar multichannel signal.
pub struct Signal {
    pub channels: Vec<Vec<f64>>,
}

impl Signal {
    pub fn planar(&self) -> Vec<&[f64]> {
        self.channels.iter().map(|c| c.as_slice()).collect()
    }
}

fn db(level_dbfs: f64) -> f64 {
    10f64.powf(level_dbfs / 20.0)
}

/// Stereo 1 kHz tone built from `(seconds, level_dbfs)` segments; `None` = digital silence.
pub fn tone_segments(fs: f64, segments: &[(f64, Option<f64>)]) -> Signal {
    let mut out = Vec::new();
    let mut n = 0usize;
    for &(seconds, level) in segments {
        let len = (seconds * fs).round() as usize;
        let amp = level.map_or(0.0, db);
        for _ in 0..len {
            out.push(amp * (2.0 * PI * 1000.0 * n as f64 / fs).sin());
            n += 1;
        }
    }
    Signal {
        channels: vec![out.clone(), out],
    }
}

/// Tech 3341 case 6: 5.0 tone, L, R at −28, C at −24, Ls, Rs at −30 dBFS, in the EBU file
/// order L, R, C, Ls, Rs.
pub fn case6(fs: f64) -> Signal {
    let levels = [-28.0, -28.0, -24.0, -30.0, -30.0];
    let len = (20.0 * fs) as usize;
    let channels = levels
        .iter()
        .map(|&l| {
            (0..len)
                .map(|n| db(l) * (2.0 * PI * 1000.0 * n as f64 / fs).sin())
                .collect()
        })
        .collect();
    Signal { channels }
}

/// Stereo sine at `freq_hz` of peak `amp` (linear) and phase `phase_deg`, 1 s long with 10 ms
/// linear fades (Tech 3341 cases 15–19).
pub fn tp_sine(fs: f64, freq_hz: f64, amp: f64, phase_deg: f64) -> Signal {
    let len = fs as usize;
    let fade = (0.010 * fs) as usize;
    let out: Vec<f64> = (0..len)
        .map(|n| {
            let env = (n.min(len - 1 - n) as f64 / fade as f64).min(1.0);
            env * amp * (2.0 * PI * freq_hz * n as f64 / fs + phase_deg.to_radians()).sin()
        })
        .collect();
    Signal {
        channels: vec![out.clone(), out],
    }
}

/// Tech 3341 cases 20–23: an fs/6 sine at 0.5 FFS that contains one period of fs/4 at 1.0 FFS,
/// phase-continuous, made at 4·fs, low-passed (513-tap Hamming-windowed sinc, cutoff fs/2) and
/// decimated by 4 starting at `offset` (0..3). 1.51 s before the burst, 1.69 s after, 100 ms
/// linear fades.
pub fn tp_burst(fs: f64, offset: usize) -> Signal {
    let up = 4.0 * fs;
    let period_a = 24usize; // fs/6 at 4·fs
    let start = ((1.51 * up) as usize / period_a) * period_a; // on a rising zero crossing
    let total = ((1.51 + 1.69) * up) as usize + 16;
    let x: Vec<f64> = (0..total)
        .map(|m| {
            if m < start {
                0.5 * (2.0 * PI * m as f64 / period_a as f64).sin()
            } else if m < start + 16 {
                (2.0 * PI * (m - start) as f64 / 16.0).sin()
            } else {
                0.5 * (2.0 * PI * (m - start - 16) as f64 / period_a as f64).sin()
            }
        })
        .collect();
    // Anti-alias filter: 513-tap Hamming-windowed sinc, cutoff fs/2 = 1/8 of the 4·fs rate.
    let taps = 513usize;
    let c = (taps / 2) as isize;
    let h: Vec<f64> = (0..taps)
        .map(|i| {
            let t = i as isize - c;
            let sinc = if t == 0 {
                0.25
            } else {
                (PI * t as f64 / 4.0).sin() / (PI * t as f64)
            };
            sinc * (0.54 - 0.46 * (2.0 * PI * i as f64 / (taps - 1) as f64).cos())
        })
        .collect();
    let mut y = Vec::with_capacity(total / 4);
    let mut m = offset;
    while m < total {
        let mut acc = 0.0;
        for (i, hv) in h.iter().enumerate() {
            let idx = m as isize + c - i as isize;
            if idx >= 0 && (idx as usize) < total {
                acc += hv * x[idx as usize];
            }
        }
        y.push(acc);
        m += 4;
    }
    let fade = (0.1 * fs) as usize;
    let len = y.len();
    for (n, v) in y.iter_mut().enumerate() {
        *v *= (n.min(len - 1 - n) as f64 / fade as f64).min(1.0);
    }
    Signal {
        channels: vec![y.clone(), y],
    }
}

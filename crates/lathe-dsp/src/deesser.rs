//! De-esser: lowers the top of a voice only while it hisses.
//!
//! **Detection is relative**, so that it does not depend on how loud the voice is: the share of
//! the signal's power above the split frequency (a second-order Butterworth high-pass of the
//! input against the whole input, both mean squares through a one-pole of [`DETECT_MS`]).
//! Vowels keep almost all their power below 4 kHz (their share is typically −30…−15 dB);
//! sibilants put most of theirs above (−6…0 dB). The reduction grows from 0 at `threshold_db`
//! to `depth_db` at `threshold_db` + [`KNEE_DB`], and nothing happens while the signal is
//! quieter than [`GATE_DB`] (room noise is not sibilance). Both channels' powers are summed:
//! one gain for both.
//!
//! **Split-band reduction**: only the band above the split is lowered:
//! `y = x_d + (G − 1)·hp(x)`, with `hp` a linear-phase high-pass FIR (windowed sinc, Kaiser
//! window for [`STOPBAND_DB`], [`HALF_LENGTH_MS`] each side) and `x_d` the input delayed by the
//! FIR's half length. With `G = 1` the output is the delayed input bit for bit; with `G < 1`
//! the band above the split is lowered by exactly `G` and the band below is untouched, with no
//! phase change at the split. The detector runs on the undelayed input, so the FIR's delay is
//! a look-ahead: the gain is down before the sibilant reaches the output. Latency: the half
//! length, reported.
//!
//! **Smoothing** of the gain in dB: `attack_ms` down, `release_ms` back (63.2 % of a step).

use crate::biquad::{BiquadCoefficients, StereoBiquadState};
use crate::fast_math;
use crate::matched::AnalogSection;
use crate::processor::{Processor, StereoBlock};
use crate::window::{kaiser_beta, Kaiser};
use std::f64::consts::PI;

/// Averaging time of the detector's mean squares, ms.
pub const DETECT_MS: f64 = 5.0;
/// Width over which the reduction grows from nothing to the full depth, dB of share.
pub const KNEE_DB: f64 = 6.0;
/// Below this level (whole-signal mean square, dBFS) the de-esser does nothing.
pub const GATE_DB: f64 = -60.0;
/// Half length of the split filter (and the look-ahead), ms.
pub const HALF_LENGTH_MS: f64 = 1.5;
/// Stopband rejection of the split filter, dB.
pub const STOPBAND_DB: f64 = 60.0;

/// De-esser settings (also the `deesser` keys of a session file).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeEsserSettings {
    /// Split frequency: the band above it is detected and lowered, Hz.
    pub freq_hz: f64,
    /// Share of the power above the split where the reduction starts, dB (relative to the
    /// whole signal's power, ≤ 0).
    pub threshold_db: f64,
    /// Reduction of the band above the split once the share is [`KNEE_DB`] past the
    /// threshold, dB (> 0).
    pub depth_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
}

impl Default for DeEsserSettings {
    fn default() -> Self {
        Self {
            freq_hz: 4500.0,
            threshold_db: -12.0,
            depth_db: 6.0,
            attack_ms: 1.0,
            release_ms: 60.0,
        }
    }
}

fn in_range(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), String> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!("{key} must be within {lo}…{hi}, got {v}"))
    }
}

impl DeEsserSettings {
    pub fn validate(&self) -> Result<(), String> {
        in_range("freq_hz", self.freq_hz, 2000.0, 12000.0)?;
        in_range("threshold_db", self.threshold_db, -40.0, 0.0)?;
        in_range("depth_db", self.depth_db, 0.0, 24.0)?;
        in_range("attack_ms", self.attack_ms, 0.1, 50.0)?;
        in_range("release_ms", self.release_ms, 5.0, 1000.0)
    }

    /// The reduction (dB, ≥ 0) for a share of the power above the split, dB.
    pub fn reduction_db(&self, share_db: f64) -> f64 {
        self.depth_db * ((share_db - self.threshold_db) / KNEE_DB).clamp(0.0, 1.0)
    }
}

/// The linear-phase low-pass whose complement is the split's high band: `2·half + 1` taps.
fn split_lowpass(freq_hz: f64, sample_rate_hz: f64, half: usize) -> Vec<f64> {
    let kaiser = Kaiser::new(kaiser_beta(STOPBAND_DB));
    let fc = (freq_hz / sample_rate_hz).min(0.45);
    let mut taps: Vec<f64> = (0..=2 * half)
        .map(|k| {
            let t = k as f64 - half as f64;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * PI * fc * t).sin() / (PI * t)
            };
            sinc * kaiser.at(t / (half as f64 + 1.0))
        })
        .collect();
    let dc: f64 = taps.iter().sum();
    taps.iter_mut().for_each(|t| *t /= dc);
    taps
}

pub struct DeEsser {
    s: DeEsserSettings,
    /// Taps `0..=half` of the symmetric low-pass.
    taps: Vec<f64>,
    half: usize,
    detect_hp: BiquadCoefficients,
    detect_coef: f64,
    attack_coef: f64,
    release_coef: f64,
    /// Per channel: the last `2·half + 1` inputs, twice (so a window is one slice).
    history: [Vec<f64>; 2],
    pos: usize,
    hp_state: StereoBiquadState,
    ms_all: f64,
    ms_high: f64,
    /// Smoothed reduction, dB (≥ 0).
    reduction_db: f64,
}

impl DeEsser {
    pub fn new(settings: DeEsserSettings) -> Self {
        let mut me = Self {
            s: settings,
            taps: Vec::new(),
            half: 0,
            detect_hp: BiquadCoefficients::IDENTITY,
            detect_coef: 0.0,
            attack_coef: 0.0,
            release_coef: 0.0,
            history: [Vec::new(), Vec::new()],
            pos: 0,
            hp_state: StereoBiquadState::default(),
            ms_all: 0.0,
            ms_high: 0.0,
            reduction_db: 0.0,
        };
        me.prepare(48000.0, 0);
        me
    }

    /// The reduction now, dB (≥ 0; for metering and tests).
    pub fn reduction_db(&self) -> f64 {
        self.reduction_db
    }

    /// The low-pass over the window ending at the newest sample of channel `ch`.
    #[inline]
    fn lowpass(&self, ch: usize) -> f64 {
        let n = 2 * self.half + 1;
        let w = &self.history[ch][self.pos..self.pos + n];
        let mut acc = self.taps[self.half] * w[self.half];
        for k in 0..self.half {
            acc += self.taps[k] * (w[k] + w[n - 1 - k]);
        }
        acc
    }
}

fn one_pole(ms: f64, sample_rate_hz: f64) -> f64 {
    (-1.0 / (ms * 1e-3 * sample_rate_hz)).exp()
}

impl Processor for DeEsser {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        self.half = (HALF_LENGTH_MS * 1e-3 * sample_rate_hz).round() as usize;
        let lp = split_lowpass(self.s.freq_hz, sample_rate_hz, self.half);
        self.taps = lp[..=self.half].to_vec();
        let w = 2.0 * PI * self.s.freq_hz.min(0.45 * sample_rate_hz);
        let q = std::f64::consts::FRAC_1_SQRT_2;
        self.detect_hp = AnalogSection {
            num: [1.0, 0.0, 0.0],
            den: [1.0, w / q, w * w],
        }
        .to_digital(sample_rate_hz);
        self.detect_coef = one_pole(DETECT_MS, sample_rate_hz);
        self.attack_coef = one_pole(self.s.attack_ms, sample_rate_hz);
        self.release_coef = one_pole(self.s.release_ms, sample_rate_hz);
        let n = 2 * self.half + 1;
        self.history = [vec![0.0; 2 * n], vec![0.0; 2 * n]];
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let n = 2 * self.half + 1;
        let gate = 10f64.powf(GATE_DB / 10.0);
        let (dc, ac, rc) = (self.detect_coef, self.attack_coef, self.release_coef);
        for i in 0..block.len() {
            let x = [block.left[i], block.right[i]];
            // The newest sample goes at the window's end, in both copies of the history.
            self.pos = if self.pos == 0 { n - 1 } else { self.pos - 1 };
            for (ch, &v) in x.iter().enumerate() {
                self.history[ch][self.pos] = v;
                self.history[ch][self.pos + n] = v;
            }
            // Detection on the undelayed input: the FIR's delay is the look-ahead.
            let h = self.hp_state.tick(&self.detect_hp, x);
            self.ms_all += (x[0] * x[0] + x[1] * x[1] - self.ms_all) * (1.0 - dc);
            self.ms_high += (h[0] * h[0] + h[1] * h[1] - self.ms_high) * (1.0 - dc);
            let target = if self.ms_all > gate {
                let share_db = 10.0 / std::f64::consts::LN_10
                    * fast_math::ln_f32((self.ms_high / self.ms_all).max(1e-12) as f32) as f64;
                self.s.reduction_db(share_db)
            } else {
                0.0
            };
            let c = if target > self.reduction_db { ac } else { rc };
            let mut r = target + c * (self.reduction_db - target);
            if target == 0.0 && r < 1e-9 {
                r = 0.0;
            }
            self.reduction_db = r;
            // The window is newest-first: the delayed input is its middle.
            let delayed = [
                self.history[0][self.pos + self.half],
                self.history[1][self.pos + self.half],
            ];
            if r == 0.0 {
                block.left[i] = delayed[0];
                block.right[i] = delayed[1];
            } else {
                let g = fast_math::exp_f32((-r * std::f64::consts::LN_10 / 20.0) as f32) as f64;
                block.left[i] = delayed[0] + (g - 1.0) * (delayed[0] - self.lowpass(0));
                block.right[i] = delayed[1] + (g - 1.0) * (delayed[1] - self.lowpass(1));
            }
        }
        self.hp_state.flush_denormals();
    }

    fn latency_samples(&self) -> usize {
        self.half
    }

    fn reset(&mut self) {
        for h in &mut self.history {
            h.fill(0.0);
        }
        self.pos = 0;
        self.hp_state.reset();
        self.ms_all = 0.0;
        self.ms_high = 0.0;
        self.reduction_db = 0.0;
    }
}

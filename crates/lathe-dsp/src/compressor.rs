//! Feed-forward compressor (after Giannoulis, Massberg and Reiss, "Digital dynamic range
//! compressor design — a tutorial and analysis", JAES 2012).
//!
//! - **Detector**: peak (`|x|`) or RMS (mean square through a one-pole of [`RMS_TIME_MS`]) of
//!   the side chain, optionally high-passed (2nd-order Butterworth at `sidechain_hpf_hz`).
//!   Stereo link takes the louder channel for both; unlinked channels are independent. In
//!   mid/side mode the mid and side signals are compressed independently.
//! - **Gain computer** in dB with a quadratic soft knee of width `knee_db` (the paper's eq. 4).
//! - **Smoothing** of the gain in dB by a branching one-pole: attack when the gain falls,
//!   release when it rises. **Time constants**: `attack_ms`/`release_ms` is the time the gain
//!   reduction takes to cover 63.2 % (1 − 1/e) of a step change, in dB.
//! - **Lookahead** delays the audio (not the detector) by `lookahead_ms`; the latency is reported.

use crate::biquad::{BiquadCoefficients, BiquadState};
use crate::delay::DelayLine;
use crate::matched::AnalogSection;
use crate::processor::{Processor, StereoBlock};

/// dB per neper: 20 / ln 10.
const DB_PER_NEPER: f64 = 8.685_889_638_065_035;

/// Linear gain of a gain in dB (`exp` is cheaper than `powf`); exactly 1 for 0 dB.
#[inline]
fn gain_lin(db: f64) -> f64 {
    if db == 0.0 {
        1.0
    } else {
        (db / DB_PER_NEPER).exp()
    }
}

/// Averaging time of the RMS detector, ms.
pub const RMS_TIME_MS: f64 = 10.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detection {
    #[default]
    Peak,
    Rms,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelMode {
    #[default]
    Stereo,
    MidSide,
}

/// Compressor settings (also the `compressor` keys of a session file; missing keys take the
/// defaults below).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressorSettings {
    pub threshold_db: f64,
    /// Ratio above the threshold (≥ 1).
    pub ratio: f64,
    /// Width of the soft knee, dB (0 = hard knee).
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    pub makeup_db: f64,
    pub detection: Detection,
    /// Stereo mode only: one gain for both channels from the louder one.
    pub stereo_link: bool,
    /// High-pass the side chain at this frequency, Hz (0 = off).
    pub sidechain_hpf_hz: f64,
    pub mode: ChannelMode,
    pub lookahead_ms: f64,
}

impl Default for CompressorSettings {
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 120.0,
            makeup_db: 0.0,
            detection: Detection::Peak,
            stereo_link: true,
            sidechain_hpf_hz: 0.0,
            mode: ChannelMode::Stereo,
            lookahead_ms: 0.0,
        }
    }
}

impl CompressorSettings {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, key: &str, v: f64, range: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("{key} must be {range}, got {v}"))
            }
        };
        check(
            (-80.0..=0.0).contains(&self.threshold_db),
            "threshold_db",
            self.threshold_db,
            "within −80…0 dB",
        )?;
        check(
            (1.0..=100.0).contains(&self.ratio),
            "ratio",
            self.ratio,
            "within 1…100",
        )?;
        check(
            (0.0..=24.0).contains(&self.knee_db),
            "knee_db",
            self.knee_db,
            "within 0…24 dB",
        )?;
        check(
            (0.01..=500.0).contains(&self.attack_ms),
            "attack_ms",
            self.attack_ms,
            "within 0.01…500 ms",
        )?;
        check(
            (1.0..=5000.0).contains(&self.release_ms),
            "release_ms",
            self.release_ms,
            "within 1…5000 ms",
        )?;
        check(
            (-24.0..=24.0).contains(&self.makeup_db),
            "makeup_db",
            self.makeup_db,
            "within ±24 dB",
        )?;
        check(
            (0.0..=500.0).contains(&self.sidechain_hpf_hz),
            "sidechain_hpf_hz",
            self.sidechain_hpf_hz,
            "within 0…500 Hz",
        )?;
        check(
            (0.0..=20.0).contains(&self.lookahead_ms),
            "lookahead_ms",
            self.lookahead_ms,
            "within 0…20 ms",
        )
    }

    /// The static curve: output level for an input level, dB.
    pub fn static_curve_db(&self, input_db: f64) -> f64 {
        let (t, r, w) = (self.threshold_db, self.ratio, self.knee_db);
        let over = input_db - t;
        if 2.0 * over < -w {
            input_db
        } else if 2.0 * over <= w && w > 0.0 {
            input_db + (1.0 / r - 1.0) * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            t + over / r
        }
    }
}

/// The per-channel detector and gain state.
#[derive(Clone, Debug, Default)]
struct Detector {
    hpf: [BiquadState; 1],
    mean_square: f64,
    /// Smoothed gain change, dB (≤ 0).
    gain_db: f64,
}

pub struct Compressor {
    s: CompressorSettings,
    hpf: Option<BiquadCoefficients>,
    rms_coef: f64,
    attack_coef: f64,
    release_coef: f64,
    makeup_lin: f64,
    det: [Detector; 2],
    delay: [DelayLine; 2],
}

impl Compressor {
    pub fn new(settings: CompressorSettings) -> Self {
        let mut me = Self {
            s: settings,
            hpf: None,
            rms_coef: 0.0,
            attack_coef: 0.0,
            release_coef: 0.0,
            makeup_lin: 1.0,
            det: Default::default(),
            delay: [DelayLine::new(0), DelayLine::new(0)],
        };
        me.prepare(48000.0, 0);
        me
    }

    pub fn settings(&self) -> &CompressorSettings {
        &self.s
    }

    /// Current gain change of the first (or mid) channel, dB (for metering and tests).
    pub fn gain_reduction_db(&self) -> f64 {
        self.det[0].gain_db
    }

    /// The detector's running value for the next sample: |x| (peak) or the mean square (RMS)
    /// of the side-chain signal, linear.
    #[inline]
    fn detect(&self, x: f64, det: &mut Detector) -> f64 {
        let sc = match &self.hpf {
            Some(c) => det.hpf[0].tick(c, x),
            None => x,
        };
        match self.s.detection {
            Detection::Peak => sc.abs(),
            Detection::Rms => {
                det.mean_square += (sc * sc - det.mean_square) * self.rms_coef;
                det.mean_square
            }
        }
    }

    /// A detector value in dB. 20·log10(x) = (20/ln 10)·ln(x): ln is cheaper than log10.
    #[inline]
    fn level_db(&self, detected: f64) -> f64 {
        match self.s.detection {
            Detection::Peak => DB_PER_NEPER * detected.max(1e-12).ln(),
            Detection::Rms => 0.5 * DB_PER_NEPER * detected.max(1e-24).ln(),
        }
    }

    #[inline]
    fn smooth(&self, det: &mut Detector, target_db: f64) -> f64 {
        let coef = if target_db < det.gain_db {
            self.attack_coef
        } else {
            self.release_coef
        };
        det.gain_db = target_db + (det.gain_db - target_db) * coef;
        det.gain_db
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        let s = self.s;
        let coef = |ms: f64| (-1.0 / (ms * 1e-3 * sample_rate_hz)).exp();
        self.attack_coef = coef(s.attack_ms);
        self.release_coef = coef(s.release_ms);
        self.rms_coef = 1.0 - coef(RMS_TIME_MS);
        self.makeup_lin = crate::db_to_lin(s.makeup_db);
        self.hpf = (s.sidechain_hpf_hz > 0.0).then(|| {
            let w = 2.0 * std::f64::consts::PI * s.sidechain_hpf_hz;
            AnalogSection {
                num: [1.0, 0.0, 0.0],
                den: [1.0, w * std::f64::consts::SQRT_2, w * w],
            }
            .to_digital(sample_rate_hz)
        });
        let d = (s.lookahead_ms * 1e-3 * sample_rate_hz).round() as usize;
        self.delay = [DelayLine::new(d), DelayLine::new(d)];
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let s = self.s;
        let mut det = std::mem::take(&mut self.det);
        for (l, r) in block.left.iter_mut().zip(block.right.iter_mut()) {
            let (a, b) = match s.mode {
                ChannelMode::Stereo => (*l, *r),
                ChannelMode::MidSide => ((*l + *r) * 0.5, (*l - *r) * 0.5),
            };
            let (va, vb) = (self.detect(a, &mut det[0]), self.detect(b, &mut det[1]));
            let (ga, gb) = if s.mode == ChannelMode::Stereo && s.stereo_link {
                // The louder channel decides; dB is monotonic, so one logarithm suffices.
                let level = self.level_db(va.max(vb));
                let g = self.smooth(&mut det[0], s.static_curve_db(level) - level);
                det[1].gain_db = g;
                (g, g)
            } else {
                let (la, lb) = (self.level_db(va), self.level_db(vb));
                (
                    self.smooth(&mut det[0], s.static_curve_db(la) - la),
                    self.smooth(&mut det[1], s.static_curve_db(lb) - lb),
                )
            };
            let (da, db) = (self.delay[0].tick(a), self.delay[1].tick(b));
            let lin_a = gain_lin(ga);
            let lin_b = if gb == ga { lin_a } else { gain_lin(gb) };
            let (ya, yb) = (da * lin_a * self.makeup_lin, db * lin_b * self.makeup_lin);
            match s.mode {
                ChannelMode::Stereo => {
                    *l = ya;
                    *r = yb;
                }
                ChannelMode::MidSide => {
                    *l = ya + yb;
                    *r = ya - yb;
                }
            }
        }
        for d in det.iter_mut() {
            d.hpf[0].flush_denormals();
        }
        self.det = det;
    }

    fn latency_samples(&self) -> usize {
        self.delay[0].delay_samples()
    }

    fn reset(&mut self) {
        self.det = Default::default();
        for d in &mut self.delay {
            d.reset();
        }
    }
}

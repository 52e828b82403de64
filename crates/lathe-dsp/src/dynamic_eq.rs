//! Dynamic EQ: bell and shelf bands whose gain follows the level in their own band: a cut
//! while the band is louder than a threshold (`above`, downward), or a lift while it is quieter
//! (`below`, upward). The detector listens to the band of the signal itself, or of an external
//! key (another stem: [`Processor::process_keyed`]), so that an accompaniment can give way only
//! while a vocal sings.
//!
//! **Structure: one fixed filter per band, a moving gain.** Each band is `y = x + (G − 1)·F(x)`,
//! with `F` a band-pass of unit gain at the centre (bells) or a first-order low-/high-pass at
//! the corner (shelves), and `G` the band's linear gain. With `G = 1` the output is the input
//! bit for bit; outside the band `F` is small, so the signal is untouched whatever `G` does; at
//! the centre the gain is exactly `G`. Moving `G` changes no filter coefficient, so the gain can
//! move every sample without zipper noise or filter-state jumps (a bell redesigned per sample
//! would need both). Analog prototypes (S = s/ω0): bell `1 + (G − 1)·(S/Q)/(S² + S/Q + 1)`
//! (the constant-Q bell: a cut is narrower than a boost of the same size, as on most analog
//! desks); low shelf `(S + G)/(S + 1)`; high shelf `(G·S + 1)/(S + 1)` (6 dB/octave, half the
//! change at the corner, which suits a gain that moves). Digital sections by the bilinear
//! transform prewarped at the centre/corner, so the centre gain is exact and the band is
//! slightly narrower than the prototype near Nyquist.
//!
//! **Detector**: the band filter's output of the key (the signal itself when there is none),
//! rectified as the louder channel's peak (`|x|`) or mean square through a one-pole of
//! [`crate::compressor::RMS_TIME_MS`] (`rms`, the default: a steady tone reads steady).
//! **Gain computer** (dB, hard knee): `above`: `−min(range, (L − T)(1 − 1/ratio))` for `L > T`;
//! `below`: `+min(range, (T − L)(1 − 1/ratio))` for `L < T`; 0 otherwise.
//! **Smoothing** of the gain in dB by a branching one-pole: `attack_ms` while the gain moves
//! away from 0 dB, `release_ms` while it returns; each is the time to cover 63.2 % of a step.
//! No latency.

use crate::biquad::{BiquadCoefficients, StereoBiquadState};
use crate::compressor::{Detection, RMS_TIME_MS};
use crate::fast_math;
use crate::processor::{KeyBlock, Processor, StereoBlock};
use std::f64::consts::PI;

/// A smoothed gain closer to 0 dB than this is snapped to 0 dB (then the band passes the
/// signal bit for bit instead of approaching 0 dB through denormal numbers).
const SNAP_DB: f64 = 1e-9;

/// The shape of a band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DynamicShape {
    #[default]
    Bell,
    LowShelf,
    HighShelf,
}

/// Which side of the threshold the band acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DynamicMode {
    /// Cut while the band is louder than the threshold (downward).
    #[default]
    Above,
    /// Lift while the band is quieter than the threshold (upward).
    Below,
}

/// One band (also the keys of a `dynamic_eq` band in a session file).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicBand {
    pub shape: DynamicShape,
    /// Centre (bell) or corner (shelves), Hz.
    pub freq_hz: f64,
    /// Quality factor of a bell (shelves ignore it).
    pub q: f64,
    /// Level of the band's detector where the band starts to act, dBFS.
    pub threshold_db: f64,
    /// How strongly the band follows the level past the threshold (≥ 1).
    pub ratio: f64,
    /// The most the band cuts or lifts, dB (> 0).
    pub range_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    pub mode: DynamicMode,
    pub detection: Detection,
}

impl Default for DynamicBand {
    fn default() -> Self {
        Self {
            shape: DynamicShape::Bell,
            freq_hz: 1000.0,
            q: 1.0,
            threshold_db: -24.0,
            ratio: 2.0,
            range_db: 6.0,
            attack_ms: 10.0,
            release_ms: 100.0,
            mode: DynamicMode::Above,
            detection: Detection::Rms,
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

impl DynamicBand {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        in_range("freq_hz", self.freq_hz, 10.0, 40_000.0)?;
        in_range("q", self.q, 0.1, 20.0)?;
        in_range("threshold_db", self.threshold_db, -100.0, 0.0)?;
        in_range("ratio", self.ratio, 1.0, 100.0)?;
        in_range("range_db", self.range_db, 0.0, 24.0)?;
        in_range("attack_ms", self.attack_ms, 0.01, 500.0)?;
        in_range("release_ms", self.release_ms, 1.0, 5000.0)
    }

    /// The gain computer: the band's gain change for a detector level, dB.
    pub fn static_gain_db(&self, level_db: f64) -> f64 {
        let slope = 1.0 - 1.0 / self.ratio;
        match self.mode {
            DynamicMode::Above => {
                -((level_db - self.threshold_db).max(0.0) * slope).min(self.range_db)
            }
            DynamicMode::Below => {
                ((self.threshold_db - level_db).max(0.0) * slope).min(self.range_db)
            }
        }
    }

    /// The band's filter `F` at `sample_rate_hz` (bilinear, prewarped at `freq_hz`). A band
    /// above 0.49·fs is moved to 0.49·fs (it can only reach that far).
    pub fn filter(&self, sample_rate_hz: f64) -> BiquadCoefficients {
        let f = self.freq_hz.min(0.49 * sample_rate_hz);
        let w0 = 2.0 * PI * f / sample_rate_hz;
        match self.shape {
            DynamicShape::Bell => {
                // Unit gain and zero phase at w0.
                let alpha = w0.sin() / (2.0 * self.q);
                let a0 = 1.0 + alpha;
                BiquadCoefficients {
                    b0: alpha / a0,
                    b1: 0.0,
                    b2: -alpha / a0,
                    a1: -2.0 * w0.cos() / a0,
                    a2: (1.0 - alpha) / a0,
                }
            }
            DynamicShape::LowShelf | DynamicShape::HighShelf => {
                let k = (w0 / 2.0).tan();
                let a1 = (k - 1.0) / (k + 1.0);
                let (b0, b1) = if self.shape == DynamicShape::LowShelf {
                    (k / (1.0 + k), k / (1.0 + k))
                } else {
                    (1.0 / (1.0 + k), -1.0 / (1.0 + k))
                };
                BiquadCoefficients {
                    b0,
                    b1,
                    b2: 0.0,
                    a1,
                    a2: 0.0,
                }
            }
        }
    }

    /// |H| of the band at `freq_hz` with its gain at `gain_db`, at `sample_rate_hz` (the
    /// digital response: `|1 + (G − 1)·F|`).
    pub fn magnitude(&self, freq_hz: f64, gain_db: f64, sample_rate_hz: f64) -> f64 {
        let f = self.filter(sample_rate_hz);
        let (m, ph) = f.response(freq_hz, sample_rate_hz);
        let g = crate::db_to_lin(gain_db) - 1.0;
        let (re, im) = (1.0 + g * m * ph.cos(), g * m * ph.sin());
        (re * re + im * im).sqrt()
    }
}

/// Per-band coefficients at the prepared rate.
#[derive(Clone, Copy, Debug)]
struct BandCoefficients {
    filter: BiquadCoefficients,
    rms_coef: f64,
    attack_coef: f64,
    release_coef: f64,
}

/// Per-band state.
#[derive(Clone, Copy, Debug, Default)]
struct BandState {
    audio: StereoBiquadState,
    key: StereoBiquadState,
    mean_square: [f64; 2],
    /// Smoothed gain change, dB.
    gain_db: f64,
}

/// The dynamic EQ: bands in series.
pub struct DynamicEq {
    bands: Vec<DynamicBand>,
    coefs: Vec<BandCoefficients>,
    state: Vec<BandState>,
}

/// One-pole coefficient reaching 63.2 % of a step in `ms`.
fn one_pole(ms: f64, sample_rate_hz: f64) -> f64 {
    (-1.0 / (ms * 1e-3 * sample_rate_hz)).exp()
}

impl DynamicEq {
    pub fn new(bands: Vec<DynamicBand>) -> Self {
        let mut me = Self {
            state: vec![BandState::default(); bands.len()],
            coefs: Vec::new(),
            bands,
        };
        me.prepare(48000.0, 0);
        me
    }

    pub fn bands(&self) -> &[DynamicBand] {
        &self.bands
    }

    /// Current gain change of band `i`, dB (for metering and tests).
    pub fn gain_db(&self, i: usize) -> f64 {
        self.state[i].gain_db
    }

    /// Runs band `i` over the block; `key`: the external detector input, if any.
    fn run_band(&mut self, i: usize, block: &mut StereoBlock<'_>, key: Option<&KeyBlock<'_>>) {
        let band = self.bands[i];
        let c = self.coefs[i];
        let st = &mut self.state[i];
        let slope = 1.0 - 1.0 / band.ratio;
        let above = band.mode == DynamicMode::Above;
        let rms = band.detection == Detection::Rms;
        let (t, range) = (band.threshold_db, band.range_db);
        let mut g = st.gain_db;
        let mut ms = st.mean_square;
        for n in 0..block.len() {
            let x = [block.left[n], block.right[n]];
            let f = st.audio.tick(&c.filter, x);
            let d = match key {
                Some(k) => st.key.tick(&c.filter, [k.left[n], k.right[n]]),
                None => f,
            };
            // Detector level, dB (the floor keeps the logarithm finite on silence).
            let level_db = if rms {
                ms[0] += (d[0] * d[0] - ms[0]) * (1.0 - c.rms_coef);
                ms[1] += (d[1] * d[1] - ms[1]) * (1.0 - c.rms_coef);
                10.0 / std::f64::consts::LN_10
                    * fast_math::ln_f32(ms[0].max(ms[1]).max(1e-24) as f32) as f64
            } else {
                20.0 / std::f64::consts::LN_10
                    * fast_math::ln_f32(d[0].abs().max(d[1].abs()).max(1e-12) as f32) as f64
            };
            let target = if above {
                -((level_db - t).max(0.0) * slope).min(range)
            } else {
                ((t - level_db).max(0.0) * slope).min(range)
            };
            // Attack while the gain moves away from 0 dB, release while it returns.
            let coef = if target.abs() > g.abs() {
                c.attack_coef
            } else {
                c.release_coef
            };
            g = target + coef * (g - target);
            if target == 0.0 && g.abs() < SNAP_DB {
                g = 0.0;
            }
            if g != 0.0 {
                let lin = fast_math::exp_f32((g * std::f64::consts::LN_10 / 20.0) as f32) as f64;
                block.left[n] = x[0] + (lin - 1.0) * f[0];
                block.right[n] = x[1] + (lin - 1.0) * f[1];
            }
        }
        st.gain_db = g;
        st.mean_square = ms;
        st.audio.flush_denormals();
        st.key.flush_denormals();
    }
}

impl Processor for DynamicEq {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        self.coefs = self
            .bands
            .iter()
            .map(|b| BandCoefficients {
                filter: b.filter(sample_rate_hz),
                rms_coef: one_pole(RMS_TIME_MS, sample_rate_hz),
                attack_coef: one_pole(b.attack_ms, sample_rate_hz),
                release_coef: one_pole(b.release_ms, sample_rate_hz),
            })
            .collect();
        self.state = vec![BandState::default(); self.bands.len()];
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        for i in 0..self.bands.len() {
            self.run_band(i, block, None);
        }
    }

    fn process_keyed(&mut self, block: &mut StereoBlock<'_>, key: &KeyBlock<'_>) {
        for i in 0..self.bands.len() {
            self.run_band(i, block, Some(key));
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.state.fill(BandState::default());
    }
}

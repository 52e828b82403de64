//! Processor chains as written in a session file (the README's table of processor keys):
//! `chain = [ { eq = { bands = [...] } }, { compressor = { threshold_db = -18 } }, ... ]`.
//!
//! Every processor is one single-key table; its keys are the processor's settings, with the
//! defaults below for keys that are left out. Unknown keys are errors (serde reports the key and
//! the line); out-of-range values are errors that name the key's path, e.g.
//! `chain[2].compressor.ratio must be within 1…100, got 0.5`.

use lathe_dsp::band_imager::{BandImager, ImagerSettings};
use lathe_dsp::compressor::{Compressor, CompressorSettings};
use lathe_dsp::deesser::{DeEsser, DeEsserSettings};
use lathe_dsp::dynamic_eq::{DynamicBand, DynamicEq};
use lathe_dsp::eq::{BandKind, Eq, EqBand, PassFamily};
use lathe_dsp::gain::{Gain, GainSettings};
use lathe_dsp::gain_curve::GainCurve;
use lathe_dsp::lanes::{LaneProcessor, PerLane};
use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::linear_phase_eq::LinearPhaseEq;
use lathe_dsp::multiband::{BandSettings, Multiband, MultibandSettings};
use lathe_dsp::processor::Processor;
use lathe_dsp::resonance::{ResonanceSettings, ResonanceSuppressor};
use lathe_dsp::saturate::{
    Clipper, ClipperSettings, Saturation, SaturationKind, SaturationSettings,
};
use lathe_dsp::stereo::{Stereo, StereoSettings};
use lathe_dsp::transient_shaper::{TransientSettings, TransientShaper};
use serde::{Deserialize, Serialize};

/// One entry of a chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProcessorSpec {
    Gain(GainSpec),
    Trim(GainSpec),
    Eq(EqSpec),
    MatchEq(MatchEqSpec),
    Compressor(CompressorSpec),
    Multiband(MultibandSpec),
    Saturate(SaturateSpec),
    Stereo(StereoSpec),
    Clipper(ClipperSpec),
    Limiter(LimiterSpec),
    DynamicEq(DynamicEqSpec),
    Deesser(DeEsserSettings),
    Transient(TransientSettings),
    Resonance(ResonanceSettings),
    Imager(ImagerSettings),
}

/// A dynamic EQ: bands whose gain follows their level (`lathe_dsp::dynamic_eq`), detected on
/// the stem itself or on another stem named by `key` (stem chains only: that stem's chain
/// runs first, and its processed signal, before its gain and pan, is the detector's input).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicEqSpec {
    pub bands: Vec<DynamicBand>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GainSpec {
    pub gain_db: f64,
    pub invert_left: bool,
    pub invert_right: bool,
    pub swap: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EqBandSpec {
    pub kind: BandKind,
    pub freq_hz: f64,
    pub gain_db: f64,
    pub q: f64,
    pub slope_db_oct: u32,
    pub family: PassFamily,
}

impl Default for EqBandSpec {
    fn default() -> Self {
        Self {
            kind: BandKind::Bell,
            freq_hz: 1000.0,
            gain_db: 0.0,
            q: std::f64::consts::FRAC_1_SQRT_2,
            slope_db_oct: 12,
            family: PassFamily::Butterworth,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EqSpec {
    pub bands: Vec<EqBandSpec>,
    /// `minimum` (IIR, no latency unless a band needs twice the rate) or `linear` (FIR,
    /// ≈ 0.34 s of taps plus a block of latency, compensated by the engine).
    pub phase: EqPhase,
}

/// Phase response of an EQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EqPhase {
    #[default]
    Minimum,
    Linear,
}

/// A linear-phase mid/side curve EQ (what reference matching writes): one curve point per
/// frequency, the mid and side gains at it in dB, straight lines in dB over log frequency
/// between points and flat beyond the ends (`lathe_dsp::gain_curve`). Latency as the linear
/// EQ's, compensated by the engine.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchEqSpec {
    pub freqs_hz: Vec<f64>,
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
}

impl MatchEqSpec {
    pub fn mid(&self) -> GainCurve {
        GainCurve::new(self.freqs_hz.clone(), self.mid_db.clone())
    }

    pub fn side(&self) -> GainCurve {
        GainCurve::new(self.freqs_hz.clone(), self.side_db.clone())
    }
}

/// The `compressor` keys are the compressor's settings themselves.
pub type CompressorSpec = CompressorSettings;

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultibandBandSpec {
    #[serde(flatten)]
    pub compressor: CompressorSpec,
    pub bypass: bool,
    pub solo: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultibandSpec {
    pub crossovers_hz: Vec<f64>,
    pub bands: Vec<MultibandBandSpec>,
}

impl Default for MultibandSpec {
    fn default() -> Self {
        Self {
            crossovers_hz: vec![120.0, 2500.0],
            bands: vec![MultibandBandSpec::default(); 3],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaturateSpec {
    pub kind: SaturationKind,
    pub drive_db: f64,
    pub mix: f64,
    pub oversampling: usize,
}

impl Default for SaturateSpec {
    fn default() -> Self {
        let s = SaturationSettings::default();
        Self {
            kind: s.kind,
            drive_db: s.drive_db,
            mix: s.mix,
            oversampling: s.oversampling,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StereoSpec {
    pub width: f64,
    pub mono_below_hz: f64,
    pub balance: f64,
}

impl Default for StereoSpec {
    fn default() -> Self {
        Self {
            width: 1.0,
            mono_below_hz: 0.0,
            balance: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipperSpec {
    pub ceiling_db: f64,
    pub oversampling: usize,
}

impl Default for ClipperSpec {
    fn default() -> Self {
        let s = ClipperSettings::default();
        Self {
            ceiling_db: s.ceiling_db,
            oversampling: s.oversampling,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimiterSpec {
    pub ceiling_dbtp: f64,
    pub release_ms: f64,
    pub lookahead_ms: f64,
    pub hold_ms: f64,
    /// Lengthen the hold to the spacing of recurring low-frequency peaks (default on).
    pub auto_hold: bool,
}

impl Default for LimiterSpec {
    fn default() -> Self {
        let s = LimiterSettings::default();
        Self {
            ceiling_dbtp: s.ceiling_dbtp,
            release_ms: s.release_ms,
            lookahead_ms: s.lookahead_ms,
            hold_ms: s.hold_ms,
            auto_hold: s.auto_hold,
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

impl ProcessorSpec {
    /// The processor's key in the session file.
    pub fn name(&self) -> &'static str {
        match self {
            ProcessorSpec::Gain(_) => "gain",
            ProcessorSpec::Trim(_) => "trim",
            ProcessorSpec::Eq(_) => "eq",
            ProcessorSpec::MatchEq(_) => "match_eq",
            ProcessorSpec::Compressor(_) => "compressor",
            ProcessorSpec::Multiband(_) => "multiband",
            ProcessorSpec::Saturate(_) => "saturate",
            ProcessorSpec::Stereo(_) => "stereo",
            ProcessorSpec::Clipper(_) => "clipper",
            ProcessorSpec::Limiter(_) => "limiter",
            ProcessorSpec::DynamicEq(_) => "dynamic_eq",
            ProcessorSpec::Deesser(_) => "deesser",
            ProcessorSpec::Transient(_) => "transient",
            ProcessorSpec::Resonance(_) => "resonance",
            ProcessorSpec::Imager(_) => "imager",
        }
    }

    fn eq_bands(spec: &EqSpec) -> Vec<EqBand> {
        spec.bands
            .iter()
            .map(|b| EqBand {
                kind: b.kind,
                freq_hz: b.freq_hz,
                gain_db: b.gain_db,
                q: b.q,
                slope_db_oct: b.slope_db_oct,
                family: b.family,
            })
            .collect()
    }

    fn multiband_settings(spec: &MultibandSpec) -> MultibandSettings {
        MultibandSettings {
            crossovers_hz: spec.crossovers_hz.clone(),
            bands: spec
                .bands
                .iter()
                .map(|b| BandSettings {
                    compressor: b.compressor,
                    bypass: b.bypass,
                    solo: b.solo,
                })
                .collect(),
        }
    }

    /// Checks every value; errors are prefixed with the processor's name (`compressor.ratio …`).
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name();
        let r: Result<(), String> = match self {
            ProcessorSpec::Gain(g) | ProcessorSpec::Trim(g) => {
                in_range("gain_db", g.gain_db, -60.0, 36.0)
            }
            ProcessorSpec::Eq(e) if e.bands.len() > MAX_EQ_BANDS => Err(format!(
                "bands: at most {MAX_EQ_BANDS}, got {}",
                e.bands.len()
            )),
            ProcessorSpec::Eq(e) => Self::eq_bands(e)
                .iter()
                .enumerate()
                .try_for_each(|(i, b)| b.validate().map_err(|m| format!("bands[{i}].{m}"))),
            ProcessorSpec::MatchEq(m) => m
                .mid()
                .validate()
                .map_err(|e| format!("mid_db {e}"))
                .and_then(|_| m.side().validate().map_err(|e| format!("side_db {e}"))),
            ProcessorSpec::Compressor(c) => c.validate(),
            ProcessorSpec::Multiband(m) => Self::multiband_settings(m).validate(),
            ProcessorSpec::Saturate(s) => SaturationSettings {
                kind: s.kind,
                drive_db: s.drive_db,
                mix: s.mix,
                oversampling: s.oversampling,
            }
            .validate(),
            ProcessorSpec::Stereo(s) => StereoSettings {
                width: s.width,
                mono_below_hz: s.mono_below_hz,
                balance: s.balance,
            }
            .validate(),
            // Above 0 dBFS is allowed: a clipper before the limiter shaves what the gain pushed
            // over (the loud presets put it 1.5 dB over a −0.3 dBTP ceiling).
            ProcessorSpec::Clipper(c) => {
                in_range("ceiling_db", c.ceiling_db, -24.0, 6.0).and_then(|_| {
                    if matches!(c.oversampling, 1 | 2 | 4 | 8) {
                        Ok(())
                    } else {
                        Err(format!(
                            "oversampling must be 1, 2, 4 or 8, got {}",
                            c.oversampling
                        ))
                    }
                })
            }
            ProcessorSpec::Limiter(l) => in_range("ceiling_dbtp", l.ceiling_dbtp, -24.0, 0.0)
                .and(in_range("release_ms", l.release_ms, 1.0, 2000.0))
                .and(in_range("lookahead_ms", l.lookahead_ms, 0.1, 20.0))
                .and(in_range("hold_ms", l.hold_ms, 0.0, 500.0)),
            ProcessorSpec::DynamicEq(d) if d.bands.len() > MAX_EQ_BANDS => Err(format!(
                "bands: at most {MAX_EQ_BANDS}, got {}",
                d.bands.len()
            )),
            ProcessorSpec::DynamicEq(d) => d
                .bands
                .iter()
                .enumerate()
                .try_for_each(|(i, b)| b.validate().map_err(|m| format!("bands[{i}].{m}"))),
            ProcessorSpec::Deesser(d) => d.validate(),
            ProcessorSpec::Transient(t) => t.validate(),
            ProcessorSpec::Resonance(r) => r.validate(),
            ProcessorSpec::Imager(i) => i.validate(),
        };
        r.map_err(|m| format!("{name}.{m}"))
    }

    /// Builds the processor (call [`ProcessorSpec::validate`] first).
    pub fn build(&self) -> Box<dyn Processor> {
        match self {
            ProcessorSpec::Gain(g) | ProcessorSpec::Trim(g) => Box::new(Gain::new(GainSettings {
                gain_db: g.gain_db,
                invert_left: g.invert_left,
                invert_right: g.invert_right,
                swap: g.swap,
            })),
            ProcessorSpec::Eq(e) => match e.phase {
                EqPhase::Minimum => Box::new(Eq::new(Self::eq_bands(e))),
                EqPhase::Linear => Box::new(LinearPhaseEq::new(Self::eq_bands(e))),
            },
            ProcessorSpec::MatchEq(m) => Box::new(LinearPhaseEq::mid_side(m.mid(), m.side())),
            ProcessorSpec::Compressor(c) => Box::new(Compressor::new(*c)),
            ProcessorSpec::Multiband(m) => Box::new(Multiband::new(Self::multiband_settings(m))),
            ProcessorSpec::Saturate(s) => Box::new(Saturation::new(SaturationSettings {
                kind: s.kind,
                drive_db: s.drive_db,
                mix: s.mix,
                oversampling: s.oversampling,
            })),
            ProcessorSpec::Stereo(s) => Box::new(Stereo::new(StereoSettings {
                width: s.width,
                mono_below_hz: s.mono_below_hz,
                balance: s.balance,
            })),
            ProcessorSpec::Clipper(c) => Box::new(Clipper::new(ClipperSettings {
                ceiling_db: c.ceiling_db,
                oversampling: c.oversampling,
            })),
            ProcessorSpec::Limiter(l) => Box::new(TruePeakLimiter::new(l.settings())),
            ProcessorSpec::DynamicEq(d) => Box::new(DynamicEq::new(d.bands.clone())),
            ProcessorSpec::Deesser(d) => Box::new(DeEsser::new(*d)),
            ProcessorSpec::Transient(t) => Box::new(TransientShaper::new(*t)),
            ProcessorSpec::Resonance(r) => Box::new(ResonanceSuppressor::new(*r)),
            ProcessorSpec::Imager(i) => Box::new(BandImager::new(i.clone())),
        }
    }

    /// The stem this processor is keyed on, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ProcessorSpec::DynamicEq(d) => d.key.as_deref(),
            _ => None,
        }
    }

    /// Builds the processor for locked lanes ([`lathe_dsp::lanes`]): the dynamics stages
    /// (compressor, multiband, limiter) share one gain across lanes; every other stage runs
    /// one instance per lane. The corrective tools (dynamic EQ, de-esser, transient shaper,
    /// resonance suppressor) belong on stems, whose processing every lane shares; in a master
    /// chain with versions each lane detects on its own. Every kind is named here, so that a new processor cannot fall
    /// into the per-lane case unnoticed (a new dynamics stage there would stop locked versions
    /// following the main master's gain moves).
    pub fn build_lanes(&self) -> Box<dyn LaneProcessor> {
        match self {
            ProcessorSpec::Compressor(c) => Box::new(Compressor::new(*c)),
            ProcessorSpec::Multiband(m) => Box::new(Multiband::new(Self::multiband_settings(m))),
            ProcessorSpec::Limiter(l) => Box::new(TruePeakLimiter::new(l.settings())),
            ProcessorSpec::Gain(_)
            | ProcessorSpec::Trim(_)
            | ProcessorSpec::Eq(_)
            | ProcessorSpec::MatchEq(_)
            | ProcessorSpec::Saturate(_)
            | ProcessorSpec::Stereo(_)
            | ProcessorSpec::Clipper(_)
            | ProcessorSpec::DynamicEq(_)
            | ProcessorSpec::Deesser(_)
            | ProcessorSpec::Transient(_)
            | ProcessorSpec::Resonance(_)
            | ProcessorSpec::Imager(_) => {
                let spec = self.clone();
                Box::new(PerLane::new(move || spec.build()))
            }
        }
    }

    /// Whether the stage, standing at the end of the chain right before the limiter, goes
    /// after the targeting gain: waveshapers that shave what the gain pushed over (the loud
    /// presets' clipper). Everything else stays before the gain, where the bus is cached.
    /// Every kind is named, so that a new processor is placed on purpose.
    pub fn goes_after_gain(&self) -> bool {
        match self {
            ProcessorSpec::Saturate(_) | ProcessorSpec::Clipper(_) => true,
            ProcessorSpec::Gain(_)
            | ProcessorSpec::Trim(_)
            | ProcessorSpec::Eq(_)
            | ProcessorSpec::MatchEq(_)
            | ProcessorSpec::Compressor(_)
            | ProcessorSpec::Multiband(_)
            | ProcessorSpec::Stereo(_)
            | ProcessorSpec::Limiter(_)
            | ProcessorSpec::DynamicEq(_)
            | ProcessorSpec::Deesser(_)
            | ProcessorSpec::Transient(_)
            | ProcessorSpec::Resonance(_)
            | ProcessorSpec::Imager(_) => false,
        }
    }
}

impl LimiterSpec {
    pub fn settings(&self) -> LimiterSettings {
        LimiterSettings {
            ceiling_dbtp: self.ceiling_dbtp,
            release_ms: self.release_ms,
            lookahead_ms: self.lookahead_ms,
            hold_ms: self.hold_ms,
            auto_hold: self.auto_hold,
        }
    }
}

/// The most bands of one EQ (each costs a filter per sample; real masters use under 12).
pub const MAX_EQ_BANDS: usize = 64;

/// Validates a whole chain; errors name the entry (`chain[2].compressor.ratio …`).
pub fn validate_chain(chain: &[ProcessorSpec]) -> Result<(), String> {
    chain
        .iter()
        .enumerate()
        .try_for_each(|(i, p)| p.validate().map_err(|m| format!("chain[{i}].{m}")))
}

//! The mastering assistant (`lathe master --assist`): a gentle chain chosen from the mix's
//! long-term spectrum and dynamics, each choice with a one-line reason in the report, written
//! into the session as ordinary processors.
//!
//! - **Rumble**: a 20 Hz Butterworth high-pass, always (as the presets).
//! - **Resonances**: 1/12-octave bands (150 Hz–10 kHz) standing more than
//!   [`RESONANCE_EXCESS_DB`] above the median of the octave around them get a narrow cut of
//!   half the excess (at most [`MAX_RESONANCE_CUT_DB`], Q [`RESONANCE_Q`]); at most
//!   [`MAX_RESONANCES`], the strongest first, at least 1/3 octave apart.
//! - **Mud**: the 1/3-octave bands 200–500 Hz against a straight line (dB over log frequency)
//!   fitted to the spectrum from 50 Hz to 10 kHz; when their mean stands more than
//!   [`MUD_EXCESS_DB`] above it, a broad cut (Q 1) of half the excess, at most 3 dB, at the
//!   band that stands out most.
//! - **Glue**: from the crest factor (PLR: true peak − integrated loudness): above 12 dB a
//!   1.5:1 RMS compressor, from 9 to 12 dB 1.25:1, below 9 dB none (the mix is already dense);
//!   threshold 2 dB above the integrated loudness, as the presets' glue stage.
//! - **Limiter**: the preset's, to its target (added by the engine).
//!
//! With a reference, tonal balance and density are the match's: the assistant adds only the
//! high-pass and the resonance cuts (narrower than the match's 1/3-octave resolution).

use lathe_dsp::compressor::Detection;
use lathe_dsp::eq::{BandKind, PassFamily};
use lathe_dsp::mid_side_spectrum::MidSideSpectrum;
use lathe_dsp::spectrum::BAND_NOMINAL_HZ;
use serde::Serialize;

use crate::spec::chain::{CompressorSpec, EqBandSpec, EqSpec, ProcessorSpec};

/// A 1/12-octave band this far above its octave's median is a resonance, dB.
pub const RESONANCE_EXCESS_DB: f64 = 6.0;
pub const MAX_RESONANCE_CUT_DB: f64 = 3.0;
pub const RESONANCE_Q: f64 = 4.0;
pub const MAX_RESONANCES: usize = 3;
/// 200–500 Hz this far above the spectrum's straight-line fit is mud, dB.
pub const MUD_EXCESS_DB: f64 = 2.0;

/// One choice and why: the stem it is on (none: the master chain), what was done, what was
/// measured, and the reason.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Choice {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stem: Option<String>,
    pub processor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
    pub reason: String,
}

impl Choice {
    /// A choice on a stem, with what was measured.
    pub fn on(stem: &str, processor: String, measured: String, reason: &str) -> Self {
        Self {
            stem: Some(stem.to_string()),
            processor,
            measured: Some(measured),
            reason: reason.to_string(),
        }
    }
}

/// What the assistant chose (the report's `assistant`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AssistReport {
    pub choices: Vec<Choice>,
}

/// What the assistant looks at.
pub struct MixFacts<'a> {
    pub spectrum: &'a MidSideSpectrum,
    pub integrated_lufs: f64,
    /// True peak (one file) or sample peak (a stem sum), dB.
    pub peak_db: Option<f64>,
}

/// The chain (before the gain) and the reasons. `tonal_and_glue`: false when a reference
/// match decides tonal balance and density. `corrective`: whether the master chain also
/// takes resonance and mud cuts (false when the stem assistant corrects them on the stems
/// that have them).
pub fn assist(
    facts: &MixFacts<'_>,
    tonal_and_glue: bool,
    corrective: bool,
) -> (Vec<ProcessorSpec>, AssistReport) {
    let mut choices = vec![Choice {
        stem: None,
        measured: None,
        processor: "eq: high-pass 20 Hz, 12 dB/oct".into(),
        reason: "rumble and DC below the audible range".into(),
    }];
    let mut bands = vec![EqBandSpec {
        kind: BandKind::HighPass,
        freq_hz: 20.0,
        slope_db_oct: 12,
        family: PassFamily::Butterworth,
        ..Default::default()
    }];
    let fine = fine_levels_db(facts.spectrum);
    let found = if corrective {
        resonances(&fine)
    } else {
        Vec::new()
    };
    for (f, excess) in found {
        let cut = (excess / 2.0).min(MAX_RESONANCE_CUT_DB);
        choices.push(Choice {
            stem: None,
            measured: None,
            processor: format!("eq: bell {f:.0} Hz, {:.1} dB, Q {RESONANCE_Q}", -cut),
            reason: format!(
                "a resonance: the long-term spectrum stands {excess:.1} dB above its octave at {f:.0} Hz"
            ),
        });
        bands.push(bell(f, -cut, RESONANCE_Q));
    }
    let mut chain = Vec::new();
    if tonal_and_glue && corrective {
        if let Some((f, excess)) = mud(facts.spectrum) {
            let cut = (excess / 2.0).min(3.0);
            choices.push(Choice {
                stem: None,
                measured: None,
                processor: format!("eq: bell {f:.0} Hz, {:.1} dB, Q 1", -cut),
                reason: format!(
                    "mud: 200–500 Hz stand {excess:.1} dB above the spectrum's overall slope"
                ),
            });
            bands.push(bell(f, -cut, 1.0));
        }
    }
    chain.push(ProcessorSpec::Eq(EqSpec {
        bands,
        ..Default::default()
    }));
    if tonal_and_glue {
        let plr = facts.peak_db.map(|tp| tp - facts.integrated_lufs);
        let ratio = match plr {
            Some(p) if p > 12.0 => Some(1.5),
            Some(p) if p > 9.0 => Some(1.25),
            _ => None,
        };
        let plr_text = plr.map_or("unknown".into(), |p| format!("{p:.1} dB"));
        match ratio {
            Some(ratio) => {
                let threshold = (facts.integrated_lufs + 2.0).clamp(-60.0, -1.0);
                choices.push(Choice {
            stem: None,
            measured: None,
                    processor: format!(
                        "compressor: {ratio}:1 RMS, threshold {threshold:.1} dB, attack 30 ms, release 250 ms"
                    ),
                    reason: format!(
                        "glue: the crest factor (PLR) is {plr_text}; the louder passages are drawn together gently"
                    ),
                });
                chain.push(ProcessorSpec::Compressor(CompressorSpec {
                    threshold_db: threshold,
                    ratio,
                    knee_db: 6.0,
                    attack_ms: 30.0,
                    release_ms: 250.0,
                    detection: Detection::Rms,
                    ..Default::default()
                }));
            }
            None => choices.push(Choice {
                stem: None,
                measured: None,
                processor: "no compressor".into(),
                reason: format!("the mix is already dense (PLR {plr_text})"),
            }),
        }
    } else {
        choices.push(Choice {
            stem: None,
            measured: None,
            processor: "no mud cut, no glue compressor".into(),
            reason: "the reference match sets tonal balance and density".into(),
        });
    }
    (chain, AssistReport { choices })
}

fn bell(freq_hz: f64, gain_db: f64, q: f64) -> EqBandSpec {
    EqBandSpec {
        kind: BandKind::Bell,
        freq_hz: (freq_hz * 10.0).round() / 10.0,
        gain_db: (gain_db * 10.0).round() / 10.0,
        q,
        ..Default::default()
    }
}

/// (centre Hz, level dB) of every fine band with power (mid + side).
fn fine_levels_db(s: &MidSideSpectrum) -> Vec<(f64, f64)> {
    s.fine_centres_hz()
        .into_iter()
        .zip(s.mid.iter().zip(&s.side))
        .filter(|(f, (m, x))| *f < s.sample_rate_hz / 2.0 && *m + *x > 0.0)
        .map(|(f, (m, x))| (f, 10.0 * (m + x).log10()))
        .collect()
}

/// Resonances: (Hz, excess dB), strongest first.
fn resonances(fine: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut found: Vec<(f64, f64)> = Vec::new();
    for (i, &(f, level)) in fine.iter().enumerate() {
        if !(150.0..=10_000.0).contains(&f) {
            continue;
        }
        // The octave around it (± 6 fine bands), without the band itself.
        let lo = i.saturating_sub(6);
        let hi = (i + 7).min(fine.len());
        let mut around: Vec<f64> = fine[lo..hi]
            .iter()
            .enumerate()
            .filter(|(k, _)| lo + k != i)
            .map(|(_, (_, l))| *l)
            .collect();
        if around.len() < 6 {
            continue;
        }
        around.sort_by(f64::total_cmp);
        let excess = level - around[around.len() / 2];
        let local_max =
            fine[i.saturating_sub(1)].1 <= level && fine.get(i + 1).is_none_or(|n| n.1 <= level);
        if excess > RESONANCE_EXCESS_DB && local_max {
            found.push((f, excess));
        }
    }
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for r in found {
        if kept.len() < MAX_RESONANCES && kept.iter().all(|k| (r.0 / k.0).log2().abs() >= 1.0 / 3.0)
        {
            kept.push(r);
        }
    }
    kept
}

/// Mud: (Hz of the band that stands out most, mean excess of 200–500 Hz dB).
fn mud(s: &MidSideSpectrum) -> Option<(f64, f64)> {
    use lathe_dsp::mid_side_spectrum::Lane;
    let mid = s.third_octave_db(Lane::Mid);
    let side = s.third_octave_db(Lane::Side);
    let pts: Vec<(f64, f64)> = BAND_NOMINAL_HZ
        .iter()
        .zip(mid.iter().zip(&side))
        .filter_map(|(f, (m, x))| {
            let p = 10f64.powf(m.unwrap_or(-200.0) / 10.0) + 10f64.powf(x.unwrap_or(-200.0) / 10.0);
            (p > 1e-15).then(|| (f.log2(), 10.0 * p.log10()))
        })
        .collect();
    let fit: Vec<&(f64, f64)> = pts
        .iter()
        .filter(|(lf, _)| (50f64.log2()..=10_000f64.log2()).contains(lf))
        .collect();
    if fit.len() < 8 {
        return None;
    }
    let n = fit.len() as f64;
    let mx = fit.iter().map(|p| p.0).sum::<f64>() / n;
    let my = fit.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = fit.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = fit.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let line = |lf: f64| my + slope * (lf - mx);
    let region: Vec<(f64, f64)> = pts
        .iter()
        .filter(|(lf, _)| (200f64.log2()..=500f64.log2()).contains(lf))
        .map(|(lf, l)| (lf.exp2(), l - line(*lf)))
        .collect();
    if region.is_empty() {
        return None;
    }
    let mean = region.iter().map(|r| r.1).sum::<f64>() / region.len() as f64;
    let worst = region.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (mean > MUD_EXCESS_DB).then_some((worst.0, mean))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_dsp::mid_side_spectrum::MidSideSpectrumMeter;

    /// White noise plus a steady 1.5 kHz sine ≈ 26 dB above the noise in its 1/12-octave band:
    /// the sine is found as a resonance at its frequency; the plain noise has none.
    #[test]
    fn a_resonance_is_found_where_it_is() {
        let fs = 48000.0;
        let n = 480_000;
        let mut seed = 1u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let noise: Vec<f64> = (0..n).map(|_| 0.1 * rnd()).collect();
        let tone: Vec<f64> = (0..n)
            .map(|i| 0.05 * (2.0 * std::f64::consts::PI * 1500.0 * i as f64 / fs).sin())
            .collect();
        let with: Vec<f64> = noise.iter().zip(&tone).map(|(a, b)| a + b).collect();
        let measure = |x: &[f64]| {
            let mut m = MidSideSpectrumMeter::new(fs);
            m.process(x, x);
            m.finish()
        };
        let plain = measure(&noise);
        assert!(resonances(&fine_levels_db(&plain)).is_empty());
        let s = measure(&with);
        let found = resonances(&fine_levels_db(&s));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((found[0].0 / 1500.0).log2().abs() < 1.0 / 24.0, "{found:?}");
    }
}

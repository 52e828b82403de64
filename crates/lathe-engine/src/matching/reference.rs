//! Reference matching (`lathe master MIX --reference REF`, `[master.reference]` in a session):
//! the mix is given the loudness, the tonal balance of mid and side, the stereo width per band
//! and the density of one or more references, each by its own amount, with ordinary processors
//! written into the session so that the engineer can read and edit them afterwards.
//!
//! - **Tonal balance and width**: a linear-phase mid/side curve EQ (`match_eq`) from
//!   [`lathe_dsp::tonal_match`]: long-term 1/3-octave mid and side spectra over the loudest
//!   sections; `eq` scales the whole match, `width` the side-against-mid part of it.
//! - **Density**: when the mix's loudness range (EBU Tech 3342 LRA) is wider than the
//!   reference's, a slow RMS compressor whose ratio is `(LRA_mix / LRA_ref)^dynamics` (so 0.5
//!   lands half way on a log scale), capped at [`MAX_DENSITY_RATIO`], threshold at the mix's
//!   10th-percentile short-term loudness (so the quiet passages pass and everything above is
//!   drawn together). A mix already denser than the reference is left alone (lathe does not
//!   expand). The crest factor then follows from the loudness target and the ceiling.
//! - **Loudness**: the target becomes `mix + loudness·(reference − mix)` LUFS, unless the
//!   preset or the session sets a target; the ceiling is always the preset's or the session's.
//!
//! Several references blend with weights: their tonal shapes (each offset by its own
//! loudness), loudness and LRA are weighted means.

use std::path::Path;

use lathe_dsp::compressor::Detection;
use lathe_dsp::mid_side_spectrum::{Lane, MidSideSpectrum, MidSideSpectrumMeter};
use lathe_dsp::spectrum::BAND_NOMINAL_HZ;
use lathe_dsp::tonal_match::{predicted_change_db, CurveLimits, FullMatch, ThirdOctaveLevels};
use rayon::prelude::*;
use serde::Serialize;

use crate::analyze::{analyze_for_matching, MatchAnalysis};
use crate::error::MasterError;
use crate::render::{render_stems, Metering, RenderError};
use crate::spec::bus::Bus;
use crate::spec::chain::{CompressorSpec, MatchEqSpec, ProcessorSpec};
use crate::spec::reference::{Amounts, ReferenceSpec, LARGE_BOOST_DB, MAX_LIMIT_DB};
use crate::spec::session::Session;

/// Highest ratio the density match chooses.
pub const MAX_DENSITY_RATIO: f64 = 4.0;
/// The mix's LRA must exceed the reference's by this much before density is matched, LU.
pub const DENSITY_MARGIN_LU: f64 = 0.5;
/// The delivered spectrum may stray this far (mean |error|, dB) from the planned one before
/// a correction EQ is added after the dynamics stages.
pub const CORRECT_ABOVE_DB: f64 = 0.25;
/// Largest boost or cut of that correction, dB.
pub const MAX_CORRECTION_DB: f64 = 6.0;

/// Bands compared for the match's figure of merit: 31.5 Hz … 16 kHz (as issue 6 states it).
pub const DISTANCE_BANDS_HZ: (f64, f64) = (31.5, 16000.0);

/// One reference as measured.
#[derive(Clone, Debug, Serialize)]
pub struct ReferenceReport {
    pub file: String,
    pub weight: f64,
    pub sample_rate_hz: u32,
    pub integrated_lufs: Option<f64>,
    /// Sample peak (references are not measured for true peak: nothing depends on it).
    pub sample_peak_dbfs: Option<f64>,
    pub lra_lu: f64,
}

/// The density match.
#[derive(Clone, Debug, Serialize)]
pub struct DensityReport {
    pub input_lra_lu: f64,
    pub reference_lra_lu: f64,
    /// The compressor chosen, or `None` with the reason in `reason`.
    pub ratio: Option<f64>,
    pub threshold_db: Option<f64>,
    pub reason: String,
}

/// Everything the match decided and what it was decided from (the report's `reference`).
#[derive(Clone, Debug, Serialize)]
pub struct MatchReport {
    pub references: Vec<ReferenceReport>,
    /// Choices of the match an engineer should look at (also in the report's warnings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub amounts: Amounts,
    pub input_integrated_lufs: Option<f64>,
    /// The loudness the match asked for, LUFS (`None` when the preset or session set one).
    pub matched_target_lufs: Option<f64>,
    /// 1/3-octave bands (nominal centres) of the spectra below, Hz.
    pub bands_hz: Vec<f64>,
    /// Long-term levels over the loudest sections, dB re full scale.
    pub input_mid_db: Vec<Option<f64>>,
    pub input_side_db: Vec<Option<f64>>,
    /// The (blended) reference, moved by one common offset onto the input's level.
    pub reference_mid_db: Vec<Option<f64>>,
    pub reference_side_db: Vec<Option<f64>>,
    /// Side minus mid per band (stereo width), dB.
    pub input_width_db: Vec<Option<f64>>,
    pub reference_width_db: Vec<Option<f64>>,
    /// What the match EQ is predicted to make of the input (before the dynamics stages).
    pub planned_mid_db: Vec<Option<f64>>,
    pub planned_side_db: Vec<Option<f64>>,
    /// A correction after the dynamics stages (also in `chain`), when the compressor and the
    /// limiter moved the spectrum away from the plan by more than [`CORRECT_ABOVE_DB`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correction: Option<CorrectionReport>,
    /// The master as delivered (its bus before quantisation), moved onto the input's level.
    pub result_mid_db: Vec<Option<f64>>,
    pub result_side_db: Vec<Option<f64>>,
    pub result_width_db: Vec<Option<f64>>,
    /// Mean |result − reference| over the mid and side bands 31.5 Hz–16 kHz after one common
    /// offset (the median difference), dB; before matching, the same for the input.
    pub input_distance_db: Option<f64>,
    pub result_distance_db: Option<f64>,
    /// The match EQ written into the chain (also in `chain`): curve points and gains, dB.
    pub eq_freqs_hz: Vec<f64>,
    pub eq_mid_db: Vec<f64>,
    pub eq_side_db: Vec<f64>,
    pub density: DensityReport,
    /// The plot of these spectra and the EQ (SVG, beside the deliverables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
}

/// A correction EQ [`MatchReport::correction_for`] chose.
#[derive(Clone, Debug)]
pub struct Correction {
    pub eq: MatchEqSpec,
    /// Mean |delivered − planned| it corrects, dB.
    pub before_db: f64,
    /// The change of integrated loudness it is predicted to make, dB.
    pub loudness_change_db: f64,
}

/// Predicted change of integrated loudness (K-weighted power, BS.1770) when mid and side of
/// a signal with spectrum `s` go through `eq`, dB.
pub fn loudness_change_db(s: &MidSideSpectrum, eq: &MatchEqSpec) -> f64 {
    k_weighted_change_db(s, eq, |_, _| 1.0)
}

/// Predicted change of the *limited output's* integrated loudness when `eq` goes in before
/// the limiter, dB. `lo` and `hi` are the limited output's spectra at two gains into the
/// limiter (gain dB, spectrum) and `at` the spectrum at the gain in use: each fine band's
/// output level moves with the input by its own slope (bands the limiter holds down move
/// less), so a boost there adds less loudness than the same boost elsewhere.
pub fn limited_loudness_change_db(
    at: &MidSideSpectrum,
    lo: &(f64, MidSideSpectrum),
    hi: &(f64, MidSideSpectrum),
    eq: &MatchEqSpec,
) -> f64 {
    let span = hi.0 - lo.0;
    k_weighted_change_db(at, eq, |lane, i| {
        let (a, b) = (lo.1.lane(lane)[i], hi.1.lane(lane)[i]);
        if a > 0.0 && b > 0.0 && span > 0.0 {
            (10.0 * (b / a).log10() / span).clamp(0.0, 1.5)
        } else {
            1.0
        }
    })
}

/// The K-weighted power change when each fine band `i` of each lane moves by
/// `slope(lane, i)` times the EQ's gain there, dB.
fn k_weighted_change_db(
    s: &MidSideSpectrum,
    eq: &MatchEqSpec,
    slope: impl Fn(Lane, usize) -> f64,
) -> f64 {
    let k = lathe_dsp::loudness::k_weighting(s.sample_rate_hz);
    let (mid, side) = (eq.mid(), eq.side());
    let (mut before, mut after) = (0.0, 0.0);
    for (i, f) in s.fine_centres_hz().into_iter().enumerate() {
        if f >= s.sample_rate_hz / 2.0 {
            break;
        }
        let w: f64 = k
            .iter()
            .map(|c| c.response(f, s.sample_rate_hz).0.powi(2))
            .product();
        let (pm, ps) = (s.mid[i] * w, s.side[i] * w);
        before += pm + ps;
        // Amplitude dB: the power changes by gain_db/10 decades.
        after += pm * 10f64.powf(slope(Lane::Mid, i) * mid.gain_db_at(f) / 10.0)
            + ps * 10f64.powf(slope(Lane::Side, i) * side.gain_db_at(f) / 10.0);
    }
    if before > 0.0 && after > 0.0 {
        10.0 * (after / before).log10()
    } else {
        0.0
    }
}

/// The correction after the dynamics stages.
#[derive(Clone, Debug, Serialize)]
pub struct CorrectionReport {
    /// Mean |delivered − planned| before the correction, dB.
    pub before_db: f64,
    pub freqs_hz: Vec<f64>,
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
}

/// The mix as the master bus receives it: what matching needs of it.
pub struct BusInput {
    pub integrated_lufs: Option<f64>,
    /// True peak of one file; sample peak of a stem sum (dB).
    pub peak_db: Option<f64>,
    pub lra_lu: f64,
    pub short_term_p10_lufs: Option<f64>,
    pub mid_side: MidSideSpectrum,
}

impl From<&MatchAnalysis> for BusInput {
    fn from(m: &MatchAnalysis) -> Self {
        Self {
            integrated_lufs: m.analysis.integrated_lufs,
            peak_db: m.analysis.true_peak_dbtp,
            lra_lu: m.analysis.lra_lu,
            short_term_p10_lufs: m.short_term_p10_lufs,
            mid_side: m.mid_side.clone(),
        }
    }
}

/// True when the session's bus input is exactly its one stem file.
pub fn bus_is_one_file(session: &Session) -> Option<&Path> {
    match session.stems.as_slice() {
        [s] if s.gain_db == 0.0 && s.pan == 0.0 && !s.mute && s.chain.is_empty() => Some(&s.file),
        _ => None,
    }
}

/// Measures the stem sum (stem chains applied) as the master bus receives it, at `rate_hz`.
pub fn measure_stem_sum(session: &Session, rate_hz: u32) -> Result<BusInput, RenderError> {
    use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};
    let fs = rate_hz as f64;
    let mut loudness = LoudnessMeter::new(fs, &ChannelRole::default_layout(2));
    let mut spectrum = MidSideSpectrumMeter::new(fs);
    let mut peak = 0.0f64;
    render_stems(
        &session.stems,
        rate_hz,
        &Bus::default(),
        0.0,
        Metering::default(),
        &crate::progress::Silent,
        |l, r| {
            loudness.process(&[l, r]);
            spectrum.process(l, r);
            peak = l.iter().chain(r).fold(peak, |p, v| p.max(v.abs()));
            Ok(())
        },
    )?;
    let lufs = loudness.integrated_lufs();
    let p10 = loudness.short_term_percentile_lufs(0.10);
    Ok(BusInput {
        integrated_lufs: lufs.is_finite().then_some(lufs),
        peak_db: (peak > 0.0).then(|| lathe_dsp::lin_to_db(peak)),
        lra_lu: loudness.loudness_range_lu(),
        short_term_p10_lufs: p10.is_finite().then_some(p10),
        mid_side: spectrum.finish(),
    })
}

/// Analyses every reference (in parallel).
pub fn analyze_references(spec: &ReferenceSpec) -> Result<Vec<MatchAnalysis>, MasterError> {
    spec.files
        .par_iter()
        .map(|f| {
            analyze_for_matching(f, false).map_err(|source| MasterError::Reference {
                path: f.clone(),
                source,
            })
        })
        .collect()
}

/// The processors and target of a match.
pub struct MatchPlan {
    /// Processors for the front of the master chain (the match EQ, the density compressor).
    pub chain: Vec<ProcessorSpec>,
    /// The loudness the match asks for (when it sets the target).
    pub target_lufs: Option<f64>,
    pub report: MatchReport,
}

/// A warning per lane whose match EQ boosts more than [`LARGE_BOOST_DB`] somewhere, or
/// stopped at the boost limit.
fn large_boosts(
    mid: &lathe_dsp::gain_curve::GainCurve,
    side: &lathe_dsp::gain_curve::GainCurve,
    max_boost_db: f64,
) -> Vec<String> {
    [
        ("mid", mid, "--match eq=…"),
        ("side", side, "--match width=…"),
    ]
    .into_iter()
    .filter_map(|(lane, c, flag)| {
        let (f, g) = c
            .freqs_hz
            .iter()
            .zip(&c.gains_db)
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        if *g >= max_boost_db - 0.05 {
            Some(format!(
                "the match EQ stopped at its {max_boost_db} dB boost limit in {lane} at {f} Hz: \
                 the mix has far less there than the reference; the match gets no closer \
                 there (--max-boost-db, up to {MAX_LIMIT_DB}, allows more)"
            ))
        } else {
            (*g > LARGE_BOOST_DB).then(|| {
                format!(
                    "the match EQ boosts {lane} by {g:.1} dB at {f} Hz: the mix has far less \
                     there than the reference; {flag} or --max-boost-db lowers it"
                )
            })
        }
    })
    .collect()
}

/// Decides the match of `input` to `refs` (analysed with [`analyze_references`]).
/// `set_target`: whether the loudness match sets the target (no preset or session target).
pub fn plan(
    spec: &ReferenceSpec,
    input: &BusInput,
    refs: &[MatchAnalysis],
    set_target: bool,
) -> Result<MatchPlan, String> {
    let amounts = spec.amounts();
    let weights = spec.weights();
    for (r, f) in refs.iter().zip(&spec.files) {
        if r.analysis.integrated_lufs.is_none() {
            return Err(format!("reference {}: it is silent", f.display()));
        }
    }
    let in_lufs = input
        .integrated_lufs
        .ok_or("the mix is silent; there is nothing to match")?;
    let weighted = |f: &dyn Fn(&MatchAnalysis) -> f64| -> f64 {
        refs.iter().zip(&weights).map(|(r, w)| f(r) * w).sum()
    };
    let ref_lufs = weighted(&|r| r.analysis.integrated_lufs.expect("checked"));
    let ref_lra = weighted(&|r| r.analysis.lra_lu);
    let blended = ThirdOctaveLevels::blend(
        &refs
            .iter()
            .zip(&weights)
            .map(|(r, w)| {
                (
                    ThirdOctaveLevels::of(&r.mid_side),
                    *w,
                    r.analysis.integrated_lufs.expect("checked"),
                )
            })
            .collect::<Vec<_>>(),
    );
    let full = FullMatch::new(&input.mid_side, &blended);
    let limits = CurveLimits {
        max_boost_db: spec.max_boost_db,
        max_cut_db: spec.max_cut_db,
    };
    let (mid, side) = full.curves(amounts.eq, amounts.width, limits);
    let mut chain = Vec::new();
    if !(mid.is_flat() && side.is_flat()) {
        chain.push(ProcessorSpec::MatchEq(MatchEqSpec {
            freqs_hz: mid.freqs_hz.clone(),
            mid_db: round_all(&mid.gains_db),
            side_db: round_all(&side.gains_db),
        }));
    }
    let density = density(input, ref_lra, amounts.dynamics);
    if let (Some(ratio), Some(threshold_db)) = (density.ratio, density.threshold_db) {
        chain.push(ProcessorSpec::Compressor(CompressorSpec {
            threshold_db,
            ratio,
            knee_db: 6.0,
            attack_ms: 30.0,
            release_ms: 300.0,
            detection: Detection::Rms,
            ..Default::default()
        }));
    }
    let here = ThirdOctaveLevels::of(&input.mid_side);
    let planned = |lane: Lane, curve: &lathe_dsp::gain_curve::GainCurve, levels: &[Option<f64>]| {
        let change = predicted_change_db(&input.mid_side, lane, &full.bands, curve);
        let mut out = vec![None; BAND_NOMINAL_HZ.len()];
        for (&i, c) in full.bands.iter().zip(change) {
            out[i] = levels[i].map(|v| round2(v + c));
        }
        out
    };
    let planned_mid_db = planned(Lane::Mid, &mid, &here.mid_db);
    let planned_side_db = planned(Lane::Side, &side, &here.side_db);
    let target_lufs =
        set_target.then(|| (in_lufs + amounts.loudness * (ref_lufs - in_lufs)).clamp(-40.0, 0.0));
    // The reference drawn on the input's level: reference levels move by the match's offset.
    let ref_mid: Vec<Option<f64>> = blended
        .mid_db
        .iter()
        .map(|x| x.map(|x| round2(x - full.offset_db)))
        .collect();
    let ref_side: Vec<Option<f64>> = blended
        .side_db
        .iter()
        .map(|x| x.map(|x| round2(x - full.offset_db)))
        .collect();
    let report = MatchReport {
        references: refs
            .iter()
            .zip(&weights)
            .zip(&spec.files)
            .map(|((r, w), f)| ReferenceReport {
                file: f.display().to_string(),
                weight: *w,
                sample_rate_hz: r.analysis.sample_rate_hz,
                integrated_lufs: r.analysis.integrated_lufs,
                sample_peak_dbfs: r.analysis.sample_peak_dbfs,
                lra_lu: r.analysis.lra_lu,
            })
            .collect(),
        amounts,
        input_integrated_lufs: Some(in_lufs),
        matched_target_lufs: target_lufs,
        bands_hz: BAND_NOMINAL_HZ.to_vec(),
        input_distance_db: distance_db(&here.mid_db, &here.side_db, &ref_mid, &ref_side),
        input_width_db: width_db(&here.mid_db, &here.side_db),
        reference_width_db: width_db(&ref_mid, &ref_side),
        input_mid_db: round_opt(&here.mid_db),
        input_side_db: round_opt(&here.side_db),
        reference_mid_db: ref_mid,
        reference_side_db: ref_side,
        planned_mid_db,
        planned_side_db,
        correction: None,
        result_mid_db: Vec::new(),
        result_side_db: Vec::new(),
        result_width_db: Vec::new(),
        result_distance_db: None,
        eq_freqs_hz: mid.freqs_hz.clone(),
        eq_mid_db: round_all(&mid.gains_db),
        eq_side_db: round_all(&side.gains_db),
        density,
        plot: None,
        warnings: large_boosts(&mid, &side, spec.max_boost_db),
    };
    Ok(MatchPlan {
        chain,
        target_lufs,
        report,
    })
}

impl MatchReport {
    /// The correction EQ that takes `delivered` (the bus after the dynamics stages) back to
    /// the planned spectrum, when it strays by more than [`CORRECT_ABOVE_DB`]: one point per
    /// match point, `−(error − median error)`, within ±[`MAX_CORRECTION_DB`]; and how far it
    /// strayed (mean |error − median|, dB).
    pub fn correction_for(&self, delivered: &MidSideSpectrum) -> Option<Correction> {
        let got = ThirdOctaveLevels::of(delivered);
        let mut errors = Vec::new();
        let mut points = Vec::new();
        for f in &self.eq_freqs_hz {
            let i = BAND_NOMINAL_HZ.iter().position(|b| b == f)?;
            let pair = |a: &[Option<f64>], b: &[Option<f64>]| match (a[i], b[i]) {
                (Some(x), Some(y)) => Some(x - y),
                _ => None,
            };
            let (Some(em), Some(es)) = (
                pair(&got.mid_db, &self.planned_mid_db),
                pair(&got.side_db, &self.planned_side_db),
            ) else {
                continue;
            };
            if (DISTANCE_BANDS_HZ.0..=DISTANCE_BANDS_HZ.1).contains(f) {
                errors.push(em);
                errors.push(es);
            }
            points.push((*f, em, es));
        }
        if errors.is_empty() {
            return None;
        }
        errors.sort_by(f64::total_cmp);
        let c = errors[errors.len() / 2];
        let before = errors.iter().map(|e| (e - c).abs()).sum::<f64>() / errors.len() as f64;
        if before <= CORRECT_ABOVE_DB {
            return None;
        }
        let fix = |e: f64| round2((c - e).clamp(-MAX_CORRECTION_DB, MAX_CORRECTION_DB));
        let spec = MatchEqSpec {
            freqs_hz: points.iter().map(|p| p.0).collect(),
            mid_db: points.iter().map(|p| fix(p.1)).collect(),
            side_db: points.iter().map(|p| fix(p.2)).collect(),
        };
        Some(Correction {
            loudness_change_db: loudness_change_db(delivered, &spec),
            eq: spec,
            before_db: round2(before),
        })
    }

    /// Fills the result from the delivered master's mid/side spectrum.
    pub fn set_result(&mut self, result: &MidSideSpectrum) {
        let mid = result.third_octave_db(Lane::Mid);
        let side = result.third_octave_db(Lane::Side);
        // Drawn onto the reference by one common offset (the median difference, as in the
        // distance), so that the curves compare shape for shape.
        let shift = median_difference(&mid, &side, &self.reference_mid_db, &self.reference_side_db)
            .unwrap_or(0.0);
        let moved = |v: &[Option<f64>]| -> Vec<Option<f64>> {
            v.iter().map(|x| x.map(|x| round2(x - shift))).collect()
        };
        self.result_mid_db = moved(&mid);
        self.result_side_db = moved(&side);
        self.result_width_db = width_db(&self.result_mid_db, &self.result_side_db);
        self.result_distance_db = distance_db(
            &self.result_mid_db,
            &self.result_side_db,
            &self.reference_mid_db,
            &self.reference_side_db,
        );
    }
}

/// The differences `a − b` over the mid and side bands in [`DISTANCE_BANDS_HZ`] that both
/// have, sorted.
fn differences(
    a_mid: &[Option<f64>],
    a_side: &[Option<f64>],
    b_mid: &[Option<f64>],
    b_side: &[Option<f64>],
) -> Vec<f64> {
    let (lo, hi) = DISTANCE_BANDS_HZ;
    let mut d: Vec<f64> = Vec::new();
    for (a, b) in [(a_mid, b_mid), (a_side, b_side)] {
        for (i, f) in BAND_NOMINAL_HZ.iter().enumerate() {
            if (lo..=hi).contains(f) {
                if let (Some(Some(x)), Some(Some(y))) = (a.get(i), b.get(i)) {
                    d.push(x - y);
                }
            }
        }
    }
    d.sort_by(f64::total_cmp);
    d
}

fn median_difference(
    a_mid: &[Option<f64>],
    a_side: &[Option<f64>],
    b_mid: &[Option<f64>],
    b_side: &[Option<f64>],
) -> Option<f64> {
    let d = differences(a_mid, a_side, b_mid, b_side);
    (!d.is_empty()).then(|| d[d.len() / 2])
}

/// Mean |a − b − c| over the mid and side bands in [`DISTANCE_BANDS_HZ`] that both have,
/// with `c` the median difference (one common level offset), dB.
pub fn distance_db(
    a_mid: &[Option<f64>],
    a_side: &[Option<f64>],
    b_mid: &[Option<f64>],
    b_side: &[Option<f64>],
) -> Option<f64> {
    let d = differences(a_mid, a_side, b_mid, b_side);
    let c = *d.get(d.len() / 2)?;
    Some(round2(
        d.iter().map(|x| (x - c).abs()).sum::<f64>() / d.len() as f64,
    ))
}

fn width_db(mid: &[Option<f64>], side: &[Option<f64>]) -> Vec<Option<f64>> {
    mid.iter()
        .zip(side)
        .map(|(m, s)| match (m, s) {
            (Some(m), Some(s)) => Some(round2(s - m)),
            _ => None,
        })
        .collect()
}

fn density(input: &BusInput, ref_lra: f64, amount: f64) -> DensityReport {
    let base = DensityReport {
        input_lra_lu: round2(input.lra_lu),
        reference_lra_lu: round2(ref_lra),
        ratio: None,
        threshold_db: None,
        reason: String::new(),
    };
    let no = |reason: String| DensityReport {
        reason,
        ..base.clone()
    };
    if amount == 0.0 {
        return no("dynamics amount 0".into());
    }
    if input.lra_lu <= ref_lra + DENSITY_MARGIN_LU || ref_lra <= 0.0 {
        return no(format!(
            "the mix (LRA {:.1} LU) is not wider than the reference ({:.1} LU); lathe does not expand",
            input.lra_lu, ref_lra
        ));
    }
    let Some(p10) = input.short_term_p10_lufs else {
        return no("the mix has no short-term loudness above the gates".into());
    };
    let full = (input.lra_lu / ref_lra).min(MAX_DENSITY_RATIO);
    let ratio = (full.powf(amount) * 100.0).round() / 100.0;
    // Short-term loudness of a stereo mix sits ≈ 3 dB above each channel's RMS level (two
    // channels add; K-weighting roughly cancels on music): the detector's threshold.
    let threshold = ((p10 - 3.0) * 10.0).round() / 10.0;
    DensityReport {
        ratio: Some(ratio),
        threshold_db: Some(threshold.clamp(-60.0, 0.0)),
        reason: format!(
            "the mix's LRA {:.1} LU is wider than the reference's {:.1} LU: {:.2}:1 above its 10th-percentile short-term loudness",
            input.lra_lu, ref_lra, ratio
        ),
        ..base
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn round_all(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| round2(*x)).collect()
}

fn round_opt(v: &[Option<f64>]) -> Vec<Option<f64>> {
    v.iter().map(|x| x.map(round2)).collect()
}

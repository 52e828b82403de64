//! To the loudness target from the first pass: the first gain from the estimate's
//! predictions (and, for reference matching, a correction EQ from its probed spectrum), the
//! renders that converge on the target, and what the report says of them.

use std::collections::HashMap;
use std::path::PathBuf;

use super::clip_check::clip_offset_lu;
use super::first_pass::FirstPass;
use super::plan::LanePlan;
use super::report::LimiterReport;
use super::secant::{render_to_target, Outputs};
use super::{bounded_gain_db, usage, MasterError, HEAVY_LIMITING_DB, MAX_TARGET_GAIN_DB};
use crate::deliver::Unsynced;
use crate::matching::reference::{
    limited_loudness_change_db, Correction, CorrectionReport, MatchReport,
};
use crate::progress::Progress;
use crate::render::{PassResult, RenderError};
use crate::spec::bus::Bus;
use crate::spec::chain::{MatchEqSpec, ProcessorSpec};
use crate::spec::deliver::Tags;
use crate::spec::preset::Target;
use lathe_dsp::limiter_estimate::gain_for_loudness;
use lathe_dsp::mid_side_spectrum::MidSideSpectrum;

/// What reaching the target made.
pub(super) struct Reached {
    /// Every render after the first pass.
    pub passes: Vec<PassResult>,
    /// The stages after the chain before the gain (with the matching correction, if any).
    pub post_bus: Bus,
    pub limiter: LimiterReport,
    /// Deepest gain reduction of each resampled deliverable's safety stage, by path.
    pub safety_db: HashMap<PathBuf, f64>,
    /// Delivered files not yet committed (verified under their temporary names meanwhile).
    pub unsynced: Vec<Unsynced>,
    /// The matching correction EQ that went in after the chain before the gain.
    pub correction: Option<MatchEqSpec>,
    pub warnings: Vec<String>,
}

/// Where the first render starts.
struct Aim {
    gain_db: f64,
    /// The gain the estimate predicted would reach the target.
    predicted_db: Option<f64>,
    /// The correction of the prediction from excerpts through the real stages after the cache
    /// (the matching correction EQ, the clipper, the limiter), LU.
    clipper_check_lu: Option<f64>,
    /// d(loudness)/d(gain) the estimate predicts near `gain_db`.
    slope: Option<f64>,
    /// A matching correction chosen from the probed spectrum before any render.
    early: Option<Correction>,
    /// Whether the estimate probed the spectrum (else the first render is measured).
    probed: bool,
}

/// Renders the cached bus of `first` to `target` into `plan`'s files.
pub(super) fn reach_target(
    plan: &LanePlan<'_>,
    bus: &Bus,
    target: Target,
    first: &mut FirstPass,
    matched: &mut Option<MatchReport>,
    tags: &Tags,
    progress: &dyn Progress,
) -> Result<Reached, MasterError> {
    let limiter = bus.limiter.expect("a target always has a limiter");
    let pre_lufs = first.pass.integrated_lufs;
    if !pre_lufs.is_finite() {
        return Err(usage(
            "the input is silent; a loudness target cannot be reached",
        ));
    }
    let mut post_bus = Bus {
        chain: Vec::new(),
        ..bus.clone()
    };
    let aim = aim(
        first,
        target,
        matched.as_ref(),
        &mut post_bus,
        (plan.rate_hz, progress),
    )?;
    let plan_of_match = matched.clone();
    let correct = |got: &MidSideSpectrum| plan_of_match.as_ref()?.correction_for(got);
    let outputs = Outputs {
        files: &plan.direct,
        tags,
        progress,
        spectrum: matched.is_some(),
        correct: (matched.is_some() && aim.early.is_none() && !aim.probed).then_some(&correct as _),
        slope: aim.slope.unwrap_or(1.0),
        stage: "gain + limiter",
    };
    let caches = first
        .caches
        .as_deref()
        .expect("a target renders through the cache");
    let mut rendered = render_to_target(
        caches,
        plan.rate_hz,
        &post_bus,
        target,
        aim.gain_db,
        outputs,
    )?;
    // The bus copies are encoded from under their final names at once; the deliverables are
    // verified while they are being committed.
    let bus_copies = plan.bus_copies();
    let mut unsynced = Vec::new();
    for f in std::mem::take(&mut rendered.files) {
        if bus_copies.iter().any(|b| b == f.path()) {
            f.commit()
                .map_err(|e| MasterError::Render(RenderError::Write(e)))?;
        } else {
            unsynced.push(f);
        }
    }
    let late = rendered.correction.take();
    if let Some(fix) = &late {
        post_bus.chain.push(ProcessorSpec::MatchEq(fix.eq.clone()));
    }
    let correction = aim.early.or(late).map(|c| report_correction(c, matched));
    if let (Some(m), Some(got)) = (matched.as_mut(), rendered.spectrum.as_ref()) {
        m.set_result(got);
    }
    let mut safety_db = HashMap::new();
    for lane in &plan.direct {
        for ((_, path), db) in lane.iter().zip(&rendered.safety_db) {
            safety_db.insert(path.clone(), *db);
        }
    }
    let last = rendered
        .passes
        .last()
        .cloned()
        .expect("render_to_target renders at least once");
    Ok(Reached {
        passes: rendered.passes,
        post_bus,
        limiter: LimiterReport {
            ceiling_dbtp: limiter.ceiling_dbtp,
            release_ms: limiter.release_ms,
            lookahead_ms: limiter.lookahead_ms,
            hold_ms: limiter.hold_ms,
            auto_hold: limiter.auto_hold,
            gain_into_limiter_db: last.gain_db,
            predicted_gain_into_limiter_db: aim.predicted_db,
            clipper_check_lu: aim.clipper_check_lu,
            max_gain_reduction_db: last.limiter_max_reduction_db,
            locked_extra_reduction: last.locked_extra_reduction,
        },
        safety_db,
        unsynced,
        correction,
        warnings: warnings(&last, target),
    })
}

/// The first render's gain: where the estimate's predictions reach the target (else
/// `target − measured`). For reference matching, when the dynamics stages move the spectrum
/// away from the plan, a correction EQ goes in after them (before the gain: it is linear, so
/// the cached bus is replayed through it). The estimate's probe has already measured what the
/// compressor and the limiter do to the spectrum; without a probe, the first render is
/// measured instead (and then rendered again).
fn aim(
    first: &mut FirstPass,
    target: Target,
    matched: Option<&MatchReport>,
    post_bus: &mut Bus,
    (rate_hz, progress): (u32, &dyn Progress),
) -> Result<Aim, MasterError> {
    let pre_lufs = first.pass.integrated_lufs;
    // With a clipper before the limiter, the probes (when there are any) measured the
    // clipped output's loudness itself: a better prediction than the estimate's.
    let clipper = matches!(first.clip_db, Some(Some(_)));
    let predictions = first.estimator.as_ref().map(|e| {
        let probed = e.probe_predictions();
        if clipper && probed.len() >= 2 {
            probed
        } else {
            e.predictions()
        }
    });
    let mut predicted_db = predictions
        .as_ref()
        .and_then(|p| gain_for_loudness(p, target.integrated_lufs));
    let mut gain_db = bounded_gain_db(predicted_db.unwrap_or(target.integrated_lufs - pre_lufs));
    let slope = predictions.as_ref().and_then(|p| slope_near(p, gain_db));
    let probes = first
        .estimator
        .as_mut()
        .map(|e| e.probe_spectra())
        .unwrap_or_default();
    let probed = spectrum_at(&probes, gain_db);
    let early = match (matched, &probed) {
        (Some(m), Some(spectrum)) => m.correction_for(spectrum),
        _ => None,
    };
    if let Some(fix) = &early {
        post_bus.chain.push(ProcessorSpec::MatchEq(fix.eq.clone()));
        // The loudness the correction adds at the limiter's output, made up before the first
        // render.
        let added = match (&probed, probes.first(), probes.last()) {
            (Some(at), Some(lo), Some(hi)) if probes.len() >= 2 => {
                limited_loudness_change_db(at, lo, hi, &fix.eq)
            }
            _ => fix.loudness_change_db,
        };
        gain_db -= added / slope.unwrap_or(1.0);
    }
    // With a clipper, excerpts through the real stages (with the correction EQ, if any)
    // correct the prediction (see clip_check.rs): the offset then also holds what the
    // correction adds at the clipper and limiter, which its spectrum alone predicts less well.
    let mut clipper_check_lu = None;
    if let (Some(Some(clip_db)), Some(p), Some(cache)) = (
        first.clip_db,
        predictions.as_ref(),
        first.caches.as_ref().and_then(|c| c.first()),
    ) {
        progress.stage("checking the clipper on excerpts", None);
        clipper_check_lu = clip_offset_lu(cache, rate_hz, post_bus, clip_db, gain_db)?;
        if let Some(offset) = clipper_check_lu {
            if let Some(g) = gain_for_loudness(p, target.integrated_lufs - offset) {
                predicted_db = predicted_db.map(|_| g);
                gain_db = bounded_gain_db(g);
            }
        }
    }
    Ok(Aim {
        gain_db,
        predicted_db,
        clipper_check_lu,
        slope,
        early,
        probed: probed.is_some(),
    })
}

/// Records a matching correction in the match report; returns its EQ.
fn report_correction(c: Correction, matched: &mut Option<MatchReport>) -> MatchEqSpec {
    let Correction { eq, before_db, .. } = c;
    if let Some(m) = matched.as_mut() {
        m.correction = Some(CorrectionReport {
            before_db,
            freqs_hz: eq.freqs_hz.clone(),
            mid_db: eq.mid_db.clone(),
            side_db: eq.side_db.clone(),
        });
    }
    eq
}

/// What the report warns of the accepted render.
fn warnings(last: &PassResult, t: Target) -> Vec<String> {
    let mut warnings = Vec::new();
    if !last.integrated_lufs.is_finite() {
        warnings.push(format!(
            "the master bus is silent to the loudness meter (below the −70 LUFS gate) after the chain: there is no loudness to bring to {} LUFS, so none was added (a file of DC or silence?)",
            t.integrated_lufs
        ));
    } else if last.gain_db.abs() >= MAX_TARGET_GAIN_DB {
        warnings.push(format!(
            "reaching {} LUFS needed more than the {MAX_TARGET_GAIN_DB} dB of gain lathe applies; the master stays at {:.2} LUFS",
            t.integrated_lufs, last.integrated_lufs
        ));
    }
    if last.limiter_max_reduction_db > HEAVY_LIMITING_DB {
        warnings.push(format!(
            "reaching {} LUFS needed {:.1} dB of peak limiting (more than {HEAVY_LIMITING_DB} dB): expect audible loss of transients; consider a lower target",
            t.integrated_lufs, last.limiter_max_reduction_db
        ));
    }
    warnings
}

/// The limited output's spectrum at `gain_db`, interpolated (in dB, band by band) between the
/// two probed candidates nearest it.
pub(super) fn spectrum_at(
    probes: &[(f64, MidSideSpectrum)],
    gain_db: f64,
) -> Option<MidSideSpectrum> {
    let mut near: Vec<&(f64, MidSideSpectrum)> = probes.iter().collect();
    near.sort_by(|a, b| (a.0 - gain_db).abs().total_cmp(&(b.0 - gain_db).abs()));
    let (g0, s0) = near.first()?;
    let Some((g1, s1)) = near.get(1) else {
        return Some(s0.clone());
    };
    let t = ((gain_db - g0) / (g1 - g0)).clamp(-1.0, 2.0);
    Some(MidSideSpectrum::interpolate_db(s0, s1, t))
}

/// The slope d(loudness)/d(gain) of the estimator's predictions between the two predicted
/// gains nearest `gain_db`, held within 0.2…1.5 (as the secant steps are).
pub(super) fn slope_near(predictions: &[(f64, f64)], gain_db: f64) -> Option<f64> {
    let mut p: Vec<(f64, f64)> = predictions
        .iter()
        .copied()
        .filter(|(g, l)| g.is_finite() && l.is_finite())
        .collect();
    p.sort_by(|a, b| (a.0 - gain_db).abs().total_cmp(&(b.0 - gain_db).abs()));
    let [(g0, l0), (g1, l1), ..] = p.as_slice() else {
        return None;
    };
    (g1 != g0).then(|| ((l1 - l0) / (g1 - g0)).clamp(0.2, 1.5))
}

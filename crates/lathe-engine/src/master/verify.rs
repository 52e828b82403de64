//! Every delivered file decoded back and measured, and judged against its target (a locked
//! version: against the main master's ceiling).

use std::collections::HashMap;
use std::path::PathBuf;

use rayon::prelude::*;

use super::plan::LanePlan;
use super::report::{DeliverableReport, Measured};
use super::{MasterError, LOUDNESS_TOLERANCE_LU};
use crate::analyze::{measure_levels, measure_levels_alone, Analysis};
use crate::deliver::Unsynced;
use crate::render::RenderError;
use crate::spec::preset::Target;

/// Measures every lane's files in parallel, the uncommitted ones under their temporary names
/// while a thread of their own syncs them (a wait on the disk); they get their final names
/// once both are done. `known`: files already decoded and measured as they are now (the
/// lossy ones, by their codec check), by final path; they are not decoded again. The
/// analyses name the files by their final names.
pub(super) fn measure_delivered(
    plan: &LanePlan<'_>,
    unsynced: Vec<Unsynced>,
    mut known: HashMap<PathBuf, Analysis>,
) -> Result<Vec<Vec<Analysis>>, MasterError> {
    // Per lane, per file: its analysis if known, else where to read it.
    let to_measure: Vec<Vec<Result<Analysis, PathBuf>>> = plan
        .outputs
        .iter()
        .map(|o| {
            o.iter()
                .map(|p| {
                    known
                        .remove(p)
                        .ok_or_else(|| Unsynced::where_now(&unsynced, p).to_path_buf())
                })
                .collect()
        })
        .collect();
    // One file to decode is measured alone (each meter on a thread of its own).
    let to_decode = to_measure.iter().flatten().filter(|m| m.is_err()).count();
    let measure = if to_decode == 1 {
        measure_levels_alone
    } else {
        measure_levels
    };
    let (measured, committed) = std::thread::scope(|s| {
        let synced = s.spawn(|| unsynced.iter().try_for_each(Unsynced::sync));
        let measured = to_measure
            .into_par_iter()
            .map(|o| {
                o.into_par_iter()
                    .map(|m| match m {
                        Ok(a) => Ok(a),
                        Err(p) => measure(&p).map_err(|e| MasterError::encode(&p, e)),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<Vec<Analysis>>, _>>();
        (measured, synced.join().expect("syncing does not panic"))
    });
    let renamed =
        committed.and_then(|()| unsynced.into_iter().try_for_each(|f| f.rename().map(drop)));
    renamed.map_err(|e| MasterError::Render(RenderError::Write(e)))?;
    let mut measured = measured?;
    for (lane, paths) in measured.iter_mut().zip(&plan.outputs) {
        for (a, p) in lane.iter_mut().zip(paths) {
            a.file = p.display().to_string();
        }
    }
    Ok(measured)
}

/// What the verification found, for the report.
pub(super) struct Verdicts<'a> {
    pub target: Option<Target>,
    /// Per deliverable: the ceiling a lossy one was rendered with (codec safety).
    pub trims: &'a [Option<Option<f64>>],
    /// Deepest gain reduction of each resampled deliverable's safety stage, by path.
    pub safety_db: &'a HashMap<PathBuf, f64>,
}

/// Whether a delivered file passes: its loudness within [`LOUDNESS_TOLERANCE_LU`] of the
/// target and its true peak under the ceiling (a locked version: only the ceiling), and not
/// one non-finite sample.
pub(super) fn passes(a: &Analysis, target: Option<Target>, ceiling_dbtp: Option<f64>) -> bool {
    let levels = match (target, ceiling_dbtp) {
        (Some(t), _) => {
            a.integrated_lufs
                .is_some_and(|i| (i - t.integrated_lufs).abs() <= LOUDNESS_TOLERANCE_LU)
                && a.true_peak_dbtp.is_none_or(|tp| tp <= t.true_peak_dbtp)
        }
        (None, Some(c)) => a.true_peak_dbtp.is_none_or(|tp| tp <= c),
        (None, None) => true,
    };
    levels && a.non_finite_samples == 0
}

impl Verdicts<'_> {
    /// Per lane, per deliverable: the report of each file as measured. A warning is added
    /// when the safety stage limited resampled files.
    pub fn reports(
        &self,
        plan: &LanePlan<'_>,
        measured: Vec<Vec<Analysis>>,
        warnings: &mut Vec<String>,
    ) -> Vec<Vec<DeliverableReport>> {
        let ceiling = self.target.map(|t| t.true_peak_dbtp);
        let mut lanes = Vec::new();
        for (lane, (outputs, levels)) in plan.outputs.iter().zip(measured).enumerate() {
            // A locked version's loudness follows the main master's; its ceiling is the main's.
            let target = if lane == 0 { self.target } else { None };
            let mut deliverables = Vec::new();
            for (((spec, path), trim), a) in
                plan.deliver.iter().zip(outputs).zip(self.trims).zip(levels)
            {
                let safety = spec
                    .sample_rate_hz
                    .filter(|&r| r != plan.rate_hz)
                    .and(self.safety_db.get(path).copied());
                if lane == 1 && safety.is_some_and(|db| db > 0.0) {
                    warnings.push(format!(
                        "the delivery safety stage limited the {} Hz files by up to {:.3} dB after the rate conversion, the main master and every locked version alike (they still line up)",
                        a.sample_rate_hz,
                        safety.unwrap_or(0.0)
                    ));
                }
                deliverables.push(DeliverableReport {
                    path: path.display().to_string(),
                    format: spec.format.name().into(),
                    bits: spec.bits,
                    sample_rate_hz: a.sample_rate_hz,
                    dither: spec.dither,
                    bitrate_kbps: spec.bitrate_kbps,
                    codec_ceiling_dbtp: trim.flatten(),
                    safety_limiter_max_reduction_db: safety,
                    ceiling_dbtp: if lane > 0 { ceiling } else { None },
                    pass: passes(&a, target, ceiling),
                    measured: Measured {
                        integrated_lufs: a.integrated_lufs,
                        true_peak_dbtp: a.true_peak_dbtp,
                        lra_lu: a.lra_lu,
                        sample_peak_dbfs: a.sample_peak_dbfs,
                        duration_s: a.duration_s,
                        correlation: a.correlation,
                    },
                    target,
                });
            }
            lanes.push(deliverables);
        }
        lanes
    }
}

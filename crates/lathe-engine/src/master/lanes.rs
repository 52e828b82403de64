//! The main master and its locked versions rendered together, step by step: plan, first pass,
//! to target, lossy encodes, verification, report.

use std::collections::HashMap;
use std::path::Path;

use super::first_pass::first_pass;
use super::inputs::Known;
use super::lossy::{encode_lossy_deliverables, Rerender};
use super::plan::LanePlan;
use super::reach::reach_target;
use super::report::{Report, VersionReport};
use super::verify::{measure_delivered, Verdicts};
use super::MasterError;
use crate::deliver::DITHER_SEED;
use crate::matching::reference::MatchReport;
use crate::progress::Progress;
use crate::render::RenderError;
use crate::spec::chain::ProcessorSpec;
use crate::spec::session::Session;

/// Renders the main master of `session` and its locked versions in lockstep (or, with
/// `own_version`, that version of a session already reduced to it, named after it).
pub(super) fn render_lanes_of(
    session: &Session,
    out_dir: &Path,
    force: bool,
    known: Option<Known>,
    progress: &dyn Progress,
    own_version: Option<&str>,
) -> Result<Report, MasterError> {
    let mut matched = known.as_ref().and_then(|k| k.matched.clone());
    let assistant = known.as_ref().and_then(|k| k.assisted.clone());
    let sum_lufs = known.as_ref().and_then(|k| k.sum_lufs);
    let analyses = known.map(|k| k.analyses);
    // Everything that can be refused is refused before any work.
    let mut plan = LanePlan::new(session, out_dir, own_version)?;
    plan.refuse_clashes(session, force, matched.is_some(), own_version.is_none())?;
    let target = session.master.target;
    let bus = session.bus();
    let tags = session.tags();
    let mut first = first_pass(
        session,
        &plan,
        &bus,
        analyses,
        sum_lufs,
        matched.is_some(),
        progress,
    )?;
    let mut warnings: Vec<String> = first
        .stems
        .iter()
        .flat_map(|a| a.warnings.iter().map(move |w| format!("{}: {w}", a.file)))
        .collect();
    // MP3 and AAC are encoded in the render when the first render is expected to land: the
    // estimate predicted it (no clipper it does not model) and no matching correction may
    // follow its first render.
    let one_render_expected =
        first.estimator.is_some() && first.clip_db == Some(None) && matched.is_none();
    plan.set_inline_lossy(target.is_some() && one_render_expected);
    let mut reached = match target {
        Some(t) => Some(reach_target(
            &plan,
            &bus,
            t,
            &mut first,
            &mut matched,
            &tags,
            progress,
        )?),
        None => None,
    };
    let mut passes = vec![first.pass.clone()];
    let mut rendered_session = session.clone();
    let mut chain_used = bus.chain.clone();
    let mut unsynced = Vec::new();
    let mut safety_db = HashMap::new();
    if let Some(r) = reached.as_mut() {
        passes.append(&mut r.passes);
        warnings.append(&mut r.warnings);
        unsynced = std::mem::take(&mut r.unsynced);
        safety_db = std::mem::take(&mut r.safety_db);
        if let Some(fix) = r.correction.take() {
            // Into the session as rendered: after the chain before the gain.
            rendered_session
                .master
                .chain
                .insert(bus.chain.len(), ProcessorSpec::MatchEq(fix.clone()));
            chain_used.push(ProcessorSpec::MatchEq(fix));
        }
    }
    // A decoded lossy file that overshoots has its bus copies rendered again, from the cache,
    // at the gain that reached the target.
    let again = reached.as_ref().zip(target).map(|(r, t)| Rerender {
        caches: first
            .caches
            .as_deref()
            .expect("a target renders through the cache"),
        post_bus: &r.post_bus,
        target: t,
        start_gain_db: r.limiter.gain_into_limiter_db,
    });
    let lossy =
        encode_lossy_deliverables(&plan, again, &tags, &mut passes, &mut unsynced, progress)?;
    progress.stage("verifying the delivered files", None);
    let measured = measure_delivered(&plan, unsynced, lossy.measured)?;
    let verdicts = Verdicts {
        target,
        trims: &lossy.trims,
        safety_db: &safety_db,
    };
    let mut lanes = verdicts.reports(&plan, measured, &mut warnings).into_iter();
    let deliverables = lanes.next().expect("the main lane");
    let versions: Vec<VersionReport> = plan
        .locked
        .iter()
        .zip(lanes)
        .map(|(v, deliverables)| VersionReport {
            name: v.name.clone(),
            dynamics: v.dynamics,
            stems: v.playing(&session.stems),
            pass: deliverables.iter().all(|d| d.pass),
            deliverables,
            limiter: None,
        })
        .collect();
    if let Some(m) = matched.as_mut() {
        warnings.extend(m.warnings.iter().cloned());
        write_plot(m, &plan.plot_path)?;
    }
    Ok(Report {
        input: first.input,
        stems: first.stems,
        session_rate_hz: plan.rate_hz,
        target,
        chain: chain_used,
        post_gain: bus.post_gain.clone(),
        limiter: reached.map(|r| r.limiter),
        passes,
        deliverables,
        dither_seed: DITHER_SEED,
        reference: matched,
        assistant,
        versions,
        stem_masters: Vec::new(),
        stem_sum: None,
        platforms: Vec::new(),
        masters: Vec::new(),
        warnings,
        session: rendered_session,
    })
}

/// The matching plot, beside the report.
fn write_plot(m: &mut MatchReport, path: &Path) -> Result<(), MasterError> {
    let svg = crate::matching::plot::match_plot_svg(m).map_err(|e| MasterError::encode(path, e))?;
    let part = path.with_extension("svg.part");
    std::fs::write(&part, svg)
        .and_then(|_| std::fs::rename(&part, path))
        .map_err(RenderError::Write)?;
    m.plot = Some(path.display().to_string());
    Ok(())
}

//! A platform bundle rendered (`for`): the inputs measured once, then one master per distinct
//! platform loudness (`spec/platform.rs` groups them), each landed and verified like any
//! master, each file named after its master; the report gets a row per platform.

use std::path::Path;

use super::inputs::{measure_known, session_rate, Known};
use super::lanes::render_lanes_of;
use super::plan::LanePlan;
use super::report::{BundleMasterReport, PlatformReport, Report};
use super::{usage, MasterError};
use crate::progress::Progress;
use crate::spec::chain::ProcessorSpec;
use crate::spec::platform::{masters, parse_all, PlatformMaster};
use crate::spec::preset::Preset;
use crate::spec::session::{DeliverEntry, Session};
use crate::spec::vinyl;

/// Renders the bundle `session.master.platforms` into `out_dir` (locked by the caller).
pub(super) fn render_bundle(
    session: &Session,
    out_dir: &Path,
    force: bool,
    known: Option<Known>,
    progress: &dyn Progress,
) -> Result<Report, MasterError> {
    let platforms = parse_all(&session.master.platforms).map_err(usage)?;
    let plan = masters(&platforms, session_rate(session)?);
    let known = match known {
        Some(k) => k,
        None => {
            progress.stage("analysing the inputs", None);
            measure_known(session)?
        }
    };
    let input_lufs = known.sum_lufs.unwrap_or(-70.0);
    let sessions: Vec<Session> = plan
        .iter()
        .map(|m| master_session(session, m, input_lufs))
        .collect();
    // Every master's files are refused before any of them is rendered.
    for (i, (m, s)) in plan.iter().zip(&sessions).enumerate() {
        let lanes = LanePlan::new(s, out_dir, Some(m.label))?;
        lanes.refuse_clashes(s, force, i == 0 && known.matched.is_some(), i == 0)?;
    }
    let mut reports = Vec::with_capacity(plan.len());
    for (i, (m, s)) in plan.iter().zip(&sessions).enumerate() {
        let names: Vec<&str> = m.platforms.iter().map(|p| p.name()).collect();
        progress.stage(&format!("master for {}", names.join(", ")), None);
        // The match's plot and the assistant's reasons are reported once, with the first.
        let mut k = known.clone();
        if i > 0 {
            k.matched = None;
            k.assisted = None;
        }
        reports.push(render_lanes_of(
            s,
            out_dir,
            force,
            Some(k),
            progress,
            Some(m.label),
        )?);
    }
    Ok(bundle_report(session, &plan, reports))
}

/// The session one master of the bundle renders: the bundle session's stems and chain before
/// the gain (plus the vinyl stages for the vinyl master), its own stages after the gain (the
/// session's, and the preset's clipper when the session has none), the preset's limiter at
/// the platform's ceiling, the platform's target and files.
fn master_session(base: &Session, m: &PlatformMaster, input_lufs: f64) -> Session {
    let bus = base.bus();
    let preset = m.preset.bus(input_lufs, Some(m.target));
    let mut chain = bus.chain;
    if m.preset == Preset::Vinyl {
        chain.extend(vinyl::stages(input_lufs));
    }
    let mut post = bus.post_gain;
    if !post.iter().any(|p| matches!(p, ProcessorSpec::Clipper(_))) {
        post.extend(preset.post_gain);
    }
    chain.extend(post);
    chain.extend(preset.limiter.as_ref().map(Session::limiter_spec));
    let mut s = base.clone();
    s.master.chain = chain;
    s.master.target = Some(m.target);
    s.master.platforms.clear();
    s.deliver = m.deliver.iter().map(DeliverEntry::from_spec).collect();
    s
}

/// One report for the bundle: every file in `deliverables`, a row per platform, each
/// master's landing in `masters`.
fn bundle_report(session: &Session, plan: &[PlatformMaster], reports: Vec<Report>) -> Report {
    let mut rows = Vec::new();
    let mut landed = Vec::new();
    let mut deliverables = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut first: Option<Report> = None;
    for (i, (m, r)) in plan.iter().zip(reports).enumerate() {
        for (p, files) in m.platforms.iter().zip(&m.files_of) {
            let of: Vec<_> = files.iter().map(|&i| &r.deliverables[i]).collect();
            rows.push(PlatformReport {
                platform: p.name().into(),
                master: m.label.into(),
                target: m.target,
                files: of.iter().map(|d| d.path.clone()).collect(),
                pass: of.iter().all(|d| d.pass),
                source: p.source().into(),
            });
        }
        landed.push(BundleMasterReport {
            label: m.label.into(),
            platforms: m.platforms.iter().map(|p| p.name().into()).collect(),
            target: m.target,
            post_gain: r.post_gain.clone(),
            limiter: r.limiter.clone(),
            passes: r.passes.clone(),
            pass: r.all_pass(),
        });
        deliverables.extend(r.deliverables.iter().cloned());
        for w in &r.warnings {
            // The inputs' own warnings come once, not once per master; the others name it.
            if !warnings.contains(w) {
                warnings.push(match i {
                    0 => w.clone(),
                    _ => format!("master {}: {w}", m.label),
                });
            }
        }
        first.get_or_insert(r);
    }
    // The rows in the order the platforms were named.
    let order = |name: &str| session.master.platforms.iter().position(|p| p == name);
    rows.sort_by_key(|r| order(&r.platform));
    let first = first.expect("a bundle has at least one platform");
    Report {
        target: None,
        chain: session.bus().chain,
        post_gain: Vec::new(),
        limiter: None,
        passes: Vec::new(),
        deliverables,
        platforms: rows,
        masters: landed,
        warnings,
        session: session.clone(),
        ..first
    }
}

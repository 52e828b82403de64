//! Rendering a session to verified deliverables (`lathe render`, and `lathe master`, which
//! builds a session from a preset).
//!
//! Passes (each streams; nothing the length of the music is held in memory):
//! 1. the stems through the chain before the gain, measuring the unprocessed sum on the way in
//!    (the report's `input`; read from the file's analysis when the sum is one stereo file)
//!    and the chain's output. Without a target this pass writes the deliverables. With one, it
//!    writes the bus to a temporary file ([`crate::render::bus_cache`]) while the stem files are
//!    analysed on the other core;
//! 2. with a target: the gain is set to `target − measured`, the cached bus replayed through
//!    the gain and the limiter into the deliverables, and measured; if the limiter cost
//!    loudness, the gain is corrected by secant steps and the bus replayed again (at most
//!    [`MAX_RENDERS`] times);
//! 3. every delivered file is decoded back and measured; the report says whether it passed.

use std::path::Path;

use crate::progress::{Progress, Silent};
use crate::render::RenderError;
use crate::spec::session::Session;
use crate::spec::version::{VersionDynamics, VersionSpec};

/// Gains, around `target − input loudness`, at which the first pass predicts the limited
/// loudness, dB (the chain before the gain moves the loudness by about a dB either way).
pub(super) const ESTIMATE_OFFSETS_DB: [f64; 3] = [-0.5, 0.5, 1.5];
/// The same with a clipper before the limiter (the loud presets): the clipper and a limiter
/// pushed harder take more loudness away, so the answer lies higher, up to 2.2 dB above
/// `target − input` on the corpus under `club`.
pub(super) const ESTIMATE_OFFSETS_CLIPPED_DB: [f64; 5] = [-0.5, 0.5, 1.5, 2.5, 3.5];

/// A matched target at least this loud (LUFS) gets the `loud` preset's stages after the gain.
pub const LOUD_MATCH_LUFS: f64 = -12.0;

/// Renders with the limiter at most this many times while converging on the target.
pub const MAX_RENDERS: usize = 6;
/// A render within this many LU of the target is accepted without another pass.
pub const CONVERGED_LU: f64 = 0.05;
/// Tolerance of a delivered file's integrated loudness, LU.
pub const LOUDNESS_TOLERANCE_LU: f64 = 0.1;
/// More peak gain reduction than this gets a warning in the report, dB.
pub const HEAVY_LIMITING_DB: f64 = 6.0;
/// The most gain, either way, that loudness targeting applies, dB. Real mixes sit within about
/// ±30 dB of any target; past this the bus holds next to nothing the loudness meter gates in (a
/// DC-only or near-silent file after the chain's high-pass), and the secant steps would chase
/// it to gains that overflow the float range.
pub const MAX_TARGET_GAIN_DB: f64 = 48.0;

/// A targeting gain held within ±[`MAX_TARGET_GAIN_DB`] (a non-finite one is 0 dB).
pub(super) fn bounded_gain_db(gain_db: f64) -> f64 {
    if gain_db.is_finite() {
        gain_db.clamp(-MAX_TARGET_GAIN_DB, MAX_TARGET_GAIN_DB)
    } else {
        0.0
    }
}

pub use crate::error::MasterError;

pub(super) fn usage(msg: impl Into<String>) -> MasterError {
    MasterError::Usage(msg.into())
}

/// Renders `session` into `out_dir`.
pub fn render_session(
    session: &Session,
    out_dir: &Path,
    force: bool,
) -> Result<Report, MasterError> {
    render_session_with(session, out_dir, force, None, &Silent)
}

/// Renders `session` into `out_dir`, reusing what is `known` of its inputs (it must be of
/// this session's stems). The main master and its locked versions render together; each
/// version with `dynamics = "own"` renders afterwards as a session of its own.
///
/// The output folder is locked for the whole render (a second render into it is refused
/// at once, so two runs never mix their files), and a render that fails removes its
/// temporary files: nothing of it stays but the files it completed before the error.
pub fn render_session_with(
    session: &Session,
    out_dir: &Path,
    force: bool,
    known: Option<Known>,
    progress: &dyn Progress,
) -> Result<Report, MasterError> {
    std::fs::create_dir_all(out_dir).map_err(|e| MasterError::io(out_dir, e))?;
    let _lock = crate::deliver::out_lock::OutLock::take(out_dir)?;
    // What a killed run of this session left (it could not clean up) is stale now that we
    // hold the lock.
    crate::deliver::out_lock::remove_scratch(out_dir, &session.output_name());
    let result = render_locked(session, out_dir, force, known, progress);
    if result.is_err() {
        crate::deliver::out_lock::remove_scratch(out_dir, &session.output_name());
    }
    result
}

/// [`render_session_with`] once the output folder is locked.
fn render_locked(
    session: &Session,
    out_dir: &Path,
    force: bool,
    known: Option<Known>,
    progress: &dyn Progress,
) -> Result<Report, MasterError> {
    if session.master.reference.is_some() {
        progress.stage("matching the reference", None);
        let mut resolved = session.clone();
        let known = resolve_reference(&mut resolved)?;
        return render_locked(&resolved, out_dir, force, Some(known), progress);
    }
    if !session.master.platforms.is_empty() {
        let report = bundle::render_bundle(session, out_dir, force, known, progress)?;
        progress.done();
        return write_report(out_dir, report);
    }
    let expanded;
    let session = if session.master.stem_masters && !session.versions.iter().any(|v| v.stem_master)
    {
        expanded = stem_masters::expand(session)?;
        &expanded
    } else {
        session
    };
    let own: Vec<(&VersionSpec, Session)> = session
        .versions
        .iter()
        .filter(|v| v.dynamics == VersionDynamics::Own)
        .map(|v| {
            let mut alone = session.clone();
            alone.stems = v.apply_to(&session.stems);
            alone.versions.clear();
            alone.master.stem_masters = false;
            (v, alone)
        })
        .collect();
    // Refused before any work: an own version's file that exists.
    for (v, alone) in &own {
        let rate = session_rate(alone)?;
        for d in alone.deliver_specs().map_err(usage)? {
            let p = out_dir.join(d.version_file_name(
                &session.output_name(),
                &v.name,
                d.sample_rate_hz.unwrap_or(rate),
            ));
            if p.exists() && !force {
                return Err(usage(format!(
                    "{}: exists (use --force to replace it)",
                    p.display()
                )));
            }
        }
    }
    let mut report = render_lanes_of(session, out_dir, force, known, progress, None)?;
    if session.master.stem_masters {
        progress.stage("checking that the stem masters sum to the master", None);
        stem_masters::finish_report(session, &session.bus(), &mut report);
    }
    for (v, alone) in &own {
        progress.stage(&format!("version {}: own render", v.name), None);
        let r = render_lanes_of(alone, out_dir, force, None, progress, Some(&v.name))?;
        report.warnings.extend(
            r.warnings
                .iter()
                .map(|w| format!("version {}: {w}", v.name)),
        );
        report.versions.push(VersionReport {
            name: v.name.clone(),
            dynamics: v.dynamics,
            stems: v.playing(&session.stems),
            pass: r.all_pass(),
            deliverables: r.deliverables,
            limiter: r.limiter,
        });
    }
    progress.done();
    write_report(out_dir, report)
}

/// Writes `report.json` into `out_dir` (whole or not at all).
fn write_report(out_dir: &Path, report: Report) -> Result<Report, MasterError> {
    let report_path = out_dir.join("report.json");
    let part = report_path.with_extension("json.part");
    let text = serde_json::to_string_pretty(&report).expect("report serialises");
    std::fs::write(&part, text + "\n")
        .and_then(|_| std::fs::rename(&part, &report_path))
        .map_err(RenderError::Write)?;
    Ok(report)
}

mod bundle;
mod clip_check;
mod first_pass;
mod inputs;
mod lanes;
mod lossy;
mod plan;
mod reach;
mod report;
mod request;
mod secant;
mod stem_masters;
mod verify;

use inputs::session_rate;
use lanes::render_lanes_of;

pub use inputs::{input_loudness, resolve_reference, session_from_preset, Known, ReferenceRequest};
pub use report::{
    BundleMasterReport, DeliverableReport, InputReport, LimiterReport, Measured, PlatformReport,
    Report, VersionReport,
};
pub use request::{MasterRequest, Prepared};

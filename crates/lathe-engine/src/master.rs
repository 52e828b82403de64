//! Rendering a session to verified deliverables (`lathe render`, and `lathe master`, which
//! builds a session from a preset).
//!
//! Passes (each streams; nothing the length of the music is held in memory):
//! 1. the stems through the chain before the gain, measuring the unprocessed sum on the way in
//!    (the report's `input`; read from the file's analysis when the sum is one stereo file)
//!    and the chain's output. Without a target this pass writes the deliverables. With one, it
//!    writes the bus to a temporary file ([`crate::bus_cache`]) while the stem files are
//!    analysed on the other core;
//! 2. with a target: the gain is set to `target − measured`, the cached bus replayed through
//!    the gain and the limiter into the deliverables, and measured; if the limiter cost
//!    loudness, the gain is corrected by secant steps and the bus replayed again (at most
//!    [`MAX_RENDERS`] times);
//! 3. every delivered file is decoded back and measured; the report says whether it passed.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::analyze::{analyze_file, analyze_for_matching, measure_levels, Analysis, AnalyzeError};
use crate::assistant::{self, AssistReport, MixFacts};
use crate::bus_cache::LaneCacheReader;
use crate::bus_cache::{BusCache, BusCacheWriter};
use crate::chain::ProcessorSpec;
use crate::deliver::{DeliverSpec, Delivery, Tags, Unsynced, DITHER_SEED};
use crate::pipeline::{pipelined_with_front, BlockSend};
use crate::preset::{Preset, Target};
use crate::progress::{Progress, Silent};
use crate::reference::{
    analyze_references, bus_is_one_file, limited_loudness_change_db, loudness_change_db,
    measure_stem_sum, plan, BusInput, Correction, CorrectionReport, MatchPlan, MatchReport,
    ReferenceSpec,
};
use crate::render::{
    render_lanes, render_stem_lanes, render_stems, Bus, ExtraReductionReport, Metering, PassResult,
    RenderError,
};
use crate::session::{DeliverEntry, MasterSpec, Session};
use crate::stems::StemSpec;
use crate::version::{VersionDynamics, VersionSpec};
use lathe_dsp::limiter_estimate::{gain_for_loudness, LimitedLoudnessEstimator};
use lathe_dsp::mid_side_spectrum::{MidSideSpectrum, MidSideSpectrumMeter};

/// Gains, around `target − input loudness`, at which the first pass predicts the limited
/// loudness, dB (the chain before the gain moves the loudness by about a dB either way).
const ESTIMATE_OFFSETS_DB: [f64; 3] = [-0.5, 0.5, 1.5];

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
fn bounded_gain_db(gain_db: f64) -> f64 {
    if gain_db.is_finite() {
        gain_db.clamp(-MAX_TARGET_GAIN_DB, MAX_TARGET_GAIN_DB)
    } else {
        0.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

fn usage(msg: impl Into<String>) -> MasterError {
    MasterError::Usage(msg.into())
}

#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub lra_lu: f64,
    pub sample_peak_dbfs: Option<f64>,
    pub duration_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeliverableReport {
    pub path: String,
    pub format: String,
    pub bits: u32,
    pub sample_rate_hz: u32,
    pub dither: lathe_dsp::dither::DitherKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    /// Lossy formats: the limiter ceiling the encoded master was rendered with, dBTP. Lower
    /// than the target's when the decoded file overshot and the master was rendered again
    /// (codec-safe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_ceiling_dbtp: Option<f64>,
    /// Deliverables at another rate than the session's: the deepest gain reduction of the
    /// true-peak safety stage after resampling, dB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_limiter_max_reduction_db: Option<f64>,
    pub measured: Measured,
    pub target: Option<Target>,
    /// Locked versions: the ceiling their true peak must respect (their loudness follows the
    /// main master's gain, so it has no target of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling_dbtp: Option<f64>,
    pub pass: bool,
}

/// One alternate version as delivered.
#[derive(Clone, Debug, Serialize)]
pub struct VersionReport {
    pub name: String,
    pub dynamics: VersionDynamics,
    /// The stems it plays.
    pub stems: Vec<String>,
    pub deliverables: Vec<DeliverableReport>,
    /// `dynamics = "own"`: the limiter of its own render.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter: Option<LimiterReport>,
    /// Every deliverable met its target (locked: its ceiling).
    pub pass: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct LimiterReport {
    pub ceiling_dbtp: f64,
    pub release_ms: f64,
    pub lookahead_ms: f64,
    pub hold_ms: f64,
    pub auto_hold: bool,
    pub gain_into_limiter_db: f64,
    /// The gain the first pass predicted would reach the target (when it could predict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_gain_into_limiter_db: Option<f64>,
    pub max_gain_reduction_db: f64,
    /// With locked versions: the reduction the main master got beyond its own need, because a
    /// version needed it at that instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_extra_reduction: Option<ExtraReductionReport>,
}

/// The unprocessed stem sum, as measured in the first pass.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub lra_lu: f64,
    pub duration_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub input: InputReport,
    /// Every stem file as analysed on its own.
    pub stems: Vec<Analysis>,
    pub session_rate_hz: u32,
    pub target: Option<Target>,
    /// The master chain actually used (the gain goes in before `post_gain` and the limiter).
    pub chain: Vec<ProcessorSpec>,
    pub post_gain: Vec<ProcessorSpec>,
    pub limiter: Option<LimiterReport>,
    pub passes: Vec<PassResult>,
    pub deliverables: Vec<DeliverableReport>,
    /// Alternate versions (`[[version]]`), in session order of rendering (locked, then own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionReport>,
    pub dither_seed: u64,
    /// Reference matching: what was measured and decided, and how close the master came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<MatchReport>,
    /// `--assist`: the chain the assistant chose, one reason per choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistant: Option<AssistReport>,
    pub warnings: Vec<String>,
    /// The session as rendered (with everything chosen automatically written in), which
    /// renders the same master again (`--save-session`).
    #[serde(skip)]
    pub session: Session,
}

impl Report {
    /// True when every deliverable met its target.
    pub fn all_pass(&self) -> bool {
        self.deliverables.iter().all(|d| d.pass) && self.versions.iter().all(|v| v.pass)
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Whether `a` and `b` are one file: the same path once links are resolved, or the same
/// inode (a hard link). A path that does not exist is no other file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) if x == y => true,
        _ => match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        },
    }
}

/// Reference matching asked of `lathe master`.
#[derive(Clone, Debug)]
pub struct ReferenceRequest {
    pub spec: ReferenceSpec,
    /// Whether the match sets the loudness target (neither a preset nor a target was given).
    pub set_target: bool,
}

/// Builds the session `lathe master` renders: the files as plain stems, the preset's chain
/// (chosen from the measured loudness of their sum) and limiter, target and deliverables.
/// With a reference, the chain before the gain is the match's instead of the preset's (the
/// preset still gives the ceiling, the stages after the gain and the deliverables).
/// Also returns what it measured of the inputs, which [`render_session_with`] reuses.
pub fn session_from_preset(
    files: &[PathBuf],
    preset: Preset,
    target_lufs: Option<f64>,
    ceiling_dbtp: Option<f64>,
    deliver: &[DeliverSpec],
    reference: Option<ReferenceRequest>,
    assist: bool,
) -> Result<(Session, Known), MasterError> {
    if files.is_empty() {
        return Err(usage("no input files"));
    }
    let target = match (preset.target(), target_lufs, ceiling_dbtp) {
        (base, None, None) => base,
        (base, lufs, tp) => Some(Target {
            integrated_lufs: lufs.or(base.map(|t| t.integrated_lufs)).unwrap_or(-14.0),
            true_peak_dbtp: tp.or(base.map(|t| t.true_peak_dbtp)).unwrap_or(-1.0),
        }),
    };
    let stems: Vec<StemSpec> = files.iter().cloned().map(StemSpec::plain).collect();
    let mut session = Session {
        title: None,
        artist: None,
        isrc: None,
        // The first input's rate (deliverables at other rates are converted from it).
        sample_rate_hz: None,
        stems,
        master: MasterSpec {
            chain: Vec::new(),
            target,
            reference: reference.as_ref().map(|r| r.spec.clone()),
        },
        deliver: deliver.iter().map(DeliverEntry::from_spec).collect(),
        versions: Vec::new(),
    };
    session.validate().map_err(usage)?;
    let rate = session_rate(&session)?;
    if reference.is_some() || assist {
        let (mut known, input, plan) = match reference {
            Some(req) => {
                let (k, input, plan) = match_session(&session, rate, req.set_target)?;
                (k, input, Some(plan))
            }
            None => {
                let (analyses, input) = measure_input(&session, rate)?;
                let known = Known {
                    analyses,
                    sum_lufs: input.integrated_lufs,
                    matched: None,
                    assisted: None,
                };
                (known, input, None)
            }
        };
        let mut chain = Vec::new();
        if assist {
            let facts = MixFacts {
                spectrum: &input.mid_side,
                integrated_lufs: input.integrated_lufs.unwrap_or(-70.0),
                peak_db: input.peak_db,
            };
            let (assisted, report) = assistant::assist(&facts, plan.is_none());
            chain.extend(assisted);
            known.assisted = Some(report);
        }
        let target_lufs = plan.as_ref().and_then(|p| p.target_lufs);
        if let Some(p) = plan {
            chain.extend(p.chain);
        }
        // A loud matched target gets the loud presets' clipper and faster limiter (unless a
        // preset was chosen).
        let stages = match target_lufs {
            Some(l) if l >= LOUD_MATCH_LUFS => Preset::Loud,
            _ => preset,
        };
        let bus = stages.bus(known.sum_lufs.unwrap_or(-70.0), session.master.target);
        chain.extend(bus.post_gain);
        chain.extend(bus.limiter.as_ref().map(Session::limiter_spec));
        session.master.chain = chain;
        set_matched_target(&mut session, target_lufs);
        session.master.reference = None;
        return Ok((session, known));
    }
    // The stem files' analyses, and the loudness of their sum (measured in parallel unless
    // the sum is the one file).
    let one = session.stems.len() == 1;
    let (analyses, sum) = rayon::join(
        || analyze_stems(&session),
        || -> Result<Option<f64>, MasterError> {
            if one {
                return Ok(None);
            }
            stem_sum_lufs(&session, rate)
        },
    );
    let analyses = analyses?;
    let sum_lufs = match sum? {
        Some(l) => Some(l),
        None => sum_is_the_file(&session, rate, &analyses).and_then(|a| a.integrated_lufs),
    };
    if preset != Preset::None {
        // The glue compressor's threshold follows the loudness of the (unprocessed) sum.
        let bus = preset.bus(sum_lufs.unwrap_or(-70.0), target);
        let mut chain = bus.chain;
        chain.extend(bus.post_gain);
        chain.extend(bus.limiter.as_ref().map(Session::limiter_spec));
        session.master.chain = chain;
    }
    Ok((
        session,
        Known {
            analyses,
            sum_lufs,
            matched: None,
            assisted: None,
        },
    ))
}

/// What is known about a session's inputs before rendering it.
#[derive(Clone, Debug)]
pub struct Known {
    /// Every stem file analysed on its own, in session order.
    pub analyses: Vec<Analysis>,
    /// Integrated loudness of the unprocessed stem sum at the session rate (with a reference
    /// match: plus the loudness its EQ is predicted to add), which centres the limiter
    /// estimate.
    pub sum_lufs: Option<f64>,
    /// The reference match that was resolved into the session's chain.
    pub matched: Option<MatchReport>,
    /// What the assistant chose.
    pub assisted: Option<AssistReport>,
}

/// Analyses the stem files and measures the bus input (the one file itself, or the stem sum).
fn measure_input(
    session: &Session,
    rate_hz: u32,
) -> Result<(Vec<Analysis>, BusInput), MasterError> {
    if let Some(file) = bus_is_one_file(session) {
        let m = analyze_for_matching(file, true)?;
        Ok((vec![m.analysis.clone()], BusInput::from(&m)))
    } else {
        let (a, sum) = rayon::join(
            || analyze_stems(session),
            || measure_stem_sum(session, rate_hz),
        );
        Ok((a?, sum.map_err(usage)?))
    }
}

/// Analyses the session's bus input and its references (in parallel) and plans the match.
fn match_session(
    session: &Session,
    rate_hz: u32,
    set_target: bool,
) -> Result<(Known, BusInput, MatchPlan), MasterError> {
    let spec = session
        .master
        .reference
        .as_ref()
        .expect("called with a reference");
    let (input, refs) = rayon::join(
        || measure_input(session, rate_hz),
        || analyze_references(spec),
    );
    let ((analyses, input), refs) = (input?, refs.map_err(usage)?);
    let plan = plan(spec, &input, &refs, set_target).map_err(usage)?;
    // The limiter estimate is centred on the loudness the bus will have after the match EQ.
    let eq_change_db = plan
        .chain
        .iter()
        .find_map(|p| match p {
            ProcessorSpec::MatchEq(eq) => Some(loudness_change_db(&input.mid_side, eq)),
            _ => None,
        })
        .unwrap_or(0.0);
    Ok((
        Known {
            analyses,
            sum_lufs: input.integrated_lufs.map(|l| l + eq_change_db),
            matched: Some(plan.report.clone()),
            assisted: None,
        },
        input,
        plan,
    ))
}

/// Sets the target's loudness to the match's (the ceiling stays: the session's target's, else
/// its final limiter's, else −1 dBTP).
fn set_matched_target(session: &mut Session, lufs: Option<f64>) {
    let Some(lufs) = lufs else { return };
    let ceiling = session
        .master
        .target
        .map(|t| t.true_peak_dbtp)
        .unwrap_or_else(|| match session.master.chain.last() {
            Some(ProcessorSpec::Limiter(l)) => l.ceiling_dbtp,
            _ => -1.0,
        });
    session.master.target = Some(Target {
        integrated_lufs: (lufs * 1000.0).round() / 1000.0,
        true_peak_dbtp: ceiling,
    });
}

/// Resolves a session's `[master.reference]` into ordinary processors at the front of its
/// master chain (and its target, when the session sets none); the reference section is
/// removed. Returns what was measured, for [`render_session_with`].
pub fn resolve_reference(session: &mut Session) -> Result<Known, MasterError> {
    let rate = session_rate(session)?;
    let set_target = session.master.target.is_none();
    let (known, _, plan) = match_session(session, rate, set_target)?;
    let mut chain = plan.chain;
    chain.append(&mut session.master.chain);
    session.master.chain = chain;
    set_matched_target(session, plan.target_lufs);
    session.master.reference = None;
    session.validate().map_err(usage)?;
    Ok(known)
}

/// Integrated loudness of a session's unprocessed stem sum at its rate, LUFS (`None`: silent).
pub fn input_loudness(session: &Session) -> Result<Option<f64>, MasterError> {
    let rate = session_rate(session)?;
    if session.stems.len() == 1 {
        let analyses = analyze_stems(session)?;
        if let Some(a) = sum_is_the_file(session, rate, &analyses) {
            return Ok(a.integrated_lufs);
        }
    }
    stem_sum_lufs(session, rate)
}

/// Integrated loudness of the unprocessed stem sum at `rate_hz`, measured by rendering it
/// through an empty bus.
fn stem_sum_lufs(session: &Session, rate_hz: u32) -> Result<Option<f64>, MasterError> {
    let sum = render_stems(
        &session.stems,
        rate_hz,
        &Bus::default(),
        0.0,
        Metering::default(),
        &Silent,
        |_, _| Ok(()),
    )?;
    Ok(finite(sum.integrated_lufs))
}

/// Every stem file analysed on its own (in parallel).
fn analyze_stems(session: &Session) -> Result<Vec<Analysis>, MasterError> {
    Ok(session
        .stems
        .par_iter()
        .map(|s| analyze_file(&s.file))
        .collect::<Result<_, _>>()?)
}

/// The analysis of the only stem when the session's unprocessed sum is exactly that file
/// (one stereo stem at the session rate, played unchanged), so it need not be measured again.
fn sum_is_the_file<'a>(
    session: &Session,
    rate_hz: u32,
    analyses: &'a [Analysis],
) -> Option<&'a Analysis> {
    let ([stem], [a]) = (session.stems.as_slice(), analyses) else {
        return None;
    };
    let plain = stem.gain_db == 0.0 && stem.pan == 0.0 && !stem.mute && stem.chain.is_empty();
    (plain && a.channels == 2 && a.sample_rate_hz == rate_hz).then_some(a)
}

/// The processing rate: the session's, else the first stem's.
fn session_rate(session: &Session) -> Result<u32, MasterError> {
    if let Some(r) = session.sample_rate_hz {
        return Ok(r);
    }
    let d = lathe_io::Decoder::open(&session.stems[0].file)
        .map_err(|e| MasterError::Analyze(e.into()))?;
    Ok(d.info().sample_rate_hz)
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
    std::fs::create_dir_all(out_dir).map_err(|e| {
        usage(format!(
            "{}: cannot create output folder: {e}",
            out_dir.display()
        ))
    })?;
    let _lock = crate::out_lock::OutLock::take(out_dir).map_err(usage)?;
    // What a killed run of this session left (it could not clean up) is stale now that we
    // hold the lock.
    crate::out_lock::remove_scratch(out_dir, &session.output_name());
    let result = render_locked(session, out_dir, force, known, progress);
    if result.is_err() {
        crate::out_lock::remove_scratch(out_dir, &session.output_name());
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
    let own: Vec<(&VersionSpec, Session)> = session
        .versions
        .iter()
        .filter(|v| v.dynamics == VersionDynamics::Own)
        .map(|v| {
            let mut alone = session.clone();
            alone.stems = v.apply_to(&session.stems);
            alone.versions.clear();
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
    let report_path = out_dir.join("report.json");
    let part = report_path.with_extension("json.part");
    let text = serde_json::to_string_pretty(&report).expect("report serialises");
    std::fs::write(&part, text + "\n")
        .and_then(|_| std::fs::rename(&part, &report_path))
        .map_err(RenderError::Write)?;
    Ok(report)
}

/// Renders the main master of `session` and its locked versions in lockstep (or, with
/// `own_version`, that version of a session already reduced to it, named after it).
fn render_lanes_of(
    session: &Session,
    out_dir: &Path,
    force: bool,
    known: Option<Known>,
    progress: &dyn Progress,
    own_version: Option<&str>,
) -> Result<Report, MasterError> {
    let label = own_version.unwrap_or("master");
    // Lane 0 is the main master; each locked version is one more lane.
    let locked: Vec<&VersionSpec> = session
        .versions
        .iter()
        .filter(|v| v.dynamics == VersionDynamics::Locked)
        .collect();
    let lane_labels: Vec<&str> = std::iter::once(label)
        .chain(locked.iter().map(|v| v.name.as_str()))
        .collect();
    let lane_gains: Vec<Vec<f64>> =
        std::iter::once(crate::version::main_stem_gains(&session.stems))
            .chain(locked.iter().map(|v| v.stem_gains(&session.stems)))
            .collect();
    let lanes = lane_labels.len();
    let mut matched = known.as_ref().and_then(|k| k.matched.clone());
    let assistant = known.as_ref().and_then(|k| k.assisted.clone());
    let sum_lufs = known.as_ref().and_then(|k| k.sum_lufs);
    let analyses = known.map(|k| k.analyses);
    let deliver = session.deliver_specs().map_err(usage)?;
    let session_rate_hz = session_rate(session)?;
    // The rate each lossy deliverable is encoded at.
    let lossy_rate = |d: &DeliverSpec| d.sample_rate_hz.unwrap_or(session_rate_hz);
    if let Some(d) = deliver
        .iter()
        .find(|d| d.is_lossy() && !lathe_io::mp3_writer::MP3_RATES.contains(&lossy_rate(d)))
    {
        return Err(usage(format!(
            "MP3 is encoded at 32, 44.1 or 48 kHz; this one would be at {} Hz (add @44100 or @48000)",
            lossy_rate(d)
        )));
    }
    // Everything that can be refused is refused before any work.
    std::fs::create_dir_all(out_dir).map_err(|e| {
        usage(format!(
            "{}: cannot create output folder: {e}",
            out_dir.display()
        ))
    })?;
    let name = session.output_name();
    // Per lane, per deliverable.
    let lane_outputs: Vec<Vec<PathBuf>> = lane_labels
        .iter()
        .map(|v| {
            deliver
                .iter()
                .map(|d| {
                    out_dir.join(d.version_file_name(
                        &name,
                        v,
                        d.sample_rate_hz.unwrap_or(session_rate_hz),
                    ))
                })
                .collect()
        })
        .collect();
    let report_path = out_dir.join("report.json");
    let plot_path = out_dir.join(format!("{name}_match.svg"));
    let plot = matched.is_some().then_some(&plot_path);
    let report_files = own_version.is_none().then_some(&report_path);
    for p in lane_outputs
        .iter()
        .flatten()
        .chain(report_files)
        .chain(plot)
    {
        if session.input_files().iter().any(|i| same_file(p, i)) {
            return Err(usage(format!(
                "{}: output would overwrite the input",
                p.display()
            )));
        }
        if p.exists() && !force {
            return Err(usage(format!(
                "{}: exists (use --force to replace it)",
                p.display()
            )));
        }
    }
    // Lossless files are written while rendering; lossy ones are encoded afterwards from a
    // temporary 32-bit float copy of the master bus at their rate (converted, with the
    // true-peak safety stage, like any deliverable at another rate), so that they can be
    // re-encoded (codec-safe). One copy per rate.
    let mut lossy_rates: Vec<u32> = deliver
        .iter()
        .filter(|d| d.is_lossy())
        .map(lossy_rate)
        .collect();
    lossy_rates.sort_unstable();
    lossy_rates.dedup();
    let bus_copy = |lane: usize, rate: u32| -> (DeliverSpec, PathBuf) {
        (
            DeliverSpec::parse(&format!("wav:32@{rate}")).expect("valid"),
            out_dir.join(format!(".{name}_{}.bus{rate}.f32.wav", lane_labels[lane])),
        )
    };
    // What each lane writes while rendering.
    let direct: Vec<Vec<(DeliverSpec, PathBuf)>> = lane_outputs
        .iter()
        .enumerate()
        .map(|(lane, outputs)| {
            deliver
                .iter()
                .cloned()
                .zip(outputs.iter().cloned())
                .filter(|(d, _)| !d.is_lossy())
                .chain(lossy_rates.iter().map(|&r| bus_copy(lane, r)))
                .collect()
        })
        .collect();
    let target = session.master.target;
    let bus = session.bus();
    let tags = session.tags();
    // One stereo file at the session rate: analyse it first, so that its loudness seeds the
    // limiter estimate (the same path `lathe master` takes; a saved session then renders bit
    // for bit like the master it came from). Otherwise the stems are analysed in parallel with
    // the first pass.
    let analyses = match analyses {
        None if session.stems.len() == 1 && {
            let d = lathe_io::Decoder::open(&session.stems[0].file)
                .map_err(|e| MasterError::Analyze(e.into()))?;
            d.info().channels == 2 && d.info().sample_rate_hz == session_rate_hz
        } =>
        {
            progress.stage("analysing the input", None);
            Some(analyze_stems(session)?)
        }
        a => a,
    };
    // The one-stem case reads the input's levels from its analysis; otherwise the first pass
    // measures the stem sum on its way into the chain.
    let one_file = analyses
        .as_deref()
        .is_some_and(|a| sum_is_the_file(session, session_rate_hz, a).is_some());
    let metering = Metering {
        input: !one_file,
        output_true_peak: false,
    };
    let open_writers =
        |files: &[Vec<(DeliverSpec, PathBuf)>]| -> Result<Vec<Delivery>, MasterError> {
            open_deliveries(files, session_rate_hz, None, &tags)
                .map_err(|e| MasterError::Render(RenderError::Write(e)))
        };
    let cache_paths: Vec<PathBuf> = lane_labels
        .iter()
        .map(|l| out_dir.join(format!(".{name}_{l}.prebus.f32")))
        .collect();
    // When the input's loudness is known before the first pass, that pass also predicts the
    // loudness the limiter will deliver at gains around `target − input`, so that the first
    // render after it starts close to the answer (see lathe_dsp::limiter_estimate).
    let hint = sum_lufs.or_else(|| {
        analyses
            .as_deref()
            .and_then(|a| sum_is_the_file(session, session_rate_hz, a))
            .and_then(|a| a.integrated_lufs)
    });
    // A clipper between the gain and the limiter is modelled; other stages there are not.
    let clip_db = match bus.post_gain.as_slice() {
        [] => Some(None),
        [ProcessorSpec::Clipper(c)] => Some(Some(c.ceiling_db)),
        _ => None,
    };
    let mut estimator = match (target, bus.limiter, hint, clip_db) {
        (Some(t), Some(lim), Some(input_lufs), Some(clip_db)) => {
            let centre = t.integrated_lufs - input_lufs;
            let gains: Vec<f64> = ESTIMATE_OFFSETS_DB.iter().map(|o| centre + o).collect();
            let e = LimitedLoudnessEstimator::new(&lim, session_rate_hz as f64, &gains, clip_db);
            // With a clipper before the limiter, or for reference matching, the lowest and
            // the highest candidate's output is measured too (its loudness; for matching, its
            // spectrum).
            let spectra = matched.is_some();
            Some(if spectra || clip_db.is_some() {
                e.with_probes(session_rate_hz as f64, clip_db.is_some(), spectra)
            } else {
                e
            })
        }
        _ => None,
    };
    // The stems' own analyses run on one core while the first pass runs on the other.
    // Frames of the master (the longest stem at the session rate), when the analyses tell.
    let expected_frames = analyses.as_deref().and_then(|a| {
        a.iter()
            .map(|x| {
                (x.frames as u128 * session_rate_hz as u128)
                    .div_ceil(x.sample_rate_hz.max(1) as u128) as u64
            })
            .max()
    });
    progress.stage(
        if target.is_some() {
            "chain → bus copy"
        } else {
            "rendering"
        },
        expected_frames,
    );
    let (stems, first) = rayon::join(
        || match analyses {
            Some(a) => Ok(a),
            None => analyze_stems(session),
        },
        || -> Result<(PassResult, Option<Vec<BusCache>>), MasterError> {
            match target {
                None => {
                    let mut writers = open_writers(&direct)?;
                    let pass = render_stem_lanes(
                        &session.stems,
                        &lane_gains,
                        session_rate_hz,
                        &bus,
                        0.0,
                        metering,
                        progress,
                        |lane, l, r| {
                            if lane == 0 {
                                progress.advance(l.len() as u64);
                            }
                            writers.iter_mut().try_for_each(|w| w.write(lane, l, r))
                        },
                    )?;
                    for w in writers {
                        w.finish().map_err(RenderError::Write)?;
                    }
                    Ok((pass, None))
                }
                Some(_) => {
                    // The chain before the gain, once, into the bus cache.
                    let pre_bus = Bus {
                        chain: bus.chain.clone(),
                        ..Bus::default()
                    };
                    let mut caches: Vec<BusCacheWriter> = cache_paths
                        .iter()
                        .map(|p| BusCacheWriter::create(p))
                        .collect::<Result<_, _>>()
                        .map_err(RenderError::Write)?;
                    let mut render = |send: Option<BlockSend<'_>>| {
                        let mut send = send;
                        render_stem_lanes(
                            &session.stems,
                            &lane_gains,
                            session_rate_hz,
                            &pre_bus,
                            0.0,
                            metering,
                            progress,
                            |lane, l, r| {
                                if lane == 0 {
                                    if let Some(s) = send.as_mut() {
                                        s(l, r);
                                    }
                                    progress.advance(l.len() as u64);
                                }
                                caches[lane].write(l, r)
                            },
                        )
                    };
                    // The estimate runs on a thread of its own; its detection (the 8x
                    // upsampling and K-weighting) on this one, which has time to spare while
                    // the gain computers are the slower stage.
                    let pre = match estimator.as_mut() {
                        Some(e) => {
                            let mut front = e.take_front();
                            pipelined_with_front(
                                |l: &[f64], r: &[f64], peaks: &mut [f64], energies: &mut [f64]| {
                                    front.run(l, r, peaks, energies)
                                },
                                |l: &[f64], r: &[f64], peaks: &[f64], energies: &[f64]| {
                                    e.process_detected(l, r, peaks, energies);
                                    Ok::<(), std::convert::Infallible>(())
                                },
                                |send| render(Some(send)),
                            )
                            .0
                        }
                        None => render(None),
                    };
                    let pre = pre?;
                    let caches = caches
                        .into_iter()
                        .map(|c| c.finish())
                        .collect::<Result<_, _>>()
                        .map_err(RenderError::Write)?;
                    Ok((pre, Some(caches)))
                }
            }
        },
    );
    let (stems, (first, caches)) = (stems?, first?);
    let mut warnings: Vec<String> = stems
        .iter()
        .flat_map(|a| a.warnings.iter().map(move |w| format!("{}: {w}", a.file)))
        .collect();
    let input = match (
        &first.input,
        sum_is_the_file(session, session_rate_hz, &stems),
    ) {
        (Some(levels), _) => InputReport {
            integrated_lufs: finite(levels.integrated_lufs),
            true_peak_dbtp: finite(levels.true_peak_dbtp),
            lra_lu: levels.lra_lu,
            duration_s: first.frames as f64 / session_rate_hz as f64,
        },
        (None, Some(a)) => InputReport {
            integrated_lufs: a.integrated_lufs,
            true_peak_dbtp: a.true_peak_dbtp,
            lra_lu: a.lra_lu,
            duration_s: a.duration_s,
        },
        (None, None) => unreachable!("the input is metered unless it is the one stem file"),
    };
    let pre_lufs = first.integrated_lufs;
    let mut passes = vec![first];
    // The passes after the gain replay the cached bus.
    let mut rendered_session = session.clone();
    let mut bus_chain_used = bus.chain.clone();
    let mut post_bus = Bus {
        chain: Vec::new(),
        ..bus.clone()
    };
    let mut limiter_report = None;
    // Deepest gain reduction of each resampled deliverable's safety stage.
    let mut safety_db = std::collections::HashMap::new();
    // Delivered files not yet committed (verified under their temporary names meanwhile).
    let mut unsynced: Vec<Unsynced> = Vec::new();
    if let (Some(t), Some(caches)) = (target, &caches) {
        let limiter = bus.limiter.expect("a target always has a limiter");
        if !pre_lufs.is_finite() {
            return Err(usage(
                "the input is silent; a loudness target cannot be reached",
            ));
        }
        // With a clipper before the limiter, the probes (when there are any) measured the
        // clipped output's loudness itself: a better prediction than the estimate's.
        let predictions = estimator.as_ref().map(|e| {
            let probed = e.probe_predictions();
            if matches!(clip_db, Some(Some(_))) && probed.len() >= 2 {
                probed
            } else {
                e.predictions()
            }
        });
        let predicted = predictions
            .as_ref()
            .and_then(|p| gain_for_loudness(p, t.integrated_lufs));
        let mut first_gain = bounded_gain_db(predicted.unwrap_or(t.integrated_lufs - pre_lufs));
        let predicted_slope = predictions.as_ref().and_then(|p| slope_near(p, first_gain));
        // Reference matching: when the dynamics stages move the spectrum away from the plan,
        // a correction EQ goes in after them (before the gain: it is linear, so the cached bus
        // is replayed through it). The estimate's probe has already measured what the
        // compressor and the limiter do to the spectrum; without a probe, the first render is
        // measured instead (and then rendered again).
        let probes = estimator
            .as_mut()
            .map(|e| e.probe_spectra())
            .unwrap_or_default();
        let probed = spectrum_at(&probes, first_gain);
        let probed_ok = probed.is_some();
        let early = match (matched.as_ref(), &probed) {
            (Some(m), Some(spectrum)) => m.correction_for(spectrum),
            _ => None,
        };
        if let Some(fix) = &early {
            post_bus.chain.push(ProcessorSpec::MatchEq(fix.eq.clone()));
            // The loudness the correction adds at the limiter's output, made up before the
            // first render.
            let added = match (&probed, probes.first(), probes.last()) {
                (Some(at), Some(lo), Some(hi)) if probes.len() >= 2 => {
                    limited_loudness_change_db(at, lo, hi, &fix.eq)
                }
                _ => fix.loudness_change_db,
            };
            first_gain -= added / predicted_slope.unwrap_or(1.0);
        }
        let plan = matched.clone();
        let correct = |got: &MidSideSpectrum| plan.as_ref()?.correction_for(got);
        let outputs = Outputs {
            files: &direct,
            tags: &tags,
            progress,
            spectrum: matched.is_some(),
            correct: (matched.is_some() && early.is_none() && !probed_ok).then_some(&correct as _),
            slope: predicted_slope.unwrap_or(1.0),
        };
        let mut rendered =
            render_to_target(caches, session_rate_hz, &post_bus, t, first_gain, outputs)?;
        // The bus copies are encoded from under their final names at once; the deliverables
        // are verified while they are being committed.
        let bus_copies: Vec<PathBuf> = (0..lanes)
            .flat_map(|k| lossy_rates.iter().map(move |&r| (k, r)))
            .map(|(k, r)| bus_copy(k, r).1)
            .collect();
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
        if let Some(Correction {
            eq: fix, before_db, ..
        }) = early.or(late)
        {
            if let Some(m) = matched.as_mut() {
                m.correction = Some(CorrectionReport {
                    before_db,
                    freqs_hz: fix.freqs_hz.clone(),
                    mid_db: fix.mid_db.clone(),
                    side_db: fix.side_db.clone(),
                });
            }
            // Into the session as rendered: after the chain before the gain.
            rendered_session
                .master
                .chain
                .insert(bus.chain.len(), ProcessorSpec::MatchEq(fix.clone()));
            bus_chain_used.push(ProcessorSpec::MatchEq(fix));
        }
        if let (Some(m), Some(got)) = (matched.as_mut(), rendered.spectrum.as_ref()) {
            m.set_result(got);
        }
        for lane in &direct {
            for ((_, path), db) in lane.iter().zip(&rendered.safety_db) {
                safety_db.insert(path.clone(), *db);
            }
        }
        let last = rendered.passes.last().cloned();
        passes.append(&mut rendered.passes);
        let last = last.expect("render_to_target renders at least once");
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
        limiter_report = Some(LimiterReport {
            ceiling_dbtp: limiter.ceiling_dbtp,
            release_ms: limiter.release_ms,
            lookahead_ms: limiter.lookahead_ms,
            hold_ms: limiter.hold_ms,
            auto_hold: limiter.auto_hold,
            gain_into_limiter_db: last.gain_db,
            predicted_gain_into_limiter_db: predicted,
            max_gain_reduction_db: last.limiter_max_reduction_db,
            locked_extra_reduction: last.locked_extra_reduction,
        });
    }

    // Lossy deliverables, encoded from the bus copy.
    if !lossy_rates.is_empty() {
        progress.stage("encoding and checking MP3", None);
    }
    let mut trims = vec![None; deliver.len()];
    {
        for (i, spec) in deliver.iter().enumerate() {
            if !spec.is_lossy() {
                continue;
            }
            let rate = lossy_rate(spec);
            let bus_only: Vec<Vec<(DeliverSpec, PathBuf)>> =
                (0..lanes).map(|k| vec![bus_copy(k, rate)]).collect();
            // When a decoded file overshoots, the bus copies are rendered again to the same
            // loudness with the limiter's ceiling lowered by the overshoot (every lane: they
            // share the limiter's gain).
            let mut rerender = |ceiling: f64| -> Result<(), MasterError> {
                let t = target.expect("re-rendering happens only with a target");
                let caches = caches.as_ref().expect("a target renders through the cache");
                let mut lowered = post_bus.clone();
                if let Some(l) = &mut lowered.limiter {
                    l.ceiling_dbtp = ceiling;
                }
                // The gain that reached the target with the higher ceiling is the best start.
                let start = limiter_report
                    .as_ref()
                    .map_or(t.integrated_lufs - pre_lufs, |l: &LimiterReport| {
                        l.gain_into_limiter_db
                    });
                let extra = render_to_target(
                    caches,
                    session_rate_hz,
                    &lowered,
                    t,
                    start,
                    Outputs {
                        files: &bus_only,
                        tags: &Tags::default(),
                        progress,
                        spectrum: false,
                        correct: None,
                        slope: 1.0,
                    },
                )?;
                passes.extend(extra.passes);
                for f in extra.files {
                    f.commit()
                        .map_err(|e| MasterError::Render(RenderError::Write(e)))?;
                }
                Ok(())
            };
            let ceiling = target.map(|t| t.true_peak_dbtp);
            let bus_paths: Vec<PathBuf> = bus_only.iter().map(|b| b[0].1.clone()).collect();
            let paths: Vec<PathBuf> = lane_outputs.iter().map(|o| o[i].clone()).collect();
            trims[i] = Some(encode_lossy(
                &bus_paths,
                spec,
                &paths,
                rate,
                ceiling,
                &tags,
                &mut rerender,
            )?);
        }
        for &r in &lossy_rates {
            for k in 0..lanes {
                let _ = std::fs::remove_file(bus_copy(k, r).1);
            }
        }
    }
    // Verify every file as delivered: decode it back and measure.
    progress.stage("verifying the delivered files", None);
    // Every lane's files are measured in parallel, the uncommitted ones under their
    // temporary names while a thread of their own syncs them (a wait on the disk); they get
    // their final names once both are done.
    let read_from = |p: &PathBuf| -> PathBuf {
        unsynced
            .iter()
            .find(|f| f.path() == p)
            .map_or(p.as_path(), |f| f.part())
            .to_path_buf()
    };
    let read_paths: Vec<Vec<PathBuf>> = lane_outputs
        .iter()
        .map(|o| o.iter().map(read_from).collect())
        .collect();
    let (measured, committed) = std::thread::scope(|s| {
        let synced = s.spawn(|| unsynced.iter().try_for_each(Unsynced::sync));
        let measured = read_paths
            .par_iter()
            .map(|o| {
                o.par_iter()
                    .map(|p| measure_levels(p))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<Vec<Analysis>>, _>>();
        (measured, synced.join().expect("syncing does not panic"))
    });
    let renamed =
        committed.and_then(|()| unsynced.into_iter().try_for_each(|f| f.rename().map(drop)));
    renamed.map_err(|e| MasterError::Render(RenderError::Write(e)))?;
    let mut measured = measured?;
    // The analyses name the files by their final names.
    for (lane, paths) in measured.iter_mut().zip(&lane_outputs) {
        for (a, p) in lane.iter_mut().zip(paths) {
            a.file = p.display().to_string();
        }
    }
    // A locked version's loudness follows the main master's; its ceiling is the main's.
    let lane_target = |lane: usize| if lane == 0 { target } else { None };
    let ceiling = target.map(|t| t.true_peak_dbtp);
    let mut lane_deliverables: Vec<Vec<DeliverableReport>> = Vec::new();
    for (lane, (outputs, levels)) in lane_outputs.iter().zip(measured).enumerate() {
        let mut deliverables = Vec::new();
        for (((spec, path), trim), a) in deliver.iter().zip(outputs).zip(&trims).zip(levels) {
            let target = lane_target(lane);
            let pass = match (target, ceiling) {
                (Some(t), _) => {
                    a.integrated_lufs
                        .is_some_and(|i| (i - t.integrated_lufs).abs() <= LOUDNESS_TOLERANCE_LU)
                        && a.true_peak_dbtp.is_none_or(|tp| tp <= t.true_peak_dbtp)
                }
                (None, Some(c)) => a.true_peak_dbtp.is_none_or(|tp| tp <= c),
                (None, None) => true,
            } && a.non_finite_samples == 0;
            let safety = spec
                .sample_rate_hz
                .filter(|&r| r != session_rate_hz)
                .and(safety_db.get(path).copied());
            if lane == 1 && safety.is_some_and(|db| db > 0.0) {
                warnings.push(format!(
                "the delivery safety stage limited the {} Hz files by up to {:.3} dB after the rate conversion, the main master and every locked version alike (they still line up)",
                a.sample_rate_hz,
                safety.unwrap_or(0.0)
            ));
            }
            deliverables.push(DeliverableReport {
                path: path.display().to_string(),
                format: spec.format.clone(),
                bits: spec.bits,
                sample_rate_hz: a.sample_rate_hz,
                dither: spec.dither,
                bitrate_kbps: spec.bitrate_kbps,
                codec_ceiling_dbtp: trim.flatten(),
                safety_limiter_max_reduction_db: safety,
                ceiling_dbtp: if lane > 0 { ceiling } else { None },
                measured: Measured {
                    integrated_lufs: a.integrated_lufs,
                    true_peak_dbtp: a.true_peak_dbtp,
                    lra_lu: a.lra_lu,
                    sample_peak_dbfs: a.sample_peak_dbfs,
                    duration_s: a.duration_s,
                },
                target,
                pass,
            });
        }
        lane_deliverables.push(deliverables);
    }
    let mut lane_deliverables = lane_deliverables.into_iter();
    let deliverables = lane_deliverables.next().expect("the main lane");
    let versions: Vec<VersionReport> = locked
        .iter()
        .zip(lane_deliverables)
        .map(|(v, deliverables)| VersionReport {
            name: v.name.clone(),
            dynamics: v.dynamics,
            stems: v.playing(&session.stems),
            pass: deliverables.iter().all(|d| d.pass),
            deliverables,
            limiter: None,
        })
        .collect();
    // The matching plot, beside the report.
    if let Some(m) = matched.as_mut() {
        warnings.extend(m.warnings.iter().cloned());
        let svg = crate::plot::match_plot_svg(m).map_err(usage)?;
        let part = plot_path.with_extension("svg.part");
        std::fs::write(&part, svg)
            .and_then(|_| std::fs::rename(&part, &plot_path))
            .map_err(RenderError::Write)?;
        m.plot = Some(plot_path.display().to_string());
    }
    let report = Report {
        input,
        stems,
        session_rate_hz,
        target,
        chain: bus_chain_used,
        post_gain: bus.post_gain.clone(),
        limiter: limiter_report,
        passes,
        deliverables,
        dither_seed: DITHER_SEED,
        reference: matched,
        assistant,
        versions,
        warnings,
        session: rendered_session,
    };
    Ok(report)
}

/// One [`Delivery`] per deliverable, each writing that deliverable for every lane (`files`:
/// per lane, the same deliverables in the same order).
fn open_deliveries(
    files: &[Vec<(DeliverSpec, PathBuf)>],
    session_rate_hz: u32,
    ceiling_dbtp: Option<f64>,
    tags: &Tags,
) -> std::io::Result<Vec<Delivery>> {
    let mut open: Vec<Delivery> = Vec::new();
    for (j, (spec, _)) in files[0].iter().enumerate() {
        let paths: Vec<PathBuf> = files.iter().map(|lane| lane[j].1.clone()).collect();
        match Delivery::create(&paths, spec, session_rate_hz, ceiling_dbtp, tags) {
            Ok(d) => open.push(d),
            Err(e) => {
                open.into_iter().for_each(Delivery::discard);
                return Err(e);
            }
        }
    }
    Ok(open)
}

/// Chooses a correction EQ from a pass's spectrum (reference matching).
type CorrectFn<'a> = &'a dyn Fn(&MidSideSpectrum) -> Option<Correction>;

/// Where a render to target writes: the files (per lane), their tags, and the progress
/// display.
#[derive(Clone, Copy)]
struct Outputs<'a> {
    files: &'a [Vec<(DeliverSpec, PathBuf)>],
    tags: &'a Tags,
    progress: &'a dyn Progress,
    /// Measure the output's mid/side spectrum (reference matching).
    spectrum: bool,
    /// Reference matching: the correction EQ for the first pass's spectrum, if it needs one.
    correct: Option<CorrectFn<'a>>,
    /// d(loudness)/d(gain) expected near the first gain (the limiter flattens it), for the
    /// first secant step.
    slope: f64,
}

/// What [`render_to_target`] made.
struct Rendered {
    /// Every pass made; the last one wrote the files.
    passes: Vec<PassResult>,
    /// Deepest gain reduction of each deliverable's true-peak safety stage (shared by the
    /// lanes), dB.
    safety_db: Vec<f64>,
    /// The accepted pass's mid/side spectrum, when [`Outputs::spectrum`] asked for it.
    spectrum: Option<MidSideSpectrum>,
    /// The correction [`Outputs::correct`] asked for (in the bus of the accepted pass).
    correction: Option<Correction>,
    /// The accepted pass's files, complete but not yet committed ([`Unsynced::commit`]).
    files: Vec<Unsynced>,
}

/// Renders the bus at the gain that brings the output to `target` (secant steps from
/// `first_gain_db`), writing `files` in the accepted pass.
///
/// With [`Outputs::correct`], the first pass's spectrum is handed to it; a correction EQ it
/// returns goes into the bus (after its chain, before the gain) for every later pass, and the
/// first pass is never the accepted one.
fn render_to_target(
    caches: &[BusCache],
    rate_hz: u32,
    bus: &Bus,
    target: Target,
    first_gain_db: f64,
    out: Outputs<'_>,
) -> Result<Rendered, MasterError> {
    let Outputs {
        files,
        tags,
        progress,
        spectrum,
        correct,
        slope: first_slope,
    } = out;
    let mut bus = bus.clone();
    let mut correction = None;
    let write_err = |e: std::io::Error| MasterError::Render(RenderError::Write(e));
    let mut passes = Vec::new();
    let mut gain = bounded_gain_db(first_gain_db);
    let mut previous: Option<(f64, f64)> = None;
    for attempt in 1..=MAX_RENDERS {
        let mut writers = open_deliveries(files, rate_hz, Some(target.true_peak_dbtp), tags)
            .map_err(write_err)?;
        progress.stage(
            &format!("gain + limiter, render {attempt}"),
            Some(caches[0].frames()),
        );
        let mut source = LaneCacheReader(
            caches
                .iter()
                .map(|c| c.reader())
                .collect::<Result<_, _>>()
                .map_err(write_err)?,
        );
        // The result's spectrum: for the report, from frames that do not overlap (half the
        // work); a late correction is computed from the full (Welch) measurement.
        let mut meter = spectrum.then(|| match correct {
            Some(_) => MidSideSpectrumMeter::new(rate_hz as f64),
            None => MidSideSpectrumMeter::sparse(rate_hz as f64),
        });
        let res = render_lanes(
            &mut source,
            rate_hz,
            &bus,
            gain,
            Metering::default(),
            |lane, l, r| {
                if lane == 0 {
                    progress.advance(l.len() as u64);
                    if let Some(m) = meter.as_mut() {
                        m.process(l, r);
                    }
                }
                writers.iter_mut().try_for_each(|w| w.write(lane, l, r))
            },
        )?;
        passes.push(res.clone());
        let err = target.integrated_lufs - res.integrated_lufs;
        let got = meter.as_mut().map(|m| m.finish());
        let fix = match (attempt, correct, &got) {
            (1, Some(c), Some(g)) => c(g),
            _ => None,
        };
        if let Some(fix) = fix {
            // The corrected bus renders again, at a gain that also makes up the loudness the
            // correction is predicted to change.
            bus.chain.push(ProcessorSpec::MatchEq(fix.eq.clone()));
            gain += err / first_slope - fix.loudness_change_db;
            correction = Some(fix);
            for w in writers {
                w.discard();
            }
            continue;
        }
        // No further render can get closer: the output is silent to the loudness meter, or
        // the gain is at its bound and still short.
        let hopeless =
            !err.is_finite() || (gain.abs() >= MAX_TARGET_GAIN_DB && (err > 0.0) == (gain > 0.0));
        if err.abs() <= CONVERGED_LU || attempt == MAX_RENDERS || hopeless {
            let mut safety_db = Vec::new();
            let mut files = Vec::new();
            for w in writers {
                let (db, mut f) = w.finish_unsynced().map_err(write_err)?;
                safety_db.push(db);
                files.append(&mut f);
            }
            return Ok(Rendered {
                passes,
                safety_db,
                spectrum: got,
                correction,
                files,
            });
        }
        for w in writers {
            w.discard();
        }
        // Secant step on loudness(gain); the first step assumes the expected slope.
        let slope = match previous {
            Some((g0, i0)) if (res.integrated_lufs - i0).abs() > 1e-6 => {
                ((res.integrated_lufs - i0) / (gain - g0)).clamp(0.2, 1.5)
            }
            _ => first_slope,
        };
        previous = Some((gain, res.integrated_lufs));
        gain = bounded_gain_db(gain + err / slope);
    }
    unreachable!("the last attempt always returns")
}

/// The limited output's spectrum at `gain_db`, interpolated (in dB, band by band) between the
/// two probed candidates nearest it.
fn spectrum_at(probes: &[(f64, MidSideSpectrum)], gain_db: f64) -> Option<MidSideSpectrum> {
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
fn slope_near(predictions: &[(f64, f64)], gain_db: f64) -> Option<f64> {
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

/// Tries at most this many encodes of a lossy deliverable.
pub const MAX_LOSSY_ENCODES: usize = 4;

/// Encodes a lossy deliverable of every lane (the main master and its locked versions) from
/// its 32-bit float bus copy, the lanes in parallel. When a decoded file's true peak exceeds
/// the ceiling, `rerender` renders the bus copies again with the limiter's ceiling lowered by
/// the largest overshoot (plus 0.05 dB) at the same loudness, and every lane is encoded again.
/// Returns the ceiling the final encodes were rendered with (`None` without a target).
fn encode_lossy(
    buses: &[PathBuf],
    spec: &DeliverSpec,
    paths: &[PathBuf],
    rate_hz: u32,
    ceiling: Option<f64>,
    tags: &Tags,
    rerender: &mut dyn FnMut(f64) -> Result<(), MasterError>,
) -> Result<Option<f64>, MasterError> {
    let write_err = |e: std::io::Error| MasterError::Render(RenderError::Write(e));
    let mut used_ceiling = ceiling;
    for attempt in 1..=MAX_LOSSY_ENCODES {
        let parts: Vec<PathBuf> = paths.iter().map(|p| p.with_extension("mp3.part")).collect();
        let peaks: Vec<Option<f64>> = buses
            .par_iter()
            .zip(&parts)
            .map(|(bus, part)| -> Result<Option<f64>, MasterError> {
                encode_mp3(bus, part, spec, rate_hz)?;
                Ok(measure_levels(part)?.true_peak_dbtp)
            })
            .collect::<Result<_, _>>()?;
        let worst = peaks.iter().flatten().copied().reduce(f64::max);
        if let (Some(target_ceiling), Some(current), Some(tp)) = (ceiling, used_ceiling, worst) {
            if tp > target_ceiling && attempt < MAX_LOSSY_ENCODES {
                let lowered = current - (tp - target_ceiling) - 0.05;
                used_ceiling = Some(lowered);
                for part in &parts {
                    let _ = std::fs::remove_file(part);
                }
                rerender(lowered)?;
                continue;
            }
        }
        for (part, path) in parts.iter().zip(paths) {
            tags.write_into(part, "mp3").map_err(write_err)?;
            std::fs::rename(part, path).map_err(write_err)?;
        }
        return Ok(used_ceiling);
    }
    unreachable!("the last attempt always returns")
}

/// Encodes the 32-bit float WAV `bus` as MP3 into `part`.
fn encode_mp3(
    bus: &Path,
    part: &Path,
    spec: &DeliverSpec,
    rate_hz: u32,
) -> Result<(), MasterError> {
    use lathe_io::mp3_writer::Mp3Writer;
    let other = |e: String| MasterError::Render(RenderError::Write(std::io::Error::other(e)));
    let mut w = Mp3Writer::create(part, rate_hz, spec.bitrate_kbps.unwrap_or(320))
        .map_err(|e| other(e.to_string()))?;
    let mut reader = hound::WavReader::open(bus).map_err(|e| other(e.to_string()))?;
    let (mut l, mut r) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    let mut samples = reader.samples::<f32>();
    loop {
        l.clear();
        r.clear();
        while l.len() < 4096 {
            match (samples.next(), samples.next()) {
                (Some(a), Some(b)) => {
                    l.push(a.map_err(|e| other(e.to_string()))? as f64);
                    r.push(b.map_err(|e| other(e.to_string()))? as f64);
                }
                _ => break,
            }
        }
        if l.is_empty() {
            break;
        }
        w.write(&l, &r).map_err(|e| other(e.to_string()))?;
    }
    w.finish().map_err(|e| other(e.to_string()))?;
    Ok(())
}

//! What is measured of a session's inputs before rendering: the stem analyses, the loudness
//! of their sum, the reference match; and the session `lathe master` builds from a preset.

use std::path::PathBuf;

use rayon::prelude::*;

use super::report::finite;
use super::{usage, MasterError, LOUD_MATCH_LUFS};
use crate::analyze::{analyze_file, analyze_file_alone, analyze_for_matching, Analysis};
use crate::matching::assistant::{self, AssistReport, Choice, MixFacts};
use crate::matching::reference::{
    analyze_references, bus_is_one_file, loudness_change_db, measure_stem_sum, plan, BusInput,
    MatchPlan, MatchReport,
};
use crate::matching::stem_assistant;
use crate::matching::stem_facts::measure_stems;
use crate::progress::Silent;
use crate::render::{render_stems, Metering};
use crate::spec::bus::Bus;
use crate::spec::chain::ProcessorSpec;
use crate::spec::deliver::DeliverSpec;
use crate::spec::preset::{Preset, Target};
use crate::spec::reference::ReferenceSpec;
use crate::spec::session::{DeliverEntry, MasterSpec, Session};
use crate::spec::stem::StemSpec;

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
            stem_masters: false,
            platforms: Vec::new(),
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
            let stem_choices = assist_stems(&mut session, rate)?;
            let facts = MixFacts {
                spectrum: &input.mid_side,
                integrated_lufs: input.integrated_lufs.unwrap_or(-70.0),
                peak_db: input.peak_db,
            };
            let (assisted, mut report) = assistant::assist(&facts, plan.is_none(), false);
            chain.extend(assisted);
            let mut choices = stem_choices;
            choices.append(&mut report.choices);
            report.choices = choices;
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
    let known = measure_known(&session)?;
    if preset != Preset::None {
        // The glue compressor's threshold follows the loudness of the (unprocessed) sum.
        let bus = preset.bus(known.sum_lufs.unwrap_or(-70.0), target);
        let mut chain = bus.chain;
        chain.extend(bus.post_gain);
        chain.extend(bus.limiter.as_ref().map(Session::limiter_spec));
        session.master.chain = chain;
    }
    Ok((session, known))
}

/// The stem files' analyses, and the loudness of their sum (measured in parallel unless the
/// sum is the one file).
pub(super) fn measure_known(session: &Session) -> Result<Known, MasterError> {
    let rate = session_rate(session)?;
    let one = session.stems.len() == 1;
    // With one stem nothing is measured beside it (its sum is the file).
    let (analyses, sum) = rayon::join(
        || analyze_stems(session, one),
        || -> Result<Option<f64>, MasterError> {
            if one {
                return Ok(None);
            }
            stem_sum_lufs(session, rate)
        },
    );
    let analyses = analyses?;
    let sum_lufs = match sum? {
        Some(l) => Some(l),
        None => sum_is_the_file(session, rate, &analyses).and_then(|a| a.integrated_lufs),
    };
    Ok(Known {
        analyses,
        sum_lufs,
        matched: None,
        assisted: None,
    })
}

/// Writes each stem's corrective chain (the stem assistant); returns its choices.
fn assist_stems(session: &mut Session, rate_hz: u32) -> Result<Vec<Choice>, MasterError> {
    let facts = measure_stems(&session.stems, rate_hz)
        .map_err(|e| MasterError::Render(crate::render::RenderError::Source(e)))?;
    let plan = stem_assistant::assist_stems(&session.stems, &facts);
    for (stem, chain) in session.stems.iter_mut().zip(plan.chains) {
        stem.chain = chain;
    }
    Ok(plan.choices)
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
pub(super) fn measure_input(
    session: &Session,
    rate_hz: u32,
) -> Result<(Vec<Analysis>, BusInput), MasterError> {
    if let Some(file) = bus_is_one_file(session) {
        let m = analyze_for_matching(file, true)?;
        Ok((vec![m.analysis.clone()], BusInput::from(&m)))
    } else {
        let (a, sum) = rayon::join(
            || analyze_stems(session, false),
            || measure_stem_sum(session, rate_hz),
        );
        Ok((a?, sum?))
    }
}

/// Analyses the session's bus input and its references (in parallel) and plans the match.
pub(super) fn match_session(
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
    let ((analyses, input), refs) = (input?, refs?);
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
pub(super) fn set_matched_target(session: &mut Session, lufs: Option<f64>) {
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
        let analyses = analyze_stems(session, true)?;
        if let Some(a) = sum_is_the_file(session, rate, &analyses) {
            return Ok(a.integrated_lufs);
        }
    }
    stem_sum_lufs(session, rate)
}

/// Integrated loudness of the unprocessed stem sum at `rate_hz`, measured by rendering it
/// through an empty bus.
pub(super) fn stem_sum_lufs(session: &Session, rate_hz: u32) -> Result<Option<f64>, MasterError> {
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

/// Every stem file analysed on its own (in parallel). `alone`: nothing else runs meanwhile,
/// so one stem may give each of its meters a thread (`analyze_file_alone`).
pub(super) fn analyze_stems(session: &Session, alone: bool) -> Result<Vec<Analysis>, MasterError> {
    if let ([stem], true) = (session.stems.as_slice(), alone) {
        return Ok(vec![analyze_file_alone(&stem.file)?]);
    }
    Ok(session
        .stems
        .par_iter()
        .map(|s| analyze_file(&s.file))
        .collect::<Result<_, _>>()?)
}

/// The analysis of the only stem when the session's unprocessed sum is exactly that file
/// (one stereo stem at the session rate, played unchanged), so it need not be measured again.
pub(super) fn sum_is_the_file<'a>(
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

/// The processing rate: the session's, else the first stem's. This is the one place the
/// rate is decided; everything else asks it.
pub(super) fn session_rate(session: &Session) -> Result<u32, MasterError> {
    match session.sample_rate_hz {
        Some(r) => Ok(r),
        None => first_input_rate(&session.stems[0].file),
    }
}

/// The rate of the first input, which a session without `sample_rate_hz` renders at.
pub(super) fn first_input_rate(file: &std::path::Path) -> Result<u32, MasterError> {
    let d = lathe_io::Decoder::open(file).map_err(|e| MasterError::Analyze(e.into()))?;
    Ok(d.info().sample_rate_hz)
}

/// The length of the longest input in seconds, as their containers announce it (`None` when
/// none does): what the render will write, known before any audio work.
pub(super) fn longest_input_s(session: &Session) -> Result<Option<f64>, MasterError> {
    let mut longest = None;
    for stem in &session.stems {
        let d = lathe_io::Decoder::open(&stem.file).map_err(|e| MasterError::Analyze(e.into()))?;
        let info = d.info();
        if let Some(frames) = info.frames_announced {
            let s = frames as f64 / f64::from(info.sample_rate_hz);
            longest = Some(longest.map_or(s, |l: f64| l.max(s)));
        }
    }
    Ok(longest)
}

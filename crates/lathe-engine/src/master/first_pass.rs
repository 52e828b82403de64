//! The first pass: the stems through their chains and the master chain before the gain.
//! Without a target it writes the deliverables; with one it caches every lane's bus to disk
//! and, when the input's loudness is known, predicts the limited loudness at candidate gains
//! on the way. The stem files are analysed on the other core meanwhile.

use std::path::PathBuf;

use super::inputs::{analyze_stems, sum_is_the_file};
use super::plan::LanePlan;
use super::report::{finite, InputReport};
use super::secant::open_deliveries;
use super::{MasterError, ESTIMATE_OFFSETS_CLIPPED_DB, ESTIMATE_OFFSETS_DB};
use crate::analyze::Analysis;
use crate::progress::Progress;
use crate::render::bus_cache::{BusCache, BusCacheWriter};
use crate::render::pipeline::{pipelined_with_front, BlockSend};
use crate::render::{render_stem_lanes, Metering, PassResult, RenderError};
use crate::spec::bus::Bus;
use crate::spec::chain::ProcessorSpec;
use crate::spec::deliver::{DeliverSpec, Tags};
use crate::spec::preset::Target;
use crate::spec::session::Session;
use lathe_dsp::limiter_estimate::LimitedLoudnessEstimator;

/// What the first pass made and measured.
pub(super) struct FirstPass {
    /// Every stem file analysed on its own.
    pub stems: Vec<Analysis>,
    /// The unprocessed stem sum.
    pub input: InputReport,
    /// The chain's output before the gain.
    pub pass: PassResult,
    /// With a target: each lane's bus before the gain, cached.
    pub caches: Option<Vec<BusCache>>,
    /// The limited-loudness prediction, when the input's loudness was known beforehand.
    pub estimator: Option<LimitedLoudnessEstimator>,
    /// What sits between the gain and the limiter: `Some(None)` nothing, `Some(Some(db))` a
    /// clipper at `db` (both modelled by the estimate), `None` stages it does not model.
    pub clip_db: Option<Option<f64>>,
}

/// Runs the first pass over `plan`'s lanes. `analyses` and `sum_lufs` are what is already
/// known of the inputs; `matching` asks the estimate to probe the output's spectrum.
pub(super) fn first_pass(
    session: &Session,
    plan: &LanePlan<'_>,
    bus: &Bus,
    analyses: Option<Vec<Analysis>>,
    sum_lufs: Option<f64>,
    matching: bool,
    progress: &dyn Progress,
) -> Result<FirstPass, MasterError> {
    let rate_hz = plan.rate_hz;
    let target = session.master.target;
    let analyses = analyse_one_file_first(session, rate_hz, analyses, progress)?;
    // The one-stem case reads the input's levels from its analysis; otherwise the first pass
    // measures the stem sum on its way into the chain.
    let one_file = analyses
        .as_deref()
        .and_then(|a| sum_is_the_file(session, rate_hz, a));
    let metering = Metering {
        input: one_file.is_none(),
        output_true_peak: false,
    };
    // When the input's loudness is known before the first pass, that pass also predicts the
    // loudness the limiter will deliver at gains around `target − input`, so that the first
    // render after it starts close to the answer (see lathe_dsp::limiter_estimate).
    let hint = sum_lufs.or_else(|| one_file.and_then(|a| a.integrated_lufs));
    let clip_db = clip_before_limiter(bus);
    let mut estimator = estimator(target, bus, hint, clip_db, rate_hz, matching);
    progress.stage(
        if target.is_some() {
            "chain → bus copy"
        } else {
            "rendering"
        },
        expected_frames(analyses.as_deref(), rate_hz),
    );
    let tags = session.tags();
    let (stems, first) = rayon::join(
        || match analyses {
            Some(a) => Ok(a),
            // Beside the first pass.
            None => analyze_stems(session, false),
        },
        || -> Result<(PassResult, Option<Vec<BusCache>>), MasterError> {
            let lanes = Lanes {
                session,
                plan,
                metering,
                progress,
            };
            match target {
                None => lanes.into_deliverables(bus, &tags).map(|p| (p, None)),
                Some(_) => lanes
                    .into_cache(bus, estimator.as_mut())
                    .map(|(p, c)| (p, Some(c))),
            }
        },
    );
    let (stems, (pass, caches)) = (stems?, first?);
    let input = input_report(&pass, sum_is_the_file(session, rate_hz, &stems), rate_hz);
    Ok(FirstPass {
        stems,
        input,
        pass,
        caches,
        estimator,
        clip_db,
    })
}

/// One stereo file at the session rate is analysed first, so that its loudness seeds the
/// limiter estimate (the same path `lathe master` takes; a saved session then renders bit for
/// bit like the master it came from). Otherwise the stems are analysed in parallel with the
/// first pass.
fn analyse_one_file_first(
    session: &Session,
    rate_hz: u32,
    analyses: Option<Vec<Analysis>>,
    progress: &dyn Progress,
) -> Result<Option<Vec<Analysis>>, MasterError> {
    if analyses.is_some() || session.stems.len() != 1 {
        return Ok(analyses);
    }
    let d = lathe_io::Decoder::open(&session.stems[0].file)
        .map_err(|e| MasterError::Analyze(e.into()))?;
    if d.info().channels == 2 && d.info().sample_rate_hz == rate_hz {
        progress.stage("analysing the input", None);
        return Ok(Some(analyze_stems(session, true)?));
    }
    Ok(None)
}

/// What sits between the gain and the limiter, as [`FirstPass::clip_db`] describes it.
fn clip_before_limiter(bus: &Bus) -> Option<Option<f64>> {
    match bus.post_gain.as_slice() {
        [] => Some(None),
        [ProcessorSpec::Clipper(c)] => Some(Some(c.ceiling_db)),
        _ => None,
    }
}

/// The limited-loudness estimate at gains around `target − input`, when everything it needs
/// is known.
fn estimator(
    target: Option<Target>,
    bus: &Bus,
    input_lufs: Option<f64>,
    clip_db: Option<Option<f64>>,
    rate_hz: u32,
    matching: bool,
) -> Option<LimitedLoudnessEstimator> {
    let (Some(t), Some(lim), Some(input_lufs), Some(clip_db)) =
        (target, bus.limiter, input_lufs, clip_db)
    else {
        return None;
    };
    let centre = t.integrated_lufs - input_lufs;
    let offsets: &[f64] = match clip_db {
        Some(_) => &ESTIMATE_OFFSETS_CLIPPED_DB,
        None => &ESTIMATE_OFFSETS_DB,
    };
    let gains: Vec<f64> = offsets.iter().map(|o| centre + o).collect();
    let e = LimitedLoudnessEstimator::new(&lim, rate_hz as f64, &gains, clip_db);
    // With a clipper before the limiter, or for reference matching, the lowest and the
    // highest candidate's output is measured too (its loudness; for matching, its spectrum).
    Some(if matching || clip_db.is_some() {
        e.with_probes(rate_hz as f64, clip_db.is_some(), matching)
    } else {
        e
    })
}

/// Frames of the master (the longest stem at the session rate), when the analyses tell.
fn expected_frames(analyses: Option<&[Analysis]>, rate_hz: u32) -> Option<u64> {
    analyses?
        .iter()
        .map(|x| {
            (x.frames as u128 * rate_hz as u128).div_ceil(x.sample_rate_hz.max(1) as u128) as u64
        })
        .max()
}

/// The unprocessed sum as the report gives it: metered by the pass, or the one file's
/// analysis.
fn input_report(pass: &PassResult, one_file: Option<&Analysis>, rate_hz: u32) -> InputReport {
    match (&pass.input, one_file) {
        (Some(levels), _) => InputReport {
            integrated_lufs: finite(levels.integrated_lufs),
            true_peak_dbtp: finite(levels.true_peak_dbtp),
            lra_lu: levels.lra_lu,
            duration_s: pass.frames as f64 / rate_hz as f64,
        },
        (None, Some(a)) => InputReport {
            integrated_lufs: a.integrated_lufs,
            true_peak_dbtp: a.true_peak_dbtp,
            lra_lu: a.lra_lu,
            duration_s: a.duration_s,
        },
        (None, None) => unreachable!("the input is metered unless it is the one stem file"),
    }
}

/// The stems mixed into every lane, ready to run through the chain before the gain.
struct Lanes<'s, 'p> {
    session: &'s Session,
    plan: &'p LanePlan<'s>,
    metering: Metering,
    progress: &'p dyn Progress,
}

impl Lanes<'_, '_> {
    /// No target: the whole bus once, straight into the deliverables.
    fn into_deliverables(self, bus: &Bus, tags: &Tags) -> Result<PassResult, MasterError> {
        let write_err = |e| MasterError::Render(RenderError::Write(e));
        let files: &[Vec<(DeliverSpec, PathBuf)>] = &self.plan.direct;
        let mut writers =
            open_deliveries(files, self.plan.rate_hz, None, tags).map_err(write_err)?;
        let progress = self.progress;
        let pass = render_stem_lanes(
            &self.session.stems,
            &self.plan.gains,
            self.plan.rate_hz,
            bus,
            0.0,
            self.metering,
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
        Ok(pass)
    }

    /// With a target: the chain before the gain, once, into the bus cache; lane 0 also feeds
    /// the estimate when there is one.
    fn into_cache(
        self,
        bus: &Bus,
        estimator: Option<&mut LimitedLoudnessEstimator>,
    ) -> Result<(PassResult, Vec<BusCache>), MasterError> {
        let pre_bus = Bus {
            chain: bus.chain.clone(),
            ..Bus::default()
        };
        let mut caches: Vec<BusCacheWriter> = self
            .plan
            .cache_paths()
            .iter()
            .map(|p| BusCacheWriter::create(p))
            .collect::<Result<_, _>>()
            .map_err(RenderError::Write)?;
        let progress = self.progress;
        let mut render = |send: Option<BlockSend<'_>>| {
            let mut send = send;
            render_stem_lanes(
                &self.session.stems,
                &self.plan.gains,
                self.plan.rate_hz,
                &pre_bus,
                0.0,
                self.metering,
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
        // The estimate runs on a thread of its own; its detection (the 8x upsampling and
        // K-weighting) on this one, which has time to spare while the gain computers are the
        // slower stage.
        let pre = match estimator {
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
        }?;
        let caches = caches
            .into_iter()
            .map(|c| c.finish())
            .collect::<Result<_, _>>()
            .map_err(RenderError::Write)?;
        Ok((pre, caches))
    }
}

//! The main master and its locked versions rendered together: plan, first pass, to target,
//! lossy encodes, verification, report.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::inputs::{analyze_stems, session_rate, sum_is_the_file, Known};
use super::lossy::encode_lossy;
use super::reach::{slope_near, spectrum_at};
use super::report::{
    finite, DeliverableReport, InputReport, LimiterReport, Measured, Report, VersionReport,
};
use super::secant::{open_deliveries, render_to_target, Outputs};
use super::{
    bounded_gain_db, usage, MasterError, ESTIMATE_OFFSETS_DB, HEAVY_LIMITING_DB,
    LOUDNESS_TOLERANCE_LU, MAX_TARGET_GAIN_DB,
};
use crate::analyze::{measure_levels, Analysis};
use crate::deliver::same_file::same_file;
use crate::deliver::{Delivery, Unsynced, DITHER_SEED};
use crate::matching::reference::{limited_loudness_change_db, Correction, CorrectionReport};
use crate::progress::Progress;
use crate::render::bus_cache::{BusCache, BusCacheWriter};
use crate::render::pipeline::{pipelined_with_front, BlockSend};
use crate::render::{render_stem_lanes, Metering, PassResult, RenderError};
use crate::spec::bus::Bus;
use crate::spec::chain::ProcessorSpec;
use crate::spec::deliver::{DeliverSpec, Tags};
use crate::spec::session::Session;
use crate::spec::version::{VersionDynamics, VersionSpec};
use lathe_dsp::limiter_estimate::{gain_for_loudness, LimitedLoudnessEstimator};
use lathe_dsp::mid_side_spectrum::MidSideSpectrum;

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
        std::iter::once(crate::spec::version::main_stem_gains(&session.stems))
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
        let svg = crate::matching::plot::match_plot_svg(m).map_err(usage)?;
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

//! Lossy deliverables, decoded back and checked: MP3 and AAC are encoded during the render
//! when it is expected to be the accepted one (with a codec headroom), the others from a
//! float copy of the bus afterwards; when a decoded file overshoots the ceiling, the bus is
//! rendered again with a lower ceiling and encoded from its copy (codec-safe).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::plan::LanePlan;
use super::secant::{render_to_target, Outputs};
use super::MasterError;
use crate::analyze::{measure_levels, Analysis};
use crate::deliver::Unsynced;
use crate::progress::Progress;
use crate::render::bus_cache::BusCache;
use crate::render::{PassResult, RenderError};
use crate::spec::bus::Bus;
use crate::spec::deliver::{DeliverSpec, Tags};
use crate::spec::preset::Target;
use lathe_io::encoder::{self, EncoderSettings};

/// What a lossy deliverable's bus copies are rendered again from when a decoded file
/// overshoots: the cached bus, the stages after it, the target, and the gain that reached
/// the target with the higher ceiling (the best start).
pub(super) struct Rerender<'a> {
    pub caches: &'a [BusCache],
    pub post_bus: &'a Bus,
    pub target: Target,
    pub start_gain_db: f64,
}

/// What the lossy stage made: per deliverable, the ceiling a lossy one was finally rendered
/// with (`Some(None)`: lossy, no target; `None`: lossless), and every lossy file as its codec
/// check measured it, by final path (verification reads these instead of decoding again).
pub(super) struct LossyDone {
    pub trims: Vec<Option<Option<f64>>>,
    pub measured: HashMap<PathBuf, Analysis>,
}

/// Checks the lossy deliverables encoded during the render (among `unsynced`) and encodes the
/// others from the bus copies; the renders again that codec safety needed are appended to
/// `passes`. An inline file whose decoded peak overshoots is dropped from `unsynced` and made
/// again through the codec-safe loop. The bus copies are removed.
pub(super) fn encode_lossy_deliverables(
    plan: &LanePlan<'_>,
    again: Option<Rerender<'_>>,
    tags: &Tags,
    passes: &mut Vec<PassResult>,
    unsynced: &mut Vec<Unsynced>,
    progress: &dyn Progress,
) -> Result<LossyDone, MasterError> {
    let mut lossy: Vec<String> = plan
        .deliver
        .iter()
        .filter(|d| d.is_lossy())
        .map(|d| d.format.name().to_uppercase())
        .collect();
    lossy.dedup();
    if !lossy.is_empty() {
        progress.stage(&format!("encoding and checking {}", lossy.join(", ")), None);
    }
    let mut done = LossyDone {
        trims: vec![None; plan.deliver.len()],
        measured: HashMap::new(),
    };
    let ceiling = again.as_ref().map(|a| a.target.true_peak_dbtp);
    for (i, spec) in plan.deliver.iter().enumerate() {
        if !spec.is_lossy() {
            continue;
        }
        let rate = plan.rate_of(spec);
        let paths: Vec<PathBuf> = plan.outputs.iter().map(|o| o[i].clone()).collect();
        let mut tried = Vec::new();
        if plan.is_inline(spec) {
            let room = spec.codec_headroom_db().unwrap_or(0.0);
            let used = ceiling.map(|c| c - room);
            let levels = check_inline(&paths, unsynced)?;
            let worst = levels
                .iter()
                .filter_map(|a| a.true_peak_dbtp)
                .reduce(f64::max);
            match (ceiling, used, worst) {
                (Some(c), Some(u), Some(tp)) if tp > c - LOSSY_METER_MARGIN_DB => {
                    // Over: these files go, and the codec-safe loop starts from this try.
                    unsynced.retain(|f| !paths.iter().any(|p| p == f.path()));
                    tried.push((u, tp));
                }
                _ => {
                    done.trims[i] = Some(used);
                    done.measured.extend(paths.into_iter().zip(levels));
                    continue;
                }
            }
        }
        let bus_only: Vec<Vec<(DeliverSpec, PathBuf)>> = (0..plan.lanes())
            .map(|k| vec![plan.bus_copy(k, rate)])
            .collect();
        // When a decoded file overshoots, the bus copies are rendered again to the same
        // loudness with the limiter's ceiling lowered by the overshoot (every lane: they
        // share the limiter's gain).
        let format = spec.format.name().to_uppercase();
        let mut rerender = |ceiling: f64| -> Result<(), MasterError> {
            let again = again
                .as_ref()
                .expect("re-rendering happens only with a target");
            let mut lowered = again.post_bus.clone();
            if let Some(l) = &mut lowered.limiter {
                l.ceiling_dbtp = ceiling;
            }
            let extra = render_to_target(
                again.caches,
                plan.rate_hz,
                &lowered,
                again.target,
                again.start_gain_db,
                Outputs {
                    files: &bus_only,
                    tags: &Tags::default(),
                    progress,
                    spectrum: false,
                    correct: None,
                    slope: 1.0,
                    stage: "codec-safe: the bus copy at a lower ceiling",
                },
            )?;
            passes.extend(extra.passes);
            for f in extra.files {
                f.commit()
                    .map_err(|e| MasterError::Render(RenderError::Write(e)))?;
            }
            progress.stage(&format!("encoding and checking {format} again"), None);
            Ok(())
        };
        let bus_paths: Vec<PathBuf> = bus_only.iter().map(|b| b[0].1.clone()).collect();
        let job = LossyJob {
            buses: &bus_paths,
            spec,
            paths: &paths,
            rate_hz: rate,
            ceiling,
            tags,
        };
        let (used, levels) = encode_lossy(&job, tried, &mut rerender)?;
        done.trims[i] = Some(used);
        done.measured.extend(paths.into_iter().zip(levels));
    }
    // Every copy, also those the codec-safe loop made for an inline deliverable.
    for spec in plan.deliver.iter().filter(|d| d.is_lossy()) {
        for lane in 0..plan.lanes() {
            let _ = std::fs::remove_file(plan.bus_copy(lane, plan.rate_of(spec)).1);
        }
    }
    Ok(done)
}

/// Decodes and measures the inline-encoded files at `paths` (complete, under their temporary
/// names among `unsynced`), in parallel.
fn check_inline(paths: &[PathBuf], unsynced: &[Unsynced]) -> Result<Vec<Analysis>, MasterError> {
    paths
        .par_iter()
        .map(|p| {
            let part = Unsynced::where_now(unsynced, p);
            measure_levels(part).map_err(|e| MasterError::encode(part, e))
        })
        .collect()
}

/// Tries at most this many encodes of a lossy deliverable.
pub const MAX_LOSSY_ENCODES: usize = 4;

/// A decoded lossy file is accepted when lathe's own true-peak meter reads it at least this
/// far under the ceiling, dB. That meter read the corpus's MP3s up to 0.007 dB lower than the
/// 16x-oversampled reference meter (ffmpeg and libsndfile decode them identically, so the
/// difference is the meter's, not the decoder's), and a file right at the ceiling by lathe's
/// reading was 0.001 dB over it by the reference's.
pub const LOSSY_METER_MARGIN_DB: f64 = 0.02;

/// One lossy deliverable of every lane, encoded from the bus copies.
pub(super) struct LossyJob<'a> {
    /// Per lane: the 32-bit float bus copy,
    pub buses: &'a [PathBuf],
    pub spec: &'a DeliverSpec,
    /// and the file it becomes.
    pub paths: &'a [PathBuf],
    pub rate_hz: u32,
    /// The target's ceiling (`None` without a target).
    pub ceiling: Option<f64>,
    pub tags: &'a Tags,
}

/// Encodes a lossy deliverable of every lane (the main master and its locked versions) from
/// its 32-bit float bus copy, the lanes in parallel. When a decoded file's true peak exceeds
/// the ceiling, `rerender` renders the bus copies again with the limiter's ceiling lowered by
/// the largest overshoot (plus 0.05 dB) at the same loudness, and every lane is encoded again.
/// `tried`: (ceiling, decoded true peak) of encodes already made and refused (an inline
/// encode); the loop then renders again before its first encode. Returns the ceiling the
/// final encodes were rendered with (`None` without a target) and each lane's file as
/// measured.
pub(super) fn encode_lossy(
    job: &LossyJob<'_>,
    mut tried: Vec<(f64, f64)>,
    rerender: &mut dyn FnMut(f64) -> Result<(), MasterError>,
) -> Result<(Option<f64>, Vec<Analysis>), MasterError> {
    let write_err = |e: std::io::Error| MasterError::Render(RenderError::Write(e));
    let LossyJob {
        buses,
        spec,
        paths,
        rate_hz,
        ceiling,
        tags,
    } = *job;
    let limit = ceiling.map(|c| c - LOSSY_METER_MARGIN_DB);
    let mut used_ceiling = ceiling;
    if let (Some(limit), false) = (limit, tried.is_empty()) {
        let lowered = next_ceiling(&tried, limit);
        used_ceiling = Some(lowered);
        rerender(lowered)?;
    }
    for attempt in tried.len() + 1..=MAX_LOSSY_ENCODES.max(tried.len() + 1) {
        let part_ext = format!("{}.part", spec.format.extension());
        let parts: Vec<PathBuf> = paths.iter().map(|p| p.with_extension(&part_ext)).collect();
        let levels: Vec<Analysis> = buses
            .par_iter()
            .zip(&parts)
            .map(|(bus, part)| -> Result<Analysis, MasterError> {
                encode_from_bus(bus, part, spec, rate_hz, tags)?;
                measure_levels(part).map_err(|e| MasterError::encode(part, e))
            })
            .collect::<Result<_, _>>()?;
        let worst = levels
            .iter()
            .filter_map(|a| a.true_peak_dbtp)
            .reduce(f64::max);
        if let (Some(limit), Some(current), Some(tp)) = (limit, used_ceiling, worst) {
            if tp > limit && attempt < MAX_LOSSY_ENCODES {
                tried.push((current, tp));
                let lowered = next_ceiling(&tried, limit);
                used_ceiling = Some(lowered);
                for part in &parts {
                    let _ = std::fs::remove_file(part);
                }
                rerender(lowered)?;
                continue;
            }
        }
        for (part, path) in parts.iter().zip(paths) {
            tags.write_into(part, spec.format).map_err(write_err)?;
            std::fs::rename(part, path).map_err(write_err)?;
        }
        return Ok((used_ceiling, levels));
    }
    unreachable!("the last attempt always returns")
}

/// The limiter ceiling for the next encode, from the (ceiling, decoded true peak) pairs tried
/// so far, all over `target`: the first step lowers the ceiling by the overshoot (plus
/// 0.05 dB); later steps follow the secant of the last two tries, because a codec's overshoot
/// grows as the limiter works harder at the same loudness (measured on Opus at 160 kbps: the
/// decoded peak fell by only 0.55 dB per dB of ceiling), clamped so that a noisy slope
/// neither stalls nor overshoots wildly.
pub(super) fn next_ceiling(tried: &[(f64, f64)], target: f64) -> f64 {
    let &(current, tp) = tried.last().expect("at least one try");
    let over = tp - target + 0.05;
    let slope = match tried {
        [.., (c0, t0), (c1, t1)] if (c1 - c0).abs() > 1e-6 => {
            ((t1 - t0) / (c1 - c0)).clamp(0.25, 1.0)
        }
        _ => 1.0,
    };
    current - over / slope
}

/// Encodes the 32-bit float WAV `bus` into `part` with the deliverable's encoder, its tags in
/// the file's header where the format has one.
pub(super) fn encode_from_bus(
    bus: &Path,
    part: &Path,
    spec: &DeliverSpec,
    rate_hz: u32,
    tags: &Tags,
) -> Result<(), MasterError> {
    let fail = |e: String| MasterError::encode(part, e);
    let header = tags
        .header_tags(spec.format)
        .map_err(|e| fail(e.to_string()))?;
    let settings = EncoderSettings {
        format: spec.format,
        sample_rate_hz: rate_hz,
        bits: spec.bits,
        bitrate_kbps: spec.bitrate_kbps,
    };
    let mut w =
        encoder::open_with_header(part, settings, &header).map_err(|e| fail(e.to_string()))?;
    let mut reader = hound::WavReader::open(bus).map_err(|e| fail(e.to_string()))?;
    let (mut l, mut r) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
    let mut samples = reader.samples::<f32>();
    loop {
        l.clear();
        r.clear();
        while l.len() < 4096 {
            match (samples.next(), samples.next()) {
                (Some(a), Some(b)) => {
                    l.push(a.map_err(|e| fail(e.to_string()))? as f64);
                    r.push(b.map_err(|e| fail(e.to_string()))? as f64);
                }
                _ => break,
            }
        }
        if l.is_empty() {
            break;
        }
        w.write_float(&l, &r).map_err(|e| fail(e.to_string()))?;
    }
    w.finish().map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::next_ceiling;

    #[test]
    fn the_ceiling_steps_by_the_overshoot_then_along_the_secant() {
        // First try: lowered by the overshoot plus the margin.
        assert!((next_ceiling(&[(-1.0, -0.6)], -1.0) - (-1.45)).abs() < 1e-9);
        // The decoded peak fell 0.243 dB for 0.445 dB of ceiling: slope 0.546, so the next
        // step is (0.152 + 0.05) / 0.546 = 0.37 dB.
        let next = next_ceiling(&[(-1.0, -0.605), (-1.445, -0.848)], -1.0);
        assert!(
            (next - (-1.445 - 0.202 / (0.243 / 0.445))).abs() < 1e-9,
            "{next}"
        );
        // A slope that says the peak does not move at all is clamped (no 100 dB step).
        let flat = next_ceiling(&[(-1.0, -0.6), (-1.5, -0.6)], -1.0);
        assert!((flat - (-1.5 - 0.45 / 0.25)).abs() < 1e-9, "{flat}");
    }
}

//! A check of the limited-loudness estimate where it is known to be short: with a clipper
//! before the limiter, the estimate takes a clipped peak as the clipper's ceiling, but the
//! real clipper is oversampled and its reconstruction rings a little above the ceiling, which
//! the limiter then takes too. Masters clipped hard (the quiet corpus mixes under `loud` and
//! `club`, 10–13 dB of gain) landed 0.07–0.12 LU quiet in their first render and needed a
//! second.
//!
//! So before the first render, excerpts spaced through the cached bus are played through the
//! real stages after the gain (clipper and limiter) and through the estimate's model of them,
//! at the predicted gain; how much louder or quieter the real stages are than the model on
//! the excerpts corrects the whole file's prediction. The excerpts are a sixth of a 3-minute
//! master, so the check costs a fraction of the render it saves.

use super::MasterError;
use crate::render::bus_cache::BusCache;
use crate::render::cache_excerpts::CacheExcerpts;
use crate::render::{render_lanes, BlockSource, Lane, Metering, BLOCK};
use crate::spec::bus::Bus;
use lathe_dsp::limiter_estimate::LimitedLoudnessEstimator;

/// Excerpts played, and the longest and shortest each may be, s. Each spans at least a
/// second: several of loudness's 400 ms blocks.
const EXCERPTS: u64 = 12;
const LONGEST_S: f64 = 2.5;
const SHORTEST_S: f64 = 1.0;

/// Loudness of the real stages after the cache (`post_bus`: its chain, the gain, the clipper,
/// the limiter) minus the estimate's model of the gain, clipper and limiter alone, LU, on
/// excerpts of `cache` at `gain_db`: so the offset also holds what that chain (a matching
/// correction EQ) adds. `None` when there is nothing to check (no limiter, a file too short for
/// excerpts to be a small part of it, or excerpts too quiet to measure).
pub(super) fn clip_offset_lu(
    cache: &BusCache,
    rate_hz: u32,
    post_bus: &Bus,
    clip_db: f64,
    gain_db: f64,
) -> Result<Option<f64>, MasterError> {
    let Some(limiter) = post_bus.limiter else {
        return Ok(None);
    };
    let duration_s = cache.frames() as f64 / rate_hz as f64;
    let len_s = (duration_s / (4 * EXCERPTS) as f64).min(LONGEST_S);
    if len_s < SHORTEST_S {
        return Ok(None);
    }
    let io = |e: std::io::Error| MasterError::Render(e.into());
    let Some(mut for_real) = CacheExcerpts::spaced(cache, rate_hz, EXCERPTS, len_s).map_err(io)?
    else {
        return Ok(None);
    };
    let mut for_model = for_real.again(cache).map_err(io)?;
    // The real stages and the model, side by side.
    let fs = rate_hz as f64;
    let (real, model) = rayon::join(
        || -> Result<f64, MasterError> {
            let pass = render_lanes(
                &mut for_real,
                rate_hz,
                post_bus,
                gain_db,
                Metering::default(),
                |_, _, _| Ok(()),
            )?;
            Ok(pass.integrated_lufs)
        },
        || -> Result<LimitedLoudnessEstimator, MasterError> {
            let mut model = LimitedLoudnessEstimator::new(&limiter, fs, &[gain_db], Some(clip_db))
                .with_probes(fs, true, false);
            let mut lanes: Vec<Lane> = vec![[vec![0.0; BLOCK], vec![0.0; BLOCK]]];
            loop {
                let n = for_model.read(&mut lanes, BLOCK)?;
                if n == 0 {
                    return Ok(model);
                }
                model.process(&lanes[0][0][..n], &lanes[0][1][..n]);
            }
        },
    );
    let (real, model) = (real?, model?);
    let modelled = model.probe_predictions().first().map(|p| p.1);
    Ok(modelled
        .map(|m| real - m)
        .filter(|offset| offset.is_finite()))
}

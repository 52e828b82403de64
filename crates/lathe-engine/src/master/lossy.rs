//! Lossy deliverables, encoded from a float copy of the bus and decoded back; when a decoded
//! file overshoots the ceiling, the bus is rendered again with a lower ceiling (codec-safe).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::MasterError;
use crate::analyze::measure_levels;
use crate::render::RenderError;
use crate::spec::deliver::{DeliverSpec, Tags};

/// Tries at most this many encodes of a lossy deliverable.
pub const MAX_LOSSY_ENCODES: usize = 4;

/// Encodes a lossy deliverable of every lane (the main master and its locked versions) from
/// its 32-bit float bus copy, the lanes in parallel. When a decoded file's true peak exceeds
/// the ceiling, `rerender` renders the bus copies again with the limiter's ceiling lowered by
/// the largest overshoot (plus 0.05 dB) at the same loudness, and every lane is encoded again.
/// Returns the ceiling the final encodes were rendered with (`None` without a target).
pub(super) fn encode_lossy(
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
pub(super) fn encode_mp3(
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

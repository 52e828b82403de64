//! Rendering the cached bus at the gain that reaches the loudness target: secant steps on
//! loudness(gain), each a full render into the deliverables (the accepted one is kept).

use std::path::PathBuf;

use super::{bounded_gain_db, MasterError, CONVERGED_LU, MAX_RENDERS, MAX_TARGET_GAIN_DB};
use crate::deliver::{Delivery, Unsynced};
use crate::matching::reference::Correction;
use crate::progress::Progress;
use crate::render::bus_cache::BusCache;
use crate::render::bus_cache::LaneCacheReader;
use crate::render::{render_lanes, Metering, PassResult, RenderError};
use crate::spec::bus::Bus;
use crate::spec::chain::ProcessorSpec;
use crate::spec::deliver::{DeliverSpec, Tags};
use crate::spec::preset::Target;
use lathe_dsp::mid_side_spectrum::{MidSideSpectrum, MidSideSpectrumMeter};

/// One [`Delivery`] per deliverable, each writing that deliverable for every lane (`files`:
/// per lane, the same deliverables in the same order).
pub(super) fn open_deliveries(
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
pub(super) struct Outputs<'a> {
    pub files: &'a [Vec<(DeliverSpec, PathBuf)>],
    pub tags: &'a Tags,
    pub progress: &'a dyn Progress,
    /// Measure the output's mid/side spectrum (reference matching).
    pub spectrum: bool,
    /// Reference matching: the correction EQ for the first pass's spectrum, if it needs one.
    pub correct: Option<CorrectFn<'a>>,
    /// d(loudness)/d(gain) expected near the first gain (the limiter flattens it), for the
    /// first secant step.
    pub slope: f64,
    /// What the progress display calls these renders.
    pub stage: &'a str,
}

/// What [`render_to_target`] made.
pub(super) struct Rendered {
    /// Every pass made; the last one wrote the files.
    pub passes: Vec<PassResult>,
    /// Deepest gain reduction of each deliverable's true-peak safety stage (shared by the
    /// lanes), dB.
    pub safety_db: Vec<f64>,
    /// The accepted pass's mid/side spectrum, when [`Outputs::spectrum`] asked for it.
    pub spectrum: Option<MidSideSpectrum>,
    /// The correction [`Outputs::correct`] asked for (in the bus of the accepted pass).
    pub correction: Option<Correction>,
    /// The accepted pass's files, complete but not yet committed ([`Unsynced::commit`]).
    pub files: Vec<Unsynced>,
}

/// Renders the bus at the gain that brings the output to `target` (secant steps from
/// `first_gain_db`), writing `files` in the accepted pass.
///
/// With [`Outputs::correct`], the first pass's spectrum is handed to it; a correction EQ it
/// returns goes into the bus (after its chain, before the gain) for every later pass, and the
/// first pass is never the accepted one.
pub(super) fn render_to_target(
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
        stage,
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
            &format!("{stage}, render {attempt}"),
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
        let next = secant_step(gain, res.integrated_lufs, err, previous, first_slope);
        previous = Some((gain, res.integrated_lufs));
        gain = next;
    }
    unreachable!("the last attempt always returns")
}

/// The next gain of the search on loudness(gain): a secant step through this render
/// (`gain_db` gave `got_lufs`, `err_lu` short of the target) and the `previous` one; the
/// first step assumes `first_slope`. The slope is held within 0.2…1.5 (a limiter flattens
/// loudness(gain) below 1, never below 0.2 at sane settings; a slope outside is noise), and
/// the gain within ±[`MAX_TARGET_GAIN_DB`].
fn secant_step(
    gain_db: f64,
    got_lufs: f64,
    err_lu: f64,
    previous: Option<(f64, f64)>,
    first_slope: f64,
) -> f64 {
    let slope = match previous {
        Some((g0, i0)) if (got_lufs - i0).abs() > 1e-6 => {
            ((got_lufs - i0) / (gain_db - g0)).clamp(0.2, 1.5)
        }
        _ => first_slope,
    };
    bounded_gain_db(gain_db + err_lu / slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the search on a model of loudness(gain) until within `CONVERGED_LU`; returns the
    /// number of renders.
    fn renders_to_converge(loudness: impl Fn(f64) -> f64, target: f64, first_slope: f64) -> usize {
        let (mut gain, mut previous) = (0.0, None);
        for n in 1..=MAX_RENDERS {
            let got = loudness(gain);
            let err = target - got;
            if err.abs() <= CONVERGED_LU {
                return n;
            }
            let next = secant_step(gain, got, err, previous, first_slope);
            previous = Some((gain, got));
            gain = next;
        }
        MAX_RENDERS + 1
    }

    #[test]
    fn a_linear_loudness_lands_in_one_step() {
        // No limiting: loudness rises dB for dB with the gain.
        assert_eq!(renders_to_converge(|g| -20.0 + g, -14.0, 1.0), 2);
    }

    #[test]
    fn a_limited_loudness_converges_within_the_render_budget() {
        // A limiter that gives back 0.6 dB per dB above −16 LUFS: the first step (slope 1)
        // overshoots the gain, the secant through two renders finds the slope.
        let limited = |g: f64| {
            let lin = -20.0 + g;
            if lin > -16.0 {
                -16.0 + 0.4 * (lin + 16.0)
            } else {
                lin
            }
        };
        let n = renders_to_converge(limited, -14.0, 1.0);
        assert!(n <= 4, "{n} renders");
        // Told the slope near the answer (the estimate's), it lands in one step.
        assert_eq!(renders_to_converge(|g| -17.6 + 0.4 * g, -14.0, 0.4), 2);
    }

    #[test]
    fn the_slope_and_the_gain_are_bounded() {
        // A measured slope of 10 is held at 1.5; one of 0.01 at 0.2.
        assert!((secant_step(1.0, -10.0, 3.0, Some((0.0, -20.0)), 1.0) - 3.0).abs() < 1e-12);
        assert!((secant_step(1.0, -20.0, 1.0, Some((0.0, -20.01)), 1.0) - 6.0).abs() < 1e-12);
        assert_eq!(
            secant_step(40.0, -90.0, 76.0, None, 1.0),
            MAX_TARGET_GAIN_DB
        );
        assert_eq!(secant_step(0.0, f64::NAN, f64::NAN, None, 1.0), 0.0);
    }
}

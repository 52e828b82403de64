//! `lathe master MIX`: a stereo master to a loudness target, delivered and verified.
//!
//! Passes (each streams the input again; nothing is held in memory):
//! 1. measure the chain's output before the limiter (integrated loudness);
//! 2. render with the gain into the limiter set to `target − measured`, writing the
//!    deliverables; measure; if the limiter cost loudness, correct the gain and render again
//!    (at most [`MAX_RENDERS`] times), keeping the files of the pass that hit the target.
//! 3. decode every delivered file and measure it; the report says whether it met its target.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analyze::{analyze_file, Analysis, AnalyzeError};
use crate::chain::ProcessorSpec;
use crate::deliver::{DeliverSpec, WavWriter, DITHER_SEED};
use crate::preset::{Preset, Target};
use crate::render::{render_pass, Bus, PassResult, RenderError};

/// Renders with the limiter at most this many times while converging on the target.
pub const MAX_RENDERS: usize = 6;
/// A render within this many LU of the target is accepted without another pass.
pub const CONVERGED_LU: f64 = 0.03;
/// Tolerance of a delivered file's integrated loudness, LU.
pub const LOUDNESS_TOLERANCE_LU: f64 = 0.1;
/// More peak gain reduction than this gets a warning in the report, dB.
pub const HEAVY_LIMITING_DB: f64 = 6.0;

pub struct MasterRequest {
    pub input: PathBuf,
    pub out_dir: PathBuf,
    pub preset: Preset,
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: Option<f64>,
    pub deliver: Vec<DeliverSpec>,
    pub force: bool,
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
    pub measured: Measured,
    pub target: Option<Target>,
    pub pass: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct LimiterReport {
    pub ceiling_dbtp: f64,
    pub release_ms: f64,
    pub lookahead_ms: f64,
    pub hold_ms: f64,
    pub gain_into_limiter_db: f64,
    pub max_gain_reduction_db: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub input: Analysis,
    pub preset: String,
    pub session_rate_hz: u32,
    pub target: Option<Target>,
    pub chain: Vec<ProcessorSpec>,
    pub limiter: Option<LimiterReport>,
    pub passes: Vec<PassResult>,
    pub deliverables: Vec<DeliverableReport>,
    pub dither_seed: u64,
    pub warnings: Vec<String>,
}

impl Report {
    /// True when every deliverable met its target.
    pub fn all_pass(&self) -> bool {
        self.deliverables.iter().all(|d| d.pass)
    }
}

fn usage(msg: impl Into<String>) -> MasterError {
    MasterError::Usage(msg.into())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

pub fn master(req: &MasterRequest) -> Result<Report, MasterError> {
    // Everything that can be refused is refused before any work.
    let rates: Vec<u32> = req
        .deliver
        .iter()
        .filter_map(|d| d.sample_rate_hz)
        .collect();
    if rates.windows(2).any(|w| w[0] != w[1]) {
        return Err(usage(
            "deliverables at different sample rates are not supported yet; run lathe once per rate",
        ));
    }
    if req.deliver.is_empty() {
        return Err(usage("nothing to deliver"));
    }
    let input = analyze_file(&req.input)?;
    let session_rate_hz = rates.first().copied().unwrap_or(input.sample_rate_hz);
    let target = match (req.preset.target(), req.target_lufs, req.ceiling_dbtp) {
        (base, None, None) => base,
        (base, lufs, tp) => Some(Target {
            integrated_lufs: lufs.or(base.map(|t| t.integrated_lufs)).unwrap_or(-14.0),
            true_peak_dbtp: tp.or(base.map(|t| t.true_peak_dbtp)).unwrap_or(-1.0),
        }),
    };
    if let Some(t) = target {
        if !(-40.0..=0.0).contains(&t.integrated_lufs) || !(-12.0..=0.0).contains(&t.true_peak_dbtp)
        {
            return Err(usage(format!(
                "target {} LUFS / {} dBTP is out of range (−40…0 LUFS, −12…0 dBTP)",
                t.integrated_lufs, t.true_peak_dbtp
            )));
        }
    }
    std::fs::create_dir_all(&req.out_dir).map_err(|e| {
        usage(format!(
            "{}: cannot create output folder: {e}",
            req.out_dir.display()
        ))
    })?;
    let stem = req
        .input
        .file_stem()
        .map_or("master".into(), |s| s.to_string_lossy().into_owned());
    let outputs: Vec<PathBuf> = req
        .deliver
        .iter()
        .map(|d| req.out_dir.join(d.file_name(&stem, session_rate_hz)))
        .collect();
    let report_path = req.out_dir.join("report.json");
    for p in outputs.iter().chain(std::iter::once(&report_path)) {
        if same_file(p, &req.input) {
            return Err(usage(format!(
                "{}: output would overwrite the input",
                p.display()
            )));
        }
        if p.exists() && !req.force {
            return Err(usage(format!(
                "{}: exists (use --force to replace it)",
                p.display()
            )));
        }
    }

    let bus = req
        .preset
        .bus(input.integrated_lufs.unwrap_or(-70.0), target);
    let mut warnings: Vec<String> = input.warnings.clone();
    let mut passes = Vec::new();
    let open_writers = || -> Result<Vec<WavWriter>, MasterError> {
        req.deliver
            .iter()
            .zip(&outputs)
            .map(|(d, p)| {
                WavWriter::create(p, d, session_rate_hz)
                    .map_err(|e| MasterError::Render(RenderError::Write(e)))
            })
            .collect()
    };
    let write_all = |writers: &mut Vec<WavWriter>, l: &[f64], r: &[f64]| {
        writers.iter_mut().try_for_each(|w| w.write(l, r))
    };

    let limiter_report;
    match target {
        None => {
            let mut writers = open_writers()?;
            let pass = render_pass(&req.input, session_rate_hz, &bus, 0.0, |l, r| {
                write_all(&mut writers, l, r)
            })?;
            passes.push(pass);
            for w in writers {
                w.finish().map_err(RenderError::Write)?;
            }
            limiter_report = None;
        }
        Some(t) => {
            let limiter = bus.limiter.expect("a target always has a limiter");
            let pre_bus = Bus {
                chain: bus.chain.clone(),
                ..Bus::default()
            };
            let pre = render_pass(&req.input, session_rate_hz, &pre_bus, 0.0, |_, _| Ok(()))?;
            if !pre.integrated_lufs.is_finite() {
                return Err(usage(format!(
                    "{}: the input is silent; a loudness target cannot be reached",
                    req.input.display()
                )));
            }
            passes.push(pre.clone());
            let mut gain = t.integrated_lufs - pre.integrated_lufs;
            let mut previous: Option<(f64, f64)> = None;
            let mut last = None;
            for attempt in 1..=MAX_RENDERS {
                let mut writers = open_writers()?;
                let res = render_pass(&req.input, session_rate_hz, &bus, gain, |l, r| {
                    write_all(&mut writers, l, r)
                })?;
                passes.push(res.clone());
                let err = t.integrated_lufs - res.integrated_lufs;
                if err.abs() <= CONVERGED_LU || attempt == MAX_RENDERS {
                    for w in writers {
                        w.finish().map_err(RenderError::Write)?;
                    }
                    last = Some(res);
                    break;
                }
                for w in writers {
                    w.discard();
                }
                // Secant step on loudness(gain); the first correction assumes slope 1.
                let slope = match previous {
                    Some((g0, i0)) if (res.integrated_lufs - i0).abs() > 1e-6 => {
                        ((res.integrated_lufs - i0) / (gain - g0)).clamp(0.2, 1.5)
                    }
                    _ => 1.0,
                };
                previous = Some((gain, res.integrated_lufs));
                gain += err / slope;
            }
            let last = last.expect("the loop always finishes a pass");
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
                gain_into_limiter_db: last.gain_db,
                max_gain_reduction_db: last.limiter_max_reduction_db,
            });
        }
    }

    // Verify every file as delivered: decode it back and measure.
    let mut deliverables = Vec::new();
    for (spec, path) in req.deliver.iter().zip(&outputs) {
        let a = analyze_file(path)?;
        let pass = match target {
            Some(t) => {
                a.integrated_lufs
                    .is_some_and(|i| (i - t.integrated_lufs).abs() <= LOUDNESS_TOLERANCE_LU)
                    && a.true_peak_dbtp.is_none_or(|tp| tp <= t.true_peak_dbtp)
            }
            None => true,
        };
        deliverables.push(DeliverableReport {
            path: path.display().to_string(),
            format: spec.format.clone(),
            bits: spec.bits,
            sample_rate_hz: a.sample_rate_hz,
            dither: spec.dither,
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
    let report = Report {
        input,
        preset: format!("{:?}", req.preset).to_lowercase(),
        session_rate_hz,
        target,
        chain: bus
            .chain
            .iter()
            .chain(bus.post_gain.iter())
            .cloned()
            .collect(),
        limiter: limiter_report,
        passes,
        deliverables,
        dither_seed: DITHER_SEED,
        warnings,
    };
    let part = report_path.with_extension("json.part");
    let text = serde_json::to_string_pretty(&report).expect("report serialises");
    std::fs::write(&part, text + "\n")
        .and_then(|_| std::fs::rename(&part, &report_path))
        .map_err(RenderError::Write)?;
    Ok(report)
}

//! What a render pass measured on its output (the report's `passes`), what it is asked to
//! measure, and how it fails.

use lathe_dsp::limiter::ExtraReduction;

use crate::render::source::SourceError;

/// What a pass measured on its output.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PassResult {
    pub gain_db: f64,
    pub integrated_lufs: f64,
    /// Measured only when the pass was asked to ([`Metering::output_true_peak`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_peak_dbtp: Option<f64>,
    pub lra_lu: f64,
    pub frames: u64,
    /// Deepest gain reduction of the limiter, dB (0 without a limiter).
    pub limiter_max_reduction_db: f64,
    /// Wall time of the pass, s.
    pub elapsed_s: f64,
    /// The source before the chain, when the pass was asked to measure it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Levels>,
    /// Locked versions rendered in the same pass: each one's output, in session order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<LaneLevels>,
    /// Locked versions: the limiter reduction the main master got beyond its own need, because
    /// a version needed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_extra_reduction: Option<ExtraReductionReport>,
}

/// Loudness and peak of a signal.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Levels {
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
    pub lra_lu: f64,
}

/// A lane's output levels (the true peak when metered).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct LaneLevels {
    pub integrated_lufs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_peak_dbtp: Option<f64>,
    pub lra_lu: f64,
}

/// Extra limiter gain reduction on the main master for the sake of locked versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct ExtraReductionReport {
    /// Deepest extra reduction, dB.
    pub max_db: f64,
    /// Time with more than 0.001 dB of extra reduction, s.
    pub duration_s: f64,
    /// Extra reduction integrated over time, dB·s.
    pub total_db_s: f64,
}

impl ExtraReductionReport {
    pub(crate) fn new(e: ExtraReduction, fs: f64) -> Self {
        Self {
            max_db: e.max_db,
            duration_s: e.frames as f64 / fs,
            total_db_s: e.sum_db_frames / fs,
        }
    }
}

/// What a pass measures besides its output's loudness (each meter costs time).
#[derive(Clone, Copy, Debug, Default)]
pub struct Metering {
    /// Loudness and true peak of the source, before the chain.
    pub input: bool,
    /// True peak of the output.
    pub output_true_peak: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
}

//! What `report.json` holds: the input, the chain used, every pass, every deliverable as
//! decoded back and measured, versions, matching and the assistant's reasons.

use serde::Serialize;

use crate::analyze::Analysis;
use crate::matching::assistant::AssistReport;
use crate::matching::reference::MatchReport;
use crate::render::{ExtraReductionReport, PassResult};
use crate::spec::chain::ProcessorSpec;
use crate::spec::preset::Target;
use crate::spec::session::Session;
use crate::spec::version::VersionDynamics;

#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub lra_lu: f64,
    pub sample_peak_dbfs: Option<f64>,
    pub duration_s: f64,
    /// Phase correlation of left and right over the whole file (+1 mono, 0 unrelated, −1
    /// out of phase); what a cutting engineer checks first.
    pub correlation: Option<f64>,
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
    /// With a clipper before the limiter: how much louder the real clipper and limiter were
    /// than the prediction's model of them on excerpts of the bus, LU (the prediction above
    /// includes it). With reference matching's correction EQ, the real stages include the EQ,
    /// so this also holds the loudness it adds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clipper_check_lu: Option<f64>,
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
    /// Stem masters (`stem_masters`), one per stem, locked to the master.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stem_masters: Vec<VersionReport>,
    /// How far the stem masters' sum lies from the master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stem_sum: Option<StemSumReport>,
    /// A platform bundle (`for`): a row per platform (its files, target, verdict and where
    /// the figures come from) ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformReport>,
    /// ... and how each of the bundle's masters landed (the top-level `limiter` and
    /// `passes` are then empty: each master has its own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masters: Vec<BundleMasterReport>,
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

pub(super) fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// One platform of a bundle, as delivered.
#[derive(Clone, Debug, Serialize)]
pub struct PlatformReport {
    pub platform: String,
    /// The bundle master that serves it (a `masters[].label`).
    pub master: String,
    pub target: Target,
    /// Its files, as listed in `deliverables`.
    pub files: Vec<String>,
    /// Every one of its files met the target.
    pub pass: bool,
    /// Where the platform's figures come from.
    pub source: String,
}

/// One master of a bundle: the platforms it serves and how it landed.
#[derive(Clone, Debug, Serialize)]
pub struct BundleMasterReport {
    /// Names its files (`<title>_<label>_…`).
    pub label: String,
    pub platforms: Vec<String>,
    pub target: Target,
    /// Its stages after the gain (the loud presets' clipper).
    pub post_gain: Vec<ProcessorSpec>,
    pub limiter: Option<LimiterReport>,
    pub passes: Vec<PassResult>,
    pub pass: bool,
}

/// How far the sum of the stem masters lies from the master.
#[derive(Clone, Debug, Serialize)]
pub struct StemSumReport {
    /// The master file compared (the first lossless deliverable).
    pub master: String,
    /// Peak of (sum of the stem masters − master), dBFS (`None`: identical).
    pub residual_peak_dbfs: Option<f64>,
    /// Why they differ more than rounding, when the chain says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

//! One stem of a session: its file, gain, pan, mute/solo, role and chain.

use std::path::PathBuf;

use crate::spec::chain::ProcessorSpec;

/// One stem of a session.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StemSpec {
    pub name: String,
    pub file: PathBuf,
    #[serde(default)]
    pub gain_db: f64,
    #[serde(default)]
    pub pan: f64,
    #[serde(default)]
    pub mute: bool,
    #[serde(default)]
    pub solo: bool,
    /// Free text (`vocal`, `drums` …), for versions and reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub chain: Vec<ProcessorSpec>,
    /// NaN or infinite samples in the file: refused (the default) or read as silence.
    #[serde(default, skip_serializing_if = "NonFinite::is_refuse")]
    pub non_finite: NonFinite,
}

impl StemSpec {
    /// A stem that plays `file` unchanged.
    pub fn plain(file: PathBuf) -> Self {
        let name = file
            .file_stem()
            .map_or("stem".into(), |s| s.to_string_lossy().into_owned());
        Self {
            name,
            file,
            gain_db: 0.0,
            pan: 0.0,
            mute: false,
            solo: false,
            role: None,
            chain: Vec::new(),
            non_finite: NonFinite::Refuse,
        }
    }
}

/// What to do with an input that holds NaN or infinite samples (float files can).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonFinite {
    /// Refuse the file with [`SourceError::NonFinite`]: such a file is broken, and a master
    /// of it would hide where.
    #[default]
    Refuse,
    /// Read them as silence (the decoder does) and say so in the report.
    Silence,
}

impl NonFinite {
    pub fn is_refuse(&self) -> bool {
        *self == NonFinite::Refuse
    }
}

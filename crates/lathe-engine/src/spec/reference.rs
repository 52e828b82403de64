//! `[master.reference]`: which references to match and by how much (the matching itself is
//! `matching/reference.rs`, a layer above).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

fn one() -> f64 {
    1.0
}
/// Default limits of the match EQ, dB: musically safe moves. Amount 1 means "as the
/// reference", and corpus pairs would need up to 34 dB of side boost where a mix is nearly
/// mono and 36 dB of cut where it has far more sub-bass (BENCHMARKS §3c): no engineer would
/// apply that to a client's mix, so the match stops at 12 dB of boost and 24 dB of cut, says
/// in the report's warnings where it stopped, and reports how close it got
/// (`input_distance_db`, `result_distance_db`). `--max-boost-db` / `--max-cut-db` (up to
/// [`MAX_LIMIT_DB`]) allow the wide range.
fn default_max_boost_db() -> f64 {
    12.0
}
fn default_max_cut_db() -> f64 {
    24.0
}

/// Largest limit a session may set, dB (the match EQ's own range).
pub const MAX_LIMIT_DB: f64 = lathe_dsp::gain_curve::MAX_CURVE_GAIN_DB;
/// Boosts of the match EQ above this get a warning in the report, dB.
pub const LARGE_BOOST_DB: f64 = 12.0;

/// `[master.reference]`: what to match and by how much.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Reference files (relative to the session file).
    pub files: Vec<PathBuf>,
    /// One weight per file (default: equal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<f64>,
    /// Default amount of `eq`, `width` and `dynamics` (0…1).
    #[serde(default = "one")]
    pub amount: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamics: Option<f64>,
    /// Amount of the loudness match (default 1, whatever `amount` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<f64>,
    /// Largest boost and cut of the match EQ, dB.
    #[serde(default = "default_max_boost_db")]
    pub max_boost_db: f64,
    #[serde(default = "default_max_cut_db")]
    pub max_cut_db: f64,
}

impl ReferenceSpec {
    /// A reference spec for `files` with every amount 1 and the default limits.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            weights: Vec::new(),
            amount: 1.0,
            eq: None,
            width: None,
            dynamics: None,
            loudness: None,
            max_boost_db: default_max_boost_db(),
            max_cut_db: default_max_cut_db(),
        }
    }

    /// Sets amounts from `eq=0.7,width=0.5,loudness=1,dynamics=0.5` (the `--match` flag).
    pub fn set_amounts(&mut self, text: &str) -> Result<(), String> {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("--match: '{part}' is not KEY=AMOUNT"))?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("--match: '{value}' is not a number"))?;
            let slot = match key.trim() {
                "eq" => &mut self.eq,
                "width" => &mut self.width,
                "dynamics" => &mut self.dynamics,
                "loudness" => &mut self.loudness,
                other => {
                    return Err(format!(
                        "--match: unknown key '{other}' (eq, width, loudness, dynamics)"
                    ))
                }
            };
            *slot = Some(v);
        }
        Ok(())
    }

    /// The amounts in effect.
    pub fn amounts(&self) -> Amounts {
        Amounts {
            eq: self.eq.unwrap_or(self.amount),
            width: self.width.unwrap_or(self.amount),
            dynamics: self.dynamics.unwrap_or(self.amount),
            loudness: self.loudness.unwrap_or(1.0),
        }
    }

    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("reference.files is empty".into());
        }
        if !self.weights.is_empty() && self.weights.len() != self.files.len() {
            return Err(format!(
                "reference.weights has {} entries for {} files",
                self.weights.len(),
                self.files.len()
            ));
        }
        if self.weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
            || (!self.weights.is_empty() && self.weights.iter().sum::<f64>() <= 0.0)
        {
            return Err("reference.weights must be ≥ 0 and not all 0".into());
        }
        let a = self.amounts();
        for (key, v) in [
            ("amount", self.amount),
            ("eq", a.eq),
            ("width", a.width),
            ("dynamics", a.dynamics),
            ("loudness", a.loudness),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(format!("reference.{key} must be within 0…1, got {v}"));
            }
        }
        for (key, v) in [
            ("max_boost_db", self.max_boost_db),
            ("max_cut_db", self.max_cut_db),
        ] {
            if !(v.is_finite() && (0.0..=MAX_LIMIT_DB).contains(&v)) {
                return Err(format!(
                    "reference.{key} must be within 0…{MAX_LIMIT_DB}, got {v}"
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn weights(&self) -> Vec<f64> {
        let w = if self.weights.is_empty() {
            vec![1.0; self.files.len()]
        } else {
            self.weights.clone()
        };
        let sum: f64 = w.iter().sum();
        w.iter().map(|x| x / sum).collect()
    }
}

/// How much of each aspect is matched (0…1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Amounts {
    pub eq: f64,
    pub width: f64,
    pub dynamics: f64,
    pub loudness: f64,
}

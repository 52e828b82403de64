//! Alternate versions of a master (`[[version]]` in a session; `--version` on the command line):
//! the same stems with some muted, soloed or at another level — an instrumental, an a cappella,
//! a TV mix.
//!
//! ```toml
//! [[version]]
//! name = "instrumental"
//! mute = ["vocals"]
//! [[version]]
//! name = "tv"
//! mute = ["lead_vocal"]
//! gain_db = { backing_vocals = -2.0 }
//! [[version]]
//! name = "radio"
//! only = ["vocals", "drums"]
//! dynamics = "own"          # a fresh render with its own loudness target
//! ```
//!
//! A version starts from the main mix (its stems' mutes, solos, gains and chains) and changes
//! only what it names: `mute` takes stems out, `only` keeps just the stems it lists, `gain_db`
//! adds a gain to a stem.
//!
//! `dynamics = "locked"` (the default) renders the version in lockstep with the main master
//! ([`lathe_dsp::lanes`]): every compressor, multiband band, limiter and the loudness gain
//! apply the main master's gain, sample for sample, so the version can be cut into the main
//! master anywhere. The limiter's one gain keeps every locked version under the ceiling too.
//! Saturation and clippers shape each version's own signal (they have no gain to share); a
//! version then differs from "main minus the muted stems" by the distortion products those
//! stages make from the muted stems' interaction with the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::stem::StemSpec;

/// How a version's dynamics stages behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionDynamics {
    /// The main master's gains, sample for sample.
    #[default]
    Locked,
    /// Its own render, with its own loudness target.
    Own,
}

/// One `[[version]]`.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mute: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gain_db: BTreeMap<String, f64>,
    #[serde(default)]
    pub dynamics: VersionDynamics,
    /// A stem master (one stem, locked), added by `stem_masters`; not a session key.
    #[serde(skip)]
    pub stem_master: bool,
}

/// Names a version may not take (they name the main master's files).
const RESERVED: [&str; 1] = ["master"];

impl VersionSpec {
    /// Parses the command line's `NAME[:mute=A,B][:only=A,B][:gain=A=-3,B=1.5][:dynamics=own]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default().trim().to_string();
        let mut v = VersionSpec {
            name,
            ..Default::default()
        };
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        };
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!(
                    "--version {text}: '{part}' is not key=value (mute=, only=, gain=, dynamics=)"
                )
            })?;
            match key.trim() {
                "mute" => v.mute.extend(list(value)),
                "only" => v.only.extend(list(value)),
                "gain" | "gain_db" => {
                    for entry in list(value) {
                        let (stem, db) = entry.split_once('=').ok_or_else(|| {
                            format!("--version {text}: gain takes STEM=DB, got '{entry}'")
                        })?;
                        let db: f64 = db
                            .trim()
                            .parse()
                            .map_err(|_| format!("--version {text}: '{db}' is not a gain in dB"))?;
                        v.gain_db.insert(stem.trim().to_string(), db);
                    }
                }
                "dynamics" => {
                    v.dynamics = match value.trim() {
                        "locked" => VersionDynamics::Locked,
                        "own" => VersionDynamics::Own,
                        other => {
                            return Err(format!(
                                "--version {text}: dynamics is 'locked' or 'own', got '{other}'"
                            ))
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "--version {text}: unknown key '{other}' (mute, only, gain, dynamics)"
                    ))
                }
            }
        }
        Ok(v)
    }

    /// Checks the name and that every stem it names exists; errors name the key
    /// (`version[1].mute: 'vox' is not a stem (stems: drums, bass)`).
    pub fn validate(&self, index: usize, stems: &[StemSpec]) -> Result<(), String> {
        let at = format!("version[{index}]");
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if self.name.is_empty() || self.name.len() > 40 || !self.name.chars().all(ok_char) {
            return Err(format!(
                "{at}.name must be 1 to 40 letters, digits, '-' or '_' (it names files), got '{}'",
                self.name
            ));
        }
        if RESERVED.contains(&self.name.as_str()) {
            return Err(format!("{at}.name '{}' is reserved", self.name));
        }
        let known = |key: &str, name: &str| -> Result<(), String> {
            if stems.iter().any(|s| s.name == name) {
                Ok(())
            } else {
                let all: Vec<&str> = stems.iter().map(|s| s.name.as_str()).collect();
                Err(format!(
                    "{at}.{key}: '{name}' is not a stem (stems: {})",
                    all.join(", ")
                ))
            }
        };
        for n in &self.mute {
            known("mute", n)?;
        }
        for n in &self.only {
            known("only", n)?;
        }
        for (n, db) in &self.gain_db {
            known("gain_db", n)?;
            if !db.is_finite() || !(-60.0..=24.0).contains(db) {
                return Err(format!("{at}.gain_db.{n} must be within −60…24, got {db}"));
            }
        }
        let gains = self.stem_gains(stems);
        if gains.iter().all(|&g| g == 0.0) {
            return Err(format!(
                "{at} ('{}') leaves no stem playing (the main mix's mutes and solos apply too)",
                self.name
            ));
        }
        Ok(())
    }

    /// The version's factor on each stem's output (0: not playing), after the main mix's mutes
    /// and solos.
    pub fn stem_gains(&self, stems: &[StemSpec]) -> Vec<f64> {
        main_stem_gains(stems)
            .into_iter()
            .zip(stems)
            .map(|(g, s)| {
                let out = self.mute.contains(&s.name)
                    || (!self.only.is_empty() && !self.only.contains(&s.name));
                if out {
                    0.0
                } else {
                    g * self
                        .gain_db
                        .get(&s.name)
                        .map_or(1.0, |&db| lathe_dsp::db_to_lin(db))
                }
            })
            .collect()
    }

    /// The stems this version plays.
    pub fn playing(&self, stems: &[StemSpec]) -> Vec<String> {
        self.stem_gains(stems)
            .iter()
            .zip(stems)
            .filter(|(g, _)| **g != 0.0)
            .map(|(_, s)| s.name.clone())
            .collect()
    }

    /// The stems as this version plays them (for a version rendered on its own): the main
    /// mix's stems with this version's mutes and gains folded in.
    pub fn apply_to(&self, stems: &[StemSpec]) -> Vec<StemSpec> {
        stems
            .iter()
            .zip(self.stem_gains(stems))
            .map(|(s, g)| StemSpec {
                mute: g == 0.0,
                solo: false,
                gain_db: s.gain_db + self.gain_db.get(&s.name).copied().unwrap_or(0.0),
                ..s.clone()
            })
            .collect()
    }
}

/// The main mix's factor on each stem's output: 1 when it plays, 0 when it is muted or another
/// stem is soloed.
pub fn main_stem_gains(stems: &[StemSpec]) -> Vec<f64> {
    let any_solo = stems.iter().any(|s| s.solo);
    stems
        .iter()
        .map(|s| {
            if s.mute || (any_solo && !s.solo) {
                0.0
            } else {
                1.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems() -> Vec<StemSpec> {
        ["drums", "bass", "vocals", "backing"]
            .iter()
            .map(|n| StemSpec {
                name: n.to_string(),
                ..StemSpec::plain(format!("{n}.wav").into())
            })
            .collect()
    }

    #[test]
    fn command_line_form_parses_and_names_are_checked() {
        let v = VersionSpec::parse("tv:mute=vocals:gain=backing=-3,bass=1.5:dynamics=own").unwrap();
        assert_eq!(v.name, "tv");
        assert_eq!(v.mute, ["vocals"]);
        assert_eq!(v.gain_db["backing"], -3.0);
        assert_eq!(v.dynamics, VersionDynamics::Own);
        let s = stems();
        v.validate(0, &s).unwrap();
        assert_eq!(v.stem_gains(&s)[2], 0.0);
        assert!((v.stem_gains(&s)[3] - 10f64.powf(-3.0 / 20.0)).abs() < 1e-15);
        let e = VersionSpec::parse("x:mute=vox")
            .unwrap()
            .validate(1, &s)
            .unwrap_err();
        assert!(e.contains("version[1].mute: 'vox' is not a stem"), "{e}");
        let e = VersionSpec::parse("a b")
            .unwrap()
            .validate(0, &s)
            .unwrap_err();
        assert!(e.contains("version[0].name"), "{e}");
        let e = VersionSpec::parse("silent:only=vocals:mute=vocals")
            .unwrap()
            .validate(0, &s)
            .unwrap_err();
        assert!(e.contains("leaves no stem playing"), "{e}");
        assert!(VersionSpec::parse("x:level=3").is_err());
    }

    #[test]
    fn only_keeps_the_listed_stems_and_main_mutes_still_apply() {
        let mut s = stems();
        s[0].mute = true;
        let v = VersionSpec::parse("a:only=vocals,drums").unwrap();
        assert_eq!(v.playing(&s), ["vocals"]);
        assert_eq!(main_stem_gains(&s), [0.0, 1.0, 1.0, 1.0]);
    }
}

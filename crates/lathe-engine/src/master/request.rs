//! One request for a master, whoever asks: `lathe master`'s flags and a service job's options
//! fill the same [`MasterRequest`], and [`MasterRequest::prepare`] turns it into the session to
//! render plus what was measured of the inputs on the way. A new option is added here (and
//! to the flag or form that sets it), and nowhere else.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::inputs::{first_input_rate, session_from_preset, Known, ReferenceRequest};
use super::MasterError;
use crate::spec::deliver::DeliverSpec;
use crate::spec::preset::Preset;
use crate::spec::reference::ReferenceSpec;
use crate::spec::session::{check_isrc, Session};
use crate::spec::stem::{NonFinite, StemSpec};
use crate::spec::version::VersionSpec;

/// A master as asked for. Its JSON form (without the files, which a service job uploads) is
/// the service's job options; keys mirror the command line's flags.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MasterRequest {
    /// The mix, or the stems.
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// Reference files to match.
    #[serde(skip)]
    pub references: Vec<PathBuf>,
    /// Preset name (default `streaming`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_lufs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling_dbtp: Option<f64>,
    /// Deliverables as on the command line: `wav:24`, `wav:16@44100`, `flac:24`, `mp3:320`
    /// (none: the preset's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliver: Vec<String>,
    /// Versions as on the command line: `instrumental:mute=vocals`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// One weight per reference (default: equal).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reference_weights: Vec<f64>,
    /// How much of the reference to match (0…1; EQ, width and dynamics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// Amounts per aspect: `eq=0.7,width=0.5,loudness=1,dynamics=0.5`.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_amounts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_boost_db: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cut_db: Option<f64>,
    /// Deliver stem masters too (every stem through the master's chain and gain moves).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stem_masters: bool,
    /// Let the assistant choose corrective EQ from the mix's measurements.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub assist: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isrc: Option<String>,
    /// NaN or infinite samples in the inputs: refused (the default) or read as silence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_finite: Option<NonFinite>,
    /// Free text for the engineer, kept with a service job; no effect on the master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// What the master is for, as ticked on the order form ([`NEEDS`]): kept with a service
    /// job for the engineer. The form turns them into the preset and deliverables it shows
    /// before the order is sent; here they change nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// A platform bundle (`--for spotify,apple,cd`): a master per platform loudness, each
    /// with the files its platforms take (instead of the preset, target and deliverables).
    #[serde(rename = "for", skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
}

/// The needs an order may tick.
pub const NEEDS: [&str; 4] = ["streaming", "cd", "vinyl", "club"];

/// A request made ready to render.
pub struct Prepared {
    /// The session to render (save it with `--save-session` to render it again).
    pub session: Session,
    /// What was measured of the inputs while preparing (the render reuses it).
    pub known: Known,
}

impl MasterRequest {
    /// Checks everything that can be checked without the audio; errors name the key.
    pub fn check(&self) -> Result<(), MasterError> {
        let bad = |e: String| MasterError::Usage(e);
        self.preset().map_err(bad)?;
        for d in &self.deliver {
            DeliverSpec::parse(d).map_err(bad)?;
        }
        self.version_specs().map_err(bad)?;
        if let Some(t) = self.target_lufs {
            if !(-40.0..=0.0).contains(&t) {
                return Err(bad(format!("target_lufs must be within −40…0, got {t}")));
            }
        }
        if let Some(c) = self.ceiling_dbtp {
            if !(-12.0..=0.0).contains(&c) {
                return Err(bad(format!("ceiling_dbtp must be within −12…0, got {c}")));
            }
        }
        if let Some(a) = self.amount {
            if !(0.0..=1.0).contains(&a) {
                return Err(bad(format!("amount must be within 0…1, got {a}")));
            }
        }
        if let Some(isrc) = &self.isrc {
            check_isrc(isrc).map_err(bad)?;
        }
        if let Some(n) = self.needs.iter().find(|n| !NEEDS.contains(&n.as_str())) {
            return Err(bad(format!(
                "needs: {n:?} is not one of {}",
                NEEDS.join(", ")
            )));
        }
        self.check_bundle().map_err(bad)?;
        // The reference's own checks, on a stand-in file when none is given yet (a service
        // job's options are checked before its reference arrives).
        let mut probe = self.clone();
        let reference_options = self.match_amounts.is_some()
            || self.amount.is_some()
            || self.max_boost_db.is_some()
            || self.max_cut_db.is_some()
            || !self.reference_weights.is_empty();
        if probe.references.is_empty() && reference_options {
            probe.references = vec![PathBuf::from("reference")];
        }
        probe.reference_spec()?;
        Ok(())
    }

    /// Checks the request, measures the inputs and builds the session: the preset's chain (or
    /// the reference match, or the assistant's choices), target, deliverables, versions, tags.
    pub fn prepare(&self) -> Result<Prepared, MasterError> {
        self.check()?;
        if self.files.is_empty() {
            return Err(MasterError::Usage("no input files".into()));
        }
        let preset = self.preset().map_err(MasterError::Usage)?;
        let versions = self.version_specs().map_err(MasterError::Usage)?;
        // Versions are checked against the stems' names before any work.
        let plain: Vec<StemSpec> = self.files.iter().cloned().map(StemSpec::plain).collect();
        for (i, v) in versions.iter().enumerate() {
            v.validate(i, &plain).map_err(|e| {
                MasterError::Usage(format!(
                    "--{}",
                    e.replace(&format!("version[{i}]"), &format!("version {}", v.name))
                ))
            })?;
        }
        let bundle = !self.platforms.is_empty();
        let deliver = match bundle {
            true => Vec::new(),
            false => self.deliver_specs(preset)?,
        };
        let reference = self.reference_spec()?.map(|spec| ReferenceRequest {
            spec,
            set_target: self.preset.is_none() && self.target_lufs.is_none() && !bundle,
        });
        let (mut session, known) = session_from_preset(
            &self.files,
            preset,
            self.target_lufs,
            self.ceiling_dbtp,
            &deliver,
            reference,
            self.assist,
        )?;
        session.title = self.title.clone();
        session.artist = self.artist.clone();
        session.isrc = self.isrc.clone();
        session.versions = versions;
        session.master.stem_masters = self.stem_masters;
        if bundle {
            // Each platform's master sets its own target, stages after the gain and files.
            session.master.target = None;
            session.master.platforms = self
                .platforms
                .iter()
                .map(|p| p.trim().to_ascii_lowercase())
                .collect();
        }
        for s in &mut session.stems {
            s.non_finite = self.non_finite.unwrap_or_default();
        }
        session.validate().map_err(MasterError::Usage)?;
        Ok(Prepared { session, known })
    }

    /// A bundle's platforms are known, and nothing that the bundle sets is set as well.
    fn check_bundle(&self) -> Result<(), String> {
        if self.platforms.is_empty() {
            return Ok(());
        }
        crate::spec::platform::parse_all(&self.platforms).map_err(|e| format!("for: {e}"))?;
        let clash = [
            (self.preset.is_some(), "preset"),
            (self.target_lufs.is_some(), "target_lufs"),
            (self.ceiling_dbtp.is_some(), "ceiling_dbtp"),
            (!self.deliver.is_empty(), "deliver"),
            (!self.versions.is_empty(), "versions"),
            (self.stem_masters, "stem_masters"),
        ]
        .into_iter()
        .find(|(set, _)| *set);
        match clash {
            Some((_, key)) => Err(format!(
                "for: a platform bundle sets each platform's loudness, ceiling and files; \
                 {key} cannot be set with it (versions and stem masters: a run of their own)"
            )),
            None => Ok(()),
        }
    }

    fn preset(&self) -> Result<Preset, String> {
        Preset::parse(self.preset.as_deref().unwrap_or("streaming"))
    }

    fn version_specs(&self) -> Result<Vec<VersionSpec>, String> {
        self.versions
            .iter()
            .map(|v| VersionSpec::parse(v))
            .collect()
    }

    /// The deliverables asked for, or the preset's (whose MP3 needs the first input's rate).
    fn deliver_specs(&self, preset: Preset) -> Result<Vec<DeliverSpec>, MasterError> {
        let specs: Result<Vec<DeliverSpec>, String> = if self.deliver.is_empty() {
            // The session will render at its first input's rate (no sample_rate_hz is set).
            let rate = first_input_rate(&self.files[0])?;
            preset
                .default_deliverables(rate)
                .iter()
                .map(|s| DeliverSpec::parse(s))
                .collect()
        } else {
            self.deliver.iter().map(|s| DeliverSpec::parse(s)).collect()
        };
        specs.map_err(MasterError::Usage)
    }

    /// The reference match asked for (`None` without reference files). Errors name the flag.
    fn reference_spec(&self) -> Result<Option<ReferenceSpec>, MasterError> {
        if self.references.is_empty() {
            return Ok(None);
        }
        let mut spec = ReferenceSpec::new(self.references.clone());
        spec.weights = self.reference_weights.clone();
        if let Some(a) = self.amount {
            spec.amount = a;
        }
        spec.max_boost_db = self.max_boost_db.unwrap_or(spec.max_boost_db);
        spec.max_cut_db = self.max_cut_db.unwrap_or(spec.max_cut_db);
        if let Some(m) = &self.match_amounts {
            spec.set_amounts(m).map_err(MasterError::Usage)?;
        }
        spec.validate()
            .map_err(|e| MasterError::Usage(request_key(&e)))?;
        Ok(Some(spec))
    }
}

/// A reference spec's error in the request's words: the amounts per aspect are `match`'s, the
/// weights `reference_weights`, the rest the keys of the same name.
fn request_key(e: &str) -> String {
    for aspect in ["eq", "width", "dynamics", "loudness"] {
        if let Some(rest) = e.strip_prefix(&format!("reference.{aspect} ")) {
            return format!("match: {aspect} {rest}");
        }
    }
    e.replacen("reference.weights", "reference_weights", 1)
        .replacen("reference.", "", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_options_json_is_the_request_without_files() {
        let r: MasterRequest = serde_json::from_str(
            r#"{"preset":"loud","deliver":["wav:24","mp3:320"],"match":"eq=0.5","notes":"hi"}"#,
        )
        .unwrap();
        assert_eq!(r.preset.as_deref(), Some("loud"));
        assert_eq!(r.deliver, ["wav:24", "mp3:320"]);
        assert_eq!(r.match_amounts.as_deref(), Some("eq=0.5"));
        assert!(r.files.is_empty());
        let back: MasterRequest =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<MasterRequest>(r#"{"files":["x"]}"#).is_err());
        assert!(serde_json::from_str::<MasterRequest>(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn check_names_the_key_that_is_out_of_range() {
        let cases = [
            (r#"{"target_lufs":-50}"#, "target_lufs"),
            (r#"{"ceiling_dbtp":1}"#, "ceiling_dbtp"),
            (r#"{"amount":2}"#, "amount"),
            (r#"{"preset":"nope"}"#, "preset"),
            (r#"{"deliver":["ogg:3"]}"#, "ogg"),
            (r#"{"match":"eq=3"}"#, "match: eq must be within 0…1"),
            (r#"{"max_boost_db":99}"#, "max_boost_db must be within"),
            (r#"{"isrc":"X"}"#, "isrc"),
            (r#"{"for":["myspace"]}"#, "for: unknown platform 'myspace'"),
            (r#"{"for":["cd"],"preset":"loud"}"#, "preset cannot be set"),
            (
                r#"{"for":["cd"],"deliver":["wav:24"]}"#,
                "deliver cannot be set",
            ),
            (
                r#"{"for":["cd"],"stem_masters":true}"#,
                "stem_masters cannot",
            ),
        ];
        for (json, key) in cases {
            let r: MasterRequest = serde_json::from_str(json).unwrap();
            let e = r.check().expect_err(json).to_string();
            assert!(e.contains(key), "{json}: {e}");
        }
        MasterRequest::default().check().unwrap();
    }
}

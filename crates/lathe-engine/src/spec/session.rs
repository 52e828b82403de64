//! The session file (README: Stems and session files): everything a mastering engineer
//! decides, in one TOML file.
//!
//! ```toml
//! title = "Night Drive"
//! sample_rate_hz = 48000
//! [[stem]]
//! name = "drums"
//! file = "stems/drums.wav"     # relative to the session file
//! chain = [ { compressor = { threshold_db = -18, ratio = 2.0 } } ]
//! [master]
//! chain = [ { eq = { bands = [ { kind = "low_shelf", freq_hz = 80, gain_db = 1.0 } ] } },
//!           { limiter = { ceiling_dbtp = -1.0 } } ]
//! target = { integrated_lufs = -14.0, true_peak_dbtp = -1.0 }
//! [[deliver]]
//! format = "wav"
//! bits = 24
//! ```
//!
//! The loudness target's gain goes into the master chain just before the final limiter — in
//! front of any clipper or saturation stages that directly precede it, so they are driven by
//! it. Without a limiter in the chain, one is added at the target's ceiling.

use std::path::{Path, PathBuf};

use lathe_dsp::dither::DitherKind;
use lathe_dsp::limiter::LimiterSettings;
use serde::{Deserialize, Serialize};

use crate::spec::bus::Bus;
use crate::spec::chain::{validate_chain, LimiterSpec, ProcessorSpec};
use crate::spec::deliver::{DeliverSpec, Tags};
use crate::spec::preset::Target;
use crate::spec::reference::ReferenceSpec;
use crate::spec::stem::StemSpec;
use crate::spec::version::VersionSpec;

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterSpec {
    #[serde(default)]
    pub chain: Vec<ProcessorSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Reference matching, resolved into ordinary processors before rendering
    /// (`matching/reference.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceSpec>,
    /// Deliver every stem through the master's chain with the master's gain moves as well
    /// (`<title>_<stem>_<rate>_<bits>`): stem masters that sum to the master.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stem_masters: bool,
    /// A platform bundle (`for = ["spotify", "cd"]`): instead of one master, one per distinct
    /// platform loudness, each writing the files its platforms take (`spec/platform.rs`).
    /// Each platform's target, stages after the gain and files replace the session's.
    #[serde(rename = "for", default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverEntry {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate_hz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dither: Option<DitherKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
}

impl DeliverEntry {
    /// The session entry for a parsed deliverable (what `--deliver` specs become).
    pub fn from_spec(d: &DeliverSpec) -> Self {
        Self {
            format: d.format.name().into(),
            bits: (!d.is_lossy()).then_some(d.bits),
            sample_rate_hz: d.sample_rate_hz,
            dither: (!d.is_lossy()).then_some(d.dither),
            bitrate_kbps: d.bitrate_kbps,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isrc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate_hz: Option<u32>,
    #[serde(rename = "stem")]
    pub stems: Vec<StemSpec>,
    #[serde(default)]
    pub master: MasterSpec,
    #[serde(rename = "deliver", default)]
    pub deliver: Vec<DeliverEntry>,
    /// Alternate versions ([`crate::spec::version`]).
    #[serde(rename = "version", default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionSpec>,
}

/// The most stems a session mixes: far beyond any real project (a large one sends 40), and a
/// bound on the memory and open files of one render.
pub const MAX_STEMS: usize = 128;
/// The most processors in one chain.
pub const MAX_CHAIN: usize = 64;
/// The most characters of a session's output name (letters may take up to 4 bytes).
pub const MAX_NAME_CHARS: usize = 40;
/// The most deliverables of one session.
pub const MAX_DELIVER: usize = 16;
/// The most alternate versions of one session (each is a lane of the render).
pub const MAX_VERSIONS: usize = 16;

impl Session {
    /// Reads, parses and checks a session file; stem paths are resolved against its folder.
    /// Errors name the file and the key (with the line for syntax and unknown keys).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut s: Session = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for stem in &mut s.stems {
            if stem.file.is_relative() {
                stem.file = base.join(&stem.file);
            }
        }
        for f in s
            .master
            .reference
            .iter_mut()
            .flat_map(|r| r.files.iter_mut())
        {
            if f.is_relative() {
                *f = base.join(&*f);
            }
        }
        s.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(s)
    }

    /// Checks names, ranges and what is not supported yet; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.stems.is_empty() {
            return Err("a session needs at least one [[stem]]".into());
        }
        if self.stems.len() > MAX_STEMS {
            return Err(format!(
                "a session has at most {MAX_STEMS} stems, this one {}",
                self.stems.len()
            ));
        }
        for (i, c) in self
            .stems
            .iter()
            .map(|s| &s.chain)
            .chain(std::iter::once(&self.master.chain))
            .enumerate()
        {
            if c.len() > MAX_CHAIN {
                return Err(format!(
                    "a chain has at most {MAX_CHAIN} processors, chain {i} has {}",
                    c.len()
                ));
            }
        }
        if let Some(isrc) = &self.isrc {
            check_isrc(isrc)?;
        }
        for (i, s) in self.stems.iter().enumerate() {
            if s.name.trim().is_empty() {
                return Err(format!("stem[{i}].name is empty"));
            }
            if self.stems[..i].iter().any(|o| o.name == s.name) {
                return Err(format!("stem[{i}].name '{}' is used twice", s.name));
            }
            if !(-60.0..=24.0).contains(&s.gain_db) {
                return Err(format!(
                    "stem[{i}].gain_db must be within −60…24, got {}",
                    s.gain_db
                ));
            }
            if !(-1.0..=1.0).contains(&s.pan) {
                return Err(format!("stem[{i}].pan must be within −1…1, got {}", s.pan));
            }
            validate_chain(&s.chain).map_err(|e| format!("stem[{i}].{e}"))?;
        }
        validate_chain(&self.master.chain).map_err(|e| format!("master.{e}"))?;
        crate::spec::keys::key_order(&self.stems)?;
        if let Some((j, p)) = self
            .master
            .chain
            .iter()
            .enumerate()
            .find(|(_, p)| p.key().is_some())
        {
            return Err(format!(
                "master.chain[{j}].{}.key: only a stem's processors can be keyed on another stem",
                p.name()
            ));
        }
        if let Some(r) = &self.master.reference {
            r.validate().map_err(|e| format!("master.{e}"))?;
        }
        if let Some(t) = self.master.target {
            if !(-40.0..=0.0).contains(&t.integrated_lufs) {
                return Err(format!(
                    "master.target.integrated_lufs must be within −40…0, got {}",
                    t.integrated_lufs
                ));
            }
            if !(-12.0..=0.0).contains(&t.true_peak_dbtp) {
                return Err(format!(
                    "master.target.true_peak_dbtp must be within −12…0, got {}",
                    t.true_peak_dbtp
                ));
            }
        }
        if let Some(r) = self.sample_rate_hz {
            crate::spec::deliver::check_rate_hz("sample_rate_hz", r)?;
        }
        if self.deliver.len() > MAX_DELIVER {
            return Err(format!(
                "a session has at most {MAX_DELIVER} deliverables, this one {}",
                self.deliver.len()
            ));
        }
        if self.versions.len() > MAX_VERSIONS {
            return Err(format!(
                "a session has at most {MAX_VERSIONS} versions, this one {}",
                self.versions.len()
            ));
        }
        for (i, v) in self.versions.iter().enumerate() {
            v.validate(i, &self.stems)?;
            if self.versions[..i].iter().any(|o| o.name == v.name) {
                return Err(format!("version[{i}].name '{}' is used twice", v.name));
            }
        }
        check_bundle(self)?;
        self.deliver_specs().map(|_| ())
    }

    /// The deliverables (WAV 24-bit when the session names none).
    pub fn deliver_specs(&self) -> Result<Vec<DeliverSpec>, String> {
        if self.deliver.is_empty() {
            return Ok(vec![DeliverSpec::parse("wav:24").expect("valid")]);
        }
        self.deliver
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let format =
                    lathe_io::Format::parse(&d.format).map_err(|e| format!("deliver[{i}].{e}"))?;
                let text = match (format.is_lossy(), d.bitrate_kbps) {
                    (true, kbps) => {
                        format!("{format}:{}", kbps.unwrap_or(format.default_bitrate_kbps()))
                    }
                    (false, None) => format!("{format}:{}", d.bits.unwrap_or(24)),
                    (false, Some(_)) => {
                        return Err(format!(
                            "deliver[{i}].bitrate_kbps applies to lossy formats only"
                        ))
                    }
                };
                let mut spec =
                    DeliverSpec::parse(&text).map_err(|e| format!("deliver[{i}]: {e}"))?;
                if let Some(r) = d.sample_rate_hz {
                    crate::spec::deliver::check_rate_hz(
                        &format!("deliver[{i}].sample_rate_hz"),
                        r,
                    )?;
                }
                spec.sample_rate_hz = d.sample_rate_hz;
                if let Some(dither) = d.dither {
                    spec.dither = dither;
                }
                Ok(spec)
            })
            .collect()
    }

    /// The master bus: the chain split around the point where the target gain goes in.
    pub fn bus(&self) -> Bus {
        let mut chain = self.master.chain.clone();
        let target = self.master.target;
        let mut limiter = match chain.last() {
            Some(ProcessorSpec::Limiter(l)) => {
                let l = l.settings();
                chain.pop();
                Some(l)
            }
            _ => None,
        };
        if let Some(t) = target {
            let l = limiter.get_or_insert_with(|| LimiterSettings {
                ceiling_dbtp: t.true_peak_dbtp,
                ..LimiterSettings::default()
            });
            l.ceiling_dbtp = l.ceiling_dbtp.min(t.true_peak_dbtp);
        }
        let split = if limiter.is_some() {
            chain.len()
                - chain
                    .iter()
                    .rev()
                    .take_while(|p| p.goes_after_gain())
                    .count()
        } else {
            chain.len()
        };
        let post_gain = chain.split_off(split);
        Bus {
            chain,
            post_gain,
            limiter,
        }
    }

    /// The tags every deliverable carries.
    pub fn tags(&self) -> Tags {
        Tags {
            title: self.title.clone(),
            artist: self.artist.clone(),
            isrc: self.isrc.clone(),
        }
    }

    /// The session as TOML (what `--save-session` writes).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a session serialises")
    }

    /// A name for output files: the title, else the only stem's name, else "stems".
    pub fn output_name(&self) -> String {
        let raw = self
            .title
            .clone()
            .unwrap_or_else(|| match self.stems.as_slice() {
                [one] => one.name.clone(),
                _ => "stems".into(),
            });
        // Bounded so that the longest deliverable name (`_<version>_<rate>_<bits>.<ext>`
        // after it) stays under the 255 bytes a file name may have.
        let name: String = raw
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(MAX_NAME_CHARS)
            .collect();
        if name.is_empty() {
            "untitled".into()
        } else {
            name
        }
    }

    /// Stem and reference files, for checks that outputs never overwrite inputs.
    pub fn input_files(&self) -> Vec<PathBuf> {
        self.stems
            .iter()
            .map(|s| s.file.clone())
            .chain(self.master.reference.iter().flat_map(|r| r.files.clone()))
            .collect()
    }

    /// The limiter as a chain entry (for sessions built from presets).
    pub fn limiter_spec(settings: &LimiterSettings) -> ProcessorSpec {
        ProcessorSpec::Limiter(LimiterSpec {
            ceiling_dbtp: settings.ceiling_dbtp,
            release_ms: settings.release_ms,
            lookahead_ms: settings.lookahead_ms,
            hold_ms: settings.hold_ms,
            auto_hold: settings.auto_hold,
        })
    }
}

/// Checks a session's bundle (`master.for`): known platforms, none twice; and nothing that
/// the bundle decides or that would multiply with it.
fn check_bundle(session: &Session) -> Result<(), String> {
    let named = &session.master.platforms;
    if named.is_empty() {
        return Ok(());
    }
    crate::spec::platform::parse_all(named).map_err(|e| format!("master.for: {e}"))?;
    let clash = if !session.deliver.is_empty() {
        Some("[[deliver]]: a bundle writes the files its platforms take")
    } else if session.master.target.is_some() {
        Some("master.target: each platform sets its own loudness and ceiling")
    } else if !session.versions.is_empty() {
        Some("[[version]]: render versions in a run of their own")
    } else if session.master.stem_masters {
        Some("master.stem_masters: render stem masters in a run of their own")
    } else {
        None
    };
    match clash {
        Some(why) => Err(format!("master.for cannot go with {why}")),
        None => Ok(()),
    }
}

/// Checks ISRC syntax (ISO 3901), with an error that says what is expected.
pub fn check_isrc(isrc: &str) -> Result<(), String> {
    if valid_isrc(isrc) {
        Ok(())
    } else {
        Err(format!(
            "isrc must be 12 characters: country (2 letters), registrant (3 letters or digits), year (2 digits), designation (5 digits), e.g. GBAYE0601498; got {isrc:?}"
        ))
    }
}

/// ISRC syntax (ISO 3901): CC-XXX-YY-NNNNN without hyphens.
fn valid_isrc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..5]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && b[5..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::chain::{ClipperSpec, CompressorSpec, SaturateSpec};

    fn session(chain: Vec<ProcessorSpec>, target: Option<Target>) -> Session {
        Session {
            stems: vec![StemSpec::plain(PathBuf::from("mix.wav"))],
            master: MasterSpec {
                chain,
                target,
                reference: None,
                stem_masters: false,
                platforms: Vec::new(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_chain_splits_at_the_gain_before_the_clippers_and_the_limiter() {
        let comp = ProcessorSpec::Compressor(CompressorSpec::default());
        let clip = ProcessorSpec::Clipper(ClipperSpec::default());
        let sat = ProcessorSpec::Saturate(SaturateSpec::default());
        let lim = Session::limiter_spec(&LimiterSettings::default());
        let target = Some(Target {
            integrated_lufs: -14.0,
            true_peak_dbtp: -2.0,
        });
        // Clipper and saturation right before the limiter go after the gain.
        let bus = session(
            vec![comp.clone(), sat.clone(), clip.clone(), lim.clone()],
            target,
        )
        .bus();
        assert_eq!(bus.chain, vec![comp.clone()]);
        assert_eq!(bus.post_gain, vec![sat.clone(), clip.clone()]);
        // The target's ceiling wins when it is lower than the limiter's.
        assert_eq!(bus.limiter.unwrap().ceiling_dbtp, -2.0);
        // A clipper before a compressor stays in the chain.
        let bus = session(vec![clip.clone(), comp.clone(), lim], None).bus();
        assert_eq!(bus.chain, vec![clip.clone(), comp.clone()]);
        assert!(bus.post_gain.is_empty());
        // No limiter and no target: everything is chain, nothing after the gain.
        let bus = session(vec![comp.clone(), clip.clone()], None).bus();
        assert_eq!((bus.chain.len(), bus.post_gain.len()), (2, 0));
        assert!(bus.limiter.is_none());
        // A target without a limiter gets one at its ceiling.
        let bus = session(vec![comp], target).bus();
        assert_eq!(bus.limiter.unwrap().ceiling_dbtp, -2.0);
    }

    #[test]
    fn a_session_survives_its_own_toml() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session(
            vec![
                ProcessorSpec::Compressor(CompressorSpec::default()),
                Session::limiter_spec(&LimiterSettings::default()),
            ],
            Some(Target {
                integrated_lufs: -11.5,
                true_peak_dbtp: -1.0,
            }),
        );
        s.stems[0].file = dir.path().join("mix.wav");
        s.title = Some("Song".into());
        s.isrc = Some("GBAYE0601498".into());
        s.deliver = vec![
            DeliverEntry::from_spec(&DeliverSpec::parse("flac:16@44100").unwrap()),
            DeliverEntry::from_spec(&DeliverSpec::parse("mp3:256").unwrap()),
        ];
        s.versions = vec![VersionSpec::parse("tv:gain=mix=-3").unwrap()];
        let path = dir.path().join("session.toml");
        std::fs::write(&path, s.to_toml()).unwrap();
        let back = Session::load(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.deliver_specs().unwrap(), s.deliver_specs().unwrap());
    }
}

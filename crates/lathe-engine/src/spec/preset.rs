//! Presets: a loudness target and a gentle default master chain.

use lathe_dsp::compressor::Detection;
use lathe_dsp::eq::{BandKind, PassFamily};

use lathe_dsp::limiter::LimiterSettings;

use crate::spec::bus::Bus;
use crate::spec::chain::{ClipperSpec, CompressorSpec, EqBandSpec, EqSpec, ProcessorSpec};
use crate::spec::vinyl;

/// The loud presets' clipper sits this far above the true-peak ceiling, dB.
pub const CLIP_ABOVE_CEILING_DB: f64 = 1.5;

/// Integrated loudness and true-peak ceiling a deliverable must meet.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    Streaming,
    Apple,
    Loud,
    Club,
    Cd,
    Broadcast,
    Vinyl,
    None,
}

impl Preset {
    pub const ALL: [Preset; 8] = [
        Preset::Streaming,
        Preset::Apple,
        Preset::Loud,
        Preset::Club,
        Preset::Cd,
        Preset::Broadcast,
        Preset::Vinyl,
        Preset::None,
    ];

    pub const NAMES: [&'static str; 8] = [
        "streaming",
        "apple",
        "loud",
        "club",
        "cd",
        "broadcast",
        "vinyl",
        "none",
    ];

    /// The preset's name, as [`Preset::parse`] takes it.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Streaming => "streaming",
            Preset::Apple => "apple",
            Preset::Loud => "loud",
            Preset::Club => "club",
            Preset::Cd => "cd",
            Preset::Broadcast => "broadcast",
            Preset::Vinyl => "vinyl",
            Preset::None => "none",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown preset '{name}' (one of {})",
                    Self::NAMES.join(", ")
                )
            })
    }

    /// The preset's target; `None` for preset `none`.
    pub fn target(self) -> Option<Target> {
        let t = |integrated_lufs, true_peak_dbtp| {
            Some(Target {
                integrated_lufs,
                true_peak_dbtp,
            })
        };
        match self {
            Preset::Streaming => t(-14.0, -1.0),
            Preset::Apple => t(-16.0, -1.0),
            Preset::Loud => t(-9.0, -1.0),
            Preset::Club => t(-7.0, -0.3),
            Preset::Cd => t(-10.0, -0.3),
            Preset::Broadcast => t(-23.0, -1.0),
            // A premaster for the cutting lathe: the level of the record is set at the
            // cutting desk, so loudness is not pushed; −14 LUFS leaves typical music 10–13 dB
            // of crest factor under a ceiling the limiter then rarely touches. The ceiling is
            // −0.5 dBTP rather than −1: no lossy codec follows, and the cutting chain's
            // converters need only the half decibel for their own resampling.
            Preset::Vinyl => t(-14.0, -0.5),
            Preset::None => None,
        }
    }

    /// Default deliverables for a session running at `rate_hz`. `streaming` adds an MP3 at
    /// 320 kbps: at the session rate when MP3 allows it (32, 44.1, 48 kHz), else converted to
    /// 44.1 kHz (from multiples of 44.1 kHz) or 48 kHz.
    pub fn default_deliverables(self, rate_hz: u32) -> Vec<&'static str> {
        match self {
            Preset::Cd => vec!["wav:16@44100"],
            Preset::None => vec!["wav:32"],
            Preset::Streaming if lathe_io::Format::Mp3.carries_rate(rate_hz) => {
                vec!["wav:24", "mp3:320"]
            }
            Preset::Streaming if rate_hz.is_multiple_of(44_100) => vec!["wav:24", "mp3:320@44100"],
            Preset::Streaming => vec!["wav:24", "mp3:320@48000"],
            // 24 bits at the session rate, up to 96 kHz (what cutting rooms take).
            Preset::Vinyl if rate_hz > 96_000 && rate_hz.is_multiple_of(44_100) => {
                vec!["wav:24@88200"]
            }
            Preset::Vinyl if rate_hz > 96_000 => vec!["wav:24@96000"],
            _ => vec!["wav:24"],
        }
    }

    /// The whole master bus for a mix of the given integrated loudness: [`Preset::chain`], then,
    /// for the loud presets (`loud`, `club`, `cd`), a 4x-oversampled soft clipper after the
    /// gain that shaves the fastest peaks before the limiter (a limiter alone cannot reach
    /// −7 LUFS on dynamic material without pumping), and the true-peak limiter at the target's
    /// ceiling, with a faster release for the loud presets.
    pub fn bus(self, input_integrated_lufs: f64, target: Option<Target>) -> Bus {
        let loud = matches!(self, Preset::Loud | Preset::Club | Preset::Cd);
        // The vinyl limiter is a slow safety net (it should rarely act at all).
        let (release_ms, hold_ms) = match self {
            _ if loud => (40.0, 10.0),
            Preset::Vinyl => (150.0, 20.0),
            _ => (80.0, 20.0),
        };
        let limiter = target.map(|t| LimiterSettings {
            ceiling_dbtp: t.true_peak_dbtp,
            release_ms,
            hold_ms,
            ..LimiterSettings::default()
        });
        // Loud presets shave the highest transients with an oversampled hard clipper
        // CLIP_ABOVE_CEILING_DB above the ceiling, so that the limiter does less pumping;
        // everything below the clip level passes untouched.
        let post_gain = match target {
            Some(t) if loud => vec![ProcessorSpec::Clipper(ClipperSpec {
                ceiling_db: t.true_peak_dbtp + CLIP_ABOVE_CEILING_DB,
                oversampling: 4,
            })],
            _ => Vec::new(),
        };
        Bus {
            chain: self.chain(input_integrated_lufs),
            post_gain,
            limiter,
        }
    }

    /// The gentle default master chain (before the limiter), given the mix's integrated
    /// loudness: a 20 Hz Butterworth high-pass (rumble and DC) and a slow 1.5:1 RMS glue
    /// compressor whose threshold sits 2 dB above the mix's loudness, so that only the louder
    /// passages are touched (about 1 dB of gain reduction on typical material).
    pub fn chain(self, input_integrated_lufs: f64) -> Vec<ProcessorSpec> {
        if self == Preset::None {
            return Vec::new();
        }
        let threshold = (input_integrated_lufs + 2.0).clamp(-60.0, -1.0);
        let mut chain = vec![
            ProcessorSpec::Eq(EqSpec {
                bands: vec![EqBandSpec {
                    kind: BandKind::HighPass,
                    freq_hz: 20.0,
                    slope_db_oct: 12,
                    family: PassFamily::Butterworth,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ProcessorSpec::Compressor(CompressorSpec {
                threshold_db: threshold,
                ratio: 1.5,
                knee_db: 6.0,
                attack_ms: 30.0,
                release_ms: 250.0,
                detection: Detection::Rms,
                ..Default::default()
            }),
        ];
        if self == Preset::Vinyl {
            chain.extend(vinyl::stages(input_integrated_lufs));
        }
        chain
    }
}

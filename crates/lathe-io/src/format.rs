//! The formats lathe delivers, parsed once: each knows its name (as `--deliver` spells it),
//! its file extension, its content type, whether it is lossy, the bit depths it stores and the
//! rates it can carry. Adding a format is an arm here and its writer; the engine, the service
//! and the page read the list from [`Format::ALL`].

use std::fmt;

use crate::aac_writer::AAC_RATES;
use crate::mp3_writer::MP3_RATES;
use crate::opus_writer::OPUS_RATE_HZ;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Wav,
    Flac,
    Mp3,
    /// AAC-LC in an MPEG-4 (`.m4a`) file.
    Aac,
    /// Opus in an Ogg (`.opus`) file.
    Opus,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 5] = [
        Format::Wav,
        Format::Flac,
        Format::Mp3,
        Format::Aac,
        Format::Opus,
    ];

    /// The name `--deliver` and session files use.
    pub fn name(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
            Format::Mp3 => "mp3",
            Format::Aac => "aac",
            Format::Opus => "opus",
        }
    }

    /// Parses a name ([`Format::name`]); the error lists the formats there are.
    pub fn parse(name: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("format '{name}' is not available ({})", names.join(", "))
            })
    }

    /// Recognises a delivered file by its extension.
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Aac => "m4a",
            other => other.name(),
        }
    }

    /// The HTTP content type of its files.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Wav => "audio/wav",
            Format::Flac => "audio/flac",
            Format::Mp3 => "audio/mpeg",
            Format::Aac => "audio/mp4",
            Format::Opus => "audio/ogg",
        }
    }

    /// Whether its decoded output differs from what was encoded (and must be checked again).
    pub fn is_lossy(self) -> bool {
        match self {
            Format::Wav | Format::Flac => false,
            Format::Mp3 | Format::Aac | Format::Opus => true,
        }
    }

    /// The bit depths it stores (32: float); none for a lossy format.
    pub fn bit_depths(self) -> &'static [u32] {
        match self {
            Format::Wav => &[16, 24, 32],
            Format::Flac => &[16, 24],
            Format::Mp3 | Format::Aac | Format::Opus => &[],
        }
    }

    /// The only rates it can carry (`None`: any rate lathe renders at).
    pub fn rates_hz(self) -> Option<&'static [u32]> {
        match self {
            Format::Wav | Format::Flac => None,
            Format::Mp3 => Some(&MP3_RATES),
            Format::Aac => Some(&AAC_RATES),
            Format::Opus => Some(&[OPUS_RATE_HZ]),
        }
    }

    /// Whether it can carry `rate_hz`.
    pub fn carries_rate(self, rate_hz: u32) -> bool {
        self.rates_hz().is_none_or(|r| r.contains(&rate_hz))
    }

    /// The rate a file of this format is made at when the deliverable names none and the
    /// session's rate is not one it carries: its only rate (Opus), else `None` (the caller
    /// asks for one).
    pub fn only_rate_hz(self) -> Option<u32> {
        match self.rates_hz() {
            Some([only]) => Some(*only),
            _ => None,
        }
    }

    /// The bitrates a lossy format is encoded at, kbit/s (none for a lossless one). Opus
    /// stops at 256: past it libopus spends bits that no listening test has heard.
    pub fn bitrates_kbps(self) -> &'static [u32] {
        match self {
            Format::Wav | Format::Flac => &[],
            Format::Mp3 | Format::Aac => &[128, 160, 192, 224, 256, 320],
            Format::Opus => &[96, 128, 160, 192, 224, 256],
        }
    }

    /// The bitrate when none is given, kbit/s (0 for a lossless format): MP3 at its best
    /// (320), AAC at what Apple's store delivers (256), Opus at 160, where public listening
    /// tests found stereo music transparent.
    pub fn default_bitrate_kbps(self) -> u32 {
        match self {
            Format::Wav | Format::Flac => 0,
            Format::Mp3 => 320,
            Format::Aac => 256,
            Format::Opus => 160,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_parses_from_its_name_and_extension() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Ok(f));
            assert_eq!(Format::from_extension(f.extension()), Some(f));
            assert!(f.content_type().starts_with("audio/"));
            // A lossy format stores no bit depth; a lossless one at least 16 and 24.
            assert_eq!(f.is_lossy(), f.bit_depths().is_empty());
            assert_eq!(f.is_lossy(), !f.bitrates_kbps().is_empty());
        }
        let e = Format::parse("ogg").unwrap_err();
        assert!(e.contains("wav, flac, mp3, aac, opus"), "{e}");
        assert_eq!(Format::from_extension("m4a"), Some(Format::Aac));
        assert_eq!(Format::Opus.only_rate_hz(), Some(48_000));
        assert_eq!(Format::Aac.only_rate_hz(), None);
        for f in Format::ALL.into_iter().filter(|f| f.is_lossy()) {
            assert!(f.bitrates_kbps().contains(&f.default_bitrate_kbps()), "{f}");
        }
        assert!(Format::Mp3.carries_rate(44_100) && !Format::Mp3.carries_rate(96_000));
        assert!(Format::Flac.carries_rate(192_000));
    }
}

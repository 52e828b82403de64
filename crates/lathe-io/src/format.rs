//! The formats lathe delivers, parsed once: each knows its name (as `--deliver` spells it),
//! its file extension, its content type, whether it is lossy, the bit depths it stores and the
//! rates it can carry. Adding a format is an arm here and its writer; the engine, the service
//! and the page read the list from [`Format::ALL`].

use std::fmt;

use crate::mp3_writer::MP3_RATES;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Wav,
    Flac,
    Mp3,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 3] = [Format::Wav, Format::Flac, Format::Mp3];

    /// The name `--deliver` and session files use.
    pub fn name(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
            Format::Mp3 => "mp3",
        }
    }

    /// Parses a name ([`Format::name`]); the error lists the formats there are.
    pub fn parse(name: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| format!("format '{name}' is not available (wav, flac, mp3)"))
    }

    /// Recognises a delivered file by its extension.
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// The HTTP content type of its files.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Wav => "audio/wav",
            Format::Flac => "audio/flac",
            Format::Mp3 => "audio/mpeg",
        }
    }

    /// Whether its decoded output differs from what was encoded (and must be checked again).
    pub fn is_lossy(self) -> bool {
        match self {
            Format::Wav | Format::Flac => false,
            Format::Mp3 => true,
        }
    }

    /// The bit depths it stores (32: float); none for a lossy format.
    pub fn bit_depths(self) -> &'static [u32] {
        match self {
            Format::Wav => &[16, 24, 32],
            Format::Flac => &[16, 24],
            Format::Mp3 => &[],
        }
    }

    /// The only rates it can carry (`None`: any rate lathe renders at).
    pub fn rates_hz(self) -> Option<&'static [u32]> {
        match self {
            Format::Wav | Format::Flac => None,
            Format::Mp3 => Some(&MP3_RATES),
        }
    }

    /// Whether it can carry `rate_hz`.
    pub fn carries_rate(self, rate_hz: u32) -> bool {
        self.rates_hz().is_none_or(|r| r.contains(&rate_hz))
    }

    /// The bitrates a lossy format is encoded at, kbit/s (none for a lossless one).
    pub fn bitrates_kbps(self) -> &'static [u32] {
        match self {
            Format::Wav | Format::Flac => &[],
            Format::Mp3 => &[128, 160, 192, 224, 256, 320],
        }
    }

    /// The bitrate when none is given, kbit/s (0 for a lossless format).
    pub fn default_bitrate_kbps(self) -> u32 {
        self.bitrates_kbps().last().copied().unwrap_or(0)
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
        assert!(e.contains("wav, flac, mp3"), "{e}");
        assert!(Format::Mp3.carries_rate(44_100) && !Format::Mp3.carries_rate(96_000));
        assert!(Format::Flac.carries_rate(192_000));
    }
}

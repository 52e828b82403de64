//! What to deliver: format, bits, rate, dither and bitrate (`wav:24@48000`), file names, and
//! the tags every delivered file carries.

use lathe_dsp::dither::DitherKind;
use lathe_io::Format;
use serde::Serialize;

/// The sample rates lathe renders and delivers at, Hz: from narrow-band speech to 8x 48 kHz.
/// Checked before any work: a rate outside would fail late, or ask the resampler for
/// gigabytes.
pub const RATE_RANGE_HZ: std::ops::RangeInclusive<u32> = 8_000..=384_000;

/// Refuses a processing or delivery rate outside [`RATE_RANGE_HZ`].
pub fn check_rate_hz(what: &str, rate_hz: u32) -> Result<(), String> {
    if RATE_RANGE_HZ.contains(&rate_hz) {
        Ok(())
    } else {
        Err(format!(
            "{what}: sample rate {rate_hz} Hz is outside {}…{} Hz",
            RATE_RANGE_HZ.start(),
            RATE_RANGE_HZ.end()
        ))
    }
}

/// See [`DeliverSpec::codec_headroom_db`].
pub const CODEC_HEADROOM_DB: f64 = 0.15;

/// What to deliver.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliverSpec {
    #[serde(serialize_with = "format_name")]
    pub format: Format,
    /// 16, 24, or 32 (32 = 32-bit float).
    pub bits: u32,
    pub sample_rate_hz: Option<u32>,
    pub dither: DitherKind,
    /// Lossy formats: bitrate, kbit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
}

impl DeliverSpec {
    /// True for formats whose decoded output differs from their input (MP3).
    pub fn is_lossy(&self) -> bool {
        self.format.is_lossy()
    }

    /// For a lossy format encoded during the render itself: how far under the ceiling a
    /// safety limiter holds the signal before the encoder, dB, so that the decoded file stays
    /// under the ceiling at the first encode. On the corpus mixes the decoded MP3 (320 kbit/s)
    /// and AAC (256) peaked 0.09–0.22 dB above the master they were made from, which itself
    /// sits about 0.16 dB under the limiter's ceiling; 0.15 dB covers up to 0.29. `None`: the
    /// format is encoded after the render from a float copy of the bus, through the
    /// codec-safe loop (Opus at 160 rose 0.6–1.0 dB: that much limiting after the master's
    /// limiter would cost loudness, which the loop restores by rendering at a lower ceiling).
    pub fn codec_headroom_db(&self) -> Option<f64> {
        match self.format {
            Format::Mp3 | Format::Aac => Some(CODEC_HEADROOM_DB),
            Format::Wav | Format::Flac | Format::Opus => None,
        }
    }

    /// Parses `wav:24`, `wav:16@44100`, `wav:32`, `flac:24`, `flac:24@96000`, `mp3:320`,
    /// `aac:256`, `opus:160` (always at 48 kHz).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (main, rate) = match spec.split_once('@') {
            Some((m, r)) => (
                m,
                Some(
                    r.parse::<u32>()
                        .map_err(|_| format!("--deliver {spec}: bad sample rate '{r}'"))?,
                ),
            ),
            None => (spec, None),
        };
        if let Some(r) = rate {
            check_rate_hz(&format!("--deliver {spec}"), r)?;
        }
        let (name, param) = match main.split_once(':') {
            Some((f, p)) => (f, Some(p)),
            None => (main, None),
        };
        let format = Format::parse(name).map_err(|e| format!("--deliver {spec}: {e}"))?;
        if let Some(r) = rate.filter(|&r| !format.carries_rate(r)) {
            return Err(format!(
                "--deliver {spec}: {} is encoded at {} Hz, not {r}",
                format.name().to_uppercase(),
                list(format.rates_hz().unwrap_or_default())
            ));
        }
        // A format made at one rate only (Opus: 48 kHz) is made at it.
        let rate = rate.or(format.only_rate_hz());
        if format.is_lossy() {
            let kbps = match param {
                Some(k) => k
                    .parse::<u32>()
                    .map_err(|_| format!("--deliver {spec}: bad bitrate '{k}'"))?,
                None => format.default_bitrate_kbps(),
            };
            if !format.bitrates_kbps().contains(&kbps) {
                return Err(format!(
                    "--deliver {spec}: {format} bitrates are {}",
                    list(format.bitrates_kbps())
                ));
            }
            return Ok(Self {
                format,
                bits: 0,
                sample_rate_hz: rate,
                dither: DitherKind::None,
                bitrate_kbps: Some(kbps),
            });
        }
        let bits = match param {
            Some(b) => b
                .parse::<u32>()
                .map_err(|_| format!("--deliver {spec}: bad bit depth '{b}'"))?,
            None => 24,
        };
        if !format.bit_depths().contains(&bits) {
            return Err(format!(
                "--deliver {spec}: {format} bits must be {} (32: float)",
                list(format.bit_depths())
            ));
        }
        let dither = if bits == 16 {
            DitherKind::TpdfShaped
        } else if bits == 24 {
            DitherKind::Tpdf
        } else {
            DitherKind::None
        };
        Ok(Self {
            format,
            bits,
            sample_rate_hz: rate,
            dither,
            bitrate_kbps: None,
        })
    }

    /// File name for a master of `stem` at `rate_hz`.
    pub fn file_name(&self, stem: &str, rate_hz: u32) -> String {
        self.version_file_name(stem, "master", rate_hz)
    }

    /// File name for `version` (`master` for the main master) of `stem` at `rate_hz`:
    /// `<stem>_<version>_<rate>_<bits or kbps>.<format>`.
    pub fn version_file_name(&self, stem: &str, version: &str, rate_hz: u32) -> String {
        // 44100 → "44k1", 48000 → "48k", 88200 → "88k2".
        let (k, tenths) = (rate_hz / 1000, (rate_hz % 1000) / 100);
        let rate = if tenths == 0 {
            format!("{k}k")
        } else {
            format!("{k}k{tenths}")
        };
        if let Some(kbps) = self.bitrate_kbps {
            return format!(
                "{stem}_{version}_{rate}_{kbps}k.{}",
                self.format.extension()
            );
        }
        let bits = if self.bits == 32 {
            "32f".to_string()
        } else {
            format!("{}b", self.bits)
        };
        format!("{stem}_{version}_{rate}_{bits}.{}", self.format.extension())
    }
}

fn list(values: &[u32]) -> String {
    let v: Vec<String> = values.iter().map(u32::to_string).collect();
    v.join(", ")
}

/// Reports and sessions spell a format by its name.
fn format_name<S: serde::Serializer>(f: &Format, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.name())
}

/// Title, artist and ISRC written into every delivered file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub isrc: Option<String>,
}

impl Tags {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.artist.is_none() && self.isrc.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_specs_parse_with_their_defaults() {
        let w = DeliverSpec::parse("wav:16@44100").unwrap();
        assert_eq!(
            (w.format, w.bits, w.sample_rate_hz, w.dither),
            (Format::Wav, 16, Some(44_100), DitherKind::TpdfShaped)
        );
        let f = DeliverSpec::parse("flac").unwrap();
        assert_eq!(
            (f.format, f.bits, f.dither),
            (Format::Flac, 24, DitherKind::Tpdf)
        );
        let m = DeliverSpec::parse("mp3").unwrap();
        assert_eq!((m.format, m.bitrate_kbps), (Format::Mp3, Some(320)));
        assert!(m.is_lossy() && !f.is_lossy());
        assert_eq!(
            DeliverSpec::parse("wav:32").unwrap().dither,
            DitherKind::None
        );
        assert_eq!(
            w.version_file_name("song", "tv", 44_100),
            "song_tv_44k1_16b.wav"
        );
        assert_eq!(m.file_name("song", 48_000), "song_master_48k_320k.mp3");
        let a = DeliverSpec::parse("aac").unwrap();
        assert_eq!((a.format, a.bitrate_kbps), (Format::Aac, Some(256)));
        assert_eq!(a.file_name("song", 44_100), "song_master_44k1_256k.m4a");
        let o = DeliverSpec::parse("opus:128").unwrap();
        assert_eq!(
            (o.sample_rate_hz, o.bitrate_kbps),
            (Some(48_000), Some(128))
        );
        let h = DeliverSpec::parse("flac:24@96000").unwrap();
        assert_eq!(h.file_name("song", 96_000), "song_master_96k_24b.flac");
    }

    #[test]
    fn bad_deliver_specs_name_what_is_wrong() {
        for (spec, says) in [
            ("ogg:3", "format 'ogg'"),
            ("wav:20", "wav bits must be 16, 24, 32"),
            ("flac:32", "flac bits must be 16, 24"),
            ("mp3:100", "bitrates"),
            ("mp3:320@96000", "MP3 is encoded at"),
            ("aac:256@96000", "AAC is encoded at"),
            ("aac:64", "aac bitrates are 128"),
            ("opus:320", "opus bitrates are 96"),
            ("opus:160@44100", "OPUS is encoded at 48000"),
            ("wav:24@0", "outside"),
            ("wav:24@x", "bad sample rate"),
        ] {
            let e = DeliverSpec::parse(spec).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }
}

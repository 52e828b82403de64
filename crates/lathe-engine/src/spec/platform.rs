//! Platform bundles (`--for spotify,apple,…`, `[master] for = [...]`): what each platform
//! asks of a master (loudness, ceiling, files), and how a bundle is grouped into renders.
//!
//! Platforms that ask for the same loudness and ceiling share one master (the same preset's
//! stages and landing); the bundle renders each distinct master once and writes every file
//! its platforms ask for (a file two platforms both take is written once). The figures and
//! where they come from are in docs/PLATFORMS.md.

use crate::spec::deliver::DeliverSpec;
use crate::spec::preset::{Preset, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Spotify,
    Apple,
    Youtube,
    Tidal,
    Soundcloud,
    Cd,
    Vinyl,
    Broadcast,
}

impl Platform {
    pub const ALL: [Platform; 8] = [
        Platform::Spotify,
        Platform::Apple,
        Platform::Youtube,
        Platform::Tidal,
        Platform::Soundcloud,
        Platform::Cd,
        Platform::Vinyl,
        Platform::Broadcast,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Spotify => "spotify",
            Platform::Apple => "apple",
            Platform::Youtube => "youtube",
            Platform::Tidal => "tidal",
            Platform::Soundcloud => "soundcloud",
            Platform::Cd => "cd",
            Platform::Vinyl => "vinyl",
            Platform::Broadcast => "broadcast",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        let n = name.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|p| p.name() == n)
            .ok_or_else(|| format!("unknown platform '{name}' (one of {})", names()))
    }

    /// The preset whose stages (chain, clipper, limiter release) and target this platform's
    /// master uses. The four streaming services that normalise to −14 LUFS share one master.
    pub fn preset(self) -> Preset {
        match self {
            Platform::Spotify | Platform::Youtube | Platform::Tidal | Platform::Soundcloud => {
                Preset::Streaming
            }
            Platform::Apple => Preset::Apple,
            Platform::Cd => Preset::Cd,
            Platform::Vinyl => Preset::Vinyl,
            Platform::Broadcast => Preset::Broadcast,
        }
    }

    pub fn target(self) -> Target {
        self.preset()
            .target()
            .expect("every platform's preset has a target")
    }

    /// The files this platform takes, for a session at `rate_hz`.
    pub fn deliverables(self, rate_hz: u32) -> Vec<String> {
        // Lossy files at the session's rate when their codec takes it, else at 44.1 kHz
        // (from the 44.1 kHz family) or 48 kHz.
        let lossy_rate = |format: lathe_io::Format| {
            if format.carries_rate(rate_hz) {
                rate_hz
            } else if rate_hz.is_multiple_of(11_025) {
                44_100
            } else {
                48_000
            }
        };
        let aac_rate = lossy_rate(lathe_io::Format::Aac);
        match self {
            // Distributors take 24-bit WAV at the session's rate.
            Platform::Spotify => vec!["wav:24".into()],
            // Apple Digital Masters: 24-bit at the session's rate; the AAC is what Apple
            // Music plays, rendered codec-safe so that Apple's own encode does not clip.
            Platform::Apple => vec!["wav:24".into(), format!("aac:256@{aac_rate}")],
            // YouTube's music-video audio: 24-bit PCM at 48 kHz.
            Platform::Youtube => vec!["wav:24@48000".into()],
            // TIDAL streams FLAC up to 24-bit hi-res.
            Platform::Tidal => vec!["flac:24".into()],
            // SoundCloud transcodes the upload; the lossless file and a 320 kbps MP3 for the
            // track's download.
            Platform::Soundcloud => vec![
                "wav:24".into(),
                format!("mp3:320@{}", lossy_rate(lathe_io::Format::Mp3)),
            ],
            // EBU R 128 programmes are exchanged as 24-bit PCM at 48 kHz.
            Platform::Broadcast => vec!["wav:24@48000".into()],
            Platform::Cd | Platform::Vinyl => self
                .preset()
                .default_deliverables(rate_hz)
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }

    /// Where the figures come from, in a line (the report's row carries it).
    pub fn source(self) -> &'static str {
        match self {
            Platform::Spotify => "Spotify for Artists, Loudness normalization: plays at −14 LUFS (ITU-R BS.1770), masters below −1 dBTP",
            Platform::Apple => "Apple Digital Masters: 24-bit masters that do not clip once AAC-encoded; Sound Check plays near −16 LUFS (AES TD1008)",
            Platform::Youtube => "YouTube Help, encoding specifications for music videos: 24-bit PCM at 48 kHz; plays near −14 LUFS (measured by third parties)",
            Platform::Tidal => "TIDAL normalises to −14 LUFS (ITU-R BS.1770-4); streams FLAC up to 24-bit",
            Platform::Soundcloud => "SoundCloud publishes no loudness figure and transcodes every upload: the streaming −14 LUFS / −1 dBTP",
            Platform::Cd => "Red Book CD: 16-bit, 44.1 kHz; no loudness standard: the cd preset (−10 LUFS, −0.3 dBTP)",
            Platform::Vinyl => "premaster for the cutting room: −14 LUFS, −0.5 dBTP, bass mono below ~150 Hz (the vinyl preset)",
            Platform::Broadcast => "EBU R 128: −23 LUFS, at most −1 dBTP; 24-bit, 48 kHz",
        }
    }
}

/// "spotify, apple, …" for messages.
pub fn names() -> String {
    let n: Vec<&str> = Platform::ALL.iter().map(|p| p.name()).collect();
    n.join(", ")
}

/// Parses a bundle: known names, none twice, at least one.
pub fn parse_all(names: &[String]) -> Result<Vec<Platform>, String> {
    let mut out: Vec<Platform> = Vec::new();
    for n in names {
        let p = Platform::parse(n)?;
        if out.contains(&p) {
            return Err(format!("platform '{}' is named twice", p.name()));
        }
        out.push(p);
    }
    Ok(out)
}

/// One master of a bundle: the platforms it serves and the files it writes.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformMaster {
    /// Names its files (`<title>_<label>_<rate>_<bits>`): the preset's name.
    pub label: &'static str,
    pub preset: Preset,
    pub target: Target,
    pub platforms: Vec<Platform>,
    /// Every file its platforms take, each once, in the order first asked for.
    pub deliver: Vec<DeliverSpec>,
    /// Per platform (in `platforms` order): indices into `deliver`.
    pub files_of: Vec<Vec<usize>>,
}

/// Groups a bundle into its masters, in the order their first platform was named.
pub fn masters(platforms: &[Platform], rate_hz: u32) -> Vec<PlatformMaster> {
    let mut out: Vec<PlatformMaster> = Vec::new();
    for &p in platforms {
        let preset = p.preset();
        let at = match out.iter().position(|m| m.preset == preset) {
            Some(i) => i,
            None => {
                out.push(PlatformMaster {
                    label: preset.name(),
                    preset,
                    target: p.target(),
                    platforms: Vec::new(),
                    deliver: Vec::new(),
                    files_of: Vec::new(),
                });
                out.len() - 1
            }
        };
        let m = &mut out[at];
        let mut files = Vec::new();
        for text in p.deliverables(rate_hz) {
            let spec = DeliverSpec::parse(&text).expect("platform deliverables are valid");
            let rate = |d: &DeliverSpec| d.sample_rate_hz.unwrap_or(rate_hz);
            let same = |d: &DeliverSpec| {
                d.format == spec.format
                    && d.bits == spec.bits
                    && d.bitrate_kbps == spec.bitrate_kbps
                    && rate(d) == rate(&spec)
            };
            let i = match m.deliver.iter().position(same) {
                Some(i) => i,
                None => {
                    m.deliver.push(spec);
                    m.deliver.len() - 1
                }
            };
            files.push(i);
        }
        m.platforms.push(p);
        m.files_of.push(files);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names_are_the_ones_parse_takes() {
        assert_eq!(Preset::ALL.map(Preset::name), Preset::NAMES);
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.name()), Ok(p));
        }
    }

    #[test]
    fn names_parse_and_errors_list_them() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.name()), Ok(p));
        }
        assert_eq!(Platform::parse(" Spotify "), Ok(Platform::Spotify));
        let e = Platform::parse("myspace").unwrap_err();
        assert!(e.contains("myspace") && e.contains("broadcast"), "{e}");
        let e = parse_all(&["cd".into(), "cd".into()]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn streaming_services_share_one_master_and_shared_files_are_written_once() {
        let all: Vec<Platform> = Platform::ALL.to_vec();
        let m = masters(&all, 44_100);
        let labels: Vec<&str> = m.iter().map(|m| m.label).collect();
        assert_eq!(labels, ["streaming", "apple", "cd", "vinyl", "broadcast"]);
        let s = &m[0];
        assert_eq!(
            s.platforms,
            [
                Platform::Spotify,
                Platform::Youtube,
                Platform::Tidal,
                Platform::Soundcloud
            ]
        );
        // wav:24 (spotify, soundcloud), wav:24@48000, flac:24, mp3:320@44100.
        assert_eq!(s.deliver.len(), 4);
        assert_eq!(s.files_of[0], s.files_of[3][..1]);
        assert_eq!(s.target.integrated_lufs, -14.0);
        assert_eq!(m[1].target.integrated_lufs, -16.0);
        assert_eq!(m[4].target.integrated_lufs, -23.0);
        // A 44.1 kHz session delivering at 48 kHz is not the same file as at 44.1 kHz.
        let d = &m[0].deliver;
        assert!(d.iter().any(|d| d.sample_rate_hz == Some(48_000)));
    }

    #[test]
    fn lossy_files_are_at_a_rate_their_codec_takes() {
        for rate in [44_100, 48_000, 88_200, 96_000, 192_000] {
            for p in Platform::ALL {
                for text in p.deliverables(rate) {
                    let d = DeliverSpec::parse(&text).unwrap();
                    let at = d.sample_rate_hz.unwrap_or(rate);
                    assert!(d.format.carries_rate(at), "{p:?} at {rate}: {text}");
                }
            }
        }
    }
}

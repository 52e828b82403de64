//! The Red Book CD layout of an album: 44.1 kHz 16-bit stereo, track starts on 588-sample
//! frames (1/75 s), pregaps, the CUE sheet, and the rules a replication plant enforces.
//!
//! Layout of the image (one continuous 16-bit stream, dithered once): for each track, its
//! pregap of digital silence (INDEX 00 → INDEX 01), then its audio padded with silence to the
//! next frame boundary. A track's own CD file is the image from its INDEX 01 to the next
//! track's INDEX 01 (the next pregap at its end), which is how CD rippers and `shnsplit` cut a
//! disc; track 1's pregap stays in the image only.

use std::path::Path;

/// The CD's sample rate, Hz.
pub const CD_RATE_HZ: u32 = 44_100;
/// Samples (per channel) in one CD frame (1/75 s).
pub const FRAME_SAMPLES: u64 = 588;
/// CD frames per second.
pub const FRAMES_PER_S: u64 = 75;
/// The shortest track, frames (4 s).
pub const MIN_TRACK_FRAMES: u64 = 4 * FRAMES_PER_S;
/// The most tracks.
pub const MAX_TRACKS: usize = 99;
/// The longest programme, frames (79:57.74).
pub const MAX_TOTAL_FRAMES: u64 = (79 * 60 + 57) * FRAMES_PER_S + 74;

/// One track on the disc.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CdTrack {
    pub number: usize,
    pub title: String,
    pub performer: Option<String>,
    pub isrc: Option<String>,
    /// INDEX 00 (start of the pregap), frames from the image start.
    pub index00_frames: u64,
    /// INDEX 01 (start of the track), frames from the image start.
    pub index01_frames: u64,
    /// Frames of audio (padded to a whole frame), not counting the next track's pregap.
    pub audio_frames: u64,
    /// Samples of real audio before the padding.
    pub audio_samples: u64,
}

/// The disc: its tracks and total length.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CdLayout {
    pub tracks: Vec<CdTrack>,
    pub total_frames: u64,
}

/// What is known of a track before its master exists.
#[derive(Clone, Debug)]
pub struct TrackPlan {
    pub title: String,
    pub performer: Option<String>,
    pub isrc: Option<String>,
    pub pregap_s: f64,
    /// Samples at 44.1 kHz.
    pub samples: u64,
}

/// `MM:SS:FF` (minutes, seconds, frames of 1/75 s).
pub fn msf(frames: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        frames / (60 * FRAMES_PER_S),
        (frames / FRAMES_PER_S) % 60,
        frames % FRAMES_PER_S
    )
}

/// Lays the tracks out and checks the Red Book rules; errors name the rule and the track.
pub fn layout(tracks: &[TrackPlan]) -> Result<CdLayout, String> {
    if tracks.is_empty() {
        return Err("an album needs at least one [[track]]".into());
    }
    if tracks.len() > MAX_TRACKS {
        return Err(format!(
            "Red Book allows at most {MAX_TRACKS} tracks; this album has {}",
            tracks.len()
        ));
    }
    let mut pos = 0u64;
    let mut out = Vec::new();
    for (i, t) in tracks.iter().enumerate() {
        let pregap = (t.pregap_s * FRAMES_PER_S as f64).round() as u64;
        let index00 = pos;
        pos += pregap;
        let audio_frames = t.samples.div_ceil(FRAME_SAMPLES);
        if audio_frames < MIN_TRACK_FRAMES {
            return Err(format!(
                "track {} ('{}') is {:.2} s long; Red Book needs at least 4 s per track",
                i + 1,
                t.title,
                t.samples as f64 / CD_RATE_HZ as f64
            ));
        }
        out.push(CdTrack {
            number: i + 1,
            title: t.title.clone(),
            performer: t.performer.clone(),
            isrc: t.isrc.clone(),
            index00_frames: index00,
            index01_frames: pos,
            audio_frames,
            audio_samples: t.samples,
        });
        pos += audio_frames;
    }
    if pos > MAX_TOTAL_FRAMES {
        return Err(format!(
            "the album runs {} (with pregaps); Red Book allows at most {} (79:57.74); it is over from track {}",
            msf(pos),
            msf(MAX_TOTAL_FRAMES),
            out.iter()
                .find(|t| t.index01_frames + t.audio_frames > MAX_TOTAL_FRAMES)
                .map_or(out.len(), |t| t.number)
        ));
    }
    Ok(CdLayout {
        tracks: out,
        total_frames: pos,
    })
}

/// Valid UPC-A (12 digits) or EAN-13 (13 digits) with a correct check digit.
pub fn check_upc(upc: &str) -> Result<(), String> {
    let digits: Vec<u32> = upc.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != upc.len() || !(digits.len() == 12 || digits.len() == 13) {
        return Err(format!(
            "upc '{upc}' must be 12 (UPC-A) or 13 (EAN-13) digits"
        ));
    }
    // Weights 3,1,3,1 … from the digit before the check digit, leftwards.
    let (body, check) = digits.split_at(digits.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { 3 * d } else { *d })
        .sum();
    if (10 - sum % 10) % 10 != check[0] {
        return Err(format!("upc '{upc}' has a wrong check digit"));
    }
    Ok(())
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'"))
}

/// The CUE sheet of the image file `image_name` (in the same folder).
pub fn cue_sheet(
    layout: &CdLayout,
    image_name: &str,
    title: &str,
    performer: Option<&str>,
    upc: Option<&str>,
) -> String {
    let mut s = String::new();
    if let Some(upc) = upc {
        // CATALOG takes 13 digits: a UPC-A gets a leading 0 (its EAN-13 form).
        s += &format!("CATALOG {upc:0>13}\n");
    }
    if let Some(p) = performer {
        s += &format!("PERFORMER {}\n", quoted(p));
    }
    s += &format!("TITLE {}\n", quoted(title));
    s += &format!("FILE {} WAVE\n", quoted(image_name));
    for t in &layout.tracks {
        s += &format!("  TRACK {:02} AUDIO\n", t.number);
        s += &format!("    TITLE {}\n", quoted(&t.title));
        if let Some(p) = t.performer.as_deref().or(performer) {
            s += &format!("    PERFORMER {}\n", quoted(p));
        }
        if let Some(isrc) = &t.isrc {
            s += &format!("    ISRC {isrc}\n");
        }
        if t.index00_frames < t.index01_frames {
            s += &format!("    INDEX 00 {}\n", msf(t.index00_frames));
        }
        s += &format!("    INDEX 01 {}\n", msf(t.index01_frames));
    }
    s
}

/// Writes the 16-bit image, streaming: each track's pregap as digital silence, its audio
/// (`audio(k, sink)` hands track k's interleaved 44.1 kHz float samples to `sink`) quantised
/// with `dither` in one continuous stream, and the padding to the frame boundary as silence.
/// Written under a `.part` name and renamed when complete.
pub fn write_image(
    path: &Path,
    layout: &CdLayout,
    dither: lathe_dsp::dither::DitherKind,
    seed: u64,
    mut audio: impl FnMut(usize, &mut dyn FnMut(&[f32]) -> std::io::Result<()>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use lathe_dsp::dither::Quantizer;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: CD_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let part = path.with_extension("wav.part");
    let mut w = hound::WavWriter::create(&part, spec).map_err(std::io::Error::other)?;
    let mut q = [
        Quantizer::new(16, dither, seed),
        Quantizer::new(16, dither, seed ^ 0x5555),
    ];
    let silence = |w: &mut hound::WavWriter<_>, samples: u64| -> std::io::Result<()> {
        for _ in 0..samples * 2 {
            w.write_sample(0i16).map_err(std::io::Error::other)?;
        }
        Ok(())
    };
    for (k, t) in layout.tracks.iter().enumerate() {
        silence(
            &mut w,
            (t.index01_frames - t.index00_frames) * FRAME_SAMPLES,
        )?;
        let mut written = 0u64;
        audio(k, &mut |frames: &[f32]| {
            for pair in frames.chunks_exact(2) {
                if written >= t.audio_samples {
                    break;
                }
                for (ch, &v) in pair.iter().enumerate() {
                    let y = q[ch].tick(v as f64);
                    let i = (y * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                    w.write_sample(i).map_err(std::io::Error::other)?;
                }
                written += 1;
            }
            Ok(())
        })?;
        // A master shorter than planned (it cannot be: same source) would shift every later
        // track: pad to the planned length, then to the frame.
        silence(&mut w, t.audio_frames * FRAME_SAMPLES - written)?;
    }
    w.finalize().map_err(std::io::Error::other)?;
    std::fs::rename(&part, path)
}

/// Cuts each track's CD file from the image: INDEX 01 to the next INDEX 01 (the last: to the
/// end). `paths[k]` is track k's file.
pub fn cut_tracks(
    image: &Path,
    layout: &CdLayout,
    paths: &[std::path::PathBuf],
) -> std::io::Result<()> {
    let mut r = hound::WavReader::open(image).map_err(std::io::Error::other)?;
    let spec = r.spec();
    let mut samples = r.samples::<i16>();
    let mut at = 0u64; // frames of 588 read
    for (k, (t, path)) in layout.tracks.iter().zip(paths).enumerate() {
        // Skip to this track's INDEX 01 (only track 1's pregap is skipped: later pregaps
        // belong to the track before).
        while at < t.index01_frames {
            for _ in 0..FRAME_SAMPLES * 2 {
                samples.next();
            }
            at += 1;
        }
        let end = layout
            .tracks
            .get(k + 1)
            .map_or(layout.total_frames, |n| n.index01_frames);
        let part = path.with_extension("wav.part");
        let mut w = hound::WavWriter::create(&part, spec).map_err(std::io::Error::other)?;
        for _ in 0..(end - at) * FRAME_SAMPLES * 2 {
            let s = samples
                .next()
                .ok_or_else(|| std::io::Error::other("the image ends early"))?
                .map_err(std::io::Error::other)?;
            w.write_sample(s).map_err(std::io::Error::other)?;
        }
        at = end;
        w.finalize().map_err(std::io::Error::other)?;
        std::fs::rename(&part, path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(title: &str, seconds: f64, pregap_s: f64) -> TrackPlan {
        TrackPlan {
            title: title.into(),
            performer: None,
            isrc: None,
            pregap_s,
            samples: (seconds * CD_RATE_HZ as f64) as u64,
        }
    }

    #[test]
    fn tracks_start_on_frames_and_rules_name_the_track() {
        let l = layout(&[
            plan("a", 10.0, 2.0),
            plan("b", 5.001, 0.0),
            plan("c", 4.0, 1.5),
        ])
        .unwrap();
        assert_eq!(l.tracks[0].index00_frames, 0);
        assert_eq!(l.tracks[0].index01_frames, 150);
        assert_eq!(l.tracks[1].index01_frames, 150 + 750);
        // 5.001 s = 220 544.1 samples → 220 544 samples → 375.07 frames → 376 frames.
        assert_eq!(l.tracks[1].audio_frames, 376);
        assert_eq!(l.tracks[2].index00_frames, 150 + 750 + 376);
        // 1.5 s = 112.5 frames, rounded to 113: 1276 + 113 = 1389 frames = 18 s 39 frames.
        assert_eq!(msf(l.tracks[2].index01_frames), "00:18:39");
        let e = layout(&[plan("a", 10.0, 2.0), plan("short", 3.9, 0.0)]).unwrap_err();
        assert!(e.contains("track 2 ('short')") && e.contains("4 s"), "{e}");
        let long: Vec<TrackPlan> = (0..9).map(|i| plan(&format!("t{i}"), 540.0, 0.0)).collect();
        let e = layout(&long).unwrap_err();
        assert!(e.contains("79:57.74") && e.contains("track 9"), "{e}");
        let many: Vec<TrackPlan> = (0..100).map(|i| plan(&format!("t{i}"), 4.0, 0.0)).collect();
        assert!(layout(&many).unwrap_err().contains("at most 99"));
    }

    #[test]
    fn upc_and_ean_check_digits() {
        check_upc("036000291452").unwrap(); // UPC-A
        check_upc("4006381333931").unwrap(); // EAN-13
        assert!(check_upc("4006381333932")
            .unwrap_err()
            .contains("check digit"));
        assert!(check_upc("12345").is_err());
        assert!(check_upc("40063813339x1").is_err());
    }
}

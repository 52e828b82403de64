//! The Red Book CD layout of an album: 44.1 kHz 16-bit stereo, track starts on 588-sample
//! frames (1/75 s), pregaps, the CUE sheet, and the rules a replication plant enforces.
//!
//! Layout of the image (one continuous 16-bit stream, dithered once): for each track, its
//! pregap of digital silence (INDEX 00 → INDEX 01), then its audio padded with silence to the
//! next frame boundary. A crossfade into the next track overlaps the last whole frames of this
//! track's (padded) audio with the next track's first ones, equal-power (cos/sin) fades, and
//! the next track's INDEX 01 is where the overlap starts. A track's own CD file is the image from its INDEX 01 to the next
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
    /// Frames of this track's end that overlap the next track's start (crossfade).
    pub crossfade_frames: u64,
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
    /// Crossfade into the next track, s.
    pub crossfade_s: f64,
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
        let audio_frames = t.samples.div_ceil(FRAME_SAMPLES);
        let fade_in = i.checked_sub(1).map_or(0, |p| {
            (tracks[p].crossfade_s * FRAMES_PER_S as f64).round() as u64
        });
        let fade_out = if i + 1 < tracks.len() {
            (t.crossfade_s * FRAMES_PER_S as f64).round() as u64
        } else {
            0
        };
        if fade_in > 0 && pregap > 0 {
            return Err(format!(
                "track {} ('{}') has a pregap and a crossfade into it: one or the other",
                i + 1,
                t.title
            ));
        }
        if t.crossfade_s > 0.0 && i + 1 == tracks.len() {
            return Err(format!(
                "track {} ('{}') is the last: there is no next track to crossfade into",
                i + 1,
                t.title
            ));
        }
        if fade_in + fade_out > audio_frames {
            return Err(format!(
                "track {} ('{}') is shorter than its crossfades",
                i + 1,
                t.title
            ));
        }
        // The track's own part of the disc: its INDEX 01 to the next one.
        if audio_frames - fade_out < MIN_TRACK_FRAMES {
            return Err(format!(
                "track {} ('{}') is {:.2} s long (without a crossfade out); Red Book needs at least 4 s per track",
                i + 1,
                t.title,
                (audio_frames - fade_out) as f64 / FRAMES_PER_S as f64
            ));
        }
        // A crossfade moves this track back over the previous one's end.
        pos -= fade_in;
        let index00 = pos;
        pos += pregap;
        out.push(CdTrack {
            number: i + 1,
            title: t.title.clone(),
            performer: t.performer.clone(),
            isrc: t.isrc.clone(),
            index00_frames: index00,
            index01_frames: pos,
            audio_frames,
            audio_samples: t.samples,
            crossfade_frames: fade_out,
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
    // The end of the previous track that overlaps this one's start (interleaved, float).
    let mut held: Vec<f32> = Vec::new();
    for (k, t) in layout.tracks.iter().enumerate() {
        silence(
            &mut w,
            (t.index01_frames - t.index00_frames) * FRAME_SAMPLES,
        )?;
        let total = t.audio_frames * FRAME_SAMPLES;
        let hold_from = total - t.crossfade_frames * FRAME_SAMPLES;
        let fade_len = held.len() as u64 / 2;
        let mut next_held: Vec<f32> = Vec::with_capacity((total - hold_from) as usize * 2);
        let mut at = 0u64;
        // One frame (stereo pair) of this track at position `at`: mixed with the held end of
        // the previous track during a crossfade, held back for the next one, or written.
        let mut put = |pair: [f32; 2], at: u64| -> std::io::Result<()> {
            if at >= hold_from {
                next_held.extend_from_slice(&pair);
                return Ok(());
            }
            let mut v = [pair[0] as f64, pair[1] as f64];
            if at < fade_len {
                // Equal power: the outgoing track by cos, the incoming by sin, over the overlap.
                let phase = (at as f64 + 0.5) / fade_len as f64 * std::f64::consts::FRAC_PI_2;
                for (ch, x) in v.iter_mut().enumerate() {
                    *x = *x * phase.sin() + held[at as usize * 2 + ch] as f64 * phase.cos();
                }
            }
            for (ch, x) in v.into_iter().enumerate() {
                let y = q[ch].tick(x);
                let i = (y * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                w.write_sample(i).map_err(std::io::Error::other)?;
            }
            Ok(())
        };
        audio(k, &mut |frames: &[f32]| {
            for pair in frames.chunks_exact(2) {
                if at >= t.audio_samples {
                    break;
                }
                put([pair[0], pair[1]], at)?;
                at += 1;
            }
            Ok(())
        })?;
        // A master shorter than planned (it cannot be: same source) would shift every later
        // track: pad to the planned length, then to the frame (silence, faded like audio where
        // it overlaps).
        while at < total {
            put([0.0, 0.0], at)?;
            at += 1;
        }
        held = next_held;
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
            crossfade_s: 0.0,
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

    /// A crossfade moves the next track's INDEX 01 back by the overlap, and the image holds the
    /// equal-power mix there: two constant tracks (0.5 and −0.25), no dither, read back and
    /// compared with 0.5·cos φ − 0.25·sin φ at each sample of the overlap.
    #[test]
    fn a_crossfade_overlaps_whole_frames_with_equal_power_fades() {
        let mut a = plan("a", 5.0, 2.0);
        a.crossfade_s = 1.0;
        let b = plan("b", 6.0, 0.0);
        let l = layout(&[a, b]).unwrap();
        assert_eq!(l.tracks[0].crossfade_frames, 75);
        assert_eq!(l.tracks[1].index01_frames, 150 + 375 - 75);
        assert_eq!(l.total_frames, 150 + 375 - 75 + 450);
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("cd.wav");
        let level = [0.5f32, -0.25];
        write_image(
            &image,
            &l,
            lathe_dsp::dither::DitherKind::None,
            1,
            |k, sink| {
                let n = l.tracks[k].audio_samples as usize;
                sink(&vec![level[k]; n * 2])
            },
        )
        .unwrap();
        let s: Vec<i16> = hound::WavReader::open(&image)
            .unwrap()
            .into_samples::<i16>()
            .map(|v| v.unwrap())
            .collect();
        assert_eq!(s.len() as u64, l.total_frames * FRAME_SAMPLES * 2);
        let start = (l.tracks[1].index01_frames * FRAME_SAMPLES) as usize;
        let n = 75 * FRAME_SAMPLES as usize;
        for i in 0..n {
            let phase = (i as f64 + 0.5) / n as f64 * std::f64::consts::FRAC_PI_2;
            let want = 0.5 * phase.cos() - 0.25 * phase.sin();
            let got = s[(start + i) * 2] as f64 / 32768.0;
            assert!(
                (got - want).abs() <= 0.5 / 32768.0 + 1e-9,
                "{i}: {got} vs {want}"
            );
        }
        // Before the overlap: track a alone; after it: track b alone.
        assert_eq!(s[(start - 1) * 2], 16384);
        assert_eq!(s[(start + n) * 2], -8192);
        let e = layout(&[
            TrackPlan {
                crossfade_s: 1.0,
                ..plan("a", 5.0, 0.0)
            },
            plan("b", 6.0, 1.0),
        ])
        .unwrap_err();
        assert!(e.contains("pregap and a crossfade"), "{e}");
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

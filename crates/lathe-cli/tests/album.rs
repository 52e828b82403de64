//! Albums and the CD (`lathe album`, `lathe ddp verify`): album mode keeps the mixes' loudness
//! offsets and track mode reaches the target (libebur128); the CD image split by `shnsplit`
//! (Debian's shntool) with lathe's CUE sheet gives back each track's CD file bit for bit; the
//! DDP image reads back with the same track list, timings and ISRCs, its audio equals the CD
//! files, `md5sum -c` accepts its checksums and a corrupted byte is caught; albums that break a
//! Red Book rule are refused naming the rule and the track.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIXES: [(&str, &str, &str); 3] = [
    ("m01_hyperrogue_graveyard_44k1", "Graveyard", "USXXX2600001"),
    (
        "m04_nexuiz_brokenlight_excerpt_44k1",
        "Broken Light",
        "USXXX2600002",
    ),
    (
        "m03_singularity_apex_aleph_48k",
        "Apex Aleph",
        "USXXX2600003",
    ),
];

fn album_toml(corpus: &Path, mode: &str) -> String {
    let mut s = format!(
        "title = \"Corpus Album\"\nartist = \"Various\"\nupc = \"4006381333931\"\nmode = \"{mode}\"\n\
         target = {{ integrated_lufs = -14.0, true_peak_dbtp = -1.0 }}\n"
    );
    for (i, (file, title, isrc)) in MIXES.iter().enumerate() {
        let path = corpus.join("mixes").join(format!("{file}.wav"));
        s += &format!(
            "[[track]]\nfile = {:?}\ntitle = \"{title}\"\nisrc = \"{isrc}\"\n",
            path.display().to_string()
        );
        if i == 1 {
            // A pregap before track 2, and a crossfade from it into track 3.
            s += "pregap_s = 1.5\ncrossfade_s = 3.0\n";
        }
    }
    s
}

fn run_album(dir: &Path, toml: &str) -> (PathBuf, serde_json::Value) {
    let path = dir.join("album.toml");
    std::fs::write(&path, toml).unwrap();
    run_json("album", &path, dir)
}

fn read_i16(path: &Path) -> Vec<i16> {
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap())
        .collect()
}

/// The main deliverable of every track, in album order.
fn delivered(report: &serde_json::Value) -> Vec<PathBuf> {
    report["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["deliverables"][0]["path"].as_str().unwrap().into())
        .collect()
}

#[test]
fn album_mode_keeps_the_offsets_and_the_cd_splits_back_exactly() {
    let test = "album_mode_keeps_the_offsets_and_the_cd_splits_back_exactly";
    let (Some(corpus), Some(py)) = (corpus(test), reference_python(test)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = run_album(dir.path(), &album_toml(&corpus, "album"));
    // Offsets: delivered loudness differences equal the mixes' differences, both measured by
    // libebur128 (not by lathe).
    let inputs: Vec<PathBuf> = MIXES
        .iter()
        .map(|(f, _, _)| corpus.join("mixes").join(format!("{f}.wav")))
        .collect();
    let lufs = |files: &[PathBuf]| -> Vec<(f64, f64)> {
        reference_measure(&py, files)
            .iter()
            .map(|r| {
                (
                    r["integrated_lufs"].as_f64().unwrap(),
                    r["true_peak_dbtp"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (mixes, masters) = (lufs(&inputs), lufs(&delivered(&report)));
    let loudest = mixes.iter().map(|m| m.0).fold(f64::MIN, f64::max);
    let loudest_master = masters.iter().map(|m| m.0).fold(f64::MIN, f64::max);
    assert!((loudest_master + 14.0).abs() <= 0.1, "{loudest_master}");
    for ((mix, master), (_, title, _)) in mixes.iter().zip(&masters).zip(MIXES) {
        let (want, got) = (mix.0 - loudest, master.0 - loudest_master);
        eprintln!(
            "{title}: mix offset {want:+.3} LU, master offset {got:+.3} LU, TP {:.2} dBTP",
            master.1
        );
        assert!((want - got).abs() <= 0.1, "{title}: {want} against {got}");
        assert!(master.1 <= -1.0, "{title}: {} dBTP", master.1);
    }
    // The CD image cut by shnsplit with lathe's CUE sheet = lathe's per-track CD files.
    let cue = PathBuf::from(report["cd"]["cue"].as_str().unwrap());
    let image = PathBuf::from(report["cd"]["image"].as_str().unwrap());
    let cd_files: Vec<PathBuf> = report["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cd_file"].as_str().unwrap().into())
        .collect();
    if Command::new("shnsplit").arg("-v").output().is_ok() {
        let split = dir.path().join("split");
        std::fs::create_dir_all(&split).unwrap();
        let res = Command::new("shnsplit")
            .args(["-q", "-O", "always", "-o", "wav", "-f"])
            .arg(&cue)
            .arg("-d")
            .arg(&split)
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        for (k, mine) in cd_files.iter().enumerate() {
            let theirs = split.join(format!("split-track{:02}.wav", k + 1));
            assert!(
                read_i16(mine) == read_i16(&theirs),
                "track {}: shnsplit cut differs",
                k + 1
            );
        }
        eprintln!("shnsplit: {} tracks bit-identical", cd_files.len());
    } else {
        eprintln!("SKIPPED the shnsplit comparison: shnsplit not found (apt-get install shntool)");
    }
    // The DDP image reads back: track list, timings (to the frame) and ISRCs as laid out.
    let ddp = PathBuf::from(report["cd"]["ddp"].as_str().unwrap());
    let ext = dir.path().join("extracted");
    let res = lathe()
        .args(["ddp", "verify", "--json", "--extract"])
        .arg(&ext)
        .arg(&ddp)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let back: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let layout = report["cd"]["layout"]["tracks"].as_array().unwrap();
    let tracks = back["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 3);
    assert_eq!(back["upc"], "4006381333931");
    assert_eq!(back["title"], "Corpus Album");
    for ((t, l), (_, title, isrc)) in tracks.iter().zip(layout).zip(MIXES) {
        assert_eq!(t["start_frames"], l["index01_frames"]);
        assert_eq!(
            t["pregap_frames"].as_u64().unwrap(),
            l["index01_frames"].as_u64().unwrap() - l["index00_frames"].as_u64().unwrap()
        );
        assert_eq!(t["isrc"], isrc);
        assert_eq!(t["title"], title);
    }
    // Pregaps as asked: 2 s before track 1 (150 frames), 1.5 s before track 2 (113 frames);
    // track 3 starts 3 s (225 frames) before track 2's padded audio ends (the crossfade).
    assert_eq!(tracks[0]["pregap_frames"], 150);
    assert_eq!(tracks[1]["pregap_frames"], 113);
    assert_eq!(tracks[2]["pregap_frames"], 0);
    assert_eq!(layout[1]["crossfade_frames"], 225);
    assert_eq!(
        layout[2]["index01_frames"].as_u64().unwrap(),
        layout[1]["index01_frames"].as_u64().unwrap() + layout[1]["audio_frames"].as_u64().unwrap()
            - 225
    );
    for (k, mine) in cd_files.iter().enumerate() {
        let theirs = ext.join(format!("track{:02}.wav", k + 1));
        assert!(
            read_i16(mine) == read_i16(&theirs),
            "track {}: DDP audio differs",
            k + 1
        );
    }
    // md5sum (coreutils) accepts the checksums; one corrupted byte is caught.
    let md5 = Command::new("md5sum")
        .args(["-c", "--quiet", "CHECKSUM.MD5"])
        .current_dir(&ddp)
        .status()
        .unwrap();
    assert!(md5.success());
    let image_dat = ddp.join("IMAGE.DAT");
    let mut bytes = std::fs::read(&image_dat).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&image_dat, bytes).unwrap();
    let res = lathe().args(["ddp", "verify"]).arg(&ddp).output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("IMAGE.DAT: checksum MISMATCH"), "{stderr}");
    let _ = out;
}

#[test]
fn track_mode_brings_every_track_to_the_target() {
    let test = "track_mode_brings_every_track_to_the_target";
    let (Some(corpus), Some(py)) = (corpus(test), reference_python(test)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run_album(dir.path(), &album_toml(&corpus, "track"));
    assert_reference_meets(&py, &delivered(&report), -14.0, -1.0);
}

fn write_tone(path: &Path, rate: u32, seconds: f64) {
    write_stereo_f32(
        path,
        rate,
        (0..(seconds * rate as f64) as usize).map(|n| {
            let v =
                (0.3 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / rate as f64).sin()) as f32;
            [v, v]
        }),
    );
}

/// Every Red Book rule is refused before any work, naming the rule and the track.
#[test]
fn albums_that_break_red_book_rules_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.wav");
    let short = dir.path().join("short.wav");
    write_tone(&ok, 44_100, 5.0);
    write_tone(&short, 44_100, 3.5);
    // 41 minutes at 8 kHz (small on disk): two of them run over 79:57.74.
    let long = dir.path().join("long.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&long, spec).unwrap();
    for n in 0..8000 * 60 * 41 {
        w.write_sample(((n % 80) as i16 - 40) * 200).unwrap();
    }
    w.finalize().unwrap();
    let head = "title = \"A\"\ntarget = { integrated_lufs = -14.0, true_peak_dbtp = -1.0 }\n";
    let track = |f: &Path, title: &str, extra: &str| {
        format!(
            "[[track]]\nfile = {:?}\ntitle = \"{title}\"\n{extra}",
            f.display().to_string()
        )
    };
    let many: String = (0..100).map(|i| track(&ok, &format!("t{i}"), "")).collect();
    let cases = [
        (
            track(&ok, "one", "") + &track(&short, "too short", ""),
            "track 2 ('too short')",
        ),
        (
            track(&ok, "one", "") + &track(&short, "x", ""),
            "at least 4 s",
        ),
        (many, "at most 99 tracks"),
        (
            track(&long, "side a", "") + &track(&long, "side b", ""),
            "79:57.74",
        ),
        (
            track(&ok, "bad isrc", "isrc = \"US-XXX-26\"\n"),
            "track[0] ('bad isrc').isrc",
        ),
        (
            format!("upc = \"4006381333932\"\n{}", track(&ok, "one", "")),
            "check digit",
        ),
        (
            track(&ok, "fade", "crossfade_s = 2.0\n"),
            "track 1 ('fade') is the last",
        ),
        // 41 minutes fit a CD but not one side of a 12-inch at 33 1/3 (22 minutes).
        (
            format!("[vinyl]\n{}", track(&long, "epic", "side = \"A\"\n")),
            "side A runs 41:00",
        ),
    ];
    for (body, want) in cases {
        let text = format!("{head}{body}");
        let path = dir.path().join("album.toml");
        std::fs::write(&path, text).unwrap();
        let out = dir.path().join("out");
        let res = lathe()
            .arg("album")
            .arg(&path)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{want}: {stderr}");
        assert!(stderr.contains(want), "expected '{want}' in: {stderr}");
        assert!(!out.exists(), "{want}: something was written");
    }
}

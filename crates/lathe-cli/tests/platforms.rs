//! Platform bundles (`--for`). On a 44.1 kHz and a 48 kHz corpus mix, the whole bundle
//! (spotify, apple, youtube, tidal, soundcloud, cd, vinyl, broadcast) in one run: every file,
//! decoded by ffmpeg and measured by the reference meter (libebur128, 16x true peak), is within
//! 0.1 LU of its platform's published loudness and under its ceiling; ffprobe reads each
//! file's codec, rate and bit depth as the platform asks; the vinyl file's bass is mono; the
//! report has a row per platform. Bad bundles are refused before anything is written.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What each platform asks for, from its own documents (docs/PLATFORMS.md), written here
/// independently of lathe's tables: loudness, ceiling, and per file (codec, rate: `None` for
/// the session's, bits: 0 for lossy).
type Expected = (
    &'static str,
    f64,
    f64,
    &'static [(&'static str, Option<u32>, u32)],
);
const EXPECTED: [Expected; 8] = [
    ("spotify", -14.0, -1.0, &[("pcm_s24le", None, 24)]),
    (
        "apple",
        -16.0,
        -1.0,
        &[("pcm_s24le", None, 24), ("aac", None, 0)],
    ),
    ("youtube", -14.0, -1.0, &[("pcm_s24le", Some(48_000), 24)]),
    ("tidal", -14.0, -1.0, &[("flac", None, 24)]),
    (
        "soundcloud",
        -14.0,
        -1.0,
        &[("pcm_s24le", None, 24), ("mp3", None, 0)],
    ),
    ("cd", -10.0, -0.3, &[("pcm_s16le", Some(44_100), 16)]),
    ("vinyl", -14.0, -0.5, &[("pcm_s24le", None, 24)]),
    ("broadcast", -23.0, -1.0, &[("pcm_s24le", Some(48_000), 24)]),
];

/// Codec, rate and bits of a file's first audio stream, by ffprobe.
fn probe(file: &Path) -> (String, u32, u32) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["stream=codec_name,sample_rate,bits_per_raw_sample,bits_per_sample"])
        .args(["-of", "json"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    let num = |k: &str| -> u32 {
        match &s[k] {
            serde_json::Value::String(t) => t.parse().unwrap_or(0),
            serde_json::Value::Number(n) => n.as_u64().unwrap_or(0) as u32,
            _ => 0,
        }
    };
    let bits = num("bits_per_raw_sample").max(num("bits_per_sample"));
    (
        s["codec_name"].as_str().unwrap().to_string(),
        num("sample_rate"),
        bits,
    )
}

#[test]
fn a_bundle_delivers_each_platform_its_loudness_ceiling_and_format() {
    let name = "a_bundle_delivers_each_platform_its_loudness_ceiling_and_format";
    let (Some(corpus), Some(py)) = (corpus(name), reference_python(name)) else {
        return;
    };
    if Command::new("ffprobe").arg("-version").output().is_err() {
        eprintln!("SKIPPED {name}: ffprobe not found");
        return;
    }
    let mixes: Vec<PathBuf> = files_in(&corpus.join("mixes"), &["wav"])
        .into_iter()
        .filter(|m| {
            let n = m.file_name().unwrap().to_string_lossy();
            n.starts_with("m03") || n.starts_with("m04")
        })
        .collect();
    assert_eq!(mixes.len(), 2, "one 48 kHz and one 44.1 kHz mix");
    let platforms: Vec<&str> = EXPECTED.iter().map(|e| e.0).collect();
    let tmp = tempfile::tempdir().unwrap();
    let reports: Vec<(PathBuf, serde_json::Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = mixes
            .iter()
            .map(|mix| {
                let out = tmp.path().join(mix.file_stem().unwrap());
                let list = platforms.join(",");
                s.spawn(move || {
                    let res = lathe()
                        .arg("master")
                        .arg(mix)
                        .args(["--for", &list, "--title", "Song", "-o"])
                        .arg(&out)
                        .output()
                        .unwrap();
                    assert_exit_ok(&res);
                    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
                    (mix.clone(), serde_json::from_str(&text).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (mix, report) in &reports {
        let rate = hound::WavReader::open(mix).unwrap().spec().sample_rate;
        let rows = report["platforms"].as_array().unwrap();
        let named: Vec<&str> = rows
            .iter()
            .map(|r| r["platform"].as_str().unwrap())
            .collect();
        assert_eq!(named, platforms, "a row per platform, in the order asked");
        // Platforms with the same loudness share a master: five renders for eight.
        assert_eq!(report["masters"].as_array().unwrap().len(), 5);
        let mut files: Vec<(PathBuf, f64, f64)> = Vec::new();
        for (row, (platform, lufs, ceiling, want)) in rows.iter().zip(EXPECTED) {
            assert_eq!(row["pass"], true, "{platform}");
            let paths: Vec<PathBuf> = row["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| PathBuf::from(p.as_str().unwrap()))
                .collect();
            assert_eq!(paths.len(), want.len(), "{platform}: {paths:?}");
            for (path, (codec, at, bits)) in paths.iter().zip(want) {
                let (c, r, b) = probe(path);
                assert_eq!(c, *codec, "{}", path.display());
                let want_rate = at.unwrap_or(if c == "aac" || c == "mp3" {
                    if rate % 11_025 == 0 {
                        44_100
                    } else {
                        48_000
                    }
                } else {
                    rate
                });
                assert_eq!(r, want_rate, "{}", path.display());
                if *bits > 0 {
                    assert_eq!(b, *bits, "{}", path.display());
                }
                files.push((path.clone(), lufs, ceiling));
            }
        }
        let decoded: Vec<PathBuf> = files
            .iter()
            .map(|(f, _, _)| ffmpeg_decode(f).expect("ffmpeg decodes"))
            .collect();
        for ((file, lufs, ceiling), m) in files.iter().zip(reference_measure(&py, &decoded)) {
            let i = m["integrated_lufs"].as_f64().unwrap();
            let tp = m["true_peak_dbtp"].as_f64().unwrap();
            eprintln!("{}: {i:.3} LUFS, {tp:.3} dBTP", file.display());
            assert!((i - lufs).abs() <= 0.1, "{}: {i} LUFS", file.display());
            assert!(tp <= *ceiling, "{}: {tp} dBTP", file.display());
        }
        let vinyl = PathBuf::from(rows[6]["files"][0].as_str().unwrap());
        let under = low_side(&py, std::slice::from_ref(&vinyl))[0];
        eprintln!(
            "{}: side below 150 Hz {under:.1} dB under the mid",
            vinyl.display()
        );
        assert!(under >= 30.0, "{under}");
    }
}

#[test]
fn bad_bundles_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mix = tmp.path().join("mix.wav");
    write_stereo_f32(
        &mix,
        44_100,
        (0..44_100).map(|n| {
            let x = 0.3 * (n as f32 * 0.05).sin();
            [x, x]
        }),
    );
    let cases: [(&[&str], &str); 5] = [
        (&["--for", "spotify,myspace"], "unknown platform 'myspace'"),
        (&["--for", "cd,cd"], "named twice"),
        (
            &["--for", "spotify", "--deliver", "wav:24"],
            "deliver cannot be set",
        ),
        (
            &["--for", "spotify", "--preset", "loud"],
            "preset cannot be set",
        ),
        (
            &["--for", "spotify", "--target-lufs", "-9"],
            "target_lufs cannot",
        ),
    ];
    for (args, message) in cases {
        let out = tmp.path().join("out");
        let res = lathe()
            .arg("master")
            .arg(&mix)
            .args(args)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!out.exists() || names_in(&out).is_empty(), "{args:?}");
    }
    // A session file with both a bundle and deliverables.
    let session = tmp.path().join("s.toml");
    std::fs::write(
        &session,
        "[[stem]]\nname = \"mix\"\nfile = \"mix.wav\"\n[master]\nfor = [\"tidal\"]\n\
         [[deliver]]\nformat = \"wav\"\n",
    )
    .unwrap();
    let out = tmp.path().join("render");
    let res = lathe()
        .arg("render")
        .arg(&session)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("master.for cannot go with [[deliver]]"),
        "{err}"
    );
    assert!(!out.exists() || names_in(&out).is_empty());
}

#[test]
fn a_saved_bundle_session_renders_the_same_files_again() {
    let tmp = tempfile::tempdir().unwrap();
    let mix = tmp.path().join("mix.wav");
    // 12 s of a decaying tone pattern (loud enough to gate in).
    write_stereo_f32(
        &mix,
        48_000,
        (0..48_000 * 12).map(|n| {
            let t = n as f32 / 48_000.0;
            let env = (-3.0 * (t % 0.5)).exp();
            let x = 0.4 * env * (2.0 * std::f32::consts::PI * 220.0 * t).sin();
            [x, 0.9 * x]
        }),
    );
    let first = tmp.path().join("first");
    let session = tmp.path().join("bundle.toml");
    let res = lathe()
        .arg("master")
        .arg(&mix)
        .args(["--for", "broadcast,tidal", "--save-session"])
        .arg(&session)
        .arg("-o")
        .arg(&first)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let text = std::fs::read_to_string(&session).unwrap();
    let packed: String = text.split_whitespace().collect();
    assert!(packed.contains("for=[\"broadcast\",\"tidal\","), "{text}");
    let again = tmp.path().join("again");
    let res = lathe()
        .arg("render")
        .arg(&session)
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let want = [
        "Song_broadcast_48k_24b.wav",
        "Song_streaming_48k_24b.flac",
        "report.json",
    ];
    let mut got = names_in(&again);
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| s.replace("Song", "mix")).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(names_in(&first).len(), 3);
}

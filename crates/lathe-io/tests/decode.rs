//! The decoder against files whose content is known exactly (written byte by byte here) and
//! against files made by independent encoders (ffmpeg, lame, flac, sox) when they are installed.

mod wav_writer;

use lathe_io::{DecodeError, Decoder};
use std::path::Path;
use std::process::Command;
use wav_writer::{build, Encoding, Layout};

/// Decodes a whole file into planar vectors.
fn decode_all(path: &Path) -> Result<(Decoder, Vec<Vec<f64>>), DecodeError> {
    let mut d = Decoder::open(path)?;
    let mut out: Vec<Vec<f64>> = Vec::new();
    while let Some(block) = d.next_block()? {
        out.resize(block.len(), Vec::new());
        for (o, b) in out.iter_mut().zip(block) {
            o.extend_from_slice(b);
        }
    }
    Ok((d, out))
}

/// A test signal that reaches both full-scale extremes.
fn signal(frames: usize, channels: usize) -> Vec<Vec<f64>> {
    (0..channels)
        .map(|c| {
            (0..frames)
                .map(|n| match n {
                    0 => -1.0,
                    1 => 0.999,
                    _ => 0.8 * ((n as f64) * 0.0123 * (c + 1) as f64).sin(),
                })
                .collect()
        })
        .collect()
}

/// Every sample encoding the test writer makes.
const ENCODINGS: [Encoding; 6] = [
    Encoding::U8,
    Encoding::Int16,
    Encoding::Int24,
    Encoding::Int32,
    Encoding::Float32,
    Encoding::Float64,
];

#[test]
fn every_wav_variant_decodes_sample_exact() {
    let dir = tempfile::tempdir().unwrap();
    let layouts = [
        ("plain", Layout::default()),
        (
            "extensible",
            Layout {
                extensible: true,
                ..Default::default()
            },
        ),
        (
            "LIST+odd chunk",
            Layout {
                extra_chunks: true,
                ..Default::default()
            },
        ),
        (
            "sizes 0xFFFFFFFF",
            Layout {
                lying_size: Some(0xFFFF_FFFF),
                ..Default::default()
            },
        ),
        (
            "sizes 0",
            Layout {
                lying_size: Some(0),
                ..Default::default()
            },
        ),
        (
            "extensible+chunks+0xFFFFFFFF",
            Layout {
                extensible: true,
                extra_chunks: true,
                lying_size: Some(0xFFFF_FFFF),
            },
        ),
    ];
    let mut failures = Vec::new();
    for enc in ENCODINGS {
        for (name, layout) in &layouts {
            let (bytes, expected) = build(44100, &signal(10_000, 2), enc, layout);
            let path = dir
                .path()
                .join(format!("{enc:?}_{}.wav", name.replace(['+', ' '], "_")));
            std::fs::write(&path, bytes).unwrap();
            match decode_all(&path) {
                Ok((d, got)) => {
                    if got != expected {
                        let frames = got.first().map_or(0, |c| c.len());
                        failures.push(format!("{enc:?} {name}: samples differ ({frames} frames)"));
                    } else if !d.warnings().is_empty() {
                        failures.push(format!(
                            "{enc:?} {name}: spurious warnings {:?}",
                            d.warnings()
                        ));
                    }
                }
                Err(e) => failures.push(format!("{enc:?} {name}: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn truncated_wav_decodes_what_is_there_and_counts_the_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, expected) = build(
        48000,
        &signal(48_000, 2),
        Encoding::Int16,
        &Layout::default(),
    );
    // Cut 10 001 bytes: 2500 whole frames and one byte of a frame.
    bytes.truncate(bytes.len() - 10_001);
    let path = dir.path().join("cut.wav");
    std::fs::write(&path, bytes).unwrap();
    let (d, got) = decode_all(&path).unwrap();
    let kept = 48_000 - 2501;
    assert_eq!(got[0].len(), kept);
    assert_eq!(got[0][..], expected[0][..kept]);
    let w = d.warnings().join(" ");
    assert!(w.contains("2501 lost"), "warning was: {w}");
}

#[test]
fn mono_and_eight_channels_keep_their_channel_count() {
    let dir = tempfile::tempdir().unwrap();
    for ch in [1, 8] {
        let (bytes, expected) = build(
            44100,
            &signal(1000, ch),
            Encoding::Int24,
            &Layout::default(),
        );
        let path = dir.path().join(format!("{ch}.wav"));
        std::fs::write(&path, bytes).unwrap();
        let (d, got) = decode_all(&path).unwrap();
        assert_eq!(d.info().channels, ch);
        assert_eq!(got, expected);
    }
}

#[test]
fn bad_inputs_fail_with_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.wav", vec![]),
        (
            "noise.wav",
            (0..5000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("text.mp3", b"this is not an mp3 file at all".repeat(50)),
        (
            "header_only.wav",
            build(44100, &signal(10, 2), Encoding::Int16, &Layout::default()).0[..30].to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        match decode_all(&path) {
            Ok((_, got)) => {
                let frames = got.first().map_or(0, |c| c.len());
                panic!("{name} decoded {frames} frames instead of failing")
            }
            Err(e) => assert!(
                e.to_string().contains(name),
                "{name}: error does not name the file: {e}"
            ),
        }
    }
    let missing = dir.path().join("missing.wav");
    assert!(matches!(
        Decoder::open(&missing),
        Err(DecodeError::Open { .. })
    ));
    assert!(Decoder::open(dir.path()).is_err());
}

/// Runs an external encoder; `None` (and a printed SKIPPED line) when it is not installed.
fn run(tool: &str, args: &[&str]) -> Option<()> {
    match Command::new(tool).args(args).output() {
        Ok(o) if o.status.success() => Some(()),
        Ok(o) => panic!(
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => {
            eprintln!("SKIPPED: {tool} not installed");
            None
        }
    }
}

fn write_source(dir: &Path, frames: usize) -> (std::path::PathBuf, Vec<Vec<f64>>) {
    let (bytes, expected) = build(
        44100,
        &signal(frames, 2),
        Encoding::Int16,
        &Layout::default(),
    );
    let path = dir.join("source.wav");
    std::fs::write(&path, bytes).unwrap();
    (path, expected)
}

#[test]
fn lossless_codecs_from_independent_encoders_decode_sample_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (src, expected) = write_source(dir.path(), 100_003);
    let s = src.to_str().unwrap();
    let d = dir.path();
    let jobs: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "flac",
            vec!["-s", "-f", "-o", "{out}", s]
                .into_iter()
                .map(String::from)
                .collect(),
            "x.flac",
        ),
        (
            "ffmpeg",
            ["-v", "error", "-y", "-i", s, "-c:a", "alac", "{out}"]
                .map(String::from)
                .to_vec(),
            "x.m4a",
        ),
        ("sox", vec![s.to_string(), "{out}".into()], "x.aiff"),
        (
            "ffmpeg",
            ["-v", "error", "-y", "-i", s, "-c:a", "flac", "{out}"]
                .map(String::from)
                .to_vec(),
            "y.flac",
        ),
    ];
    for (tool, args, name) in jobs {
        let out = d.join(name);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{out}", out.to_str().unwrap()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if run(tool, &args).is_none() {
            continue;
        }
        let (_, got) = decode_all(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, expected, "{name} from {tool} is not sample-exact");
    }
}

#[test]
fn lame_mp3_decodes_to_the_original_length() {
    // LAME writes its encoder delay and padding in the Xing/LAME header; honouring them gives
    // back exactly the frames that went in.
    let dir = tempfile::tempdir().unwrap();
    for frames in [44_100usize, 100_003, 7] {
        let (src, _) = write_source(dir.path(), frames);
        let out = dir.path().join("x.mp3");
        if run(
            "lame",
            &[
                "--quiet",
                "-V2",
                src.to_str().unwrap(),
                out.to_str().unwrap(),
            ],
        )
        .is_none()
        {
            return;
        }
        let (_, got) = decode_all(&out).unwrap();
        assert_eq!(got[0].len(), frames, "lame -V2 of {frames} frames");
    }
}

#[test]
fn lossy_codecs_decode_with_the_right_length_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let (src, expected) = write_source(dir.path(), 88_200);
    let s = src.to_str().unwrap();
    for (codec, name, max_extra) in [("libvorbis", "x.ogg", 0usize), ("aac", "x.m4a", 2048)] {
        let out = dir.path().join(name);
        if run(
            "ffmpeg",
            &[
                "-v",
                "error",
                "-y",
                "-i",
                s,
                "-c:a",
                codec,
                "-b:a",
                "192k",
                out.to_str().unwrap(),
            ],
        )
        .is_none()
        {
            return;
        }
        let (_, got) = decode_all(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let n = got[0].len();
        assert!(n >= 88_200 && n <= 88_200 + max_extra, "{name}: {n} frames");
        // Energy within 0.5 dB of the source (the codec keeps a 0.8 FS sine's level).
        let e = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
        let ratio_db = 10.0 * (e(&got[0]) / e(&expected[0])).log10();
        assert!(
            ratio_db.abs() < 0.5,
            "{name}: level off by {ratio_db:.2} dB"
        );
    }
}

#[test]
fn opus_from_ffmpeg_decodes_with_the_right_length_and_level() {
    // ffmpeg's libopus encoder (resampling the 44.1 kHz source to Opus's 48 kHz) writes the
    // pre-skip and the end granule; lathe's decoder must cut both: exactly 2 s at 48 kHz.
    let dir = tempfile::tempdir().unwrap();
    let (src, expected) = write_source(dir.path(), 88_200);
    let out = dir.path().join("x.opus");
    if run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            src.to_str().unwrap(),
            "-c:a",
            "libopus",
            "-b:a",
            "160k",
            out.to_str().unwrap(),
        ],
    )
    .is_none()
    {
        return;
    }
    let (d, got) = decode_all(&out).unwrap_or_else(|e| panic!("opus: {e}"));
    assert_eq!(d.info().sample_rate_hz, 48_000);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].len(), 96_000);
    // Mean power within 0.5 dB of the source's (per sample: the rates differ).
    let p = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let ratio_db = 10.0 * (p(&got[0]) / p(&expected[0])).log10();
    assert!(ratio_db.abs() < 0.5, "opus: level off by {ratio_db:.2} dB");
}

/// Decodes a whole file through `append_block` (the analysis's path) into planar vectors.
fn append_all(path: &Path) -> Result<(Decoder, Vec<Vec<f64>>), DecodeError> {
    let mut d = Decoder::open(path)?;
    let mut out = vec![Vec::new(); d.info().channels];
    while d.append_block(&mut out)?.is_some() {}
    Ok((d, out))
}

/// Both ways of reading a file give the samples the test wrote, byte by byte, for every
/// channel count and integer or float width, also when the file ends inside a frame; NaN and
/// infinite float samples are read as silence and counted, the same both ways.
#[test]
fn blocks_and_appended_blocks_are_the_written_samples() {
    let dir = tempfile::tempdir().unwrap();
    for enc in ENCODINGS {
        for channels in [1, 2, 3, 8] {
            let mut sig = signal(9_001, channels);
            let float = matches!(enc, Encoding::Float32 | Encoding::Float64);
            if float {
                sig[channels - 1][17] = f64::NAN;
                sig[0][4_000] = f64::INFINITY;
            }
            let (mut bytes, mut expected) = build(48_000, &sig, enc, &Layout::default());
            if float {
                expected[channels - 1][17] = 0.0;
                expected[0][4_000] = 0.0;
            }
            // The last frame loses its last byte: it is not read.
            bytes.pop();
            for ch in &mut expected {
                ch.pop();
            }
            let path = dir.path().join(format!("{enc:?}_{channels}.wav"));
            std::fs::write(&path, bytes).unwrap();
            let (a, blocks) = decode_all(&path).unwrap();
            let (b, appended) = append_all(&path).unwrap();
            assert!(blocks == expected, "{enc:?} {channels} ch: next_block");
            assert!(appended == expected, "{enc:?} {channels} ch: append_block");
            let counted = if float { 2 } else { 0 };
            assert_eq!(a.non_finite_samples().0, counted, "{enc:?} {channels} ch");
            assert_eq!(b.non_finite_samples(), a.non_finite_samples());
        }
    }
}

//! Keyed processing between stems, through `lathe render`: a guitar's dynamic EQ keyed on a
//! vocal gives way only while the vocal sounds, by the band's static gain (−6 dB at the
//! centre, its range), and within a few milliseconds of the vocal's onsets even though the
//! vocal's chain has a third of a second of latency; a muted key stem still feeds its key;
//! key cycles and unknown keys are refused naming the stems.

mod common;

use common::*;
use std::path::Path;

const FS: f64 = 48000.0;

fn read_left(path: &Path) -> Vec<f64> {
    let r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().sample_format, hound::SampleFormat::Float);
    r.into_samples::<f32>()
        .step_by(2)
        .map(|s| s.unwrap() as f64)
        .collect()
}

/// A 2 kHz tone of `amp`, sounding where `on(t)` says.
fn tone(len: usize, amp: f64, on: impl Fn(f64) -> bool) -> Vec<[f32; 2]> {
    (0..len)
        .map(|n| {
            let t = n as f64 / FS;
            let v = if on(t) {
                amp * (2.0 * std::f64::consts::PI * 2000.0 * t).sin()
            } else {
                0.0
            };
            [v as f32; 2]
        })
        .collect()
}

/// The vocal sings in the second half of every second.
fn sings(t: f64) -> bool {
    t.fract() >= 0.5
}

fn session(vocal_chain: &str, guitar_key: &str, extra: &str) -> String {
    format!(
        r#"
[[stem]]
name = "vocal"
file = "vocal.wav"
mute = true
chain = [ {vocal_chain} ]
[[stem]]
name = "guitar"
file = "guitar.wav"
chain = [ {{ dynamic_eq = {{ key = "{guitar_key}", bands = [ {{ freq_hz = 2000.0, q = 1.0, threshold_db = -30.0, ratio = 4.0, range_db = 6.0, attack_ms = 2.0, release_ms = 20.0 }} ] }} }} ]
{extra}
[[deliver]]
format = "wav"
bits = 32
"#
    )
}

fn render(dir: &Path, text: &str) -> std::process::Output {
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    lathe()
        .arg("render")
        .arg(&path)
        .arg("-o")
        .arg(dir.join("out"))
        .output()
        .unwrap()
}

/// Peak level (dB) of `x` over [from, to) seconds.
fn level_db(x: &[f64], from: f64, to: f64) -> f64 {
    let peak = x[(from * FS) as usize..(to * FS) as usize]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    20.0 * peak.log10()
}

#[test]
fn a_keyed_stem_gives_way_only_while_its_key_sounds_and_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let len = (4.0 * FS) as usize;
    write_stereo_f32(&dir.path().join("vocal.wav"), 48000, tone(len, 0.3, sings));
    write_stereo_f32(
        &dir.path().join("guitar.wav"),
        48000,
        tone(len, 0.1, |_| true),
    );
    // The vocal's chain is a pure delay of about 0.35 s (a linear-phase EQ with a 0 dB band).
    let delay = r#"{ eq = { phase = "linear", bands = [ { kind = "bell", freq_hz = 1000.0, gain_db = 0.0 } ] } }"#;
    let res = render(dir.path(), &session(delay, "vocal", ""));
    assert_exit_ok(&res);
    let y = read_left(&dir.path().join("out/stems_master_48k_32f.wav"));
    let open = 20.0 * 0.1f64.log10();
    for s in 1..4 {
        let s = s as f64;
        let quiet = level_db(&y, s + 0.2, s + 0.45) - open;
        let ducked = level_db(&y, s + 0.7, s + 0.95) - open;
        eprintln!("second {s}: vocal silent {quiet:+.3} dB, vocal singing {ducked:+.3} dB");
        assert!(
            quiet.abs() <= 0.1,
            "the guitar moved while the vocal was silent: {quiet:+.3} dB"
        );
        assert!(
            (ducked + 6.0).abs() <= 0.1,
            "the guitar gave way {ducked:+.3} dB, not −6"
        );
        // On time: the cut is not there 2 ms before the onset and is mostly there 25 ms after.
        let before = level_db(&y, s + 0.49, s + 0.498) - open;
        let after = level_db(&y, s + 0.525, s + 0.535) - open;
        eprintln!("  onset: {before:+.2} dB just before, {after:+.2} dB 25 ms after");
        assert!(
            before > -0.2,
            "the guitar gave way before the vocal: {before:+.2} dB"
        );
        assert!(
            after < -4.0,
            "the guitar gave way late: {after:+.2} dB 25 ms after the onset"
        );
    }
}

#[test]
fn key_cycles_and_unknown_keys_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let len = (0.5 * FS) as usize;
    write_stereo_f32(&dir.path().join("vocal.wav"), 48000, tone(len, 0.3, sings));
    write_stereo_f32(
        &dir.path().join("guitar.wav"),
        48000,
        tone(len, 0.1, |_| true),
    );
    let back = r#"{ dynamic_eq = { key = "guitar", bands = [ { freq_hz = 1000.0 } ] } }"#;
    let res = render(dir.path(), &session(back, "vocal", ""));
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("vocal → guitar → vocal") || err.contains("guitar → vocal → guitar"),
        "{err}"
    );
    let res = render(dir.path(), &session("", "singer", ""));
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("stem[1].chain[0].dynamic_eq.key") && err.contains("'singer'"),
        "{err}"
    );
    let master = "[master]\nchain = [ { dynamic_eq = { key = \"vocal\", bands = [ { freq_hz = 1000.0 } ] } } ]";
    let res = render(dir.path(), &session("", "vocal", master));
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(err.contains("master.chain[0].dynamic_eq.key"), "{err}");
}

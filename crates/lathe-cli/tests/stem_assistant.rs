//! The stem assistant on planted defects (corpus: the Doom II stems, plus a spoken vocal made
//! with espeak-ng): defects are planted with scipy's RBJ biquads (`tools/stem_defects.py`),
//! `lathe master --stems … --assist` writes each stem's chain, each stem is then rendered
//! alone through its chain (`lathe render` of the saved session with that stem soloed and no
//! master chain), and the same tool measures, against the clean stems:
//! - each planted tonal defect (resonance, mud, harshness, sibilance) at least 70 % removed
//!   (its 1/3-octave band, after the stem's level away from the defect: a stem made mostly of
//!   the defect's range would otherwise hide any cut in its own overall level), and the stem
//!   moved by at most 1 dB away from the defect (more than an octave from it; below half the
//!   corner of a shelf);
//! - the stems without a planted defect moved by at most 0.5 dB in any band;
//! - the vocal's intelligibility in the master (STOI by pystoi against the clean voice)
//!   recovers at least 60 % of what the planted masker (a guitar with +8 dB of presence)
//!   took (the assistant never raises a stem; its trims only undo its own cuts).
//!
//! Resonance, sibilance, the clean stems and STOI hold; mud and harshness do not yet, and
//! their test is ignored with the reason (run it with `--ignored` to see the figures).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const TEXT: &str = "She sells sea shells by the sea shore, and the shells she sells are surely \
seashells. So if she sells shells on the seashore, I'm sure she sells seashore shells. Six \
slippery snails slid slowly seaward. Sam's shop stocks short spotted socks. The sixth sick \
sheikh's sixth sheep is sick. Seven silly snakes sang softly at sunset.";

/// (stem, kind, Hz, dB, Q, what): the planted defects. The guitar's presence boost is the
/// masker (judged by STOI); the others are judged on their stems.
const PLANTS: [(&str, &str, f64, f64, f64, &str); 5] = [
    ("drums", "bell", 2500.0, 9.0, 8.0, "resonance"),
    ("orchestra", "bell", 315.0, 6.0, 1.0, "mud"),
    ("synth_lead", "bell", 3150.0, 6.0, 1.4, "harshness"),
    ("vocal", "high_shelf", 6000.0, 8.0, 0.7, "sibilance"),
    ("guitars", "bell", 2000.0, 8.0, 0.7, "masker"),
];
const CLEAN: [&str; 2] = ["bass", "choir_fx"];

fn tool(py: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/stem_defects.py");
    let out = Command::new(py).arg(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "stem_defects.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn master(stems: &[PathBuf], out: &Path, extra: &[&str]) -> PathBuf {
    let res = lathe()
        .args(["master", "--preset", "streaming", "--deliver", "wav:32"])
        .args(extra)
        .arg("--stems")
        .args(stems)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    files_in(out, &["wav"]).remove(0)
}

/// Renders stem `name` of a saved session alone through its chain, with no master chain.
fn render_alone(session: &Path, name: &str, out: &Path) -> PathBuf {
    let mut doc: toml::Table = std::fs::read_to_string(session).unwrap().parse().unwrap();
    for stem in doc["stem"].as_array_mut().unwrap() {
        let t = stem.as_table_mut().unwrap();
        let me = t["name"].as_str() == Some(name);
        t.insert("solo".into(), me.into());
    }
    doc.insert("master".into(), toml::Table::new().into());
    let mut wav = toml::Table::new();
    wav.insert("format".into(), "wav".into());
    wav.insert("bits".into(), 32.into());
    doc.insert("deliver".into(), vec![toml::Value::Table(wav)].into());
    doc.insert("title".into(), name.into());
    let path = session.with_file_name(format!("alone_{name}.toml"));
    std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    let res = lathe()
        .arg("render")
        .arg(&path)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    files_in(out, &["wav"]).remove(0)
}

/// One planted defect, measured on its stem after the assistant: (what, stem, share removed,
/// worst change away from it, dB).
struct Defect {
    what: &'static str,
    stem: &'static str,
    removed: f64,
    away_db: f64,
}

/// What the assistant did to the planted stems: each tonal defect, the clean stems' worst
/// change, and the STOI of the vocal (without the masker, with it, assisted). `None`: skipped.
struct Outcome {
    defects: Vec<Defect>,
    clean_worst_db: Vec<(&'static str, f64)>,
    stoi: Vec<f64>,
}

fn run_planted(test: &str) -> Option<Outcome> {
    let corpus = corpus(test)?;
    let py = reference_python(test)?;
    let ok = |cmd: &mut Command| cmd.output().map(|o| o.status.success()).unwrap_or(false);
    if !ok(Command::new(&py).args(["-c", "import pystoi, scipy"])) {
        eprintln!(
            "SKIPPED {test}: {py} cannot import pystoi/scipy (scripts/setup.sh installs them)"
        );
        return None;
    }
    if !ok(Command::new("espeak-ng").arg("--version")) {
        eprintln!("SKIPPED {test}: espeak-ng is not installed (scripts/setup.sh installs it)");
        return None;
    }
    let src = corpus.join("stems/s02_freedoom_d_doom2");
    let dir = tempfile::tempdir().unwrap();
    let (clean, planted) = (dir.path().join("clean"), dir.path().join("planted"));
    std::fs::create_dir_all(&clean).unwrap();
    std::fs::create_dir_all(&planted).unwrap();
    let raw = dir.path().join("raw.wav");
    assert!(ok(Command::new("espeak-ng").args([
        "-v",
        "en-us",
        "-s",
        "140",
        "-w",
        s(&raw),
        TEXT
    ])));
    tool(
        &py,
        &[
            "voice",
            s(&raw),
            s(&clean.join("vocal.wav")),
            "44100",
            "40",
            "-16",
        ],
    );
    let names = [
        "bass",
        "choir_fx",
        "drums",
        "guitars",
        "orchestra",
        "synth_lead",
        "vocal",
    ];
    for n in &names[..6] {
        std::fs::copy(src.join(format!("{n}.wav")), clean.join(format!("{n}.wav"))).unwrap();
    }
    for n in names {
        let (c, p) = (
            clean.join(format!("{n}.wav")),
            planted.join(format!("{n}.wav")),
        );
        match PLANTS.iter().find(|d| d.0 == n) {
            Some(&(_, kind, hz, db, q, _)) => {
                tool(
                    &py,
                    &[
                        "plant",
                        s(&c),
                        s(&p),
                        kind,
                        &hz.to_string(),
                        &db.to_string(),
                        &q.to_string(),
                    ],
                );
            }
            None => {
                std::fs::copy(&c, &p).unwrap();
            }
        }
    }
    let stems = |d: &Path| {
        names
            .iter()
            .map(|n| d.join(format!("{n}.wav")))
            .collect::<Vec<_>>()
    };
    let assisted = dir.path().join("assisted");
    let session = assisted.join("session.toml");
    let res = lathe()
        .args([
            "master",
            "--preset",
            "streaming",
            "--deliver",
            "wav:32",
            "--assist",
            "--json",
        ])
        .arg("--save-session")
        .arg(&session)
        .arg("--stems")
        .args(stems(&planted))
        .arg("-o")
        .arg(&assisted)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    let report: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    for c in report["assistant"]["choices"].as_array().unwrap() {
        eprintln!("  {} | {} | {}", c["stem"], c["processor"], c["measured"]);
    }
    let mut outcome = Outcome {
        defects: Vec::new(),
        clean_worst_db: Vec::new(),
        stoi: Vec::new(),
    };
    for (n, kind, hz, _, _, what) in PLANTS.iter().filter(|d| d.5 != "masker") {
        let alone = render_alone(&session, n, &dir.path().join(format!("alone_{n}")));
        let c = clean.join(format!("{n}.wav"));
        let p = planted.join(format!("{n}.wav"));
        let r: serde_json::Value = serde_json::from_str(&tool(
            &py,
            &["compare", s(&c), s(&p), s(&alone), &hz.to_string(), kind],
        ))
        .unwrap();
        let (removed, away) = (
            r["removed"].as_f64().unwrap(),
            r["away_worst_db"].as_f64().unwrap(),
        );
        eprintln!(
            "{what} on {n}: {:+.2} dB → {:+.2} dB at {:.0} Hz ({:.0} % removed); an octave or more away: worst {away:.2} dB",
            r["before_db"].as_f64().unwrap(),
            r["after_db"].as_f64().unwrap(),
            r["band_hz"].as_f64().unwrap(),
            100.0 * removed
        );
        outcome.defects.push(Defect {
            what,
            stem: n,
            removed,
            away_db: away,
        });
    }
    for n in CLEAN {
        let alone = render_alone(&session, n, &dir.path().join(format!("alone_{n}")));
        let c = clean.join(format!("{n}.wav"));
        let r: serde_json::Value =
            serde_json::from_str(&tool(&py, &["compare", s(&c), s(&c), s(&alone), "0"])).unwrap();
        let worst = r["worst_db"].as_f64().unwrap();
        eprintln!("clean {n}: worst band change {worst:.2} dB");
        outcome.clean_worst_db.push((n, worst));
    }
    // Intelligibility: the master without the masker, with it, and the assistant's.
    let mut unmasked = stems(&planted);
    unmasked[3] = clean.join("guitars.wav");
    let a = master(&unmasked, &dir.path().join("a"), &[]);
    let b = master(&stems(&planted), &dir.path().join("b"), &[]);
    let c = files_in(&assisted, &["wav"]).remove(0);
    let v: Vec<f64> = serde_json::from_str(&tool(
        &py,
        &["stoi", s(&clean.join("vocal.wav")), s(&a), s(&b), s(&c)],
    ))
    .unwrap();
    eprintln!(
        "STOI of the vocal: {:.3} without the masker, {:.3} with it, {:.3} assisted: {:.0} % of the loss recovered",
        v[0], v[1], v[2], 100.0 * (v[2] - v[1]) / (v[0] - v[1])
    );
    outcome.stoi = v;
    Some(outcome)
}

#[test]
fn resonance_and_sibilance_are_removed_clean_stems_kept_and_the_vocal_unmasked() {
    let Some(o) =
        run_planted("resonance_and_sibilance_are_removed_clean_stems_kept_and_the_vocal_unmasked")
    else {
        return;
    };
    let mut failures = Vec::new();
    for d in o
        .defects
        .iter()
        .filter(|d| matches!(d.what, "resonance" | "sibilance"))
    {
        if d.removed < 0.70 {
            failures.push(format!(
                "{} on {}: {:.0} % removed",
                d.what,
                d.stem,
                100.0 * d.removed
            ));
        }
        if d.away_db > 1.0 {
            failures.push(format!(
                "{} on {}: moved {:.2} dB away from it",
                d.what, d.stem, d.away_db
            ));
        }
    }
    for (n, worst) in &o.clean_worst_db {
        if *worst > 0.5 {
            failures.push(format!("clean {n} moved {worst:.2} dB"));
        }
    }
    let v = &o.stoi;
    let recovered = (v[2] - v[1]) / (v[0] - v[1]);
    if recovered < 0.6 {
        failures.push(format!(
            "STOI recovered {:.0} % of the masker's loss",
            100.0 * recovered
        ));
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// Not met yet (issue 20 stays open): the assistant judges mud and harshness on the stems'
/// sum and cannot tell a stem's planted boost from its own timbre (see docs/ASSISTANT.md).
#[test]
#[ignore = "mud and harshness planted on one stem are not removed yet (issue 20)"]
fn mud_and_harshness_are_removed() {
    let Some(o) = run_planted("mud_and_harshness_are_removed") else {
        return;
    };
    for d in o
        .defects
        .iter()
        .filter(|d| matches!(d.what, "mud" | "harshness"))
    {
        assert!(
            d.removed >= 0.70,
            "{} on {}: {:.0} % removed",
            d.what,
            d.stem,
            100.0 * d.removed
        );
        assert!(
            d.away_db <= 1.0,
            "{} on {}: moved {:.2} dB away",
            d.what,
            d.stem,
            d.away_db
        );
    }
}

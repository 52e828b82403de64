//! The web UI in headless Chromium (Debian's `chromium`, driven by playwright-core from
//! `tests/browser/ui.mjs`): a corpus mix is uploaded through the page with "correct the stems"
//! ticked, the results appear with a row per assistant choice (the report's, with its reason),
//! the A/B switch toggles between master and original at equal loudness, a file downloads, and a
//! screenshot of the results page is saved as `target/lathe-ui-results.png` (a CI artifact).
//! Skipped, with a SKIPPED line, when the corpus, Node, Chromium or playwright-core is missing
//! (`.ci/run` installs them all).

use std::path::{Path, PathBuf};
use std::process::Command;

use lathe_server::{start, Config};

/// What the browser tests need: the repository root, the corpus and Chromium; `None` (with a
/// SKIPPED line naming the test) when something is missing.
fn browser_env(test: &str) -> Option<(PathBuf, PathBuf, String)> {
    let skip = |why: &str| {
        eprintln!("SKIPPED {test}: {why}");
        None
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(corpus) = std::env::var_os("LATHE_CORPUS")
        .map(PathBuf::from)
        .filter(|p| p.join("public").is_dir())
    else {
        return skip("corpus not found (set LATHE_CORPUS)");
    };
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return skip("no Chromium (apt-get install chromium)");
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        return skip("playwright-core not installed (npm ci in tests/browser)");
    }
    if Command::new("node").arg("--version").output().is_err() {
        return skip("no Node.js");
    }
    Some((root, corpus, chromium))
}

#[test]
fn the_web_ui_works_in_a_real_browser() {
    let Some((root, corpus, chromium)) = browser_env("the_web_ui_works_in_a_real_browser") else {
        return;
    };
    let script_dir = root.join("tests/browser");
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().to_path_buf(),
        vec![env!("CARGO_BIN_EXE_lathe-job").into()],
    );
    config.max_upload_bytes = 500_000_000;
    config.retention_days = 1.0;
    let server = start(config).unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let shot = root.join("target/lathe-ui-results.png");
    let _ = std::fs::remove_file(&shot);
    let mix = corpus.join("public/mixes/m04_nexuiz_brokenlight_excerpt_44k1.wav");
    let out = Command::new("node")
        .arg(script_dir.join("ui.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&mix)
        .arg(downloads.path())
        .arg(&shot)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed: {stderr}");
    let line = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line} {stderr}"));
    eprintln!("browser: {r}");
    assert_eq!(r["ab"], serde_json::json!(["master", "original", "master"]));
    assert_eq!(
        r["bundle"],
        serde_json::json!({
            "platforms": ["spotify", "apple", "youtube", "tidal", "soundcloud", "cd", "vinyl", "broadcast"],
            "greyed": true,
            "back": true
        }),
        "the platform boxes, and what ticking one greys out"
    );
    assert_eq!(
        r["plotted"], 4,
        "loudness and spectrum, original and master"
    );
    // The page's A/B gains put both at the quieter one's loudness (the report's levels).
    let job = r["job"].as_str().unwrap();
    let report_path = data.path().join("jobs").join(job).join("out/report.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_path).unwrap()).unwrap();
    // One row per choice of the report, in order: stem (or master), what was done, why.
    let wanted = report["assistant"]["choices"]
        .as_array()
        .expect("the assistant ran");
    let shown = r["choices"].as_array().unwrap();
    assert_eq!(shown.len(), wanted.len(), "{shown:?}");
    for (row, c) in shown.iter().zip(wanted) {
        assert_eq!(row[0], c["stem"].as_str().unwrap_or("master"));
        assert_eq!(row[1], c["processor"]);
        assert_eq!(row[3], c["reason"]);
        assert!(!row[3].as_str().unwrap().is_empty());
    }
    // Every ticked format was delivered and is listed with its loudness and true peak, as
    // the report measured it.
    let rows = r["levels"].as_array().unwrap();
    for (suffix, d) in ["_256k.m4a", "_48k_160k.opus", "_96k_24b.flac"]
        .iter()
        .map(|s| (s, report["deliverables"].as_array().unwrap()))
    {
        let row = rows
            .iter()
            .find(|row| row[0].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix} on the page: {rows:?}"));
        let file = d
            .iter()
            .find(|x| x["path"].as_str().unwrap().ends_with(suffix))
            .unwrap();
        let lufs = file["measured"]["integrated_lufs"].as_f64().unwrap();
        let shown: f64 = row[1].as_str().unwrap().parse().unwrap();
        assert!(
            (shown - lufs).abs() < 0.06,
            "{suffix}: page {shown} vs report {lufs}"
        );
    }
    let input = report["input"]["integrated_lufs"].as_f64().unwrap();
    let master = report["deliverables"][0]["measured"]["integrated_lufs"]
        .as_f64()
        .unwrap();
    let (g_master, g_orig) = (
        r["gains"]["master"].as_f64().unwrap(),
        r["gains"]["original"].as_f64().unwrap(),
    );
    let heard_master = master + 20.0 * g_master.log10();
    let heard_orig = input + 20.0 * g_orig.log10();
    assert!(
        (heard_master - heard_orig).abs() < 0.01,
        "A/B at {heard_master:.2} and {heard_orig:.2} LUFS"
    );
    let name = r["downloaded"].as_str().unwrap();
    let got = std::fs::metadata(downloads.path().join(name))
        .unwrap()
        .len();
    assert!(got > 1000, "{name}: {got} bytes");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "no screenshot"
    );
    server.stop();
}

/// The studio's loop in Chromium (`tests/browser/studio.mjs`): client ana orders a stem master
/// through the login and order pages (needs and formats ticked, a webhook set), engineer eve
/// reads the order, adds and removes a compressor, adds a -3 dB bell at 200 Hz to the bass in
/// the session form and renders revision 2, ana compares the original and both revisions at
/// equal loudness, approves revision 2 and downloads the zip, and client bo sees none of it.
/// Screenshots: `target/lathe-studio-engineer.png` and `target/lathe-studio-client.png`.
#[test]
fn the_studio_works_in_a_real_browser() {
    let Some((root, corpus, chromium)) = browser_env("the_studio_works_in_a_real_browser") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let accounts = lathe_server::accounts::Accounts::open(data.path()).unwrap();
    use lathe_server::accounts::Role;
    accounts
        .add_user("ana", Role::Client, "ana-password")
        .unwrap();
    accounts
        .add_user("bo", Role::Client, "bo-password")
        .unwrap();
    accounts
        .add_user("eve", Role::Engineer, "eve-password")
        .unwrap();
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().to_path_buf(),
        vec![env!("CARGO_BIN_EXE_lathe-job").into()],
    );
    config.max_upload_bytes = 500_000_000;
    let server = start(config).unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let shots = root.join("target/lathe-studio");
    let set = corpus.join("public/stems/s02_freedoom_d_doom2");
    let out = Command::new("node")
        .arg(root.join("tests/browser/studio.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(downloads.path())
        .arg(&shots)
        .arg(set.join("bass.wav"))
        .arg(set.join("drums.wav"))
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed: {stderr}");
    let line = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line} {stderr}"));
    eprintln!("studio: {r}");
    assert!(r["ana_who"].as_str().unwrap().contains("ana (client)"));
    assert_eq!(
        r["eve_projects"], 1,
        "the engineer sees the client's project"
    );
    assert_eq!(r["bo_projects"], 0, "another client sees no project");
    // The order form's needs: CD ticks the CD WAV, vinyl beside streaming points to the
    // platform bundle; the engineer sees them all in the order; the webhook was set from the
    // page.
    assert_eq!(r["cd_format_ticked"], true);
    let hint = r["need_hint"].as_str().unwrap();
    assert!(
        hint.contains("vinyl") && hint.contains("platform bundle"),
        "{r}"
    );
    assert_eq!(r["eve_order"]["mastering for"], "streaming, cd, vinyl");
    assert_eq!(r["eve_order"]["audio"], "stems");
    assert!(r["eve_order"]["formats"]
        .as_str()
        .unwrap()
        .contains("wav:16@44100"));
    assert!(r["hook_msg"].as_str().unwrap().contains("whsec_"));
    let counts: Vec<u64> = serde_json::from_value(r["eve_chain_counts"].clone()).unwrap();
    assert_eq!(counts[1], counts[0] + 1, "the compressor was added");
    assert_eq!(counts[2], counts[0], "and removed");
    assert_eq!(r["bo_job_status"], 404);
    assert_eq!(
        r["compare_options"],
        serde_json::json!(["original", "revision 1", "revision 2"])
    );

    // What the server recorded, read from its database and folders.
    let job = r["job"].as_str().unwrap();
    let queue = lathe_server::queue::SqliteQueue::open(data.path()).unwrap();
    use lathe_server::queue::Queue;
    let j = queue.get(job).unwrap().unwrap();
    assert_eq!(j.owner.as_deref(), Some("ana"));
    let options: serde_json::Value = serde_json::from_str(&j.options).unwrap();
    assert_eq!(
        options["needs"],
        serde_json::json!(["streaming", "cd", "vinyl"])
    );
    assert!(
        accounts.webhook("ana").unwrap().is_some(),
        "ana's webhook is stored"
    );
    assert_eq!(j.approved, Some(2));
    let revs = queue.revisions(job).unwrap();
    assert_eq!(revs[1].note, "less boom on the bass");
    assert_eq!(revs[1].author.as_deref(), Some("eve"));
    let s: lathe_engine::spec::session::Session =
        toml::from_str(revs[1].session.as_deref().unwrap()).unwrap();
    let bass = s.stems.iter().find(|s| s.name == "bass").unwrap();
    let band = match bass.chain.last() {
        Some(lathe_engine::spec::chain::ProcessorSpec::Eq(eq)) => eq.bands[0].clone(),
        other => panic!("the bass chain ends with {other:?}"),
    };
    assert_eq!((band.freq_hz, band.gain_db), (200.0, -3.0));
    assert_eq!(bass.gain_db, 0.0, "the stem's own gain is untouched");

    // The A/B: each pair at the quieter one's loudness (the loudness the page was given,
    // times its gain).
    for h in r["heard"].as_array().unwrap() {
        let g = &h["gains"];
        let a = g["a_lufs"].as_f64().unwrap() + 20.0 * g["a"].as_f64().unwrap().log10();
        let b = g["b_lufs"].as_f64().unwrap() + 20.0 * g["b"].as_f64().unwrap().log10();
        assert!((a - b).abs() < 0.01, "A/B at {a:.2} and {b:.2} LUFS");
        assert_ne!(h["playing"][0], h["playing"][1]);
    }
    // The zip holds revision 2's master, byte for byte.
    let zip_path = downloads.path().join(r["zip"].as_str().unwrap());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    let rev2 = data.path().join("jobs").join(job).join("rev/2");
    let master = std::fs::read_dir(&rev2)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with("_24b.wav"))
        .unwrap();
    let mut zipped = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&master).unwrap(), &mut zipped).unwrap();
    assert!(zipped == std::fs::read(rev2.join(&master)).unwrap());
    for shot in ["engineer", "client"] {
        let p = root.join(format!("target/lathe-studio-{shot}.png"));
        assert!(std::fs::metadata(&p).unwrap().len() > 10_000, "{p:?}");
    }
    server.stop();
}

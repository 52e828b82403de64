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

fn skip(why: &str) {
    eprintln!("SKIPPED the_web_ui_works_in_a_real_browser: {why}");
}

#[test]
fn the_web_ui_works_in_a_real_browser() {
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
    let script_dir = root.join("tests/browser");
    if !script_dir.join("node_modules/playwright-core").is_dir() {
        return skip("playwright-core not installed (npm ci in tests/browser)");
    }
    if Command::new("node").arg("--version").output().is_err() {
        return skip("no Node.js");
    }
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

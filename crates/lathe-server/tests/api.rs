//! `lathe serve`'s JSON API over real HTTP on loopback (a plain HTTP/1.1 client on a TCP
//! socket, written here): a corpus mix and a corpus stem set are uploaded, polled to `done`
//! and downloaded, and the downloaded master is measured by the independent reference meter
//! (libebur128, 16x FFT true peak); uploads over the limit, non-audio and malformed requests
//! are refused; file names never become paths; a job that was running when the server stopped
//! finishes after a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use common::*;
use lathe_server::{start, Config};

fn corpus(test: &str) -> Option<PathBuf> {
    match std::env::var_os("LATHE_CORPUS").map(PathBuf::from) {
        Some(p) if p.join("public").is_dir() => Some(p.join("public")),
        _ => {
            eprintln!(
                "SKIPPED {test}: corpus not found (set LATHE_CORPUS to the folder holding public/)"
            );
            None
        }
    }
}

/// libebur128 loudness and 16x true peak of `file` (tools/reference_meter.py).
fn reference(file: &Path) -> Option<(f64, f64)> {
    let py = std::env::var("LATHE_REF_PYTHON").unwrap_or_else(|_| "python3".into());
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/reference_meter.py");
    let out = std::process::Command::new(py)
        .arg(tool)
        .arg(file)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "SKIPPED the reference measurement: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        v[0]["integrated_lufs"].as_f64()?,
        v[0]["true_peak_dbtp"].as_f64()?,
    ))
}

#[test]
fn a_mix_and_a_stem_set_are_mastered_over_http() {
    let Some(corpus) = corpus("a_mix_and_a_stem_set_are_mastered_over_http") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 1, 500)).unwrap();
    let addr = server.addr;
    let mix = std::fs::read(corpus.join("mixes/m04_nexuiz_brokenlight_excerpt_44k1.wav")).unwrap();
    let options = br#"{"preset":"streaming","deliver":["wav:24"],"title":"broken light"}"#;
    let r = post_job(
        addr,
        &[
            ("mix", Some("../../etc/passwd.wav"), &mix),
            ("options", None, options),
        ],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let mix_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(mix_id.len(), 32);
    let stems = corpus.join("stems/s04_fof_muldjord_chaos_god");
    let backing = std::fs::read(stems.join("backing.wav")).unwrap();
    let guitar = std::fs::read(stems.join("guitar.wav")).unwrap();
    let options = br#"{"deliver":["wav:24"],"versions":["noguitar:mute=guitar"]}"#;
    let r = post_job(
        addr,
        &[
            ("stem", Some("backing.wav"), &backing),
            ("stem", Some("guitar.wav"), &guitar),
            ("options", None, options),
        ],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let stems_id = r.json()["id"].as_str().unwrap().to_string();
    // One worker: the second job waits while the first runs.
    let second = request(addr, "GET", &format!("/api/jobs/{stems_id}"), None, b"").json();
    assert!(
        matches!(second["state"].as_str(), Some("queued") | Some("running")),
        "{second}"
    );
    let job = wait_done(addr, &mix_id);
    let files: Vec<String> = job["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert!(files.contains(&"report.json".to_string()), "{files:?}");
    let master = files
        .iter()
        .find(|f| f.ends_with("_master_44k1_24b.wav"))
        .expect("a master")
        .clone();
    assert_eq!(master, "broken_light_master_44k1_24b.wav");
    let got = request(
        addr,
        "GET",
        &format!("/api/jobs/{mix_id}/files/{master}"),
        None,
        b"",
    );
    assert_eq!(got.status, 200);
    let dir = tempfile::tempdir().unwrap();
    let downloaded = dir.path().join(&master);
    std::fs::write(&downloaded, &got.body).unwrap();
    if let Some((lufs, tp)) = reference(&downloaded) {
        eprintln!("downloaded master: {lufs:.3} LUFS, {tp:.3} dBTP");
        assert!((lufs + 14.0).abs() <= 0.1, "{lufs}");
        assert!(tp <= -1.0, "{tp}");
    }
    assert!(job["report"]["deliverables"][0]["pass"].as_bool().unwrap());
    // The zip holds every file.
    let zip = request(addr, "GET", &format!("/api/jobs/{mix_id}/zip"), None, b"");
    assert_eq!(zip.status, 200);
    assert!(zip.body.starts_with(b"PK"));
    assert!(zip
        .body
        .windows(master.len())
        .any(|w| w == master.as_bytes()));
    // The stems job, with its version.
    let job = wait_done(addr, &stems_id);
    let files = job["files"].to_string();
    assert!(
        files.contains("stems_master_") && files.contains("stems_noguitar_"),
        "{files}"
    );
    assert_eq!(job["report"]["versions"][0]["name"], "noguitar");
    for d in job["report"]["deliverables"].as_array().unwrap() {
        assert_eq!(d["pass"], true, "{d}");
    }
    // Deleting removes the job and its files.
    assert_eq!(
        request(addr, "DELETE", &format!("/api/jobs/{mix_id}"), None, b"").status,
        204
    );
    assert_eq!(
        request(addr, "GET", &format!("/api/jobs/{mix_id}"), None, b"").status,
        404
    );
    assert!(!data.path().join("jobs").join(&mix_id).exists());
    server.stop();
}

/// A platform bundle ordered over HTTP (`"for"` in the options): a row per platform in the
/// report, each platform's files listed and downloadable, each at its platform's loudness
/// by the reference meter; an unknown platform is refused with the engine's message.
#[test]
fn a_platform_bundle_is_ordered_over_http() {
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 1, 500)).unwrap();
    let addr = server.addr;
    let bad = post_job(
        addr,
        &[
            ("mix", Some("mix.wav"), &tiny_wav()),
            ("options", None, br#"{"for":["spotify","myspace"]}"#),
        ],
    );
    assert_eq!(bad.status, 400);
    let text = String::from_utf8_lossy(&bad.body);
    assert!(text.contains("unknown platform 'myspace'"), "{text}");
    let options = br#"{"for":["broadcast","spotify"],"title":"bundle"}"#;
    let r = post_job(
        addr,
        &[
            ("mix", Some("mix.wav"), &tiny_wav()),
            ("options", None, options),
        ],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().unwrap().to_string();
    let job = wait_done(addr, &id);
    let rows = job["report"]["platforms"].as_array().unwrap();
    let named: Vec<&str> = rows
        .iter()
        .map(|r| r["platform"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["broadcast", "spotify"]);
    let dir = tempfile::tempdir().unwrap();
    for (row, (file, lufs)) in rows.iter().zip([
        ("bundle_broadcast_48k_24b.wav", -23.0),
        ("bundle_streaming_44k1_24b.wav", -14.0),
    ]) {
        assert_eq!(row["pass"], true, "{row}");
        assert!(row["files"][0].as_str().unwrap().ends_with(file), "{row}");
        let got = request(
            addr,
            "GET",
            &format!("/api/jobs/{id}/files/{file}"),
            None,
            b"",
        );
        assert_eq!(got.status, 200, "{file}");
        let path = dir.path().join(file);
        std::fs::write(&path, &got.body).unwrap();
        if let Some((i, tp)) = reference(&path) {
            eprintln!("{file}: {i:.3} LUFS, {tp:.3} dBTP");
            assert!((i - lufs).abs() <= 0.1, "{file}: {i}");
            assert!(tp <= -1.0, "{file}: {tp}");
        }
    }
    server.stop();
}

#[test]
fn bad_uploads_and_requests_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 0, 1)).unwrap();
    let addr = server.addr;
    let jobs_dir = data.path().join("jobs");
    let leftovers = || std::fs::read_dir(&jobs_dir).map_or(0, |d| d.count());
    // Over the 1 MB limit: 413 while streaming, and nothing kept.
    let big = vec![7u8; 3_000_000];
    let r = post_job(addr, &[("mix", Some("big.wav"), &big)]);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(leftovers(), 0);
    // Not audio.
    let r = post_job(
        addr,
        &[(
            "mix",
            Some("notes.wav"),
            b"these are my mastering notes, not audio",
        )],
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("not audio"),
        "{}",
        r.json()
    );
    // No audio at all; unknown parts; bad options.
    assert_eq!(post_job(addr, &[("options", None, b"{}")]).status, 400);
    assert_eq!(
        post_job(addr, &[("sneaky", Some("x.wav"), b"RIFF")]).status,
        400
    );
    let wav = tiny_wav();
    let r = post_job(
        addr,
        &[
            ("mix", Some("a.wav"), &wav),
            ("options", None, br#"{"preset":"loudest"}"#),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("preset"));
    let r = post_job(
        addr,
        &[
            ("mix", Some("a.wav"), &wav),
            ("options", None, br#"{"match":"eq=2"}"#),
        ],
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("match"),
        "{}",
        r.json()
    );
    assert_eq!(leftovers(), 0);
    // Ids and names: only what the server made and listed.
    for path in [
        "/api/jobs/notanid",
        "/api/jobs/0123456789abcdef0123456789abcdef",
        "/api/jobs/..%2F..%2Fjobs.sqlite",
    ] {
        assert_eq!(request(addr, "GET", path, None, b"").status, 404, "{path}");
    }
    let r = post_job(addr, &[("mix", Some("a.wav"), &wav)]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().unwrap().to_string();
    for name in [
        "..%2Fin%2Fmix.wav",
        "..%2F..%2F..%2Fjobs.sqlite",
        "report.json",
    ] {
        let r = request(
            addr,
            "GET",
            &format!("/api/jobs/{id}/files/{name}"),
            None,
            b"",
        );
        assert_eq!(r.status, 404, "{name}");
    }
    // The API is documented.
    let doc = request(addr, "GET", "/api/openapi.json", None, b"").json();
    assert!(doc["paths"]["/api/jobs"]["post"].is_object());
    // The upload page is served by lathe itself (no CDN).
    let page = request(addr, "GET", "/", None, b"");
    let html = String::from_utf8_lossy(&page.body);
    assert!(page.status == 200 && html.contains("<form") && !html.contains("https://"));
    server.stop();
}

/// Accepted uploads survive a stop: a job left `running` by a server that stopped is queued
/// again at the next start and finishes. Finished jobs older than the retention are deleted.
#[test]
fn an_interrupted_job_finishes_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let first = start(config(data.path(), 0, 10)).unwrap();
    let wav = tiny_wav();
    let r = post_job(
        first.addr,
        &[
            ("mix", Some("song.wav"), &wav),
            ("options", None, br#"{"deliver":["wav:24"]}"#),
        ],
    );
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    first.stop();
    // As if a worker had claimed it when the server went down.
    mark_running(data.path(), &id, "progress = 0.4");
    let second = start(config(data.path(), 1, 10)).unwrap();
    let job = wait_done(second.addr, &id);
    assert!(
        job["files"]
            .to_string()
            .contains("song_master_44k1_24b.wav"),
        "{job}"
    );
    second.stop();
    // Retention: with 0 days kept, the finished job is deleted when the next server starts.
    std::thread::sleep(Duration::from_millis(1100));
    let third = start(Config {
        retention_days: 0.0,
        ..config(data.path(), 0, 10)
    })
    .unwrap();
    let started = Instant::now();
    while request(third.addr, "GET", &format!("/api/jobs/{id}"), None, b"").status != 404 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the finished job was kept"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!data.path().join("jobs").join(&id).exists());
    third.stop();
}

/// Web and worker processes apart need a database with leases: on the data folder's SQLite a
/// starting process would hand back the jobs another one is rendering, so it is refused.
#[test]
fn roles_apart_need_postgres() {
    let data = tempfile::tempdir().unwrap();
    if db_url(data.path()).is_some() {
        return; // this run is on PostgreSQL, where roles are allowed
    }
    for role in [lathe_server::Role::Web, lathe_server::Role::Worker] {
        let e = start(Config {
            role,
            ..config(data.path(), 1, 10)
        })
        .err()
        .expect("refused");
        assert!(e.contains("need --db"), "{e}");
    }
}

/// A database that goes away while the service runs (PostgreSQL only: its connections cut and
/// new ones refused): job pages and new orders get 503 with Retry-After, never a 404 or a
/// half-accepted order; once it is back, the finished job is there and new orders master.
#[test]
fn a_database_that_goes_away_answers_503_and_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let Some(url) = db_url(data.path()) else {
        return; // SQLite is a file of the process's own: it does not go away
    };
    let name = url.rsplit_once('/').unwrap().1.to_string();
    let cut = |allow: bool| {
        let sql = if allow {
            format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        } else {
            format!(
                "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        };
        admin_sql(&sql);
    };
    let server = start(config(data.path(), 1, 10)).unwrap();
    let wav = tiny_wav();
    let r = post_job(server.addr, &[("mix", Some("a.wav"), &wav)]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().unwrap().to_string();
    wait_done(server.addr, &id);

    cut(false);
    let page = request(server.addr, "GET", &format!("/api/jobs/{id}"), None, b"");
    assert_eq!(page.status, 503, "{}", String::from_utf8_lossy(&page.body));
    let order = post_job(server.addr, &[("mix", Some("b.wav"), &wav)]);
    assert_eq!(
        order.status,
        503,
        "an order while the database is away: {}",
        String::from_utf8_lossy(&order.body)
    );
    let folders = std::fs::read_dir(data.path().join("jobs")).unwrap().count();
    assert_eq!(folders, 1, "the refused order left no files");

    cut(true);
    let started = Instant::now();
    let back = loop {
        let r = request(server.addr, "GET", &format!("/api/jobs/{id}"), None, b"");
        if r.status == 200 || started.elapsed() > Duration::from_secs(20) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(back.status, 200, "{}", String::from_utf8_lossy(&back.body));
    assert_eq!(back.json()["state"], "done");
    let r = post_job(server.addr, &[("mix", Some("c.wav"), &wav)]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    wait_done(server.addr, r.json()["id"].as_str().unwrap());
    server.stop();
}

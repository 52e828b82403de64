//! Scale-out under faults: 2 web and 3 worker processes of `lathe serve` sharing a PostgreSQL
//! database and either a data folder or an S3 bucket (`--store`, each process with a data
//! folder of its own); 30 jobs; two workers and one web process killed with SIGKILL while jobs
//! render, replacements started. Every accepted job must finish once, with exactly one set of
//! outputs, its master on target (libebur128 where the reference Python is set).
//!
//! Needs `LATHE_TEST_POSTGRES` (a superuser URL; `scripts/setup.sh`'s `ensure_postgres`) and,
//! for the bucket, `LATHE_TEST_S3` (`ensure_s3`); skipped without them unless
//! `LATHE_REQUIRE_SERVICES=1`.

mod common;

use common::*;
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const JOBS: usize = 30;
const LEASE_S: u64 = 3;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The processes of the test, killed when it ends however it ends.
#[derive(Default)]
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Where the processes keep the job files: one shared data folder, or a bucket (and a data
/// folder of each process's own).
#[derive(Clone)]
enum Files {
    Shared(PathBuf),
    Bucket {
        root: PathBuf,
        url: String,
        env: Vec<(&'static str, String)>,
    },
}

impl Files {
    fn data(&self, process: &str) -> PathBuf {
        match self {
            Files::Shared(d) => d.clone(),
            Files::Bucket { root, .. } => root.join(process),
        }
    }
}

fn start(files: &Files, name: &str, db: &str, args: &[&str], log: &Path) -> Child {
    let mut cmd = lathe();
    cmd.args(["serve", "--data"])
        .arg(files.data(name))
        .args(["--lease-s", &LEASE_S.to_string()])
        .args(args)
        .env("LATHE_DB_URL", db);
    if let Files::Bucket { url, env, .. } = files {
        cmd.args(["--store", url]);
        for (k, v) in env {
            cmd.env(k, v);
        }
    }
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn web(files: &Files, name: &str, db: &str, port: u16, log: &Path) -> Child {
    let child = start(
        files,
        name,
        db,
        &["--role", "web", "--addr", &format!("127.0.0.1:{port}")],
        log,
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "web did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn worker(files: &Files, name: &str, db: &str, log: &Path) -> Child {
    start(
        files,
        name,
        db,
        &["--role", "worker", "--workers", "1"],
        log,
    )
}

/// One request; `None` when nothing answers (a killed process).
fn http(port: u16, method: &str, path: &str, ct: &str, body: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |p| p.1).to_string();
    Some((status, body))
}

fn job(port: u16, id: &str) -> serde_json::Value {
    http(port, "GET", &format!("/api/jobs/{id}"), "text/plain", b"")
        .and_then(|(_, b)| serde_json::from_str(&b).ok())
        .unwrap_or_default()
}

/// A fresh database on the test server; `None` (skipped) without one.
fn database(tag: &str) -> Option<String> {
    let Ok(admin) = std::env::var("LATHE_TEST_POSTGRES") else {
        if std::env::var("LATHE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("LATHE_REQUIRE_SERVICES=1 but LATHE_TEST_POSTGRES is not set");
        }
        eprintln!("SKIPPED scale-out fault test: LATHE_TEST_POSTGRES is not set");
        return None;
    };
    let name = format!("lathe_scale_{tag}_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(conn);
        // One statement each: CREATE DATABASE runs outside a transaction.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&sql).await.unwrap();
        }
        drop(client);
        let _ = task.await;
    });
    Some(format!("{}/{name}", admin.rsplit_once('/').unwrap().0))
}

fn upload_body(wav: &[u8]) -> (String, Vec<u8>) {
    let boundary = "scale-out-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"mix\"; filename=\"song.wav\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(wav);
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{{\"preset\":\"streaming\",\"deliver\":[\"wav:24\"]}}\r\n--{boundary}--\r\n").as_bytes(),
    );
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// 20 s of a chord with a moving envelope and a noise-like upper part: enough for a render to
/// take a moment, so that kills land in the middle of jobs.
fn song(path: &Path) {
    let mut seed = 0x2545_f491_u32;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f64 / u32::MAX as f64 - 0.5
    };
    write_stereo_f32(
        path,
        44_100,
        (0..20 * 44_100).map(|n| {
            let t = n as f64 / 44_100.0;
            let chord: f64 = [110.0, 164.8, 220.0, 277.2]
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                .sum();
            let env = 0.55 + 0.45 * (t * 1.3).sin();
            let l = 0.05 * chord * env + 0.04 * noise();
            let r = 0.05 * chord * env + 0.04 * noise();
            [l as f32, r as f32]
        }),
    );
}

/// The bucket of the S3 server `ensure_s3` started, under a prefix of this run's own.
fn bucket() -> Option<(String, Vec<(&'static str, String)>)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(url) = var("LATHE_TEST_S3") else {
        if var("LATHE_REQUIRE_SERVICES").is_some_and(|v| v == "1") {
            panic!("LATHE_REQUIRE_SERVICES=1 but LATHE_TEST_S3 is not set");
        }
        eprintln!("SKIPPED scale-out fault test on a bucket: LATHE_TEST_S3 is not set");
        return None;
    };
    let env = vec![
        ("AWS_ACCESS_KEY_ID", var("LATHE_TEST_S3_KEY_ID").unwrap()),
        (
            "AWS_SECRET_ACCESS_KEY",
            var("LATHE_TEST_S3_SECRET").unwrap(),
        ),
        ("AWS_ENDPOINT_URL", var("LATHE_TEST_S3_ENDPOINT").unwrap()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    Some((format!("{url}/scale-{}", std::process::id()), env))
}

#[test]
fn jobs_survive_killed_workers_and_web_processes() {
    let Some(db) = database("shared") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    fleet_under_faults(&db, Files::Shared(data), dir.path());
}

/// The same with the files in a bucket and no data folder shared: any web process serves any
/// job and any worker renders any job from what the bucket holds.
#[test]
fn jobs_survive_killed_processes_with_files_in_a_bucket() {
    let Some(db) = database("bucket") else { return };
    let Some((url, env)) = bucket() else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = Files::Bucket {
        root: dir.path().join("data"),
        url,
        env,
    };
    fleet_under_faults(&db, files, dir.path());
}

fn fleet_under_faults(db: &str, files: Files, dir: &Path) {
    let db = db.to_string();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = |name: &str| logs.join(format!("{name}.log"));
    let wav_path = dir.join("song.wav");
    song(&wav_path);
    let (ct, body) = upload_body(&std::fs::read(&wav_path).unwrap());

    let t0 = Instant::now();
    let ports = [free_port(), free_port()];
    let mut fleet = Fleet::default();
    // Webs first: the first start makes the schema.
    fleet
        .0
        .push(web(&files, "web0", &db, ports[0], &log("web0")));
    fleet
        .0
        .push(web(&files, "web1", &db, ports[1], &log("web1")));
    for w in 0..3 {
        let name = format!("worker{w}");
        fleet.0.push(worker(&files, &name, &db, &log(&name)));
    }

    // Orders go to both web processes in turn; web 1 is killed after a third of them and a
    // replacement started on its port after two thirds: orders it misses meanwhile are not
    // accepted (no answer), and go to web 0 instead.
    let mut accepted: Vec<(String, u16)> = Vec::new();
    let (mut refused, mut killed_web, mut killed_workers) = (0, None, None);
    let mut turn = 0usize;
    while accepted.len() < JOBS {
        let port = ports[turn % 2];
        turn += 1;
        match http(port, "POST", "/api/jobs", &ct, &body) {
            Some((201, reply)) => {
                let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
                accepted.push((v["id"].as_str().unwrap().to_string(), port));
            }
            Some((status, reply)) => panic!("{status}: {reply}"),
            None => refused += 1,
        }
        if accepted.len() == JOBS / 3 && killed_workers.is_none() {
            // Two workers, each in the middle of a job (the queue is full).
            for c in &mut fleet.0[2..4] {
                c.kill().unwrap();
                c.wait().unwrap();
            }
            killed_workers = Some(t0.elapsed());
            eprintln!(
                "killed workers 0 and 1 at {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            fleet
                .0
                .push(worker(&files, "worker3", &db, &log("worker3")));
            fleet
                .0
                .push(worker(&files, "worker4", &db, &log("worker4")));
            fleet.0[1].kill().unwrap();
            fleet.0[1].wait().unwrap();
            killed_web = Some(t0.elapsed());
            eprintln!("killed web 1 at {:.1} s", t0.elapsed().as_secs_f64());
        }
        if accepted.len() == 2 * JOBS / 3 && killed_web.is_some() && fleet.0.len() == 7 {
            fleet
                .0
                .push(web(&files, "web2", &db, ports[1], &log("web2")));
            eprintln!("web 1 replaced at {:.1} s", t0.elapsed().as_secs_f64());
        }
    }
    let ordered = t0.elapsed();

    // Every accepted job finishes, read through either web process.
    let mut done: HashMap<String, serde_json::Value> = HashMap::new();
    let started = Instant::now();
    while done.len() < accepted.len() {
        for (id, _) in &accepted {
            if done.contains_key(id) {
                continue;
            }
            let j = job(ports[done.len() % 2], id);
            match j["state"].as_str() {
                Some("done") => {
                    done.insert(id.clone(), j);
                }
                Some("failed") => panic!("job {id} failed: {j}"),
                _ => {}
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{} of {} done",
            done.len(),
            accepted.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let finished = t0.elapsed();

    // Exactly one set of outputs each, and one render in each job's history.
    let names = |j: &serde_json::Value| -> BTreeSet<String> {
        j["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    let expected = names(&done[&accepted[0].0]);
    assert!(
        expected.contains("song_master_44k1_24b.wav"),
        "{expected:?}"
    );
    let mut masters: Vec<PathBuf> = Vec::new();
    let mut retried = 0;
    for (id, _) in &accepted {
        let j = &done[id];
        assert_eq!(names(j), expected, "job {id}: {j}");
        let rendered = j["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["what"] == "rendered")
            .count();
        assert_eq!(rendered, 1, "job {id} rendered {rendered} times");
        let attempts = j["attempts"].as_u64().unwrap_or(1) as u32;
        masters.push(stored_outputs(&files, dir, id, attempts, &expected));
        retried += usize::from(j["attempts"].as_u64().unwrap_or(1) > 1);
    }
    eprintln!(
        "accepted {} (refused while web 1 was down: {refused}), finished {}, lost 0, doubled 0; \
         {retried} job(s) taken up again after their worker died; orders in {:.1} s, all done at \
         {:.1} s (workers killed at {:.1} s, lease {LEASE_S} s)",
        accepted.len(),
        done.len(),
        ordered.as_secs_f64(),
        finished.as_secs_f64(),
        killed_workers.unwrap().as_secs_f64()
    );
    assert!(retried >= 1, "a killed worker's job was taken up again");
    if let Some(py) = reference_python("scale-out masters on target") {
        assert_reference_meets(&py, &masters, -14.0, -1.0);
    }
}

/// The job's outputs where the processes keep them: the shared folder holds exactly the
/// expected files; in the bucket, the committed attempt's prefix does (other attempts' files
/// may lie beside it, never listed). Returns the master's local path.
fn stored_outputs(
    files: &Files,
    dir: &Path,
    id: &str,
    attempt: u32,
    expected: &BTreeSet<String>,
) -> PathBuf {
    match files {
        Files::Shared(data) => {
            let folder = data.join("jobs").join(id).join("out");
            let on_disk: BTreeSet<String> = std::fs::read_dir(&folder)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(&on_disk, expected, "job {id}: files on disk");
            folder.join("song_master_44k1_24b.wav")
        }
        Files::Bucket { url, env, .. } => {
            let var = |k: &str| env.iter().find(|(n, _)| *n == k).unwrap().1.clone();
            let access = lathe_server::blobs::S3Access {
                key_id: var("AWS_ACCESS_KEY_ID"),
                secret: var("AWS_SECRET_ACCESS_KEY"),
                region: var("AWS_REGION"),
                endpoint: Some(var("AWS_ENDPOINT_URL")),
            };
            let url = lathe_server::blobs::StoreUrl::parse(url).unwrap();
            let blobs = lathe_server::blobs::Blobs::s3(&url, &access).unwrap();
            let prefix = format!("jobs/{id}/rev/1/a{attempt}");
            let stored: BTreeSet<String> = blobs
                .list(&prefix)
                .unwrap()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert_eq!(&stored, expected, "job {id}: {prefix} in the bucket");
            let master = dir.join("masters").join(format!("{id}.wav"));
            blobs
                .get_file(&format!("{prefix}/song_master_44k1_24b.wav"), &master)
                .unwrap();
            master
        }
    }
}

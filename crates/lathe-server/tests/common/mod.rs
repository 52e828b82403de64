//! The tests' HTTP/1.1 client (plain TCP, written here) and the server set-up they share.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use lathe_server::Config;

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request (`Connection: close`); the body is written in pieces, and a reply
/// that comes early (a refusal) is still read.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Reply {
    let ct: Vec<(&str, &str)> = content_type
        .map(|c| ("Content-Type", c))
        .into_iter()
        .collect();
    request_with(addr, method, path, &ct, body)
}

/// [`request`] with extra headers; a `Host` among them replaces the real one.
pub fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or(addr.to_string(), |(_, v)| v.to_string());
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
    {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes()).unwrap();
    for chunk in body.chunks(64 * 1024) {
        if s.write_all(chunk).is_err() {
            break; // the server answered early and closed its side
        }
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP reply: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Reply { status, head, body }
}

/// A multipart/form-data body: (part name, file name, bytes).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "lathe-test-boundary-7c1d2e";
    let mut b = Vec::new();
    for (name, file, data) in parts {
        b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => b.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), b)
}

pub fn post_job(addr: SocketAddr, parts: &[(&str, Option<&str>, &[u8])]) -> Reply {
    let (ct, body) = multipart(parts);
    request(addr, "POST", "/api/jobs", Some(&ct), &body)
}

pub fn config(data: &Path, workers: usize, max_mb: u64) -> Config {
    let mut c = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.to_path_buf(),
        vec![env!("CARGO_BIN_EXE_lathe-job").into()],
    );
    c.workers = workers;
    c.max_upload_bytes = max_mb * 1_000_000;
    c.db_url = db_url(data);
    c
}

/// The database of the server a test runs on `data`: SQLite in that folder, or, with
/// `LATHE_TEST_BACKEND=postgres`, a database of its own on the test server
/// (`LATHE_TEST_POSTGRES`), the same one for every start on the same folder (restarts).
pub fn db_url(data: &Path) -> Option<String> {
    if std::env::var("LATHE_TEST_BACKEND").ok()? != "postgres" {
        return None;
    }
    let admin = std::env::var("LATHE_TEST_POSTGRES").expect(
        "LATHE_TEST_BACKEND=postgres needs LATHE_TEST_POSTGRES (scripts/setup.sh: ensure_postgres)",
    );
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    let name = format!("lathe_api_{}_{:016x}", std::process::id(), h.finish());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(conn);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .unwrap()
            .is_some();
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        }
        drop(client);
        let _ = task.await;
    });
    let base = admin.rsplit_once('/').expect("a URL with a database").0;
    Some(format!("{base}/{name}"))
}

/// Runs `sql` as the test server's superuser (`LATHE_TEST_POSTGRES`).
pub fn admin_sql(sql: &str) {
    let admin = std::env::var("LATHE_TEST_POSTGRES").expect("LATHE_TEST_POSTGRES");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = task.await;
    });
}

/// The accounts of the server a test runs on `data` (see [`db_url`]).
pub fn accounts(data: &Path) -> lathe_server::accounts::Accounts {
    lathe_server::records::Database::parse(db_url(data).as_deref(), data)
        .and_then(|d| d.open_accounts())
        .unwrap()
}

/// Polls a job until it is done (or fails the test).
pub fn wait_done(addr: SocketAddr, id: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let j = request(addr, "GET", &format!("/api/jobs/{id}"), None, b"").json();
        match j["state"].as_str().unwrap() {
            "done" => return j,
            "failed" => panic!("job failed: {}", j["error"]),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "job {id} not done: {j}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A short stereo WAV (16-bit, 1 s of a tone).
pub fn tiny_wav() -> Vec<u8> {
    let spec = hound_spec();
    let mut cur = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
        for n in 0..44_100 {
            let v = ((n as f64 * 0.0627).sin() * 8000.0) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }
    cur.into_inner()
}

pub fn hound_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// The accounts of a test: ana and bo (clients), eve (engineer), each with a bearer token
/// (`Bearer …`, ready for the Authorization header).
pub struct People {
    pub ana: String,
    pub bo: String,
    pub eve: String,
}

pub fn people(data: &Path) -> People {
    use lathe_server::accounts::Role;
    let a = accounts(data);
    a.add_user("ana", Role::Client, "ana-password").unwrap();
    a.add_user("bo", Role::Client, "bo-password").unwrap();
    a.add_user("eve", Role::Engineer, "eve-password").unwrap();
    let t = |n: &str| format!("Bearer {}", a.create_token(n).unwrap());
    People {
        ana: t("ana"),
        bo: t("bo"),
        eve: t("eve"),
    }
}

/// The database of the server a test runs on `data`, for reading what it stored.
pub fn raw_db(data: &Path) -> lathe_server::db::Db {
    lathe_server::records::Database::parse(db_url(data).as_deref(), data)
        .and_then(|d| d.open_db())
        .unwrap()
}

/// Marks job `id` as taken by a worker that has since died (its lease, where there are
/// leases, long expired), with `set` (SQL assignments) besides.
pub fn mark_running(data: &Path, id: &str, set: &str) {
    let expired = if db_url(data).is_some() {
        ", lease_until_s = 0"
    } else {
        ""
    };
    raw_db(data)
        .exec(
            &format!("UPDATE jobs SET state = 'running', {set}{expired} WHERE id = $1"),
            lathe_server::db_params![id],
        )
        .unwrap();
}

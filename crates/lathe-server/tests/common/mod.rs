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
    c
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
    use lathe_server::accounts::{Accounts, Role};
    let a = Accounts::open(data).unwrap();
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

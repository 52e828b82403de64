//! `lathe serve` killed with SIGKILL while a job renders: the job's process dies with it (it
//! would otherwise go on writing into a job the next server starts again), and the next
//! server renders the job to the end. Real processes, real HTTP on loopback.

mod common;

use common::*;
use std::f64::consts::PI;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(data: &Path, port: u16) -> Child {
    let child = lathe()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// One request; returns (status, body).
fn http(port: u16, method: &str, path: &str, ct: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |p| p.1).to_string();
    (status, body)
}

fn state(port: u16, id: &str) -> serde_json::Value {
    let (_, body) = http(port, "GET", &format!("/api/jobs/{id}"), "text/plain", b"");
    serde_json::from_str(&body).unwrap_or_default()
}

/// Processes whose command line holds `needle`.
fn processes_with(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn a_killed_server_takes_its_jobs_process_with_it_and_the_next_one_finishes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mix = dir.path().join("long.wav");
    write_stereo_f32(
        &mix,
        44_100,
        (0..300 * 44_100).map(|n| {
            let t = n as f64 / 44_100.0;
            let v = (0.3 * (2.0 * PI * 110.0 * t).sin() * (0.6 + 0.4 * (t * 0.7).sin())) as f32;
            [v, v * 0.9]
        }),
    );
    let port = free_port();
    let mut server = serve(&data, port);
    let boundary = "kill-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"mix\"; filename=\"long.wav\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&std::fs::read(&mix).unwrap());
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{{\"deliver\":[\"wav:24\",\"flac:24\"]}}\r\n--{boundary}--\r\n").as_bytes(),
    );
    let (status, reply) = http(
        port,
        "POST",
        "/api/jobs",
        &format!("multipart/form-data; boundary={boundary}"),
        &body,
    );
    assert_eq!(status, 201, "{reply}");
    let id = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    while processes_with(&format!(
        "serve-job {}",
        data.canonicalize().unwrap().display()
    )) == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            state(port, &id)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let needle = format!("serve-job {}", data.canonicalize().unwrap().display());
    let started = Instant::now();
    while processes_with(&needle) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the job's process outlived the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let port = free_port();
    let mut server = serve(&data, port);
    let started = Instant::now();
    let job = loop {
        let j = state(port, &id);
        if matches!(j["state"].as_str(), Some("done" | "failed")) {
            break j;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "{j}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(job["state"], "done", "{job}");
    assert!(
        job["files"]
            .to_string()
            .contains("long_master_44k1_24b.flac"),
        "{job}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

//! Multipart uploads to a running `lathe serve` (on loopback, no workers, uploads checked in
//! this process: no job runner): the fuzzed bytes
//! are the body of `POST /api/jobs`, under a fixed boundary. Every answer is 201, 400, 408 or
//! 413, never a 5xx, and the server keeps answering.
#![no_main]

use std::io::{Read, Write};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct Server {
    addr: std::net::SocketAddr,
    _running: lathe_server::Running,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let data = std::env::temp_dir().join(format!("lathe-fuzz-upload-{}", std::process::id()));
        let mut c = lathe_server::Config::new("127.0.0.1:0".parse().unwrap(), data, Vec::new());
        c.workers = 0;
        c.max_upload_bytes = 10_000_000;
        c.upload_idle_s = 5;
        let running = lathe_server::start(c).expect("server starts");
        Server {
            addr: running.addr,
            _running: running,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = server();
    let mut conn = std::net::TcpStream::connect(s.addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n",
        s.addr,
        data.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let _ = conn.write_all(data);
    let mut raw = Vec::new();
    let _ = conn.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    assert!(
        matches!(status, 201 | 400 | 408 | 413),
        "status {status}: {text}"
    );
});

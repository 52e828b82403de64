//! Webhooks over loopback, to a receiver written here (plain TCP): each user with a webhook
//! who may see a project gets a POST when a revision is rendered or fails, when the client
//! approves and when it asks for changes; another client gets nothing of it. Signatures are
//! checked with Python's own `hmac` module (independent of the server's HMAC), the body's
//! fields against what happened, a receiver's 500 is retried after the backoff, a dead
//! receiver is given up after the set attempts, and every user sees how their deliveries went.

mod common;

use common::*;
use lathe_server::accounts::Role;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    at: Instant,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    /// The status the receiver answered.
    answered: u16,
}

impl Hit {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on loopback: answers 500 to the first request on `/ana` (to be retried), 200 to
/// every other, and keeps what it got.
fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Hit>>>) {
    receiver_on("127.0.0.1:0")
}

fn receiver_on(addr: &str) -> (SocketAddr, Arc<Mutex<Vec<Hit>>>) {
    let listener = TcpListener::bind(addr).unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(Vec::<Hit>::new()));
    let log = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
            let n: usize = headers["content-length"].parse().unwrap();
            let mut body = vec![0; n];
            reader.read_exact(&mut body).unwrap();
            let mut log = log.lock().unwrap();
            let first_to_ana = path == "/ana" && !log.iter().any(|h| h.path == "/ana");
            let answered = if first_to_ana { 500 } else { 200 };
            log.push(Hit {
                at: Instant::now(),
                path,
                headers,
                body,
                answered,
            });
            let _ = write!(
                stream,
                "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (addr, hits)
}

/// The hits on `path` whose event is `event`, once at least `n` have come (or fails the test).
fn wait_hits(hits: &Mutex<Vec<Hit>>, path: &str, event: &str, n: usize) -> Vec<Hit> {
    let started = Instant::now();
    loop {
        let got: Vec<Hit> = hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path == path && h.headers["x-lathe-event"] == event)
            .cloned()
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{path} got no {event}: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// HMAC-SHA256 of `body` under `key`, hex, by Python's standard library.
fn python_hmac(key: &str, body: &[u8]) -> String {
    let python = std::env::var("LATHE_REF_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(python)
        .args([
            "-c",
            "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            key,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 to check the signatures");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn call(addr: SocketAddr, method: &str, path: &str, who: &str, body: &str) -> Reply {
    request_with(
        addr,
        method,
        path,
        &[("Authorization", who), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

fn order(addr: SocketAddr, who: &str, wav: &[u8]) -> String {
    let (ct, body) = multipart(&[("mix", Some("song.wav"), wav)]);
    let r = request_with(
        addr,
        "POST",
        "/api/jobs",
        &[("Content-Type", &ct), ("Authorization", who)],
        &body,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_string()
}

fn silent_wav() -> Vec<u8> {
    let mut cur = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, hound_spec()).unwrap();
        for _ in 0..2 * 44_100 {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
    }
    cur.into_inner()
}

#[test]
fn everyone_who_may_see_a_project_is_notified_signed_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let p = people(dir.path());
    let a = accounts(dir.path());
    a.add_user("zed", Role::Engineer, "zed-password").unwrap();
    let zed = format!("Bearer {}", a.create_token("zed").unwrap());
    let (hook, hits) = receiver();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut cfg = config(dir.path(), 1, 10);
    cfg.notify.retry_base_s = 0.4;
    cfg.notify.attempts = 3;
    let server = lathe_server::start(cfg).unwrap();
    let addr = server.addr;

    // Setting webhooks: through the API (ana, bo, zed) and the account store (eve, as `lathe
    // serve user webhook` does); bad URLs refused.
    let set = |who: &str, url: String| {
        let r = call(
            addr,
            "PUT",
            "/api/me/webhook",
            who,
            &format!("{{\"url\": \"{url}\"}}"),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["secret"].as_str().unwrap().to_string()
    };
    let ana_key = set(&p.ana, format!("http://{hook}/ana"));
    set(&p.bo, format!("http://{hook}/bo"));
    set(&zed, format!("http://{dead}/zed"));
    let eve_key = a.set_webhook("eve", &format!("http://{hook}/eve")).unwrap();
    for bad in ["ftp://x/", "not a url", "http://user:pw@example.com/"] {
        let r = call(
            addr,
            "PUT",
            "/api/me/webhook",
            &p.ana,
            &format!("{{\"url\": \"{bad}\"}}"),
        );
        assert_eq!(r.status, 400, "{bad}");
    }
    let mine = call(addr, "GET", "/api/me/webhook", &p.ana, "").json();
    assert_eq!(mine["url"], format!("http://{hook}/ana"));
    assert!(
        mine.get("secret").is_none(),
        "the secret is shown once only"
    );

    // Revision 1 rendered: ana (after her receiver's 500 and the backoff) and the engineers.
    let id = order(addr, &p.ana, &tiny_wav());
    let ana = wait_hits(&hits, "/ana", "revision.rendered", 2);
    assert_eq!(ana[0].answered, 500);
    assert_eq!(ana[1].answered, 200);
    let gap = ana[1].at - ana[0].at;
    assert!(
        gap >= Duration::from_millis(400) && gap < Duration::from_secs(5),
        "retried after {gap:?} (backoff 0.4 s)"
    );
    assert_eq!(
        ana[0].headers["x-lathe-delivery"], ana[1].headers["x-lathe-delivery"],
        "a retry is the same delivery"
    );
    let eve = wait_hits(&hits, "/eve", "revision.rendered", 1);
    for (h, key) in [(&ana[1], &ana_key), (&eve[0], &eve_key)] {
        assert_eq!(
            h.headers["x-lathe-signature"],
            format!("sha256={}", python_hmac(key, &h.body)),
            "signature of {}",
            h.path
        );
        let b = h.json();
        assert_eq!(b["event"], "revision.rendered");
        assert_eq!(b["job"], id.as_str());
        assert_eq!(b["revision"], 1);
        assert_eq!(b["delivery"], h.headers["x-lathe-delivery"].as_str());
        assert_eq!(h.headers["content-type"], "application/json");
    }

    // The client approves, then asks for changes: both reach ana and eve, with who and why.
    let approve = format!("/api/jobs/{id}/approve");
    let r = call(
        addr,
        "POST",
        &approve,
        &p.ana,
        r#"{"revision": 1, "comment": "lovely"}"#,
    );
    assert_eq!(r.status, 200);
    let r = call(
        addr,
        "POST",
        &format!("/api/jobs/{id}/changes"),
        &p.ana,
        r#"{"comment": "a bit less bright"}"#,
    );
    assert_eq!(r.status, 200);
    for path in ["/ana", "/eve"] {
        let ok = wait_hits(&hits, path, "job.approved", 1)[0].json();
        assert_eq!(
            (ok["who"].as_str(), ok["comment"].as_str()),
            (Some("ana"), Some("lovely"))
        );
        let ch = wait_hits(&hits, path, "job.changes_requested", 1)[0].json();
        assert_eq!(ch["comment"], "a bit less bright");
    }

    // A master that cannot be made (a silent mix has no loudness to raise) fails: notified.
    let failing = order(addr, &p.ana, &silent_wav());
    for path in ["/ana", "/eve"] {
        let f = wait_hits(&hits, path, "revision.failed", 1)[0].json();
        assert_eq!(f["job"], failing.as_str());
        assert!(f["comment"].as_str().unwrap().contains("silent"), "{f}");
    }

    // zed's receiver is down: three attempts, then given up, and zed can see why.
    let started = Instant::now();
    let zed_log = loop {
        let log = call(addr, "GET", "/api/me/webhook", &zed, "").json();
        let all = log["deliveries"].as_array().unwrap().clone();
        if all.len() >= 4 && all.iter().all(|d| d["state"] == "failed") {
            break all;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{log}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for d in &zed_log {
        assert_eq!(d["attempts"], 3, "{d}");
        assert_eq!(d["last_error"], "could not connect", "{d}");
    }
    // ana's log: her first delivery took two attempts.
    let log = call(addr, "GET", "/api/me/webhook", &p.ana, "").json();
    let rendered: Vec<_> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"] == "revision.rendered")
        .collect();
    assert_eq!(rendered.len(), 1);
    assert_eq!(
        (
            rendered[0]["state"].as_str(),
            rendered[0]["attempts"].as_u64()
        ),
        (Some("sent"), Some(2))
    );

    // bo, another client, got nothing at all; after ana removes her webhook she gets no more.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        hits.lock().unwrap().iter().all(|h| h.path != "/bo"),
        "bo was told of ana's project"
    );
    assert_eq!(
        call(addr, "DELETE", "/api/me/webhook", &p.ana, "").status,
        204
    );
    assert_eq!(
        call(addr, "DELETE", "/api/me/webhook", &p.ana, "").status,
        404
    );
    let before = hits
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.path == "/ana")
        .count();
    let r = call(
        addr,
        "POST",
        &approve,
        &p.ana,
        r#"{"revision": 1, "comment": "again"}"#,
    );
    assert_eq!(r.status, 200);
    wait_hits(&hits, "/eve", "job.approved", 2);
    std::thread::sleep(Duration::from_millis(500));
    let after = hits
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.path == "/ana")
        .count();
    assert_eq!(before, after, "ana's webhook is off");
    server.stop();

    // Without accounts there are no webhooks.
    let open = tempfile::tempdir().unwrap();
    let server = lathe_server::start(config(open.path(), 1, 10)).unwrap();
    let r = request(server.addr, "GET", "/api/me/webhook", None, b"");
    assert_eq!(r.status, 404);
    server.stop();
}

/// A delivery that could not be made before a stop goes out after the restart, the same
/// delivery (same id), once the receiver is up.
#[test]
fn a_pending_delivery_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let p = people(dir.path());
    let later = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = config(dir.path(), 1, 10);
    cfg.notify.retry_base_s = 0.2;
    cfg.notify.retry_max_s = 0.5;
    cfg.notify.attempts = 1000;
    let server = lathe_server::start(cfg.clone()).unwrap();
    let url = format!("{{\"url\": \"http://{later}/late\"}}");
    assert_eq!(
        call(server.addr, "PUT", "/api/me/webhook", &p.ana, &url).status,
        200
    );
    order(server.addr, &p.ana, &tiny_wav());
    let started = Instant::now();
    let pending = loop {
        let log = call(server.addr, "GET", "/api/me/webhook", &p.ana, "").json();
        if let Some(d) = log["deliveries"].as_array().unwrap().first() {
            if d["attempts"].as_u64().unwrap() >= 1 {
                assert_eq!(d["state"], "pending", "{d}");
                break d["id"].as_str().unwrap().to_string();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{log}");
        std::thread::sleep(Duration::from_millis(100));
    };
    server.stop();

    let (_, hits) = receiver_on(&later.to_string());
    let server = lathe_server::start(cfg).unwrap();
    let got = wait_hits(&hits, "/late", "revision.rendered", 1);
    assert_eq!(got[0].headers["x-lathe-delivery"], pending);
    server.stop();
}

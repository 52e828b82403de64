//! `lathe serve` against hostile and careless clients, over real HTTP on loopback: jobs that
//! crash their process, NaN and DC mixes, absurd rates, oversized text parts, thousands of
//! stems, a stored SVG, other origins and host names, stalled uploads, racing downloads, a
//! relative data folder, orphaned folders, and load. After each, a good job queued behind
//! still finishes, across restarts.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use lathe_server::start;

/// Polls a job until it is done or failed; returns its JSON.
fn wait_finished(addr: SocketAddr, id: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let j = request(addr, "GET", &format!("/api/jobs/{id}"), None, b"").json();
        if matches!(j["state"].as_str(), Some("done" | "failed")) {
            return j;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "job {id} not finished: {j}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn created(r: &Reply) -> String {
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().unwrap().to_string()
}

/// A 2 s stereo float WAV of a tone, with `spoil` applied to each frame.
fn float_wav(spoil: impl Fn(usize, &mut [f32; 2])) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut cur = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
        for n in 0..2 * 44_100 {
            let v = (0.3 * (n as f64 * 0.0627).sin()) as f32;
            let mut f = [v, v];
            spoil(n, &mut f);
            w.write_sample(f[0]).unwrap();
            w.write_sample(f[1]).unwrap();
        }
        w.finalize().unwrap();
    }
    cur.into_inner()
}

/// A job runner that aborts (SIGABRT, as LAME's assertion did) on any job whose options hold
/// `POISON`, and runs the real runner on the others.
fn poisoned_runner() -> Vec<std::ffi::OsString> {
    let script = format!(
        "if grep -q POISON \"$0/jobs/$1/in/options.json\" 2>/dev/null; then kill -ABRT $$; fi; exec '{}' \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_lathe-job")
    );
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn a_job_that_crashes_its_process_fails_and_the_queue_moves_on_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path(), 1, 10);
    cfg.job_runner = poisoned_runner();
    let server = start(cfg.clone()).unwrap();
    let wav = tiny_wav();
    let poison = created(&post_job(
        server.addr,
        &[
            ("mix", Some("p.wav"), &wav),
            ("options", None, br#"{"notes":"POISON"}"#),
        ],
    ));
    let good = created(&post_job(
        server.addr,
        &[
            ("mix", Some("g.wav"), &wav),
            ("options", None, br#"{"deliver":["wav:24"]}"#),
        ],
    ));
    let p = wait_finished(server.addr, &poison);
    assert_eq!(p["state"], "failed", "{p}");
    let why = p["error"].as_str().unwrap();
    assert!(
        why.contains("crashed on each of its 2 attempts") && why.contains("SIGABRT"),
        "{why}"
    );
    let g = wait_finished(server.addr, &good);
    assert_eq!(g["state"], "done", "{g}");
    server.stop();

    // A job the last server was running when it died (here: marked so by hand) on its last
    // attempt fails at the next start; the job behind it still runs.
    let server = start(config(data.path(), 0, 10)).unwrap();
    let doomed = created(&post_job(server.addr, &[("mix", Some("d.wav"), &wav)]));
    let behind = created(&post_job(
        server.addr,
        &[
            ("mix", Some("b.wav"), &wav),
            ("options", None, br#"{"deliver":["wav:24"]}"#),
        ],
    ));
    server.stop();
    mark_running(data.path(), &doomed, "attempts = 2");
    let server = start(config(data.path(), 1, 10)).unwrap();
    let d = wait_finished(server.addr, &doomed);
    assert_eq!(d["state"], "failed", "{d}");
    assert!(d["error"].as_str().unwrap().contains("attempts"), "{d}");
    assert_eq!(wait_finished(server.addr, &behind)["state"], "done");
    server.stop();
}

#[test]
fn hostile_audio_and_options_never_stop_the_good_job_behind_them() {
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 1, 50)).unwrap();
    let addr = server.addr;
    // NaN and infinity, with the default deliverables (MP3 among them: LAME once aborted the
    // whole server on this file).
    let nan = float_wav(|n, f| {
        if n % 1000 == 7 {
            f[0] = f32::NAN;
            f[1] = f32::INFINITY;
        }
    });
    let nan_job = created(&post_job(addr, &[("mix", Some("nan.wav"), &nan)]));
    // Full-scale DC, default deliverables.
    let dc = float_wav(|_, f| *f = [1.0, 1.0]);
    let dc_job = created(&post_job(addr, &[("mix", Some("dc.wav"), &dc)]));
    // A 4 GHz delivery rate, and rate 0: refused at the door.
    for rate in ["4000000000", "0"] {
        let opts = format!(r#"{{"deliver":["wav:24@{rate}"]}}"#);
        let r = post_job(
            addr,
            &[
                ("mix", Some("a.wav"), &nan),
                ("options", None, opts.as_bytes()),
            ],
        );
        assert_eq!(
            r.status,
            400,
            "{rate}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.json()["error"].as_str().unwrap().contains("outside 8000"));
    }
    let wav = tiny_wav();
    let good = created(&post_job(
        addr,
        &[
            ("mix", Some("good.wav"), &wav),
            ("options", None, br#"{"deliver":["wav:24","mp3:320"]}"#),
        ],
    ));
    // The same file, with the client's consent to read them as silence: mastered, and said.
    let nan_ok = created(&post_job(
        addr,
        &[
            ("mix", Some("nan.wav"), &nan),
            (
                "options",
                None,
                br#"{"non_finite":"silence","deliver":["wav:24"]}"#,
            ),
        ],
    ));
    let r = post_job(
        addr,
        &[
            ("mix", Some("nan.wav"), &nan),
            ("options", None, br#"{"non_finite":"maybe"}"#),
        ],
    );
    assert_eq!(r.status, 400);
    let n = wait_finished(addr, &nan_job);
    assert_eq!(n["state"], "failed", "{n}");
    let why = n["error"].as_str().unwrap();
    assert!(why.contains("NaN or infinite"), "{why}");
    // The reason names the file, never where the server keeps it.
    let data_path = data.path().canonicalize().unwrap();
    assert!(!why.contains(&*data_path.to_string_lossy()), "{why}");
    let d = wait_finished(addr, &dc_job);
    // DC cannot reach the target; the master is delivered under the ceiling and says so.
    assert_eq!(d["state"], "done", "{d}");
    for f in d["report"]["deliverables"].as_array().unwrap() {
        assert!(
            f["measured"]["true_peak_dbtp"].as_f64().unwrap() <= -1.0,
            "{f}"
        );
    }
    assert_eq!(wait_finished(addr, &good)["state"], "done");
    let ok = wait_finished(addr, &nan_ok);
    assert_eq!(ok["state"], "done", "{ok}");
    let warned = ok["report"]["stems"][0]["warnings"].to_string();
    assert!(warned.contains("NaN or infinite"), "{warned}");
    server.stop();
}

#[test]
fn requests_are_bounded_and_errors_are_short() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path(), 0, 400);
    cfg.max_stems = 8;
    cfg.upload_idle_s = 2;
    let server = start(cfg).unwrap();
    let addr = server.addr;
    let wav = tiny_wav();
    // A 190 MB options part: refused after 256 KB, with a short answer.
    let huge = vec![b'x'; 190_000_000];
    let r = post_job(
        addr,
        &[("mix", Some("a.wav"), &wav), ("options", None, &huge)],
    );
    assert_eq!(r.status, 400);
    assert!(r.body.len() < 1000, "{} bytes of error", r.body.len());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("larger than 256 KB"));
    // A session that quotes a huge line back in its error: the error stays short.
    let mut session = b"title = \"".to_vec();
    session.extend(std::iter::repeat_n(b'y', 200_000));
    let r = post_job(
        addr,
        &[("stem", Some("a.wav"), &wav), ("session", None, &session)],
    );
    assert_eq!(r.status, 400);
    assert!(r.body.len() < 1000, "{} bytes of error", r.body.len());
    // More stems than allowed.
    let many: Vec<(&str, Option<&str>, &[u8])> = (0..9)
        .map(|_| ("stem", Some("s.wav"), wav.as_slice()))
        .collect();
    let r = post_job(addr, &many);
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("at most 8 stems"));
    // A session naming 10,000 stems.
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&format!("[[stem]]\nname = \"s{i}\"\nfile = \"a.wav\"\n"));
    }
    let r = post_job(
        addr,
        &[
            ("stem", Some("a.wav"), &wav),
            ("session", None, text.as_bytes()),
        ],
    );
    assert_eq!(r.status, 400);
    // A body that is not multipart, and a broken boundary: JSON errors.
    for ct in ["text/plain", "multipart/form-data"] {
        let r = request(addr, "POST", "/api/jobs", Some(ct), b"hello");
        assert_eq!(r.status, 400, "{ct}");
        assert!(
            r.head.contains("content-type: application/json"),
            "{}",
            r.head
        );
        assert!(r.json()["error"].is_string());
    }
    // A non-audio stem: the error names the upload, not the server's folders.
    let r = post_job(addr, &[("stem", Some("notes.wav"), b"not audio at all")]);
    assert_eq!(r.status, 400);
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        msg.contains("notes.wav") && !msg.contains("/jobs/"),
        "{msg}"
    );
    // An upload that stalls halfway is dropped after the idle time (2 s here).
    {
        use std::io::{Read, Write};
        let (ct, body) = multipart(&[("mix", Some("a.wav"), &wav)]);
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body[..body.len() / 2]).unwrap();
        let started = Instant::now();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    // Nothing of any refused upload is kept.
    let kept = std::fs::read_dir(data.path().join("jobs")).map_or(0, |d| d.count());
    assert_eq!(kept, 0);
    server.stop();
}

#[test]
fn files_are_served_safely_and_other_origins_change_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 0, 10)).unwrap();
    let addr = server.addr;
    // An SVG with a script and a WAV appended: the decoder reads the WAV, so it is accepted;
    // served back it must never be an SVG in this origin.
    let mut svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>fetch('/api/jobs')</script></svg>"#
            .to_vec();
    svg.extend_from_slice(&tiny_wav());
    let id = created(&post_job(addr, &[("mix", Some("cover.svg"), &svg)]));
    let got = request(addr, "GET", &format!("/api/jobs/{id}/input"), None, b"");
    assert_eq!(got.status, 200);
    assert!(!got.head.contains("image/svg"), "{}", got.head);
    assert!(
        got.head.contains("content-disposition: attachment"),
        "{}",
        got.head
    );
    assert!(
        got.head.contains("x-content-type-options: nosniff"),
        "{}",
        got.head
    );
    assert!(got.head.contains("sandbox"), "{}", got.head);
    // Every answer says nosniff; pages get their CSP.
    let page = request(addr, "GET", "/", None, b"");
    assert!(page.head.contains("x-content-type-options: nosniff"));
    assert!(
        page.head.contains("frame-ancestors 'none'"),
        "{}",
        page.head
    );
    // Another origin cannot create or delete jobs; another host name gets nothing.
    let (ct, body) = multipart(&[("mix", Some("a.wav"), &tiny_wav())]);
    let evil = request_with(
        addr,
        "POST",
        "/api/jobs",
        &[("Content-Type", &ct), ("Origin", "https://evil.example")],
        &body,
    );
    assert_eq!(evil.status, 403);
    let own_origin = format!("http://{addr}");
    let own = request_with(
        addr,
        "POST",
        "/api/jobs",
        &[("Content-Type", &ct), ("Origin", &own_origin)],
        &body,
    );
    let id = created(&own);
    let del = request_with(
        addr,
        "DELETE",
        &format!("/api/jobs/{id}"),
        &[("Origin", "http://attacker.test")],
        b"",
    );
    assert_eq!(del.status, 403);
    let rebound = request_with(
        addr,
        "GET",
        "/api/jobs/0123456789abcdef0123456789abcdef",
        &[("Host", "attacker.test:8080")],
        b"",
    );
    assert_eq!(rebound.status, 421);
    server.stop();
}

#[test]
fn racing_zip_requests_all_get_the_whole_bundle() {
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 1, 10)).unwrap();
    let addr = server.addr;
    let id = created(&post_job(
        addr,
        &[
            ("mix", Some("z.wav"), &tiny_wav()),
            (
                "options",
                None,
                br#"{"deliver":["wav:24","flac:24","wav:16"]}"#,
            ),
        ],
    ));
    assert_eq!(wait_finished(addr, &id)["state"], "done");
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| s.spawn(|| request(addr, "GET", &format!("/api/jobs/{id}/zip"), None, b"")))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &replies {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let zip = zip::ZipArchive::new(std::io::Cursor::new(&r.body)).unwrap();
        assert!(zip.len() >= 4, "{} files", zip.len());
    }
    server.stop();
}

#[test]
fn a_relative_data_folder_runs_session_jobs() {
    // Relative to the test's working folder (the crate), inside the target folder.
    let rel = PathBuf::from(format!("../../target/rel-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&rel);
    let server = start(config(&rel, 1, 10)).unwrap();
    let session = b"[[stem]]\nname = \"a\"\nfile = \"a.wav\"\n\n[[stem]]\nname = \"b\"\nfile = \"b.wav\"\n\n[master]\ntarget = { integrated_lufs = -16.0, true_peak_dbtp = -1.0 }\n";
    let wav = tiny_wav();
    let id = created(&post_job(
        server.addr,
        &[
            ("stem", Some("a.wav"), &wav),
            ("stem", Some("b.wav"), &wav),
            ("session", None, session),
        ],
    ));
    let j = wait_finished(server.addr, &id);
    assert_eq!(j["state"], "done", "{j}");
    server.stop();
    let _ = std::fs::remove_dir_all(&rel);
}

#[test]
fn orphaned_job_folders_are_removed() {
    let data = tempfile::tempdir().unwrap();
    let orphan = data.path().join("jobs/0123456789abcdef0123456789abcdef/in");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("mix.wav"), b"half an upload").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::open(orphan.parent().unwrap())
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    let server = start(config(data.path(), 0, 10)).unwrap();
    let started = Instant::now();
    while orphan.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "orphan kept");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
}

/// The percentile `p` (0…1) of sorted `v`.
fn percentile(v: &[f64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn fifty_concurrent_uploads_and_a_poll_load_get_no_server_error() {
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 1, 10)).unwrap();
    let addr = server.addr;
    let wav = tiny_wav();
    let started = Instant::now();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                s.spawn(|| {
                    post_job(
                        addr,
                        &[
                            ("mix", Some("a.wav"), &wav),
                            ("options", None, br#"{"deliver":["wav:16"]}"#),
                        ],
                    )
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| created(&h.join().unwrap()))
            .collect()
    });
    let upload_s = started.elapsed().as_secs_f64();
    // Polling from 8 clients while the worker renders.
    let latencies: Vec<f64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|k| {
                let ids = &ids;
                s.spawn(move || {
                    let mut l = Vec::new();
                    for i in 0..150 {
                        let id = &ids[(i * 7 + k) % ids.len()];
                        let t = Instant::now();
                        let r = request(addr, "GET", &format!("/api/jobs/{id}"), None, b"");
                        l.push(t.elapsed().as_secs_f64() * 1000.0);
                        assert!(r.status < 500, "{}", r.status);
                    }
                    l
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "50 concurrent uploads in {upload_s:.2} s; {} polls: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.99),
        sorted.last().unwrap()
    );
    assert!(percentile(&sorted, 0.99) < 1000.0);
    // The whole test process (server and clients): the peak resident memory.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    eprintln!(
        "peak resident memory of server and clients: {} MB",
        hwm_kb / 1024
    );
    assert!(hwm_kb < 1024 * 1024, "{hwm_kb} kB");
    server.stop();
}

#[test]
fn hundreds_of_slow_uploads_do_not_stop_the_service_answering() {
    use std::io::Write;
    // Client and server share this process: both ends of 300 connections, beside the other
    // tests' servers, need more than the usual 1024 open files (`lathe serve` raises its own).
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    let data = tempfile::tempdir().unwrap();
    let server = start(config(data.path(), 0, 10)).unwrap();
    let addr = server.addr;
    let (ct, body) = multipart(&[("mix", Some("a.wav"), &tiny_wav())]);
    // 300 uploads that send their headers and one byte, then nothing more for now.
    let slow: Vec<std::net::TcpStream> = (0..300)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let head = format!(
                "POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body[..1]).unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..20 {
        let t = Instant::now();
        let r = request(addr, "GET", "/api/openapi.json", None, b"");
        assert_eq!(r.status, 200);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
    // Past the upload slots, a new upload is told to come back (503), not left hanging.
    let r = post_job(addr, &[("mix", Some("b.wav"), &tiny_wav())]);
    assert!(matches!(r.status, 201 | 503), "{}", r.status);
    drop(slow);
    server.stop();
}

#[test]
fn an_upload_whose_check_crashes_is_refused_and_the_server_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(data.path(), 1, 10);
    // A decoder that aborts on the file named `bomb` (as a C library's assertion would).
    let script = format!(
        "case \"$2\" in *bomb*) kill -ABRT $$;; esac; exec '{}' \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_lathe-job")
    );
    cfg.job_runner = vec!["sh".into(), "-c".into(), script.into()];
    let server = start(cfg).unwrap();
    let wav = tiny_wav();
    // Stems keep their names on disk (a mix is stored as `mix.<ext>`).
    let r = post_job(server.addr, &[("stem", Some("bomb.wav"), &wav)]);
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        msg.contains("could not be read safely") && msg.contains("SIGABRT"),
        "{msg}"
    );
    let id = created(&post_job(
        server.addr,
        &[
            ("mix", Some("fine.wav"), &wav),
            ("options", None, br#"{"deliver":["wav:24"]}"#),
        ],
    ));
    assert_eq!(wait_finished(server.addr, &id)["state"], "done");
    server.stop();
}

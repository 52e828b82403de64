//! The studio's loop over loopback: a client orders a master, an engineer renders revision 2
//! from revision 1's session with a changed target, the client approves one, the zip follows
//! the approval, another client sees none of it, and a revision queued when the service stops
//! renders after the restart. Levels are checked against the analytic figure (a steady sine:
//! a 2 LU lower target is a 2 dB lower RMS), read back with hound.

mod common;

use common::*;
use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn get(addr: SocketAddr, path: &str, who: &str) -> Reply {
    request_with(addr, "GET", path, &[("Authorization", who)], b"")
}

fn post_json(addr: SocketAddr, path: &str, who: &str, body: &serde_json::Value) -> Reply {
    request_with(
        addr,
        "POST",
        path,
        &[("Authorization", who), ("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
}

/// Polls the job until its current revision `n` has finished.
fn wait_revision(addr: SocketAddr, id: &str, who: &str, n: u64) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let j = get(addr, &format!("/api/jobs/{id}"), who).json();
        if j["revision"] == n && (j["state"] == "done" || j["state"] == "failed") {
            assert_eq!(j["state"], "done", "{j}");
            return j;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{j}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// RMS of a 24-bit WAV, dBFS.
fn rms_db(wav: &[u8]) -> f64 {
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    let full = (1i64 << (r.spec().bits_per_sample - 1)) as f64;
    let s: Vec<f64> = r
        .into_samples::<i32>()
        .map(|v| v.unwrap() as f64 / full)
        .collect();
    // The middle half: away from the fade-in of the limiter's look-ahead and the tail.
    let mid = &s[s.len() / 4..3 * s.len() / 4];
    10.0 * (mid.iter().map(|v| v * v).sum::<f64>() / mid.len() as f64).log10()
}

/// The 24-bit WAV master among a revision's files.
fn master_url(rev: &serde_json::Value) -> String {
    rev["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["url"].as_str().unwrap().to_string())
        .find(|u| u.ends_with("_24b.wav"))
        .unwrap_or_else(|| panic!("no WAV master: {rev}"))
}

fn zip_master(zip: &[u8]) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let name = z
        .file_names()
        .find(|n| n.ends_with("_24b.wav"))
        .unwrap()
        .to_string();
    let mut out = Vec::new();
    z.by_name(&name).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn an_engineer_renders_a_revision_and_the_client_approves_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = people(dir.path());
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let addr = server.addr;
    let data_path = dir.path().canonicalize().unwrap().display().to_string();

    let wav = tiny_wav();
    let (ct, body) = multipart(&[("mix", Some("song.wav"), &wav)]);
    let r = request_with(
        addr,
        "POST",
        "/api/jobs",
        &[("Content-Type", &ct), ("Authorization", &p.ana)],
        &body,
    );
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let job = wait_revision(addr, &id, &p.ana, 1);
    let rev1 = &job["revisions"][0];
    assert_eq!(rev1["n"], 1);
    let session = rev1["session"].as_str().unwrap().to_string();
    assert!(session.contains("file = \"mix.wav\""), "{session}");
    assert!(!session.contains(&data_path), "no server path: {session}");
    let session_url = rev1["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "session.toml")
        .unwrap()["url"]
        .as_str()
        .unwrap();
    let session_file = get(addr, session_url, &p.ana);
    assert!(!String::from_utf8_lossy(&session_file.body).contains(&data_path));

    // Revision 2: the same session, 2 LU quieter.
    let quieter = session.replace("integrated_lufs = -14.0", "integrated_lufs = -16.0");
    assert_ne!(quieter, session, "the session has a -14 LUFS target");
    let ask = serde_json::json!({ "session": quieter, "note": "2 dB quieter, as asked" });
    let path = format!("/api/jobs/{id}/revisions");
    assert_eq!(post_json(addr, &path, &p.ana, &ask).status, 403, "a client");
    assert_eq!(
        post_json(addr, &path, &p.bo, &ask).status,
        404,
        "another client"
    );
    // A session may name only the job's uploads.
    for bad in ["../../../etc/passwd", "/etc/passwd", "other.wav"] {
        let s = quieter.replace("file = \"mix.wav\"", &format!("file = \"{bad}\""));
        let r = post_json(addr, &path, &p.eve, &serde_json::json!({ "session": s }));
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"]
            .as_str()
            .unwrap()
            .contains("not one of this job's uploads"));
    }
    let bad_toml = post_json(
        addr,
        &path,
        &p.eve,
        &serde_json::json!({ "session": "[[stem" }),
    );
    assert_eq!(bad_toml.status, 400);
    let r = post_json(addr, &path, &p.eve, &ask);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["revision"], 2);
    let job = wait_revision(addr, &id, &p.ana, 2);
    let revs = job["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1]["note"], "2 dB quieter, as asked");
    assert_eq!(revs[1]["author"], "eve");
    assert_eq!(revs[0]["state"], "done");

    let m1 = get(addr, &master_url(&revs[0]), &p.ana).body;
    let m2 = get(addr, &master_url(&revs[1]), &p.ana).body;
    let drop_db = rms_db(&m1) - rms_db(&m2);
    assert!(
        (drop_db - 2.0).abs() < 0.1,
        "revision 2 is {drop_db:.3} dB quieter"
    );
    // The old paths serve the newest revision.
    let name = master_url(&revs[1]).rsplit('/').next().unwrap().to_string();
    assert_eq!(
        get(addr, &format!("/api/jobs/{id}/files/{name}"), &p.ana).body,
        m2
    );
    assert_eq!(get(addr, &master_url(&revs[1]), &p.bo).status, 404);

    // The printable QC report of each revision: the report's own figures, both plots.
    for rev in revs {
        let n = rev["n"].as_u64().unwrap();
        let url = format!("/api/jobs/{id}/revisions/{n}/report.html");
        let page = get(addr, &url, &p.ana);
        assert_eq!(page.status, 200);
        assert!(page.head.contains("content-type: text/html"));
        let html = String::from_utf8_lossy(&page.body);
        for d in rev["report"]["deliverables"].as_array().unwrap() {
            let name = d["path"].as_str().unwrap();
            assert!(
                !name.contains(&data_path),
                "the report shows no server path: {name}"
            );
            let lufs = format!("{:.2}", d["measured"]["integrated_lufs"].as_f64().unwrap());
            assert!(html.contains(name) && html.contains(&lufs), "{name} {lufs}");
        }
        assert_eq!(html.matches("<svg").count(), 2);
        assert_eq!(
            html.matches("<path").count(),
            4,
            "original and master, twice"
        );
        assert!(!html.contains("<script"));
        assert_eq!(get(addr, &url, &p.bo).status, 404);
    }

    // Approval: the owner only, of a rendered revision.
    let approve = format!("/api/jobs/{id}/approve");
    let one = serde_json::json!({ "revision": 1, "comment": "the first was right" });
    assert_eq!(post_json(addr, &approve, &p.eve, &one).status, 403);
    assert_eq!(post_json(addr, &approve, &p.bo, &one).status, 404);
    let none = serde_json::json!({ "revision": 7 });
    assert_eq!(post_json(addr, &approve, &p.ana, &none).status, 404);
    assert_eq!(post_json(addr, &approve, &p.ana, &one).status, 200);
    let zip = get(addr, &format!("/api/jobs/{id}/zip"), &p.ana);
    assert_eq!(
        zip_master(&zip.body),
        m1,
        "the zip holds the approved revision 1"
    );
    let two = serde_json::json!({ "revision": 2, "comment": "no, the quieter one" });
    assert_eq!(post_json(addr, &approve, &p.ana, &two).status, 200);
    let zip = get(addr, &format!("/api/jobs/{id}/zip"), &p.ana);
    assert_eq!(zip_master(&zip.body), m2, "now revision 2");
    assert_eq!(get(addr, &format!("/api/jobs/{id}/zip"), &p.bo).status, 404);

    let changes = format!("/api/jobs/{id}/changes");
    let c = serde_json::json!({ "comment": "a touch more low end" });
    assert_eq!(post_json(addr, &changes, &p.eve, &c).status, 403);
    assert_eq!(post_json(addr, &changes, &p.ana, &c).status, 200);
    let job = get(addr, &format!("/api/jobs/{id}"), &p.eve).json();
    assert_eq!(job["approved_revision"], 2);
    let what: Vec<&str> = job["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        what,
        ["ordered", "rendered", "revision", "rendered", "approved", "approved", "changes"]
    );
    assert_eq!(job["events"][3]["revision"], 2);
    assert!(job["events"][3]["who"].is_null(), "the service rendered it");
    assert_eq!(job["events"][6]["comment"], "a touch more low end");
    assert_eq!(job["events"][6]["who"], "ana");

    // A revision queued when the service stops renders after the restart.
    let r = post_json(
        addr,
        &path,
        &p.eve,
        &serde_json::json!({ "session": session, "note": "3" }),
    );
    assert_eq!(r.status, 201);
    server.stop();
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let job = wait_revision(server.addr, &id, &p.ana, 3);
    assert_eq!(job["revisions"].as_array().unwrap().len(), 3);
    assert_eq!(job["approved_revision"], 2, "the approval survives too");
    server.stop();
}

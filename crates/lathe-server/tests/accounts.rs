//! Accounts over loopback (the tests' own HTTP client): the open mode without users and its
//! refusal to listen beyond loopback; 401 once a user exists; login with a session cookie,
//! logout; bearer tokens; a client sees only its own jobs (404 everywhere else), an engineer
//! every job; wrong passwords throttled. Stored secrets are checked in the real SQLite file,
//! and the password hashes by the reference Argon2 (argon2-cffi, the C library of Argon2's
//! authors) when `LATHE_REF_PYTHON` has it.

mod common;

use common::*;
use lathe_server::accounts::Role;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    request_with(addr, "GET", path, headers, b"")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn login(addr: SocketAddr, name: &str, password: &str, extra: &[(&str, &str)]) -> Reply {
    let body = format!("username={name}&password={password}&next=%2Fjobs");
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(extra);
    request_with(addr, "POST", "/login", &h, body.as_bytes())
}

/// The `lathe_session=…` pair of a reply's Set-Cookie.
fn session_of(r: &Reply) -> String {
    let line = r
        .head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {}", r.head));
    line["set-cookie:".len()..]
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn without_accounts_the_service_is_open_and_only_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let me = get(server.addr, "/api/me", &[]);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["open"], true);
    assert_eq!(get(server.addr, "/api/jobs", &[]).status, 200);
    server.stop();

    let mut c = config(dir.path(), 1, 10);
    c.addr = "0.0.0.0:0".parse().unwrap();
    let refused = lathe_server::start(c).err().expect("refused without users");
    assert!(refused.contains("no user exists"), "{refused}");

    accounts(dir.path())
        .add_user("admin", Role::Admin, "admin-password")
        .unwrap();
    let mut c = config(dir.path(), 1, 10);
    c.addr = "0.0.0.0:0".parse().unwrap();
    lathe_server::start(c)
        .expect("with a user it listens anywhere")
        .stop();
}

#[test]
fn every_request_needs_credentials_once_a_user_exists() {
    let dir = tempfile::tempdir().unwrap();
    let p = people(dir.path());
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let addr = server.addr;

    for path in ["/api/jobs", "/api/me", "/api/openapi.json"] {
        let r = get(addr, path, &[]);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.head.contains("www-authenticate: bearer"), "{}", r.head);
        assert!(r.json()["error"].as_str().unwrap().contains("log in"));
    }
    // Pages answer with the login form (401), which posts back to /login.
    let page = get(addr, "/", &[]);
    assert_eq!(page.status, 401);
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains(r#"action="/login""#), "{html}");
    assert_eq!(get(addr, "/login", &[]).status, 200);
    // An upload without credentials stores nothing.
    let wav = tiny_wav();
    assert_eq!(post_job(addr, &[("mix", Some("a.wav"), &wav)]).status, 401);

    let wrong = get(addr, "/api/me", &[("Authorization", "Bearer lathe_0000")]);
    assert_eq!(wrong.status, 401);
    let basic = get(addr, "/api/me", &[("Authorization", "Basic YW5hOmFuYQ==")]);
    assert_eq!(basic.status, 401);
    let me = get(addr, "/api/me", &[("Authorization", &p.eve)]);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], "eve");
    assert_eq!(me.json()["role"], "engineer");
    assert!(
        me.json()["csrf"].is_null(),
        "a bearer token needs no CSRF token"
    );
    server.stop();
}

#[test]
fn login_sets_a_session_cookie_that_logout_ends() {
    let dir = tempfile::tempdir().unwrap();
    people(dir.path());
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let addr = server.addr;

    let wrong = login(addr, "ana", "not-her-password", &[]);
    assert_eq!(wrong.status, 401);
    assert!(!wrong.head.contains("set-cookie"));
    let unknown = login(addr, "nobody", "ana-password", &[]);
    assert_eq!(unknown.status, 401);

    let ok = login(addr, "ana", "ana-password", &[]);
    assert_eq!(ok.status, 303, "{}", String::from_utf8_lossy(&ok.body));
    assert!(ok.head.contains("location: /jobs"), "{}", ok.head);
    for attr in ["httponly", "samesite=lax", "path=/", "max-age=1209600"] {
        assert!(ok.head.contains(attr), "{attr}: {}", ok.head);
    }
    assert!(!ok.head.contains("secure"), "plain http: {}", ok.head);
    let cookie = session_of(&ok);
    let me = get(addr, "/api/me", &[("Cookie", &cookie)]);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], "ana");
    assert_eq!(get(addr, "/", &[("Cookie", &cookie)]).status, 200);

    // Behind a TLS proxy the cookie is Secure.
    let tls = login(
        addr,
        "ana",
        "ana-password",
        &[("X-Forwarded-Proto", "https")],
    );
    assert!(tls.head.contains("; secure"), "{}", tls.head);

    // Changes through the cookie need the page's CSRF token (from /api/me); a bearer token
    // needs none.
    let csrf = me.json()["csrf"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64);
    let wav = tiny_wav();
    let (ct, body) = multipart(&[("mix", Some("a.wav"), &wav)]);
    let upload = |extra: &[(&str, &str)]| {
        let mut h = vec![("Content-Type", ct.as_str()), ("Cookie", cookie.as_str())];
        h.extend_from_slice(extra);
        request_with(addr, "POST", "/api/jobs", &h, &body)
    };
    assert_eq!(upload(&[]).status, 403);
    assert_eq!(
        upload(&[("X-CSRF-Token", "0".repeat(64).as_str())]).status,
        403
    );
    assert_eq!(upload(&[("X-CSRF-Token", csrf.as_str())]).status, 201);
    let refused = request_with(addr, "POST", "/logout", &[("Cookie", &cookie)], b"");
    assert_eq!(refused.status, 403);
    assert_eq!(get(addr, "/api/me", &[("Cookie", &cookie)]).status, 200);
    let out = request_with(
        addr,
        "POST",
        "/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        b"",
    );
    assert_eq!(out.status, 303);
    assert!(out.head.contains("max-age=0"), "{}", out.head);
    assert_eq!(get(addr, "/api/me", &[("Cookie", &cookie)]).status, 401);
    server.stop();

    // What the database keeps: an Argon2id hash, never the password; token and session
    // digests, never the secrets.
    let db = raw_db(dir.path());
    let phc = db
        .query("SELECT password FROM users WHERE name = 'ana'", &[])
        .unwrap()[0]
        .text(0);
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    assert!(!phc.contains("ana-password"));
    let secret = cookie.split_once('=').unwrap().1;
    let kept = db
        .query(
            "SELECT count(*) FROM sessions WHERE digest = $1",
            lathe_server::db_params![secret],
        )
        .unwrap()[0]
        .int(0);
    assert_eq!(kept, 0, "the cookie itself is not stored");
    reference_argon2(&phc, "ana-password");
}

/// The stored hash checked by the reference implementation: the right password verifies, a
/// wrong one does not.
fn reference_argon2(phc: &str, password: &str) {
    let Some(py) = std::env::var_os("LATHE_REF_PYTHON") else {
        eprintln!("SKIPPED reference Argon2 check: LATHE_REF_PYTHON is not set");
        return;
    };
    let check = |pw: &str| {
        std::process::Command::new(&py)
            .args([
                "-c",
                "import sys; from argon2 import PasswordHasher; PasswordHasher().verify(sys.argv[1], sys.argv[2])",
                phc,
                pw,
            ])
            .output()
            .unwrap()
    };
    let ok = check(password);
    if String::from_utf8_lossy(&ok.stderr).contains("No module named 'argon2'") {
        eprintln!("SKIPPED reference Argon2 check: no argon2-cffi (scripts/setup.sh installs it)");
        return;
    }
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!check("another-password").status.success());
}

#[test]
fn a_client_sees_only_its_own_jobs_and_an_engineer_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = people(dir.path());
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let addr = server.addr;

    let wav = tiny_wav();
    let (ct, body) = multipart(&[("mix", Some("song.wav"), &wav)]);
    let r = request_with(
        addr,
        "POST",
        "/api/jobs",
        &[("Content-Type", &ct), ("Authorization", &p.ana)],
        &body,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let job = loop {
        let j = get(
            addr,
            &format!("/api/jobs/{id}"),
            &[("Authorization", &p.ana)],
        )
        .json();
        if j["state"] == "done" || j["state"] == "failed" {
            break j;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{j}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["owner"], "ana");
    let file = job["files"][0]["url"].as_str().unwrap().to_string();

    let listed = |who: &str| -> Vec<String> {
        get(addr, "/api/jobs", &[("Authorization", who)]).json()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed(&p.ana), vec![id.clone()]);
    assert_eq!(listed(&p.eve), vec![id.clone()]);
    assert!(listed(&p.bo).is_empty());

    let paths = [
        format!("/api/jobs/{id}"),
        file.clone(),
        format!("/api/jobs/{id}/zip"),
        format!("/api/jobs/{id}/input"),
        format!("/jobs/{id}"),
    ];
    for path in &paths {
        assert_eq!(
            get(addr, path, &[("Authorization", &p.bo)]).status,
            404,
            "bo: {path}"
        );
        assert_eq!(
            get(addr, path, &[("Authorization", &p.ana)]).status,
            200,
            "ana: {path}"
        );
        assert_eq!(
            get(addr, path, &[("Authorization", &p.eve)]).status,
            200,
            "eve: {path}"
        );
    }
    let del = |who: &str| {
        request_with(
            addr,
            "DELETE",
            &format!("/api/jobs/{id}"),
            &[("Authorization", who)],
            b"",
        )
        .status
    };
    assert_eq!(del(&p.bo), 404);
    assert_eq!(
        listed(&p.ana),
        vec![id.clone()],
        "bo's delete removed nothing"
    );
    assert_eq!(del(&p.ana), 204);
    assert!(listed(&p.eve).is_empty());

    // The audit log: admins only; the deleted job's history stays in it.
    let a = accounts(dir.path());
    a.add_user("root", Role::Admin, "root-password").unwrap();
    let root = bearer(&a.create_token("root").unwrap());
    assert_eq!(
        get(addr, "/api/audit", &[("Authorization", &p.eve)]).status,
        403
    );
    assert_eq!(
        get(addr, "/api/audit", &[("Authorization", &p.ana)]).status,
        403
    );
    let log = get(addr, "/api/audit", &[("Authorization", &root)]).json();
    let mine: Vec<(String, String)> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        // People's acts (whether the service rendered the job before it was deleted depends
        // on timing).
        .filter(|e| e["job"] == id.as_str() && !e["who"].is_null())
        .map(|e| {
            (
                e["what"].as_str().unwrap().to_string(),
                e["who"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        mine,
        [
            ("deleted".into(), "ana".into()),
            ("ordered".into(), "ana".into())
        ]
    );
    server.stop();
}

#[test]
fn wrong_passwords_are_throttled() {
    let dir = tempfile::tempdir().unwrap();
    people(dir.path());
    let server = lathe_server::start(config(dir.path(), 1, 10)).unwrap();
    let addr = server.addr;
    for n in 0..lathe_server::login::MAX_FAILURES {
        assert_eq!(login(addr, "bo", "guess", &[]).status, 401, "attempt {n}");
    }
    let refused = login(addr, "bo", "bo-password", &[]);
    assert_eq!(refused.status, 429, "even the right password, for a while");
    assert!(refused.head.contains("retry-after:"), "{}", refused.head);
    // Every attempt is in the audit log's logins, with its address and outcome.
    assert_eq!(
        login(
            addr,
            "ana",
            "ana-password",
            &[("X-Forwarded-For", "203.0.113.7")]
        )
        .status,
        303
    );
    let a = accounts(dir.path());
    a.add_user("root", Role::Admin, "root-password").unwrap();
    let root = bearer(&a.create_token("root").unwrap());
    let log = get(addr, "/api/audit", &[("Authorization", &root)]).json();
    let logins = log["logins"].as_array().unwrap();
    let outcome = |name: &str, what: &str| {
        logins
            .iter()
            .filter(|l| l["name"] == name && l["outcome"] == what)
            .count()
    };
    assert_eq!(
        outcome("bo", "wrong"),
        lathe_server::login::MAX_FAILURES as usize
    );
    assert_eq!(outcome("bo", "throttled"), 1);
    assert_eq!(outcome("ana", "ok"), 1);
    assert_eq!(
        logins[0]["addr"], "203.0.113.7",
        "newest first, the client's address"
    );
    assert_eq!(logins[1]["addr"], "127.0.0.1");
    server.stop();
}

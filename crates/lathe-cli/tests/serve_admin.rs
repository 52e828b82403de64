//! `lathe serve user …` and `lathe serve token …` as an admin runs them, checked in the data
//! folder's database through the server's account store: users added, listed, given a new
//! password, a webhook, removed; tokens created and revoked; bad input refused with exit 2 and
//! nothing stored.

mod common;

use common::lathe;
use lathe_server::accounts::Accounts;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

/// Runs `lathe serve --data DATA ARGS`, with `stdin` on its standard input.
fn admin(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = lathe()
        .arg("serve")
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that refuses its arguments may exit before reading its input: the pipe is
    // then closed, which is not the test's failure (the exit code and message are checked).
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

#[test]
fn an_admin_runs_the_accounts_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let ok = |o: &Output| assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    ok(&admin(
        data,
        &["user", "add", "ana", "--role", "client", "--password-stdin"],
        "ana-password\n",
    ));
    ok(&admin(
        data,
        &[
            "user",
            "add",
            "eve",
            "--role",
            "engineer",
            "--password-stdin",
        ],
        "eve-password\n",
    ));
    let list = admin(data, &["user", "list"], "");
    ok(&list);
    assert_eq!(text(&list.stdout), "ana\tclient\neve\tengineer");

    let token = admin(data, &["token", "create", "ana"], "");
    ok(&token);
    let token = text(&token.stdout);
    assert!(token.starts_with("lathe_"), "{token}");
    let a = Accounts::open(data).unwrap();
    assert_eq!(a.user_by_token(&token).unwrap().unwrap().name, "ana");

    // A new password works, the old one no longer does, and her browser sessions end.
    let session = a.create_session("ana").unwrap();
    ok(&admin(
        data,
        &["user", "passwd", "ana", "--password-stdin"],
        "a-new-password\n",
    ));
    assert!(a.check_password("ana", "ana-password").unwrap().is_none());
    assert!(a.check_password("ana", "a-new-password").unwrap().is_some());
    assert!(a.user_by_session(&session).unwrap().is_none());

    // A webhook: the secret printed once, kept for signing; then off.
    let hook = admin(
        data,
        &["user", "webhook", "ana", "https://hooks.example.com/lathe"],
        "",
    );
    ok(&hook);
    let secret = text(&hook.stdout);
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(a.webhook("ana").unwrap().unwrap().secret, secret);
    ok(&admin(data, &["user", "webhook", "ana", "--off"], ""));
    assert!(a.webhook("ana").unwrap().is_none());

    // Revoked tokens let nobody in; a removed user is gone with everything of theirs.
    ok(&admin(data, &["token", "revoke", "ana"], ""));
    assert!(a.user_by_token(&token).unwrap().is_none());
    let token = text(&admin(data, &["token", "create", "eve"], "").stdout);
    ok(&admin(data, &["user", "remove", "eve"], ""));
    assert!(a.user("eve").unwrap().is_none());
    assert!(a.user_by_token(&token).unwrap().is_none());

    // Refused, exit 2, nothing stored.
    for (args, stdin, says) in [
        (
            &["user", "add", "bo", "--role", "boss", "--password-stdin"][..],
            "bo-password\n",
            "a role is",
        ),
        (
            &["user", "add", "bo", "--role", "client", "--password-stdin"][..],
            "short\n",
            "at least",
        ),
        (
            &["user", "add", "b o", "--role", "client", "--password-stdin"][..],
            "bo-password\n",
            "user name",
        ),
        (&["user", "remove", "nobody"][..], "", "no user is named"),
        (&["token", "create", "nobody"][..], "", "no user is named"),
        (
            &["user", "webhook", "ana", "ftp://example.com/"][..],
            "",
            "http",
        ),
    ] {
        let o = admin(data, args, stdin);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    assert_eq!(a.users().unwrap().len(), 1, "only ana is left");
    assert!(a.webhook("ana").unwrap().is_none());
}

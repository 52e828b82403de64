//! Logging in and out in a browser: `GET /login` (the form), `POST /login` (form fields
//! `username`, `password`, optional `next`) sets the session cookie, `POST /logout` ends the
//! session. Wrong passwords are throttled per name and per address ([`Throttle`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::accounts::{Accounts, SESSION_S};
use crate::auth::{cookie, SESSION_COOKIE};
use crate::login_page::{page, safe_next};

/// Wrong passwords allowed for one name or one address within [`THROTTLE_WINDOW`]…
pub const MAX_FAILURES: u32 = 10;
/// …after which logging in is refused (429) until this long after the last failure.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed logins per name and per address, in memory (a restart forgets them: the limit
/// slows guessing down, it does not have to survive the process).
#[derive(Default)]
pub struct Throttle {
    fails: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    fn keys(name: &str, addr: Option<std::net::IpAddr>) -> Vec<String> {
        let mut k = vec![format!("name:{name}")];
        k.extend(addr.map(|a| format!("addr:{a}")));
        k
    }

    /// Seconds until logging in is allowed again, when it is refused now.
    fn blocked_for(&self, keys: &[String]) -> Option<u64> {
        let mut f = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        f.retain(|_, (_, last)| last.elapsed() < THROTTLE_WINDOW);
        keys.iter()
            .filter_map(|k| f.get(k))
            .filter(|(n, _)| *n >= MAX_FAILURES)
            .map(|(_, last)| (THROTTLE_WINDOW - last.elapsed()).as_secs() + 1)
            .max()
    }

    fn failed(&self, keys: &[String]) {
        let mut f = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            let e = f.entry(k.clone()).or_insert((0, Instant::now()));
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    fn succeeded(&self, name: &str) {
        let mut f = self.fails.lock().unwrap_or_else(|p| p.into_inner());
        f.remove(&format!("name:{name}"));
    }
}

/// What the login handlers need.
#[derive(Clone)]
pub struct LoginState {
    pub accounts: Arc<Accounts>,
    pub throttle: Arc<Throttle>,
}

pub async fn login_page() -> Html<String> {
    Html(page("/", None))
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The address a login comes from: behind a reverse proxy every peer is the proxy, so the
/// first address of `X-Forwarded-For` when there is one. A client can forge that header, but
/// only to escape the per-address count, never the per-name one.
fn client_ip(headers: &HeaderMap, peer: SocketAddr) -> std::net::IpAddr {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Whether the browser reached the service over TLS (directly, or through a proxy that says
/// so): the cookie is then marked `Secure`.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn session_cookie(value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

pub async fn login(
    State(st): State<LoginState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let ip = client_ip(&headers, addr);
    let keys = Throttle::keys(&form.username, Some(ip));
    let log = |outcome: &str| {
        if let Err(e) = st
            .accounts
            .record_login(&form.username, &ip.to_string(), outcome)
        {
            eprintln!("lathe serve: the login log: {e}");
        }
    };
    if let Some(wait_s) = st.throttle.blocked_for(&keys) {
        log("throttled");
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            Html(page(
                &form.next,
                Some("too many wrong passwords: try again later"),
            )),
        )
            .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait_s));
        return r;
    }
    // Argon2 takes tens of milliseconds of CPU: off the async threads.
    let accounts = st.accounts.clone();
    let (name, pass) = (form.username.clone(), form.password);
    let checked = tokio::task::spawn_blocking(move || {
        let user = accounts.check_password(&name, &pass)?;
        user.map(|u| accounts.create_session(&u.name)).transpose()
    })
    .await;
    match checked {
        Ok(Ok(Some(value))) => {
            log("ok");
            st.throttle.succeeded(&form.username);
            let mut r = (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, safe_next(&form.next).to_string())],
            )
                .into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&value, SESSION_S, over_tls(&headers)),
            );
            r
        }
        Ok(Ok(None)) => {
            log("wrong");
            st.throttle.failed(&keys);
            (
                StatusCode::UNAUTHORIZED,
                Html(page(&form.next, Some("wrong name or password"))),
            )
                .into_response()
        }
        Ok(Err(e)) => crate::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => crate::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn logout(State(st): State<LoginState>, headers: HeaderMap) -> Response {
    if let Some(c) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = st.accounts.end_session(c) {
            return crate::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
    }
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, over_tls(&headers)),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_service() {
        assert_eq!(safe_next("/jobs/abc"), "/jobs/abc");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", ""] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }

    #[test]
    fn the_eleventh_wrong_password_is_refused() {
        let t = Throttle::default();
        let keys = Throttle::keys("ana", None);
        for _ in 0..MAX_FAILURES {
            assert!(t.blocked_for(&keys).is_none());
            t.failed(&keys);
        }
        assert!(t.blocked_for(&keys).unwrap() <= THROTTLE_WINDOW.as_secs() + 1);
        assert!(t.blocked_for(&Throttle::keys("bo", None)).is_none());
    }
}

//! Who is asking: every request passes through [`authenticate`], which finds the caller from a
//! bearer token (scripts) or the session cookie (browsers) and hands it to the handlers as a
//! [`Caller`]. With no user in the database the service is open ([`Caller::Open`]); once a
//! user exists a request without valid credentials gets 401 (pages: the login page).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::accounts::{Accounts, User};

/// The browser session's cookie.
pub const SESSION_COOKIE: &str = "lathe_session";
/// The header a page sends its CSRF token in with every change it asks for.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a browser session: derived from the session's cookie, which another site
/// can neither read (HttpOnly) nor guess, so a request carrying it came from our own page.
/// Pages learn it from `GET /api/me`.
pub fn csrf_token(cookie: &str) -> String {
    crate::accounts::secret::digest(&format!("csrf:{cookie}"))
}

/// The one who sent a request.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No account exists: one person on their own machine, who may do everything.
    Open,
    User(User),
}

impl Caller {
    /// Whether the caller may see a job owned by `owner` (`None`: made before accounts, or
    /// in the open mode): a client only its own, engineers and admins all.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        match self {
            Caller::Open => true,
            Caller::User(u) => u.role.sees_all() || owner == Some(u.name.as_str()),
        }
    }

    /// The name new jobs are recorded under.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Open => None,
            Caller::User(u) => Some(&u.name),
        }
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A browser session's CSRF token, for `GET /api/me` to hand to the page.
#[derive(Clone, Debug)]
pub struct Csrf(pub String);

/// Paths anyone may reach: the login page and its form, and logging out.
fn public(path: &str) -> bool {
    matches!(path, "/login" | "/logout")
}

enum Found {
    Caller(Caller),
    /// Through the session cookie: changes need the CSRF token.
    Browser(Caller, String),
    /// Credentials were required and are missing or wrong.
    Refused(&'static str),
}

fn find_caller(accounts: &Accounts, headers: &HeaderMap) -> Result<Found, String> {
    if !accounts.any().map_err(|e| e.to_string())? {
        return Ok(Found::Caller(Caller::Open));
    }
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim);
        return Ok(match token {
            Some(t) => match accounts.user_by_token(t).map_err(|e| e.to_string())? {
                Some(u) => Found::Caller(Caller::User(u)),
                None => Found::Refused("this token is not valid"),
            },
            None => Found::Refused("Authorization must be 'Bearer TOKEN'"),
        });
    }
    if let Some(c) = cookie(headers, SESSION_COOKIE) {
        if let Some(u) = accounts.user_by_session(c).map_err(|e| e.to_string())? {
            return Ok(Found::Browser(Caller::User(u), csrf_token(c)));
        }
    }
    Ok(Found::Refused(
        "log in, or send 'Authorization: Bearer TOKEN' (lathe serve token create NAME)",
    ))
}

/// The middleware: puts the [`Caller`] into the request, or answers 401.
pub async fn authenticate(
    State(accounts): State<Arc<Accounts>>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let found = match find_caller(&accounts, req.headers()) {
        Ok(f) => f,
        Err(e) => return crate::unavailable(e),
    };
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    match found {
        Found::Browser(_, want)
            if changes
                && path != "/login"
                && req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok())
                    != Some(want.as_str()) =>
        {
            crate::error(
                StatusCode::FORBIDDEN,
                "this change needs the page's CSRF token (header X-CSRF-Token, from GET /api/me)",
            )
        }
        Found::Browser(c, token) => {
            req.extensions_mut().insert(c);
            req.extensions_mut().insert(Csrf(token));
            next.run(req).await
        }
        Found::Caller(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Found::Refused(_) if public(&path) => next.run(req).await,
        Found::Refused(why) if path.starts_with("/api/") => {
            let mut r = crate::error(StatusCode::UNAUTHORIZED, why);
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lathe\""),
            );
            r
        }
        Found::Refused(_) => (
            StatusCode::UNAUTHORIZED,
            Html(crate::login_page::page(&path, None)),
        )
            .into_response(),
    }
}

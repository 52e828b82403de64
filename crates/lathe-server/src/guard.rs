//! What every request passes through: the Host check (against DNS rebinding: a web page on
//! another site that resolves its own name to 127.0.0.1 reaches a server on loopback with its
//! own name as Host), the Origin check on state changes (a page on another origin may send a
//! form or a `fetch` to the service; it must not create or delete jobs), and the headers that
//! keep served files from running as pages (`nosniff`, a CSP per kind of response).

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Which Host names the service answers to.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    /// Names (without port) accepted besides the loopback ones and the bound address.
    pub allowed: Vec<String>,
    /// The address the server listens on.
    pub addr: SocketAddr,
}

impl HostPolicy {
    /// Whether a request with this Host header (name[:port]) is for this service. Bound to a
    /// loopback address, only loopback names, the address itself and the configured names
    /// are; bound elsewhere with no names configured, any is (a reverse proxy sets it).
    pub fn accepts(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            // HTTP/1.0 without Host: no browser sends that.
            return true;
        };
        let name = host_name(host).to_ascii_lowercase();
        let loopback = ["localhost", "127.0.0.1", "[::1]", "::1"];
        if loopback.contains(&name.as_str())
            || self.allowed.iter().any(|a| a.eq_ignore_ascii_case(&name))
        {
            return true;
        }
        let bound = match self.addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        if name == bound {
            return true;
        }
        !self.addr.ip().is_loopback() && self.allowed.is_empty()
    }
}

/// The name part of a Host header value (`[::1]:8080` → `[::1]`, `a.b:80` → `a.b`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Whether a state-changing request comes from the service's own pages, or from no browser
/// page at all (scripts send no Origin). A browser sends `Origin` with every cross-origin
/// request and with same-origin POSTs; `Sec-Fetch-Site` says the same in newer ones.
fn same_origin(headers: &HeaderMap) -> bool {
    let get = |h: &header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" || site == "same-site" {
            return false;
        }
        // A page cannot forge this header; it is the one answer when the Origin is hidden
        // (a form posted from a page served with `Referrer-Policy: no-referrer` says
        // `Origin: null`).
        if site == "same-origin" {
            return true;
        }
    }
    match (get(&header::ORIGIN), get(&header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// The policy for pages: their own scripts and styles (inline), nothing from elsewhere, never
/// in a frame.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Everything else (JSON, audio, the plots): nothing runs, even if a browser renders it.
const FILE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

fn refuse(status: StatusCode, msg: &str) -> Response {
    let mut r = crate::error(status, msg);
    secure_headers(r.headers_mut());
    r
}

fn secure_headers(h: &mut HeaderMap) {
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if html { PAGE_CSP } else { FILE_CSP }),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// The middleware: Host, then Origin on state changes, then the headers on the answer.
pub async fn guard(State(policy): State<HostPolicy>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    if !policy.accepts(host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this service does not answer to that host name (start it with --allow-host NAME)",
        );
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && !same_origin(req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "cross-origin requests may not change anything here",
        );
    }
    let mut res = next.run(req).await;
    secure_headers(res.headers_mut());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(addr: &str, allowed: &[&str]) -> HostPolicy {
        HostPolicy {
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            addr: addr.parse().unwrap(),
        }
    }

    #[test]
    fn loopback_servers_answer_only_to_their_own_names() {
        let p = policy("127.0.0.1:8080", &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
        ] {
            assert!(p.accepts(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "attacker.test",
            "127.0.0.1.nip.io:8080",
        ] {
            assert!(!p.accepts(Some(bad)), "{bad}");
        }
        assert!(policy("127.0.0.1:8080", &["studio.lan"]).accepts(Some("studio.lan:8080")));
    }

    #[test]
    fn public_servers_answer_to_any_name_unless_names_are_given() {
        assert!(policy("0.0.0.0:80", &[]).accepts(Some("studio.example")));
        let p = policy("0.0.0.0:80", &["studio.example"]);
        assert!(p.accepts(Some("studio.example")));
        assert!(!p.accepts(Some("other.example")));
    }

    #[test]
    fn origin_must_match_host_when_a_browser_sends_one() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(same_origin(&h(&[("host", "127.0.0.1:8080")])));
        assert!(same_origin(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site")
        ])));
        // Chromium's form post from a no-referrer page.
        assert!(same_origin(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!same_origin(&h(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site")
        ])));
    }
}

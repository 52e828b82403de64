//! The login page (its HTML), shown by `GET /login` and as the 401 answer to a page request
//! without credentials.

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where to go after logging in: a path of this service, never another site.
pub fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// The login page; `next` is where the form leads after logging in.
pub fn page(next: &str, message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p class=\"error\" id=\"message\">{}</p>", escape(m)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>lathe: log in</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; }}
label {{ display: block; margin: .6rem 0; }} input {{ width: 100%; font-size: 1rem; }} .error {{ color: #b00; }}</style></head><body>
<h1>lathe mastering</h1>{msg}
<form method="post" action="/login" id="login">
<input type="hidden" name="next" value="{}">
<label>Name <input name="username" id="username" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form></body></html>"#,
        escape(safe_next(next))
    )
}

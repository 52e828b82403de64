//! Each user's webhook: a URL the service POSTs to when something happens to a project the
//! user may see, and the secret the body is signed with (HMAC-SHA256, [`crate::notify`]).
//!
//! The secret is kept as it is (signing needs it, unlike tokens, which are only compared):
//! it is made by the service, shown once when the URL is set, and a new one comes with every
//! new URL.

use serde::Serialize;

use super::{secret, AccountError, Accounts, User};
use crate::db::Row;
use crate::db_params as params;
use crate::queue::now_s;

/// The longest webhook URL accepted.
const MAX_URL_CHARS: usize = 2000;

/// One user's webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub created_s: i64,
}

/// Checks a webhook URL: absolute http or https with a host, no user name or password in it.
pub fn check_url(url: &str) -> Result<(), AccountError> {
    let bad = |why: &str| AccountError::BadWebhook(format!("{why} (got {url:?})"));
    if url.chars().count() > MAX_URL_CHARS {
        return Err(bad("a webhook URL has at most 2000 characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("a webhook URL starts with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("a webhook URL names a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "a webhook URL carries no user name or password (the signature authenticates)",
        ));
    }
    Ok(())
}

impl Accounts {
    /// Sets `name`'s webhook URL; returns the new signing secret (shown once).
    pub fn set_webhook(&self, name: &str, url: &str) -> Result<String, AccountError> {
        check_url(url)?;
        if self.user(name)?.is_none() {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        let key = secret::new_secret("whsec_").map_err(AccountError::Secret)?;
        self.db.exec(
            "INSERT INTO webhooks (\"user\", url, secret, created_s) VALUES ($1, $2, $3, $4)
             ON CONFLICT (\"user\") DO UPDATE SET url = $2, secret = $3, created_s = $4",
            params![name, url, &key, now_s()],
        )?;
        Ok(key)
    }

    /// Removes `name`'s webhook (nothing is sent to it any more; deliveries queued already
    /// still go out).
    pub fn clear_webhook(&self, name: &str) -> Result<bool, AccountError> {
        let n = self
            .db
            .exec("DELETE FROM webhooks WHERE \"user\" = $1", params![name])?;
        Ok(n > 0)
    }

    pub fn webhook(&self, name: &str) -> Result<Option<Webhook>, AccountError> {
        let row = self.db.query_opt(
            "SELECT url, secret, created_s FROM webhooks WHERE \"user\" = $1",
            params![name],
        )?;
        Ok(row.as_ref().map(|r| row_to_webhook(r, 0)))
    }

    /// Every user with a webhook, with it.
    pub fn webhooks(&self) -> Result<Vec<(User, Webhook)>, AccountError> {
        let rows = self.db.query(
            "SELECT u.name, u.role, u.created_s, w.url, w.secret, w.created_s
             FROM webhooks w JOIN users u ON u.name = w.\"user\" ORDER BY u.name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| (super::row_to_user(r), row_to_webhook(r, 3)))
            .collect())
    }
}

/// A webhook from the columns `url, secret, created_s` starting at `first`.
fn row_to_webhook(r: &Row, first: usize) -> Webhook {
    Webhook {
        url: r.text(first),
        secret: r.text(first + 1),
        created_s: r.int(first + 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_are_taken() {
        assert!(check_url("https://hooks.example.com/lathe?x=1").is_ok());
        assert!(check_url("http://127.0.0.1:9000/h").is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "https://user:pw@example.com/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad} was taken");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(2000))).is_err());
    }
}

//! Webhook notifications: when a revision is rendered or fails, and when a client approves one
//! or asks for changes, every user with a webhook who may see the project gets a signed POST
//! ([`sign`]), retried with exponential backoff until the receiver answers 2xx or the
//! attempts run out. What is to be sent waits in the database ([`outbox`]).

pub mod outbox;
pub mod sign;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use outbox::{now_f, Delivery, Outbox};

use crate::accounts::Accounts;
use crate::queue::Queue;

/// How webhooks are sent.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// The wait before the second attempt, seconds; it doubles with each further one.
    pub retry_base_s: f64,
    /// The longest wait between two attempts, seconds.
    pub retry_max_s: f64,
    /// Attempts before a delivery is given up.
    pub attempts: u32,
    /// How long a receiver may take to answer, seconds.
    pub timeout_s: f64,
}

impl Default for NotifyConfig {
    /// Twelve attempts over about three and a half hours (10 s, 20 s, 40 s … then hourly): a
    /// receiver that is down for a deploy or a short outage still gets everything.
    fn default() -> Self {
        Self {
            retry_base_s: 10.0,
            retry_max_s: 3600.0,
            attempts: 12,
            timeout_s: 10.0,
        }
    }
}

impl NotifyConfig {
    /// When to try again after `attempts` failed attempts (`None`: give up).
    pub fn retry_at(&self, attempts: u32, now: f64) -> Option<f64> {
        if attempts >= self.attempts {
            return None;
        }
        let wait = self.retry_base_s * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
        Some(now + wait.min(self.retry_max_s))
    }
}

/// Runs until `stop`: moves new events into the outbox and sends what is due.
pub async fn run(
    outbox: Arc<Outbox>,
    queue: Arc<dyn Queue>,
    accounts: Arc<Accounts>,
    config: NotifyConfig,
    stop: Arc<AtomicBool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(config.timeout_s))
        // A receiver's redirect is not followed: the signature was made for its URL.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("lathe/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lathe serve: webhooks are off: no HTTP client ({e})");
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = outbox.fan_out(queue.as_ref(), &accounts) {
            eprintln!("lathe serve: webhooks: {e}");
        }
        let due = outbox.due(32).unwrap_or_else(|e| {
            eprintln!("lathe serve: webhooks: {e}");
            Vec::new()
        });
        let sends = due.iter().map(|d| attempt(&client, &outbox, &config, d));
        futures_util::future::join_all(sends).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One attempt at one delivery, recorded in the outbox.
async fn attempt(client: &reqwest::Client, outbox: &Outbox, config: &NotifyConfig, d: &Delivery) {
    let sent = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Lathe-Event", &d.event)
        .header("X-Lathe-Delivery", &d.id)
        .header(
            sign::SIGNATURE_HEADER,
            sign::signature(&d.secret, d.body.as_bytes()),
        )
        .body(d.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (
            Some(r.status().as_u16()),
            Some(format!("the receiver answered {}", r.status())),
        ),
        Err(e) => (None, Some(describe(&e))),
    };
    let retry_at = error
        .as_ref()
        .and_then(|_| config.retry_at(d.attempts + 1, now_f()));
    if let Err(e) = outbox.attempted(&d.id, status, error.as_deref(), retry_at) {
        eprintln!("lathe serve: webhooks: {e}");
    }
}

/// A short reason for a failed request (no internals of the HTTP stack).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        format!("the request failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_gives_up() {
        let c = NotifyConfig::default();
        let waits: Vec<f64> = (1..=11).map(|n| c.retry_at(n, 0.0).unwrap()).collect();
        assert_eq!(&waits[..4], &[10.0, 20.0, 40.0, 80.0]);
        assert_eq!(waits[9], 3600.0);
        assert_eq!(c.retry_at(12, 0.0), None);
    }
}

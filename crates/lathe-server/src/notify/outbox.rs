//! The webhook outbox: every notification to send, kept in the service's database until
//! it is delivered or given up, so that a restart loses none (a delivery cut off by a stop is
//! sent again: receivers tell repeats apart by the delivery id).
//!
//! The outbox is filled from the jobs' event history (the one record of what happened), read
//! from where it was read last: whatever records an event notifies, without each place that
//! records one having to know about webhooks.

use std::path::Path;

use serde::Serialize;

use crate::accounts::Accounts;
use crate::db::{Db, Row};
use crate::db_params as params;
use crate::queue::{now_s, Event, Queue};

/// The webhook event an event of a job's history is sent as (`None`: not sent).
pub fn topic(what: &str) -> Option<&'static str> {
    match what {
        "rendered" => Some("revision.rendered"),
        "failed" => Some("revision.failed"),
        "approved" => Some("job.approved"),
        "changes" => Some("job.changes_requested"),
        _ => None,
    }
}

/// One notification to one user's webhook.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub id: String,
    pub user: String,
    #[serde(skip)]
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub event: String,
    #[serde(skip)]
    pub body: String,
    pub created_s: i64,
    pub attempts: u32,
    /// `pending`, `sent`, or `failed` (given up after the last attempt).
    pub state: String,
    /// The receiver's last HTTP status (`None`: no answer).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// The outbox's tables.
pub struct Outbox {
    db: Db,
}

/// The outbox's tables in a SQLite database (the PostgreSQL schema is in `pg/schema.rs`).
pub const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS webhook_cursor (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        last_event INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS deliveries (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        created_s INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        last_status INTEGER,
        last_error TEXT
    );
    CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
    CREATE INDEX IF NOT EXISTS deliveries_user ON deliveries (user, created_s);";

const COLUMNS: &str =
    "id, \"user\", url, secret, event, body, created_s, attempts, state, last_status, last_error";

fn row_to_delivery(r: &Row) -> Delivery {
    Delivery {
        id: r.text(0),
        user: r.text(1),
        url: r.text(2),
        secret: r.text(3),
        event: r.text(4),
        body: r.text(5),
        created_s: r.int(6),
        attempts: r.int(7).clamp(0, u32::MAX.into()) as u32,
        state: r.text(8),
        last_status: r.opt_int(9).and_then(|s| u16::try_from(s).ok()),
        last_error: r.opt_text(10),
    }
}

/// Seconds since 1970 with a fraction (retry times are finer than a second in tests).
pub fn now_f() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Outbox {
    /// Opens (creating) the outbox's tables in `data_dir`'s database.
    pub fn open(data_dir: &Path) -> Result<Self, String> {
        Db::sqlite(data_dir, SQLITE_SCHEMA)
            .map(Self::on)
            .map_err(|e| format!("webhook outbox: {e}"))
    }

    /// The outbox in `db` (its schema made already).
    pub fn on(db: Db) -> Self {
        Self { db }
    }

    /// Turns the events recorded since the last call into deliveries, one for each user with
    /// a webhook who may see the job (its owner, engineers, admins). The first call ever
    /// starts from the newest event: history from before webhooks is not sent.
    pub fn fan_out(&self, queue: &dyn Queue, accounts: &Accounts) -> Result<usize, String> {
        let err = |e: crate::db::DbError| format!("webhook outbox: {e}");
        let cursor = self
            .db
            .query_opt("SELECT last_event FROM webhook_cursor", &[])
            .map_err(err)?
            .map(|r| r.int(0));
        let Some(cursor) = cursor else {
            let last = queue.last_event()?;
            self.db
                .exec(
                    "INSERT INTO webhook_cursor (one, last_event) VALUES (1, $1)
                     ON CONFLICT DO NOTHING",
                    params![last],
                )
                .map_err(err)?;
            return Ok(0);
        };
        let events = queue.events_after(cursor, 200)?;
        let Some(&(last, _, _)) = events.last() else {
            return Ok(0);
        };
        let hooks = accounts.webhooks().map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        for (_, job_id, event) in &events {
            let Some(topic) = topic(&event.what) else {
                continue;
            };
            let owner = queue.get(job_id)?.and_then(|j| j.owner);
            for (user, hook) in &hooks {
                if user.role.sees_all() || owner.as_deref() == Some(user.name.as_str()) {
                    let id = crate::accounts::secret::new_secret("dlv_")?;
                    let body = body(&id, topic, job_id, event);
                    rows.push((id, user.name.clone(), hook.clone(), topic, body));
                }
            }
        }
        let now = now_f();
        // Several processes fan out (every web and worker process notifies): the cursor moves
        // only from where this one read it, or nothing of this round is kept, so an event
        // never becomes two deliveries to one user.
        enum Round {
            Db(crate::db::DbError),
            Raced,
        }
        impl From<crate::db::DbError> for Round {
            fn from(e: crate::db::DbError) -> Self {
                Round::Db(e)
            }
        }
        let kept = self.db.transaction(|tx| {
            let moved = tx.exec(
                "UPDATE webhook_cursor SET last_event = $1 WHERE last_event = $2",
                params![last, cursor],
            )?;
            if moved != 1 {
                return Err(Round::Raced);
            }
            for (id, user, hook, topic, body) in &rows {
                tx.exec(
                    "INSERT INTO deliveries (id, \"user\", url, secret, event, body, created_s, next_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    params![id, user, &hook.url, &hook.secret, *topic, body, now_s(), now],
                )?;
            }
            Ok(rows.len())
        });
        match kept {
            Ok(n) => Ok(n),
            Err(Round::Raced) => Ok(0),
            Err(Round::Db(e)) => Err(err(e)),
        }
    }

    /// Up to `limit` pending deliveries whose time has come, oldest first.
    pub fn due(&self, limit: u32) -> Result<Vec<Delivery>, String> {
        let rows = self
            .db
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM deliveries WHERE state = 'pending' AND next_at <= $1
                     ORDER BY next_at LIMIT $2"
                ),
                params![now_f(), limit],
            )
            .map_err(|e| format!("webhook outbox: {e}"))?;
        Ok(rows.iter().map(row_to_delivery).collect())
    }

    /// Records one attempt: delivered, or tried again at `retry_at` (`None`: given up).
    pub fn attempted(
        &self,
        id: &str,
        status: Option<u16>,
        error: Option<&str>,
        retry_at: Option<f64>,
    ) -> Result<(), String> {
        let state = match (error, retry_at) {
            (None, _) => "sent",
            (Some(_), Some(_)) => "pending",
            (Some(_), None) => "failed",
        };
        self.db
            .exec(
                "UPDATE deliveries SET attempts = attempts + 1, state = $2, last_status = $3,
                 last_error = $4, next_at = COALESCE($5, next_at) WHERE id = $1",
                params![id, state, status, error, retry_at],
            )
            .map(drop)
            .map_err(|e| format!("webhook outbox: {e}"))
    }

    /// A user's newest `limit` deliveries, newest first.
    pub fn of_user(&self, user: &str, limit: u32) -> Result<Vec<Delivery>, String> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries WHERE \"user\" = $1
             ORDER BY created_s DESC, {} DESC LIMIT $2",
            self.db.insertion_order()
        );
        let rows = self
            .db
            .query(&sql, params![user, limit])
            .map_err(|e| format!("webhook outbox: {e}"))?;
        Ok(rows.iter().map(row_to_delivery).collect())
    }
}

/// The JSON a webhook receives.
fn body(id: &str, topic: &str, job: &str, e: &Event) -> String {
    serde_json::json!({
        "delivery": id,
        "event": topic,
        "job": job,
        "revision": e.revision,
        "who": e.who,
        "comment": e.comment,
        "at_s": e.at_s,
        "job_page": format!("/jobs/{job}"),
    })
    .to_string()
}

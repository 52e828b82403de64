//! The job queue: one SQLite table in the data folder (`jobs.sqlite`, WAL mode, so the web
//! handlers and the workers each hold their own connection).
//!
//! The [`Queue`] trait is all the rest of the server knows of it: a PostgreSQL queue
//! (`SELECT … FOR UPDATE SKIP LOCKED` in `claim`) could replace it for many stateless workers.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// A job's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "running" => State::Running,
            "done" => State::Done,
            "failed" => State::Failed,
            _ => State::Queued,
        }
    }
}

/// One job's row.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub id: String,
    pub state: State,
    pub progress: f64,
    pub stage: String,
    pub error: Option<String>,
    /// `mix` or `stems`.
    pub kind: String,
    /// The options JSON as uploaded.
    pub options: String,
    pub created_s: i64,
    pub finished_s: Option<i64>,
    /// Times a worker has taken it (a crashed attempt goes back to the queue, up to a limit).
    pub attempts: u32,
    /// The account that ordered it (`None`: ordered while the service had no accounts).
    pub owner: Option<String>,
}

pub type QueueResult<T> = Result<T, String>;

/// What the server needs of a job queue.
pub trait Queue: Send + Sync {
    fn add(&self, id: &str, kind: &str, options: &str, owner: Option<&str>) -> QueueResult<()>;
    fn get(&self, id: &str) -> QueueResult<Option<Job>>;
    /// Every job, newest first.
    fn list(&self) -> QueueResult<Vec<Job>>;
    /// Takes the oldest queued job, marks it running and counts the attempt.
    fn claim(&self) -> QueueResult<Option<Job>>;
    /// Puts a running job back in the queue (its attempt crashed; the count stays).
    fn retry(&self, id: &str, why: &str) -> QueueResult<()>;
    fn progress(&self, id: &str, progress: f64, stage: &str) -> QueueResult<()>;
    fn finish(&self, id: &str, error: Option<&str>) -> QueueResult<()>;
    fn remove(&self, id: &str) -> QueueResult<()>;
    /// Jobs that were running when the server stopped go back to the queue, unless they have
    /// had `max_attempts` already: those fail (each of their attempts ended the server, or was
    /// ended with it). Returns (requeued, failed).
    fn requeue_running(&self, max_attempts: u32) -> QueueResult<(usize, usize)>;
    /// Every job id the database holds (to find folders no job owns).
    fn all_ids(&self) -> QueueResult<Vec<String>>;
    /// Finished jobs older than `max_age_s` seconds.
    fn finished_before(&self, cutoff_s: i64) -> QueueResult<Vec<String>>;
}

/// The SQLite queue.
pub struct SqliteQueue {
    conn: std::sync::Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> String {
    format!("job database: {e}")
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl SqliteQueue {
    /// Opens (creating) the queue in `data_dir`.
    pub fn open(data_dir: &Path) -> QueueResult<Self> {
        let conn = Connection::open(data_dir.join("jobs.sqlite")).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS jobs (
                id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                progress REAL NOT NULL DEFAULT 0,
                stage TEXT NOT NULL DEFAULT '',
                error TEXT,
                kind TEXT NOT NULL,
                options TEXT NOT NULL,
                created_s INTEGER NOT NULL,
                finished_s INTEGER
            );
            CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_s);",
        )
        .map_err(err)?;
        // Databases made before attempts were counted get the column (0 for every job).
        let has_attempts = conn.prepare("SELECT attempts FROM jobs LIMIT 0").is_ok();
        if !has_attempts {
            conn.execute_batch("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
                .map_err(err)?;
        }
        // …and before accounts, the owner (none: every caller of the open service).
        if conn.prepare("SELECT owner FROM jobs LIMIT 0").is_err() {
            conn.execute_batch("ALTER TABLE jobs ADD COLUMN owner TEXT")
                .map_err(err)?;
        }
        Ok(Self {
            conn: std::sync::Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> QueueResult<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(err)
    }
}

fn row_to_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        state: State::parse(&r.get::<_, String>(1)?),
        progress: r.get(2)?,
        stage: r.get(3)?,
        error: r.get(4)?,
        kind: r.get(5)?,
        options: r.get(6)?,
        created_s: r.get(7)?,
        finished_s: r.get(8)?,
        attempts: r.get(9)?,
        owner: r.get(10)?,
    })
}

const COLUMNS: &str =
    "id, state, progress, stage, error, kind, options, created_s, finished_s, attempts, owner";

impl Queue for SqliteQueue {
    fn add(&self, id: &str, kind: &str, options: &str, owner: Option<&str>) -> QueueResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO jobs (id, state, kind, options, created_s, owner) VALUES (?1, 'queued', ?2, ?3, ?4, ?5)",
                params![id, kind, options, now_s(), owner],
            )
            .map(|_| ())
        })
    }

    fn list(&self) -> QueueResult<Vec<Job>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM jobs ORDER BY created_s DESC, rowid DESC"
            ))?;
            let rows = st.query_map([], row_to_job)?;
            rows.collect()
        })
    }

    fn get(&self, id: &str) -> QueueResult<Option<Job>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
                [id],
                row_to_job,
            )
            .optional()
        })
    }

    fn claim(&self) -> QueueResult<Option<Job>> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let job = tx
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM jobs WHERE state = 'queued' ORDER BY created_s, rowid LIMIT 1"
                    ),
                    [],
                    row_to_job,
                )
                .optional()?;
            if let Some(j) = &job {
                tx.execute(
                    "UPDATE jobs SET state = 'running', progress = 0, stage = 'starting', attempts = attempts + 1 WHERE id = ?1",
                    [&j.id],
                )?;
            }
            tx.commit()?;
            Ok(job.map(|j| Job {
                state: State::Running,
                attempts: j.attempts + 1,
                ..j
            }))
        })
    }

    fn progress(&self, id: &str, progress: f64, stage: &str) -> QueueResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET progress = ?2, stage = ?3 WHERE id = ?1",
                params![id, progress, stage],
            )
            .map(|_| ())
        })
    }

    fn finish(&self, id: &str, error: Option<&str>) -> QueueResult<()> {
        let state = if error.is_some() {
            State::Failed
        } else {
            State::Done
        };
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = ?2, progress = CASE WHEN ?3 IS NULL THEN 1 ELSE progress END, error = ?3, finished_s = ?4, stage = '' WHERE id = ?1",
                params![id, state.as_str(), error, now_s()],
            )
            .map(|_| ())
        })
    }

    fn remove(&self, id: &str) -> QueueResult<()> {
        self.with(|c| {
            c.execute("DELETE FROM jobs WHERE id = ?1", [id])
                .map(|_| ())
        })
    }

    fn retry(&self, id: &str, why: &str) -> QueueResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, stage = ?2 WHERE id = ?1",
                params![id, format!("queued again ({why})")],
            )
            .map(|_| ())
        })
    }

    fn requeue_running(&self, max_attempts: u32) -> QueueResult<(usize, usize)> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let failed = tx.execute(
                "UPDATE jobs SET state = 'failed', finished_s = ?2, stage = '', error = ?3 WHERE state = 'running' AND attempts >= ?1",
                params![
                    max_attempts,
                    now_s(),
                    format!("the service stopped during each of its {max_attempts} attempts (it may have crashed it); not tried again")
                ],
            )?;
            let requeued = tx.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, stage = 'restarted' WHERE state = 'running'",
                [],
            )?;
            tx.commit()?;
            Ok((requeued, failed))
        })
    }

    fn all_ids(&self) -> QueueResult<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT id FROM jobs")?;
            let ids = st
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ids)
        })
    }

    fn finished_before(&self, cutoff_s: i64) -> QueueResult<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id FROM jobs WHERE state IN ('done', 'failed') AND finished_s < ?1",
            )?;
            let ids = st
                .query_map([cutoff_s], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(ids)
        })
    }
}

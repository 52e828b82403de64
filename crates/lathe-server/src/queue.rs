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
    /// The revision being rendered, or the last one rendered (1: the automatic master); the
    /// job's state is this revision's.
    pub revision: u32,
    /// The revision the client approved.
    pub approved: Option<u32>,
}

/// One revision of a job.
#[derive(Clone, Debug, Serialize)]
pub struct Revision {
    pub n: u32,
    pub note: String,
    pub author: Option<String>,
    pub created_s: i64,
    /// How its render ended (`None` while it is the job's current revision in the queue).
    pub state: Option<State>,
    pub error: Option<String>,
    /// The session an engineer posted (its files resolved to the job's uploads); `None` for
    /// revision 1, which the order's options made.
    pub session: Option<String>,
}

/// Something that happened to a job, for its history (and the audit log).
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub at_s: i64,
    pub who: Option<String>,
    /// `ordered`, `revision` (an engineer asked for one), `rendered`, `failed` (how a
    /// revision's render ended), `approved`, `changes`, `deleted`.
    pub what: String,
    pub revision: Option<u32>,
    pub comment: String,
}

pub type QueueResult<T> = Result<T, String>;

/// What the server needs of a job queue.
pub trait Queue: Send + Sync {
    fn add(&self, id: &str, kind: &str, options: &str, owner: Option<&str>) -> QueueResult<()>;
    fn get(&self, id: &str) -> QueueResult<Option<Job>>;
    /// Every job, newest first.
    fn list(&self) -> QueueResult<Vec<Job>>;
    /// Queues revision n + 1 of a finished job, rendering `session` (`None`: a revision is
    /// queued or rendering).
    fn add_revision(
        &self,
        id: &str,
        session: &str,
        note: &str,
        author: Option<&str>,
    ) -> QueueResult<Option<u32>>;
    fn revisions(&self, id: &str) -> QueueResult<Vec<Revision>>;
    /// Records the client's approval of revision `n`.
    fn approve(&self, id: &str, n: u32, who: Option<&str>, comment: &str) -> QueueResult<()>;
    /// Records an event in the job's history.
    fn record(&self, id: &str, e: &Event) -> QueueResult<()>;
    fn events(&self, id: &str) -> QueueResult<Vec<Event>>;
    /// The newest `limit` events of every job, newest first, with their job ids (the audit
    /// log; it outlives deleted jobs).
    fn audit(&self, limit: u32) -> QueueResult<Vec<(String, Event)>>;
    /// Up to `limit` events recorded after event number `after`, oldest first, each with its
    /// number and job id (what the notifier has not seen yet).
    fn events_after(&self, after: i64, limit: u32) -> QueueResult<Vec<(i64, String, Event)>>;
    /// The number of the newest event (0: none).
    fn last_event(&self) -> QueueResult<i64>;
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
        // …and before accounts and revisions, the owner (none: every caller of the open
        // service), the current and the approved revision.
        if conn.prepare("SELECT owner FROM jobs LIMIT 0").is_err() {
            conn.execute_batch(
                "ALTER TABLE jobs ADD COLUMN owner TEXT;
                 ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
                 ALTER TABLE jobs ADD COLUMN approved INTEGER;",
            )
            .map_err(err)?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS revisions (
                job TEXT NOT NULL,
                n INTEGER NOT NULL,
                note TEXT NOT NULL,
                author TEXT,
                created_s INTEGER NOT NULL,
                state TEXT,
                error TEXT,
                session TEXT,
                PRIMARY KEY (job, n)
            );
            CREATE TABLE IF NOT EXISTS events (
                job TEXT NOT NULL,
                at_s INTEGER NOT NULL,
                who TEXT,
                what TEXT NOT NULL,
                revision INTEGER,
                comment TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS events_job ON events (job, at_s);",
        )
        .map_err(err)?;
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
        revision: r.get(11)?,
        approved: r.get(12)?,
    })
}

/// An event from the columns `at_s, who, what, revision, comment` starting at `first`.
fn row_to_event(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Event> {
    Ok(Event {
        at_s: r.get(first)?,
        who: r.get(first + 1)?,
        what: r.get(first + 2)?,
        revision: r.get(first + 3)?,
        comment: r.get(first + 4)?,
    })
}

const COLUMNS: &str =
    "id, state, progress, stage, error, kind, options, created_s, finished_s, attempts, owner, revision, approved";

impl Queue for SqliteQueue {
    fn add(&self, id: &str, kind: &str, options: &str, owner: Option<&str>) -> QueueResult<()> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let now = now_s();
            tx.execute(
                "INSERT INTO jobs (id, state, kind, options, created_s, owner) VALUES (?1, 'queued', ?2, ?3, ?4, ?5)",
                params![id, kind, options, now, owner],
            )?;
            tx.execute(
                "INSERT INTO revisions (job, n, note, author, created_s) VALUES (?1, 1, 'the automatic master', NULL, ?2)",
                params![id, now],
            )?;
            tx.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment) VALUES (?1, ?2, ?3, 'ordered', 1, '')",
                params![id, now, owner],
            )?;
            tx.commit()
        })
    }

    fn add_revision(
        &self,
        id: &str,
        session: &str,
        note: &str,
        author: Option<&str>,
    ) -> QueueResult<Option<u32>> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let (state, last): (String, u32) = tx.query_row(
                "SELECT state, revision FROM jobs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if matches!(State::parse(&state), State::Queued | State::Running) {
                return Ok(None);
            }
            let n = last + 1;
            let now = now_s();
            tx.execute(
                "UPDATE jobs SET state = 'queued', revision = ?2, progress = 0, stage = '', error = NULL, finished_s = NULL, attempts = 0 WHERE id = ?1",
                params![id, n],
            )?;
            tx.execute(
                "INSERT INTO revisions (job, n, note, author, created_s, session) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, n, note, author, now, session],
            )?;
            tx.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment) VALUES (?1, ?2, ?3, 'revision', ?4, ?5)",
                params![id, now, author, n, note],
            )?;
            tx.commit()?;
            Ok(Some(n))
        })
    }

    fn revisions(&self, id: &str) -> QueueResult<Vec<Revision>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT n, note, author, created_s, state, error, session FROM revisions WHERE job = ?1 ORDER BY n",
            )?;
            let rows = st.query_map([id], |r| {
                Ok(Revision {
                    n: r.get(0)?,
                    note: r.get(1)?,
                    author: r.get(2)?,
                    created_s: r.get(3)?,
                    state: r.get::<_, Option<String>>(4)?.map(|s| State::parse(&s)),
                    error: r.get(5)?,
                    session: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    fn approve(&self, id: &str, n: u32, who: Option<&str>, comment: &str) -> QueueResult<()> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            tx.execute("UPDATE jobs SET approved = ?2 WHERE id = ?1", params![id, n])?;
            tx.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment) VALUES (?1, ?2, ?3, 'approved', ?4, ?5)",
                params![id, now_s(), who, n, comment],
            )?;
            tx.commit()
        })
    }

    fn record(&self, id: &str, e: &Event) -> QueueResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, e.at_s, e.who, e.what, e.revision, e.comment],
            )
            .map(|_| ())
        })
    }

    fn events_after(&self, after: i64, limit: u32) -> QueueResult<Vec<(i64, String, Event)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT rowid, job, at_s, who, what, revision, comment FROM events
                 WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
            )?;
            let rows = st.query_map(params![after, limit], |r| {
                Ok((r.get(0)?, r.get(1)?, row_to_event(r, 2)?))
            })?;
            rows.collect()
        })
    }

    fn last_event(&self) -> QueueResult<i64> {
        self.with(|c| {
            c.query_row("SELECT COALESCE(MAX(rowid), 0) FROM events", [], |r| {
                r.get(0)
            })
        })
    }

    fn audit(&self, limit: u32) -> QueueResult<Vec<(String, Event)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT job, at_s, who, what, revision, comment FROM events ORDER BY at_s DESC, rowid DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| Ok((r.get(0)?, row_to_event(r, 1)?)))?;
            rows.collect()
        })
    }

    fn events(&self, id: &str) -> QueueResult<Vec<Event>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT at_s, who, what, revision, comment FROM events WHERE job = ?1 ORDER BY at_s, rowid",
            )?;
            let rows = st.query_map([id], |r| row_to_event(r, 0))?;
            rows.collect()
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
            let tx = c.unchecked_transaction()?;
            tx.execute(
                "UPDATE jobs SET state = ?2, progress = CASE WHEN ?3 IS NULL THEN 1 ELSE progress END, error = ?3, finished_s = ?4, stage = '' WHERE id = ?1",
                params![id, state.as_str(), error, now_s()],
            )?;
            tx.execute(
                "UPDATE revisions SET state = ?2, error = ?3 WHERE job = ?1 AND n = (SELECT revision FROM jobs WHERE id = ?1)",
                params![id, state.as_str(), error],
            )?;
            let what = if error.is_some() { "failed" } else { "rendered" };
            tx.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment)
                 SELECT id, ?2, NULL, ?3, revision, COALESCE(?4, '') FROM jobs WHERE id = ?1",
                params![id, now_s(), what, error],
            )?;
            tx.commit()
        })
    }

    fn remove(&self, id: &str) -> QueueResult<()> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            tx.execute("DELETE FROM revisions WHERE job = ?1", [id])?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
            // The events stay: the audit log outlives the files.
            tx.commit()
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
            let why = format!("the service stopped during each of its {max_attempts} attempts (it may have crashed it); not tried again");
            tx.execute(
                "UPDATE revisions SET state = 'failed', error = ?2 WHERE (job, n) IN
                 (SELECT id, revision FROM jobs WHERE state = 'running' AND attempts >= ?1)",
                params![max_attempts, why],
            )?;
            tx.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment)
                 SELECT id, ?2, NULL, 'failed', revision, ?3 FROM jobs
                 WHERE state = 'running' AND attempts >= ?1",
                params![max_attempts, now_s(), why],
            )?;
            let failed = tx.execute(
                "UPDATE jobs SET state = 'failed', finished_s = ?2, stage = '', error = ?3 WHERE state = 'running' AND attempts >= ?1",
                params![max_attempts, now_s(), why],
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

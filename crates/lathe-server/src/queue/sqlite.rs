//! The SQLite queue: tables in the data folder's `jobs.sqlite` (WAL mode, so the web handlers
//! and the workers each hold their own connection).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_s, Event, Job, Queue, QueueResult, Revision, State};

/// The SQLite queue.
pub struct SqliteQueue {
    conn: std::sync::Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> String {
    format!("job database: {e}")
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
        // …and before object stores, the attempt that rendered each revision.
        if conn
            .prepare("SELECT attempt FROM revisions LIMIT 0")
            .is_err()
        {
            conn.execute_batch("ALTER TABLE revisions ADD COLUMN attempt INTEGER")
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
            let tx = crate::sqlite_tx::write_transaction(c)?;
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
            let tx = crate::sqlite_tx::write_transaction(c)?;
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
                "SELECT n, note, author, created_s, state, error, session, attempt FROM revisions WHERE job = ?1 ORDER BY n",
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
                    attempt: r.get(7)?,
                })
            })?;
            rows.collect()
        })
    }

    fn approve(&self, id: &str, n: u32, who: Option<&str>, comment: &str) -> QueueResult<()> {
        self.with(|c| {
            let tx = crate::sqlite_tx::write_transaction(c)?;
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
            let tx = crate::sqlite_tx::write_transaction(c)?;
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

    fn finish(&self, id: &str, attempt: u32, error: Option<&str>) -> QueueResult<bool> {
        let state = if error.is_some() {
            State::Failed
        } else {
            State::Done
        };
        self.with(|c| {
            let tx = crate::sqlite_tx::write_transaction(c)?;
            let held = tx.execute(
                "UPDATE jobs SET state = ?2, progress = CASE WHEN ?3 IS NULL THEN 1 ELSE progress END, error = ?3, finished_s = ?4, stage = ''
                 WHERE id = ?1 AND state = 'running' AND attempts = ?5",
                params![id, state.as_str(), error, now_s(), attempt],
            )?;
            if held != 1 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE revisions SET state = ?2, error = ?3, attempt = ?4 WHERE job = ?1 AND n = (SELECT revision FROM jobs WHERE id = ?1)",
                params![id, state.as_str(), error, attempt],
            )?;
            let what = if error.is_some() { "failed" } else { "rendered" };
            tx.execute(
                "INSERT INTO events (job, at_s, who, what, revision, comment)
                 SELECT id, ?2, NULL, ?3, revision, COALESCE(?4, '') FROM jobs WHERE id = ?1",
                params![id, now_s(), what, error],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn remove(&self, id: &str) -> QueueResult<()> {
        self.with(|c| {
            let tx = crate::sqlite_tx::write_transaction(c)?;
            tx.execute("DELETE FROM revisions WHERE job = ?1", [id])?;
            tx.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
            // The events stay: the audit log outlives the files.
            tx.commit()
        })
    }

    fn retry(&self, id: &str, attempt: u32, why: &str) -> QueueResult<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, stage = ?2
                 WHERE id = ?1 AND state = 'running' AND attempts = ?3",
                params![id, format!("queued again ({why})"), attempt],
            )
            .map(|n| n == 1)
        })
    }

    fn heartbeat(&self, id: &str, attempt: u32) -> QueueResult<bool> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE id = ?1 AND state = 'running' AND attempts = ?2",
                params![id, attempt],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n == 1)
        })
    }

    fn requeue_expired(&self, _max_attempts: u32) -> QueueResult<(usize, usize)> {
        Ok((0, 0))
    }

    fn requeue_running(&self, max_attempts: u32) -> QueueResult<(usize, usize)> {
        self.with(|c| {
            let tx = crate::sqlite_tx::write_transaction(c)?;
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

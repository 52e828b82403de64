//! The PostgreSQL queue: the same tables as SQLite's, shared by any number of web and worker
//! processes on any number of machines.
//!
//! - **Claiming**: `SELECT … FOR UPDATE SKIP LOCKED` takes the oldest queued job that no other
//!   worker is taking at the same moment, so two workers never get one job and never wait on
//!   each other.
//! - **Leases**: a claim holds the job for [`PgQueue::lease_s`] seconds; its worker's
//!   [`Queue::heartbeat`] renews it. A job whose lease runs out (its worker was killed, its
//!   machine lost) goes back to the queue on the next [`Queue::requeue_running`], which every
//!   worker calls while idle. Lease times are the database's clock, never a machine's.
//! - **History**: event numbers come from a sequence, and the transactions that add events
//!   take turns (an advisory lock until commit), so numbers become visible in order and a
//!   reader of [`Queue::events_after`] never skips one that commits late.

use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;

use super::{Event, Job, Queue, QueueResult, Revision, State};
use std::sync::Arc;

use crate::pg::{Pg, PgError};

/// How long a claim holds a job without a heartbeat, seconds.
pub const DEFAULT_LEASE_S: i64 = 30;

/// Taken by every transaction that adds events, until it commits (see the module's notes).
const EVENTS_LOCK: i64 = 0x6c_61_74_68_65_01;

/// The database's clock, whole seconds since the Unix epoch, cut down as `now_s` cuts the
/// machine's (a cast alone rounds, and a rounded-up time sorts an event before one recorded
/// after it by a web process).
const NOW: &str = "CAST(FLOOR(EXTRACT(EPOCH FROM now())) AS BIGINT)";

const COLUMNS: &str = "id, state, progress, stage, error, kind, options, created_s, finished_s, \
                       attempts, owner, revision, approved";

pub struct PgQueue {
    pg: Arc<Pg>,
    lease_s: i64,
    /// Notifications of queued jobs, listened for once a worker first waits for work.
    /// The listener and when listening last failed (tried again after [`RELISTEN_AFTER`]).
    wakeups: std::sync::Mutex<Listening>,
}

type Listening = (Option<Arc<crate::pg::Wakeups>>, Option<std::time::Instant>);

/// How long a worker polls after listening failed before it tries again.
const RELISTEN_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// The channel the `jobs_queued_notify` trigger notifies (schema version 3).
const JOBS_CHANNEL: &str = "lathe_jobs";

/// The longest an idle worker sleeps while notifications work: it also sweeps for expired
/// leases between sleeps.
const NOTIFIED_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

fn err(e: PgError) -> String {
    format!("job database: {e}")
}

fn count(n: i32) -> u32 {
    n.max(0) as u32
}

fn row_to_job(r: &Row) -> Job {
    Job {
        id: r.get(0),
        state: State::parse(r.get(1)),
        progress: r.get(2),
        stage: r.get(3),
        error: r.get(4),
        kind: r.get(5),
        options: r.get(6),
        created_s: r.get(7),
        finished_s: r.get(8),
        attempts: count(r.get(9)),
        owner: r.get(10),
        revision: count(r.get(11)),
        approved: r.get::<_, Option<i32>>(12).map(count),
    }
}

/// An event from the columns `at_s, who, what, revision, comment` starting at `first`.
fn row_to_event(r: &Row, first: usize) -> Event {
    Event {
        at_s: r.get(first),
        who: r.get(first + 1),
        what: r.get(first + 2),
        revision: r.get::<_, Option<i32>>(first + 3).map(count),
        comment: r.get(first + 4),
    }
}

/// Adds an event inside transaction `tx`, after taking the events' turn.
async fn insert_event(
    tx: &impl GenericClient,
    job: &str,
    e: &Event,
) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENTS_LOCK])
        .await?;
    tx.execute(
        "INSERT INTO events (job, at_s, who, what, revision, comment) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&job, &e.at_s, &e.who, &e.what, &e.revision.map(|n| n as i32), &e.comment],
    )
    .await?;
    Ok(())
}

/// The database's clock, seconds since the Unix epoch.
async fn db_now(c: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    Ok(c.query_one(&format!("SELECT {NOW}"), &[]).await?.get(0))
}

impl PgQueue {
    /// Connects to the database at `url` and brings the service's tables up to date.
    pub fn connect(url: &str) -> Result<Self, PgError> {
        Ok(Self::on(Arc::new(Pg::connect(
            url,
            crate::pg::schema::MIGRATIONS,
        )?)))
    }

    /// The queue in an open database (its schema made already).
    pub fn on(pg: Arc<Pg>) -> Self {
        Self {
            pg,
            lease_s: DEFAULT_LEASE_S,
            wakeups: std::sync::Mutex::new((None, None)),
        }
    }

    /// The same queue with claims held `lease_s` seconds without a heartbeat.
    pub fn with_lease_s(self, lease_s: i64) -> Self {
        Self {
            lease_s: lease_s.max(1),
            ..self
        }
    }

    /// How long a claim holds a job without a heartbeat, seconds.
    pub fn lease_s(&self) -> i64 {
        self.lease_s
    }

    /// The notifications of queued jobs, listening again if the connection was lost (`None`:
    /// the database cannot be reached now; the caller polls).
    fn wakeups(&self) -> Option<Arc<crate::pg::Wakeups>> {
        let mut slot = self.wakeups.lock().ok()?;
        if let Some(w) = slot.0.as_ref().filter(|w| w.alive()) {
            return Some(w.clone());
        }
        if slot.1.is_some_and(|t| t.elapsed() < RELISTEN_AFTER) {
            return None;
        }
        match self.pg.listen(JOBS_CHANNEL) {
            Ok(w) => {
                *slot = (Some(w.clone()), None);
                Some(w)
            }
            Err(e) => {
                eprintln!("lathe serve: worker: listening for new jobs: {e}; polling");
                *slot = (None, Some(std::time::Instant::now()));
                None
            }
        }
    }

    /// Runs `work` on a pooled connection.
    fn with<T, F, Fut>(&self, work: F) -> QueueResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, PgError>> + Send + 'static,
    {
        self.pg.call(work).map_err(err)
    }
}

impl Queue for PgQueue {
    fn add(&self, id: &str, kind: &str, options: &str, owner: Option<&str>) -> QueueResult<()> {
        let (id, kind, options, owner) = (
            id.to_owned(),
            kind.to_owned(),
            options.to_owned(),
            owner.map(str::to_owned),
        );
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            let now = db_now(&tx).await?;
            tx.execute(
                "INSERT INTO jobs (id, state, kind, options, created_s, owner) VALUES ($1, 'queued', $2, $3, $4, $5)",
                &[&id, &kind, &options, &now, &owner],
            )
            .await?;
            tx.execute(
                "INSERT INTO revisions (job, n, note, author, created_s) VALUES ($1, 1, 'the automatic master', NULL, $2)",
                &[&id, &now],
            )
            .await?;
            let ordered = Event {
                at_s: now,
                who: owner,
                what: "ordered".into(),
                revision: Some(1),
                comment: String::new(),
            };
            insert_event(&tx, &id, &ordered).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn get(&self, id: &str) -> QueueResult<Option<Job>> {
        let id = id.to_owned();
        self.with(|pool| async move {
            let c = pool.get().await?;
            let row = c
                .query_opt(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"), &[&id])
                .await?;
            Ok(row.as_ref().map(row_to_job))
        })
    }

    fn list(&self) -> QueueResult<Vec<Job>> {
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    &format!("SELECT {COLUMNS} FROM jobs ORDER BY created_s DESC, seq DESC"),
                    &[],
                )
                .await?;
            Ok(rows.iter().map(row_to_job).collect())
        })
    }

    fn add_revision(
        &self,
        id: &str,
        session: &str,
        note: &str,
        author: Option<&str>,
    ) -> QueueResult<Option<u32>> {
        let (id, session, note, author) = (
            id.to_owned(),
            session.to_owned(),
            note.to_owned(),
            author.map(str::to_owned),
        );
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            // FOR UPDATE: two engineers asking at once get revisions n + 1 and n + 2, not
            // two of n + 1.
            let row = tx
                .query_one(
                    "SELECT state, revision FROM jobs WHERE id = $1 FOR UPDATE",
                    &[&id],
                )
                .await?;
            if matches!(State::parse(row.get(0)), State::Queued | State::Running) {
                return Ok(None);
            }
            let n: i32 = row.get::<_, i32>(1) + 1;
            let now = db_now(&tx).await?;
            tx.execute(
                "UPDATE jobs SET state = 'queued', revision = $2, progress = 0, stage = '', error = NULL, finished_s = NULL, attempts = 0, lease_until_s = NULL WHERE id = $1",
                &[&id, &n],
            )
            .await?;
            tx.execute(
                "INSERT INTO revisions (job, n, note, author, created_s, session) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&id, &n, &note, &author, &now, &session],
            )
            .await?;
            let asked = Event {
                at_s: now,
                who: author,
                what: "revision".into(),
                revision: Some(count(n)),
                comment: note,
            };
            insert_event(&tx, &id, &asked).await?;
            tx.commit().await?;
            Ok(Some(count(n)))
        })
    }

    fn revisions(&self, id: &str) -> QueueResult<Vec<Revision>> {
        let id = id.to_owned();
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    "SELECT n, note, author, created_s, state, error, session, attempt FROM revisions WHERE job = $1 ORDER BY n",
                    &[&id],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| Revision {
                    n: count(r.get(0)),
                    note: r.get(1),
                    author: r.get(2),
                    created_s: r.get(3),
                    state: r.get::<_, Option<&str>>(4).map(State::parse),
                    error: r.get(5),
                    session: r.get(6),
                    attempt: r.get::<_, Option<i32>>(7).map(count),
                })
                .collect())
        })
    }

    fn approve(&self, id: &str, n: u32, who: Option<&str>, comment: &str) -> QueueResult<()> {
        let (id, who, comment) = (id.to_owned(), who.map(str::to_owned), comment.to_owned());
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute(
                "UPDATE jobs SET approved = $2 WHERE id = $1",
                &[&id, &(n as i32)],
            )
            .await?;
            let approved = Event {
                at_s: db_now(&tx).await?,
                who,
                what: "approved".into(),
                revision: Some(n),
                comment,
            };
            insert_event(&tx, &id, &approved).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn record(&self, id: &str, e: &Event) -> QueueResult<()> {
        let (id, e) = (id.to_owned(), e.clone());
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            insert_event(&tx, &id, &e).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn events(&self, id: &str) -> QueueResult<Vec<Event>> {
        let id = id.to_owned();
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    "SELECT at_s, who, what, revision, comment FROM events WHERE job = $1 ORDER BY at_s, seq",
                    &[&id],
                )
                .await?;
            Ok(rows.iter().map(|r| row_to_event(r, 0)).collect())
        })
    }

    fn audit(&self, limit: u32) -> QueueResult<Vec<(String, Event)>> {
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    "SELECT job, at_s, who, what, revision, comment FROM events ORDER BY at_s DESC, seq DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), row_to_event(r, 1)))
                .collect())
        })
    }

    fn events_after(&self, after: i64, limit: u32) -> QueueResult<Vec<(i64, String, Event)>> {
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    "SELECT seq, job, at_s, who, what, revision, comment FROM events
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &i64::from(limit)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), row_to_event(r, 2)))
                .collect())
        })
    }

    fn last_event(&self) -> QueueResult<i64> {
        self.with(|pool| async move {
            let c = pool.get().await?;
            let row = c
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])
                .await?;
            Ok(row.get(0))
        })
    }

    fn claim(&self) -> QueueResult<Option<Job>> {
        let lease_s = self.lease_s;
        self.with(|pool| async move {
            let c = pool.get().await?;
            // One statement: the row is locked, skipped by every other claim, and updated
            // atomically; nothing is held between round trips.
            let row = c
                .query_opt(
                    &format!(
                        "UPDATE jobs SET state = 'running', progress = 0, stage = 'starting',
                                attempts = attempts + 1, lease_until_s = {NOW} + $1
                         WHERE id = (SELECT id FROM jobs WHERE state = 'queued'
                                     ORDER BY created_s, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                         RETURNING {COLUMNS}"
                    ),
                    &[&lease_s],
                )
                .await?;
            Ok(row.as_ref().map(row_to_job))
        })
    }

    fn retry(&self, id: &str, attempt: u32, why: &str) -> QueueResult<bool> {
        let (id, stage) = (id.to_owned(), format!("queued again ({why})"));
        self.with(|pool| async move {
            let c = pool.get().await?;
            let n = c
                .execute(
                    "UPDATE jobs SET state = 'queued', progress = 0, stage = $2, lease_until_s = NULL
                     WHERE id = $1 AND state = 'running' AND attempts = $3",
                    &[&id, &stage, &(attempt as i32)],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn progress(&self, id: &str, progress: f64, stage: &str) -> QueueResult<()> {
        let (id, stage) = (id.to_owned(), stage.to_owned());
        self.with(|pool| async move {
            let c = pool.get().await?;
            c.execute(
                "UPDATE jobs SET progress = $2, stage = $3 WHERE id = $1",
                &[&id, &progress, &stage],
            )
            .await?;
            Ok(())
        })
    }

    fn finish(&self, id: &str, attempt: u32, error: Option<&str>) -> QueueResult<bool> {
        let state = if error.is_some() {
            State::Failed
        } else {
            State::Done
        };
        let (id, error) = (id.to_owned(), error.map(str::to_owned));
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            let now = db_now(&tx).await?;
            let row = tx
                .query_opt(
                    "UPDATE jobs SET state = $2,
                            progress = CASE WHEN $3::TEXT IS NULL THEN 1 ELSE progress END,
                            error = $3, finished_s = $4, stage = '', lease_until_s = NULL
                     WHERE id = $1 AND state = 'running' AND attempts = $5 RETURNING revision",
                    &[&id, &state.as_str(), &error, &now, &(attempt as i32)],
                )
                .await?;
            let Some(row) = row else {
                return Ok(false);
            };
            let revision: i32 = row.get(0);
            tx.execute(
                "UPDATE revisions SET state = $3, error = $4, attempt = $5 WHERE job = $1 AND n = $2",
                &[&id, &revision, &state.as_str(), &error, &(attempt as i32)],
            )
            .await?;
            let ended = Event {
                at_s: now,
                who: None,
                what: if error.is_some() {
                    "failed"
                } else {
                    "rendered"
                }
                .into(),
                revision: Some(count(revision)),
                comment: error.unwrap_or_default(),
            };
            insert_event(&tx, &id, &ended).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn remove(&self, id: &str) -> QueueResult<()> {
        let id = id.to_owned();
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute("DELETE FROM revisions WHERE job = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM jobs WHERE id = $1", &[&id]).await?;
            // The events stay: the audit log outlives the files.
            tx.commit().await?;
            Ok(())
        })
    }

    fn work_mark(&self) -> u64 {
        self.wakeups().map_or(0, |w| w.mark())
    }

    fn wait_for_work(&self, mark: u64, poll: std::time::Duration) -> bool {
        let listening = self.wakeups.lock().ok().and_then(|w| w.0.clone());
        match listening.filter(|w| w.alive()) {
            Some(w) => w.wait(mark, NOTIFIED_WAIT),
            None => {
                std::thread::sleep(poll);
                false
            }
        }
    }

    fn lease(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(self.lease_s as u64))
    }

    fn heartbeat(&self, id: &str, attempt: u32) -> QueueResult<bool> {
        let (id, lease_s) = (id.to_owned(), self.lease_s);
        self.with(|pool| async move {
            let c = pool.get().await?;
            let renewed = c
                .execute(
                    &format!(
                        "UPDATE jobs SET lease_until_s = {NOW} + $3
                         WHERE id = $1 AND state = 'running' AND attempts = $2"
                    ),
                    &[&id, &(attempt as i32), &lease_s],
                )
                .await?;
            Ok(renewed == 1)
        })
    }

    fn requeue_expired(&self, max_attempts: u32) -> QueueResult<(usize, usize)> {
        self.requeue_running(max_attempts)
    }

    /// Shared by many processes: only claims whose lease expired (a live worker's stay).
    fn requeue_running(&self, max_attempts: u32) -> QueueResult<(usize, usize)> {
        self.with(|pool| async move {
            let mut c = pool.get().await?;
            let tx = c.transaction().await?;
            let max = max_attempts as i32;
            let why = format!(
                "its worker stopped during each of its {max_attempts} attempts (it may have crashed it); not tried again"
            );
            // The expired claims, locked: a worker requeueing at the same moment skips them.
            let expired = tx
                .query(
                    &format!(
                        "SELECT id, attempts, revision FROM jobs
                         WHERE state = 'running' AND lease_until_s < {NOW}
                         FOR UPDATE SKIP LOCKED"
                    ),
                    &[],
                )
                .await?;
            let now = db_now(&tx).await?;
            let (mut requeued, mut failed) = (0, 0);
            for r in &expired {
                let (id, attempts, revision): (String, i32, i32) = (r.get(0), r.get(1), r.get(2));
                if attempts >= max {
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', finished_s = $2, stage = '', error = $3, lease_until_s = NULL WHERE id = $1",
                        &[&id, &now, &why],
                    )
                    .await?;
                    tx.execute(
                        "UPDATE revisions SET state = 'failed', error = $3 WHERE job = $1 AND n = $2",
                        &[&id, &revision, &why],
                    )
                    .await?;
                    let gave_up = Event {
                        at_s: now,
                        who: None,
                        what: "failed".into(),
                        revision: Some(count(revision)),
                        comment: why.clone(),
                    };
                    insert_event(&tx, &id, &gave_up).await?;
                    failed += 1;
                } else {
                    tx.execute(
                        "UPDATE jobs SET state = 'queued', progress = 0, stage = 'restarted', lease_until_s = NULL WHERE id = $1",
                        &[&id],
                    )
                    .await?;
                    requeued += 1;
                }
            }
            tx.commit().await?;
            Ok((requeued, failed))
        })
    }

    fn all_ids(&self) -> QueueResult<Vec<String>> {
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c.query("SELECT id FROM jobs", &[]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn finished_before(&self, cutoff_s: i64) -> QueueResult<Vec<String>> {
        self.with(|pool| async move {
            let c = pool.get().await?;
            let rows = c
                .query(
                    "SELECT id FROM jobs WHERE state IN ('done', 'failed') AND finished_s < $1",
                    &[&cutoff_s],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}

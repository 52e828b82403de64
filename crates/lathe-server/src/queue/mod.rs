//! The job queue: jobs, their revisions and their history. The [`Queue`] trait is all the rest
//! of the server knows of it; [`sqlite`] keeps it in the data folder (one machine),
//! [`postgres`] in a PostgreSQL database that many web and worker processes share.

use serde::Serialize;

pub mod postgres;
pub mod sqlite;

pub use sqlite::SqliteQueue;

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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> State {
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
    /// The attempt whose ending was recorded (its outputs are the revision's: with an object
    /// store each attempt uploads under a prefix of its own); `None` until one ends.
    pub attempt: Option<u32>,
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
    /// Puts a running job back in the queue (attempt `attempt` crashed; the count stays).
    /// False, and nothing changed, when that attempt no longer holds the job.
    fn retry(&self, id: &str, attempt: u32, why: &str) -> QueueResult<bool>;
    fn progress(&self, id: &str, progress: f64, stage: &str) -> QueueResult<()>;
    /// Records how attempt `attempt` of a running job ended (`error`: it failed). Only the
    /// attempt that holds the job commits: false, and nothing changed, for any other (one
    /// whose claim expired and went to another worker), so a job never ends twice.
    fn finish(&self, id: &str, attempt: u32, error: Option<&str>) -> QueueResult<bool>;
    fn remove(&self, id: &str) -> QueueResult<()>;
    /// How long a claim holds a job without a heartbeat (`None`: claims do not expire).
    fn lease(&self) -> Option<std::time::Duration> {
        None
    }
    /// Keeps attempt `attempt` of a running job alive (its worker is still at it). False when
    /// that attempt no longer holds the job: it was handed back, finished, or (PostgreSQL) its
    /// lease ran out and the job went back to the queue.
    fn heartbeat(&self, id: &str, attempt: u32) -> QueueResult<bool>;
    /// Running jobs whose worker is gone go back to the queue, unless they have had
    /// `max_attempts` already: those fail (each of their attempts ended its worker, or was
    /// ended with it). Which workers are gone: SQLite (one process) is asked at start, so
    /// every running job; PostgreSQL, shared by many processes, those whose lease expired
    /// (no heartbeat for the lease time). Returns (requeued, failed).
    fn requeue_running(&self, max_attempts: u32) -> QueueResult<(usize, usize)>;
    /// What a worker calls while idle: running jobs whose claim expired go back to the queue
    /// (or fail, as in [`Queue::requeue_running`]). SQLite (one process) has no leases: every
    /// running job there belongs to a live worker thread, so nothing expires.
    fn requeue_expired(&self, max_attempts: u32) -> QueueResult<(usize, usize)>;
    /// What a worker reads before it looks for a job, to hand to [`Queue::wait_for_work`]
    /// if it found none.
    fn work_mark(&self) -> u64 {
        0
    }
    /// Sleeps until a job may have been queued since `mark`: `poll` where nothing says when
    /// one is (SQLite), else until the database's notification (PostgreSQL's LISTEN/NOTIFY)
    /// or a second at most. True when a notification woke it.
    fn wait_for_work(&self, mark: u64, poll: std::time::Duration) -> bool {
        let _ = mark;
        std::thread::sleep(poll);
        false
    }
    /// Every job id the database holds (to find folders no job owns).
    fn all_ids(&self) -> QueueResult<Vec<String>>;
    /// Finished jobs older than `max_age_s` seconds.
    fn finished_before(&self, cutoff_s: i64) -> QueueResult<Vec<String>>;
}

/// Seconds since the Unix epoch.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

//! The job queue's contract, run against both backends: SQLite in a temporary folder and a
//! real PostgreSQL server (a fresh database per test). The PostgreSQL half needs
//! `LATHE_TEST_POSTGRES` (a superuser URL; `scripts/setup.sh`'s `ensure_postgres` starts a
//! server and sets it); without it those tests say they were skipped, unless
//! `LATHE_REQUIRE_SERVICES=1` (CI), where a missing server fails them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lathe_server::queue::postgres::PgQueue;
use lathe_server::queue::{Event, Queue, SqliteQueue, State};

/// A fresh database on the test server, dropped when the handle goes.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn admin_exec(admin: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(conn);
    let r = client.batch_execute(sql).await;
    drop(client);
    let _ = task.await;
    r
}

impl TestDb {
    fn new() -> Option<Self> {
        let Ok(admin) = std::env::var("LATHE_TEST_POSTGRES") else {
            if std::env::var("LATHE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
                panic!("LATHE_REQUIRE_SERVICES=1 but LATHE_TEST_POSTGRES is not set");
            }
            eprintln!(
                "SKIPPED (PostgreSQL half): LATHE_TEST_POSTGRES is not set (scripts/setup.sh: ensure_postgres)"
            );
            return None;
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "lathe_t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        block_on(admin_exec(&admin, &format!("CREATE DATABASE {name}"))).unwrap();
        let base = admin.rsplit_once('/').expect("a URL with a database").0;
        Some(Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = block_on(admin_exec(&self.admin, &sql));
    }
}

/// Opens handles on one queue: each like a process of its own (its own connections).
trait Backend {
    fn open(&self) -> Arc<dyn Queue>;
    /// Whether claims expire on their own (PostgreSQL's leases).
    fn leases(&self) -> bool;
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    fn open(&self) -> Arc<dyn Queue> {
        Arc::new(SqliteQueue::open(self.0.path()).unwrap())
    }
    fn leases(&self) -> bool {
        false
    }
}

struct Postgres(TestDb, i64);

impl Backend for Postgres {
    fn open(&self) -> Arc<dyn Queue> {
        Arc::new(PgQueue::connect(&self.0.url).unwrap().with_lease_s(self.1))
    }
    fn leases(&self) -> bool {
        true
    }
}

fn sqlite() -> Option<Box<dyn Backend>> {
    Some(Box::new(Sqlite(tempfile::tempdir().unwrap())))
}

fn postgres() -> Option<Box<dyn Backend>> {
    postgres_leasing(30)
}

fn postgres_leasing(lease_s: i64) -> Option<Box<dyn Backend>> {
    Some(Box::new(Postgres(TestDb::new()?, lease_s)))
}

fn id(n: usize) -> String {
    format!("{n:032x}")
}

fn lifecycle(b: &dyn Backend) {
    let q = b.open();
    q.add(&id(1), "mix", "{}", Some("ada")).unwrap();
    let j = q.get(&id(1)).unwrap().unwrap();
    assert_eq!((j.state, j.attempts, j.revision), (State::Queued, 0, 1));
    assert_eq!(j.owner.as_deref(), Some("ada"));
    let c = q.claim().unwrap().unwrap();
    assert_eq!(
        (c.id.as_str(), c.state, c.attempts),
        (id(1).as_str(), State::Running, 1)
    );
    assert!(q.claim().unwrap().is_none(), "one job, claimed once");
    q.progress(&id(1), 0.5, "rendering").unwrap();
    let j = q.get(&id(1)).unwrap().unwrap();
    assert_eq!((j.progress, j.stage.as_str()), (0.5, "rendering"));
    assert!(!q.finish(&id(1), 2, None).unwrap(), "another attempt's end");
    assert_eq!(q.get(&id(1)).unwrap().unwrap().state, State::Running);
    assert!(q.finish(&id(1), 1, None).unwrap());
    assert!(!q.finish(&id(1), 1, None).unwrap(), "a job ends once");
    let j = q.get(&id(1)).unwrap().unwrap();
    assert_eq!((j.state, j.progress), (State::Done, 1.0));
    assert!(j.finished_s.is_some());
    let revs = q.revisions(&id(1)).unwrap();
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0].state, Some(State::Done));
    let what: Vec<String> = q
        .events(&id(1))
        .unwrap()
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert_eq!(what, ["ordered", "rendered"]);

    // A revision: not while one is queued, numbered on from the last.
    assert_eq!(
        q.add_revision(&id(1), "[s]", "warmer", Some("eng"))
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        q.add_revision(&id(1), "[s]", "again", Some("eng")).unwrap(),
        None
    );
    let c = q.claim().unwrap().unwrap();
    assert_eq!((c.revision, c.attempts), (2, 1));
    assert!(q.finish(&id(1), 1, Some("a deliverable missed")).unwrap());
    let revs = q.revisions(&id(1)).unwrap();
    assert_eq!(revs[1].state, Some(State::Failed));
    assert_eq!(revs[1].error.as_deref(), Some("a deliverable missed"));
    assert_eq!(revs[1].session.as_deref(), Some("[s]"));
    q.approve(&id(1), 1, Some("ada"), "the first").unwrap();
    assert_eq!(q.get(&id(1)).unwrap().unwrap().approved, Some(1));

    // Removing a job keeps its history (the audit log).
    q.remove(&id(1)).unwrap();
    assert!(q.get(&id(1)).unwrap().is_none());
    let audit = q.audit(10).unwrap();
    assert_eq!(audit.len(), 5);
    assert_eq!(audit[0].1.what, "approved");
}

fn order_and_history(b: &dyn Backend) {
    let q = b.open();
    for n in 0..5 {
        q.add(&id(n), "mix", "{}", None).unwrap();
    }
    let listed: Vec<String> = q.list().unwrap().into_iter().map(|j| j.id).collect();
    assert_eq!(
        listed,
        (0..5).rev().map(id).collect::<Vec<_>>(),
        "newest first"
    );
    for n in 0..5 {
        assert_eq!(q.claim().unwrap().unwrap().id, id(n), "oldest first");
    }
    let all = q.events_after(0, 100).unwrap();
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(q.last_event().unwrap(), all[4].0);
    let rest = q.events_after(all[1].0, 2).unwrap();
    assert_eq!(
        rest.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
        [id(2), id(3)]
    );
    let e = Event {
        at_s: 7,
        who: Some("eng".into()),
        what: "changes".into(),
        revision: None,
        comment: "less air".into(),
    };
    q.record(&id(0), &e).unwrap();
    let last = q.events(&id(0)).unwrap();
    assert_eq!(
        last[0].what, "changes",
        "ordered by time: at 7 s, before the order"
    );
    assert_eq!(last[0].comment, "less air");
    let mut ids = q.all_ids().unwrap();
    ids.sort();
    assert_eq!(ids, (0..5).map(id).collect::<Vec<_>>());
    assert!(q.finish(&id(3), 1, None).unwrap());
    assert_eq!(q.finished_before(i64::MAX).unwrap(), [id(3)]);
    assert!(q.finished_before(0).unwrap().is_empty());
}

/// Workers on handles of their own (as processes) claim at once: every job goes to exactly
/// one of them.
fn concurrent_claims(b: &dyn Backend) {
    const JOBS: usize = 60;
    let q = b.open();
    for n in 0..JOBS {
        q.add(&id(n), "mix", "{}", None).unwrap();
    }
    let handles: Vec<Arc<dyn Queue>> = (0..6).map(|_| b.open()).collect();
    let claimed: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = handles
            .iter()
            .map(|h| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(j) = h.claim().unwrap() {
                        mine.push(j.id);
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let all: Vec<&String> = claimed.iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        JOBS,
        "claimed {} times for {JOBS} jobs",
        all.len()
    );
    assert_eq!(unique.len(), JOBS);
    assert!(q
        .list()
        .unwrap()
        .iter()
        .all(|j| j.state == State::Running && j.attempts == 1));
    // Two engineers asking for a revision at once: one gets it.
    assert!(q.finish(&id(0), 1, None).unwrap());
    let asked: Vec<Option<u32>> = std::thread::scope(|s| {
        let askers: Vec<_> = handles[..4]
            .iter()
            .map(|h| s.spawn(move || h.add_revision(&id(0), "[s]", "n", None).unwrap()))
            .collect();
        askers.into_iter().map(|a| a.join().unwrap()).collect()
    });
    assert_eq!(
        asked.iter().flatten().collect::<Vec<_>>(),
        [&2],
        "{asked:?}"
    );
}

/// A worker that stops (killed, its machine gone) hands its job back; after `max_attempts`
/// the job fails with the reason.
fn attempts_run_out(b: &dyn Backend) {
    let q = b.open();
    q.add(&id(9), "mix", "{}", None).unwrap();
    let c = q.claim().unwrap().unwrap();
    assert!(q.heartbeat(&id(9), c.attempts).unwrap());
    assert!(
        !q.heartbeat(&id(9), c.attempts + 1).unwrap(),
        "another attempt's"
    );
    if b.leases() {
        // A live claim is not taken away.
        assert_eq!(q.requeue_running(2).unwrap(), (0, 0));
        std::thread::sleep(Duration::from_millis(2300));
    }
    assert_eq!(q.requeue_running(2).unwrap(), (1, 0));
    assert!(
        !q.heartbeat(&id(9), 1).unwrap(),
        "the lost attempt learns it"
    );
    let c = q.claim().unwrap().unwrap();
    assert_eq!(c.attempts, 2);
    if b.leases() {
        std::thread::sleep(Duration::from_millis(2300));
    }
    assert_eq!(q.requeue_running(2).unwrap(), (0, 1));
    let j = q.get(&id(9)).unwrap().unwrap();
    assert_eq!(j.state, State::Failed);
    assert!(j.error.unwrap().contains("2 attempts"));
    let events = q.events(&id(9)).unwrap();
    assert_eq!(events.last().unwrap().what, "failed");
    // A crashed attempt handed back keeps its count.
    q.add(&id(10), "mix", "{}", None).unwrap();
    q.claim().unwrap().unwrap();
    assert!(!q.retry(&id(10), 2, "not mine").unwrap());
    assert!(q.retry(&id(10), 1, "attempt 1 crashed").unwrap());
    let j = q.get(&id(10)).unwrap().unwrap();
    assert_eq!((j.state, j.attempts), (State::Queued, 1));
    assert!(j.stage.contains("attempt 1 crashed"));
}

macro_rules! both {
    ($($name:ident: $backend:expr),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&*super::sqlite().unwrap());
                }
                #[test]
                fn postgres() {
                    if let Some(b) = $backend {
                        super::$name(&*b);
                    }
                }
            }
        )*
    };
}

both! {
    lifecycle: super::postgres(),
    order_and_history: super::postgres(),
    concurrent_claims: super::postgres(),
    attempts_run_out: super::postgres_leasing(1),
}

/// A heartbeat keeps a claim past its lease; without one it expires.
#[test]
fn postgres_heartbeats_keep_the_lease() {
    let Some(db) = TestDb::new() else { return };
    let q = PgQueue::connect(&db.url).unwrap().with_lease_s(1);
    q.add(&id(1), "mix", "{}", None).unwrap();
    let c = q.claim().unwrap().unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(3000) {
        assert!(q.heartbeat(&c.id, c.attempts).unwrap());
        assert_eq!(q.requeue_running(3).unwrap(), (0, 0));
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(2300));
    assert_eq!(q.requeue_running(3).unwrap(), (1, 0));
}

/// An idle worker sleeps until a job is queued (LISTEN/NOTIFY), not for its polling interval:
/// woken by a new order, a job handed back after a crash, and a new revision, each from
/// another process's handle; and not woken when nothing was queued.
#[test]
fn postgres_idle_workers_wake_when_a_job_is_queued() {
    let Some(db) = TestDb::new() else { return };
    let worker = PgQueue::connect(&db.url).unwrap();
    let web = PgQueue::connect(&db.url).unwrap();
    let poll = Duration::from_secs(3);
    let woken_by = |what: &dyn Fn()| {
        let mark = worker.work_mark();
        let start = Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let woken = worker.wait_for_work(mark, poll);
                (woken, start.elapsed())
            });
            std::thread::sleep(Duration::from_millis(300));
            what();
            waiter.join().unwrap()
        })
    };
    // Woken within a fraction of the wait's second (300 ms of it before the job is queued).
    let quick = Duration::from_millis(900);
    let (woken, took) = woken_by(&|| web.add(&id(1), "mix", "{}", None).unwrap());
    eprintln!("woken by an order after {took:?}");
    assert!(woken && took < quick, "{took:?}: slept through the order");
    let job = worker.claim().unwrap().unwrap();
    let (woken, took) = woken_by(&|| assert!(web.retry(&job.id, job.attempts, "crashed").unwrap()));
    eprintln!("woken by a job handed back after {took:?}");
    assert!(woken && took < quick, "{took:?}");
    let job = worker.claim().unwrap().unwrap();
    assert!(worker.finish(&job.id, job.attempts, None).unwrap());
    let (woken, took) = woken_by(&|| {
        web.add_revision(&job.id, "title = 'x'", "louder", None)
            .unwrap()
            .unwrap();
    });
    eprintln!("woken by a revision after {took:?}");
    assert!(woken && took < quick, "{took:?}");
    // Progress of a running job queues nothing: the worker sleeps its second (then looks
    // for expired leases) unwoken.
    let job = worker.claim().unwrap().unwrap();
    let (woken, took) = woken_by(&|| web.progress(&job.id, 0.5, "rendering").unwrap());
    assert!(
        !woken && took >= Duration::from_millis(950),
        "{took:?}: woken by nothing"
    );
}

/// Migrations run once, however many processes start at once, and a database whose schema is
/// newer than the program is refused.
#[test]
fn postgres_migrations_run_once() {
    let Some(db) = TestDb::new() else { return };
    let opened: Vec<bool> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..4)
            .map(|_| s.spawn(|| PgQueue::connect(&db.url).is_ok()))
            .collect();
        starts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(opened, [true; 4]);
    let versions = block_on(async {
        let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM lathe_schema", &[])
            .await
            .unwrap()
            .get(0);
        c.batch_execute("INSERT INTO lathe_schema (version, name) VALUES (99, 'from the future')")
            .await
            .unwrap();
        n
    });
    assert_eq!(
        versions as usize,
        lathe_server::pg::schema::MIGRATIONS.len()
    );
    let e = PgQueue::connect(&db.url)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("version 99"), "{e}");
}

/// Bad configuration is one clear error, quickly: nothing listening, a wrong password.
#[test]
fn postgres_bad_configuration_is_named() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let start = Instant::now();
    let e = PgQueue::connect(&format!("postgres://u:p@127.0.0.1:{port}/x"))
        .err()
        .expect("nothing listens")
        .to_string();
    assert!(
        e.contains("onnection refused") || e.contains("connect"),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(12));
    let e = PgQueue::connect("mysql://nope")
        .err()
        .expect("not a URL")
        .to_string();
    assert!(e.starts_with("database URL"), "{e}");
    let Some(db) = TestDb::new() else { return };
    let wrong = db.url.replacen(":lathe-test-secret@", ":wrong@", 1);
    assert_ne!(wrong, db.url, "the test URL carries the setup's password");
    let e = PgQueue::connect(&wrong).err().expect("refused").to_string();
    assert!(e.contains("password authentication failed"), "{e}");
}

//! What the queue costs a job, on each backend: a job's whole life in the queue (ordered,
//! claimed, 20 progress reports, 3 heartbeats, finished) with 1, 2 and 4 workers claiming at
//! once, each on connections of its own as separate processes would be.
//!
//! `cargo run --release -p lathe-server --example queue_overhead [JOBS] [POSTGRES_URL]`
//! (the URL: an empty database the example may fill; without it, SQLite only).

use std::sync::Arc;
use std::time::Instant;

use lathe_server::queue::postgres::PgQueue;
use lathe_server::queue::{Queue, SqliteQueue};

fn one_life(q: &dyn Queue) -> bool {
    let Some(j) = q.claim().expect("claim") else {
        return false;
    };
    for k in 0..20 {
        q.progress(&j.id, k as f64 / 20.0, "rendering")
            .expect("progress");
        if k % 7 == 6 {
            q.heartbeat(&j.id, j.attempts).expect("heartbeat");
        }
    }
    q.finish(&j.id, j.attempts, None).expect("finish");
    true
}

fn measure(name: &str, jobs: usize, open: &dyn Fn() -> Arc<dyn Queue>) {
    for workers in [1, 2, 4] {
        let q = open();
        let start = Instant::now();
        let base = q.list().expect("list").len();
        for n in 0..jobs {
            q.add(&format!("{:032x}", base + n), "mix", "{}", None)
                .expect("add");
        }
        let added = start.elapsed().as_secs_f64();
        let handles: Vec<Arc<dyn Queue>> = (0..workers).map(|_| open()).collect();
        let start = Instant::now();
        std::thread::scope(|s| {
            for h in &handles {
                s.spawn(move || while one_life(h.as_ref()) {});
            }
        });
        let run = start.elapsed().as_secs_f64();
        println!(
            "{name}: {workers} worker(s), {jobs} jobs: ordering {:.2} ms/job, claim..finish {:.2} ms/job of wall time ({:.0} jobs/s)",
            1000.0 * added / jobs as f64,
            1000.0 * run / jobs as f64,
            jobs as f64 / run
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let jobs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().to_path_buf();
    measure("sqlite", jobs, &move || {
        Arc::new(SqliteQueue::open(&path).expect("sqlite"))
    });
    if let Some(url) = args.get(2) {
        let url = url.clone();
        measure("postgres", jobs, &move || {
            Arc::new(PgQueue::connect(&url).expect("postgres"))
        });
    }
}

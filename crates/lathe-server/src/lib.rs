//! `lathe serve`: the online mastering service. An axum server; jobs, their state and files live
//! under the data folder, the queue in SQLite there ([`queue`]), the files behind [`storage`];
//! a bounded number of workers ([`worker`]) master them with the engine.
//!
//! API (documented in `/api/openapi.json`): `POST /api/jobs` (multipart: `mix` or several
//! `stem` parts, optional `reference`, an `options` JSON part or a `session` TOML part) → 201
//! `{ "id" }`; `GET /api/jobs/{id}`; `GET /api/jobs/{id}/files/{name}`; `GET /api/jobs/{id}/zip`;
//! `DELETE /api/jobs/{id}`. Web pages: `/` (upload) and `/jobs/{id}` (progress, report, A/B
//! player, downloads).

mod access;
pub mod accounts;
pub mod auth;
pub mod blobs;
pub mod child;
pub mod db;
mod files;
mod guard;
mod jobs;
pub mod login;
mod login_page;
pub mod mirror;
pub mod notify;
pub mod pg;
mod qc_report;
pub mod queue;
pub mod records;
pub mod revisions;
mod sqlite_tx;
pub mod storage;
mod upload;
mod web;
mod web_studio;
mod webhooks;
pub mod worker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use queue::Queue;
use storage::{LocalStore, Store};
use worker::JobOptions;

/// How `lathe serve` runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub workers: usize,
    pub max_upload_bytes: u64,
    /// Finished jobs are deleted after this many days.
    pub retention_days: f64,
    /// The job runner: program and leading arguments (`lathe serve-job`); the data folder and
    /// the job id follow. Each job renders in a child process ([`child`]).
    pub job_runner: Vec<std::ffi::OsString>,
    /// Address-space limit of one job's process, MB (0: none).
    pub job_memory_mb: u64,
    /// Wall-clock limit of one attempt of a job, seconds.
    pub job_timeout_s: u64,
    /// Attempts a job gets when its process crashes.
    pub max_attempts: u32,
    /// The most stems one job may upload.
    pub max_stems: usize,
    /// Host names the service answers to besides loopback names and its own address.
    pub allowed_hosts: Vec<String>,
    /// Uploads received at once; more are answered 503 at once (each holds a file and a
    /// socket).
    pub max_concurrent_uploads: usize,
    /// An upload that sends nothing for this long, seconds, is dropped.
    pub upload_idle_s: u64,
    /// How webhooks are retried.
    pub notify: notify::NotifyConfig,
    /// `--db`: a PostgreSQL URL for the records (`None`: SQLite in the data folder).
    pub db_url: Option<String>,
    /// What this process does.
    pub role: Role,
    /// PostgreSQL: how long a worker's claim on a job lasts without a heartbeat, seconds (a
    /// killed worker's job goes back to the queue this long after its last one).
    pub lease_s: u64,
    /// `--store s3://BUCKET[/prefix]`: the job files in an S3-compatible bucket, the data
    /// folder only a working copy (`None`: the files live in the data folder).
    pub store_url: Option<String>,
}

/// What one `lathe serve` process does: with the records in PostgreSQL, web and worker
/// processes scale apart (any number of each, on any machines sharing the database and the
/// files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Pages, API, uploads and downloads, webhook deliveries, clean-up; renders nothing.
    Web,
    /// Renders jobs; no HTTP listener.
    Worker,
    /// Both (one machine).
    All,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "web" => Ok(Role::Web),
            "worker" => Ok(Role::Worker),
            "all" => Ok(Role::All),
            _ => Err(format!("--role is web, worker or all (got {s:?})")),
        }
    }

    fn serves_http(self) -> bool {
        self != Role::Worker
    }

    fn renders(self) -> bool {
        self != Role::Web
    }
}

impl Config {
    /// The defaults of `lathe serve`, with `job_runner` starting each job.
    pub fn new(addr: SocketAddr, data_dir: PathBuf, job_runner: Vec<std::ffi::OsString>) -> Self {
        Self {
            addr,
            data_dir,
            workers: 1,
            max_upload_bytes: 2_000_000_000,
            retention_days: 7.0,
            job_runner,
            job_memory_mb: 8192,
            job_timeout_s: 3600,
            max_attempts: 2,
            max_stems: 64,
            allowed_hosts: Vec::new(),
            max_concurrent_uploads: 64,
            upload_idle_s: 30,
            notify: notify::NotifyConfig::default(),
            db_url: None,
            role: Role::All,
            lease_s: queue::postgres::DEFAULT_LEASE_S as u64,
            store_url: None,
        }
    }
}

/// The largest `options` or `session` part, bytes (a real session of 64 stems with full
/// chains is under 40 KB).
pub const MAX_TEXT_PART_BYTES: usize = 256 * 1024;
/// After the first minute an upload must average at least this many bytes per second.
pub const UPLOAD_MIN_RATE_BPS: f64 = 16_000.0;
/// A job folder no job owns (an upload cut off by a crash, a database replaced) is removed
/// after this long.
const ORPHAN_AGE_S: u64 = 3600;

/// 503 with a hint to come back: what a client gets while the database or the store is away.
pub(crate) fn unavailable(why: String) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, why);
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("10"),
    );
    r
}

/// An error or log message fit for a client: no server paths (a job's own files are named
/// by their file names; the rest of the data folder is `DATA`), at most 500 characters.
pub fn public_message(msg: &str, data_dir: &Path) -> String {
    let data = data_dir.display().to_string();
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(at) = rest.find(&data) {
        out.push_str(&rest[..at]);
        let after = &rest[at + data.len()..];
        // `DATA/jobs/<id>/in/x.wav` → `x.wav`
        let tail_start = after
            .strip_prefix("/jobs/")
            .and_then(|t| t.get(32..))
            .and_then(|t| {
                t.strip_prefix("/in/")
                    .or_else(|| t.strip_prefix("/out/"))
                    .or_else(|| t.strip_prefix("/preview/"))
                    // `rev/<n>/x.wav` → `x.wav`
                    .or_else(|| {
                        t.strip_prefix("/rev/")
                            .and_then(|r| r.split_once('/').map(|p| p.1))
                    })
            });
        match tail_start {
            Some(t) => {
                let t = t
                    .strip_prefix("stems/")
                    .map_or(t, |s| s.split_once('/').map_or(s, |(_, name)| name));
                rest = t;
            }
            None => {
                out.push_str("DATA");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.chars().count() > 500 {
        out = out.chars().take(497).collect::<String>() + "…";
    }
    out
}

#[derive(Clone)]
struct AppState {
    accounts: Arc<accounts::Accounts>,
    outbox: Arc<notify::outbox::Outbox>,
    throttle: Arc<login::Throttle>,
    queue: Arc<dyn Queue>,
    store: Arc<LocalStore>,
    /// `--store`: the bucket every process shares.
    mirror: Option<Arc<mirror::Mirror>>,
    max_upload: u64,
    max_stems: usize,
    data_dir: PathBuf,
    uploads: Arc<tokio::sync::Semaphore>,
    max_uploads: usize,
    /// How each uploaded file's check runs (the job runner with `--probe`).
    probe: child::ChildLimits,
    upload_idle: std::time::Duration,
    /// Jobs whose upload is still coming in (their folders are not orphans).
    receiving: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl axum::extract::FromRef<AppState> for login::LoginState {
    fn from_ref(st: &AppState) -> Self {
        login::LoginState {
            accounts: st.accounts.clone(),
            throttle: st.throttle.clone(),
        }
    }
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting requests, lets the workers finish their current job, and returns.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Starts the server (and its workers) on background threads.
pub fn start(config: Config) -> Result<Running, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    // Absolute from here on: job paths are stored and handed to child processes.
    let data_dir = config
        .data_dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let database = records::Database::parse(config.db_url.as_deref(), &data_dir)?
        .with_lease_s(config.lease_s.max(1) as i64);
    // SQLite has no leases: a process starting hands back every running job, which would
    // take jobs away from a worker process that is rendering them.
    if config.role != Role::All && matches!(database, records::Database::Sqlite { .. }) {
        return Err(
            "--role web and --role worker need --db (a PostgreSQL database the processes \
             share); with the data folder's SQLite, run one process with --role all"
                .into(),
        );
    }
    let records::Records {
        queue,
        accounts,
        outbox,
    } = database.open()?;
    let serves_http = config.role.serves_http();
    if serves_http
        && !config.addr.ip().is_loopback()
        && !accounts.any().map_err(|e| e.to_string())?
    {
        return Err(format!(
            "no user exists, so the service would be open to anyone who reaches {}: add one first \
             (lathe serve --data {} user add NAME --role admin --password-stdin), or listen on \
             a loopback address (127.0.0.1)",
            config.addr,
            config.data_dir.display()
        ));
    }
    let (requeued, failed) = queue.requeue_running(config.max_attempts)?;
    if requeued > 0 {
        eprintln!("lathe serve: {requeued} job(s) interrupted by the last stop are queued again");
    }
    if failed > 0 {
        eprintln!("lathe serve: {failed} job(s) interrupted on every attempt have failed");
    }
    let store = Arc::new(LocalStore::new(&data_dir));
    let mirror = open_mirror(config.store_url.as_deref(), &data_dir)?;
    let stop = Arc::new(AtomicBool::new(false));
    let worker_config = worker::WorkerConfig {
        limits: child::ChildLimits {
            command: config.job_runner.clone(),
            memory_bytes: config.job_memory_mb.saturating_mul(1 << 20),
            timeout: std::time::Duration::from_secs(config.job_timeout_s),
            env: config
                .db_url
                .iter()
                .map(|u| (records::DB_URL_ENV.to_string(), u.clone()))
                .collect(),
        },
        data_dir: data_dir.clone(),
        max_attempts: config.max_attempts.max(1),
        mirror: mirror.clone(),
    };
    // SQLite: a connection per worker thread; PostgreSQL: the process's one pool.
    let workers_queue = queue.clone();
    let open_worker_queue = move || -> Result<Arc<dyn Queue>, String> {
        match &database {
            records::Database::Sqlite { .. } => database.open_queue(),
            records::Database::Postgres { .. } => Ok(workers_queue.clone()),
        }
    };
    let mut threads = worker::spawn_workers(
        if config.role.renders() {
            config.workers
        } else {
            0
        },
        worker_config,
        open_worker_queue,
        stop.clone(),
        std::time::Duration::from_millis(200),
    );
    if !serves_http {
        // A worker process: no listener, no clean-up, no webhooks (the web processes do those).
        return Ok(Running {
            addr: config.addr,
            stop,
            shutdown: None,
            threads,
        });
    }
    let receiving = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    threads.push(janitor(
        queue.clone(),
        store.clone(),
        mirror.clone(),
        receiving.clone(),
        config.retention_days,
        stop.clone(),
    ));
    let notifier = notify::run(
        outbox.clone(),
        queue.clone(),
        accounts.clone(),
        config.notify.clone(),
        stop.clone(),
    );
    let state = AppState {
        accounts,
        outbox,
        throttle: Arc::new(login::Throttle::default()),
        queue,
        store,
        mirror,
        max_upload: config.max_upload_bytes,
        max_stems: config.max_stems,
        data_dir,
        uploads: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_uploads)),
        max_uploads: config.max_concurrent_uploads,
        probe: child::ChildLimits {
            command: config.job_runner.clone(),
            memory_bytes: config.job_memory_mb.min(2048).saturating_mul(1 << 20),
            timeout: std::time::Duration::from_secs(30),
            env: Vec::new(),
        },
        upload_idle: std::time::Duration::from_secs(config.upload_idle_s),
        receiving,
    };
    let listener = std::net::TcpListener::bind(config.addr)
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let policy = guard::HostPolicy {
        allowed: config.allowed_hosts.clone(),
        addr,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    threads.push(std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            tokio::spawn(notifier);
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            let app = router(state, policy).into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
    }));
    Ok(Running {
        addr,
        stop,
        shutdown: Some(tx),
        threads,
    })
}

/// `--store`: the bucket, checked (a probe written, read and deleted) before anything starts,
/// so that a wrong bucket, endpoint or key is one line at start.
fn open_mirror(url: Option<&str>, data_dir: &Path) -> Result<Option<Arc<mirror::Mirror>>, String> {
    let Some(url) = url else { return Ok(None) };
    let url = blobs::StoreUrl::parse(url).map_err(|e| e.to_string())?;
    let access = blobs::S3Access::from_env()
        .map_err(|e| format!("{e} (--store {} needs it)", url.display()))?;
    let blobs = blobs::Blobs::s3(&url, &access).map_err(|e| e.to_string())?;
    blobs.check().map_err(|e| e.to_string())?;
    Ok(Some(Arc::new(mirror::Mirror::new(
        Arc::new(blobs),
        data_dir,
    ))))
}

/// Deletes finished jobs older than the retention time, and job folders that no job owns
/// (older than an hour, and not being uploaded), at start and every ten minutes.
fn janitor(
    queue: Arc<dyn Queue>,
    store: Arc<LocalStore>,
    mirror: Option<Arc<mirror::Mirror>>,
    receiving: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    days: f64,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last = None::<std::time::Instant>;
        while !stop.load(Ordering::Relaxed) {
            if last.is_none_or(|t| t.elapsed().as_secs() >= 600) {
                last = Some(std::time::Instant::now());
                let cutoff = queue::now_s() - (days * 86_400.0) as i64;
                for id in queue.finished_before(cutoff).unwrap_or_default() {
                    // The record goes last: a job whose files could not all be deleted is
                    // tried again next round.
                    let in_bucket = mirror.as_ref().is_none_or(|m| m.remove(&id).is_ok());
                    if in_bucket && store.remove(&id).is_ok() {
                        let _ = queue.remove(&id);
                    }
                }
                if let Ok(known) = queue.all_ids() {
                    let known: std::collections::HashSet<String> = known.into_iter().collect();
                    let busy = receiving.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    for id in store.orphans(&known, &busy, ORPHAN_AGE_S) {
                        eprintln!("lathe serve: removing job folder {id}, which no job owns");
                        let _ = store.remove(&id);
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    })
}

fn router(state: AppState, policy: guard::HostPolicy) -> Router {
    Router::new()
        .route("/", get(web::upload_page))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", axum::routing::post(login::logout))
        .route("/jobs/{id}", get(jobs::job_page))
        .route("/api/openapi.json", get(openapi))
        .route("/api/me", get(jobs::me))
        .route(
            "/api/me/webhook",
            get(webhooks::get_webhook)
                .put(webhooks::put_webhook)
                .delete(webhooks::delete_webhook),
        )
        .route("/api/audit", get(jobs::audit))
        .route(
            "/api/jobs",
            axum::routing::post(upload::post_job).get(jobs::list_jobs),
        )
        .route(
            "/api/jobs/{id}",
            get(jobs::get_job).delete(jobs::delete_job),
        )
        .route("/api/jobs/{id}/files/{name}", get(files::get_file))
        .route(
            "/api/jobs/{id}/revisions",
            axum::routing::post(revisions::post_revision),
        )
        .route(
            "/api/jobs/{id}/revisions/{n}/files/{name}",
            get(files::get_revision_file),
        )
        .route(
            "/api/jobs/{id}/revisions/{n}/report.html",
            get(qc_report::qc_report),
        )
        .route(
            "/api/jobs/{id}/approve",
            axum::routing::post(revisions::approve),
        )
        .route(
            "/api/jobs/{id}/changes",
            axum::routing::post(revisions::changes),
        )
        .route("/api/jobs/{id}/input", get(files::get_input))
        .route("/api/jobs/{id}/zip", get(files::get_zip))
        // Uploads are counted while they stream in (413 past the limit), not buffered.
        .layer(DefaultBodyLimit::disable())
        // Inside the Host and Origin guard: who is asking, for every route.
        .layer(axum::middleware::from_fn_with_state(
            state.accounts.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(policy, guard::guard))
        .with_state(state)
}

/// A JSON error answer (`{"error": …}`), its message at most 500 characters.
pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut msg: String = msg.into();
    if msg.chars().count() > 500 {
        msg = msg.chars().take(497).collect::<String>() + "…";
    }
    (status, Json(serde_json::json!({ "error": msg }))).into_response()
}

fn new_id() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Ids are exactly what [`new_id`] makes: anything else names no job.
fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        web::OPENAPI_JSON,
    )
        .into_response()
}

/// Runs the server until Ctrl-C.
pub fn serve(config: Config) -> Result<(), String> {
    raise_open_files_limit();
    let role = config.role;
    let running = start(config)?;
    match role {
        Role::Worker => eprintln!("lathe serve: worker started"),
        _ => eprintln!("lathe serve: listening on http://{}", running.addr),
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // Ctrl-C, or SIGTERM (systemd, a container's stop): both drain.
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        });
        let _ = tx.send(());
    });
    let _ = rx.recv();
    eprintln!(
        "lathe serve: stopping (running jobs finish first; queued ones wait for the next start)"
    );
    running.stop();
    Ok(())
}

/// Raises the soft limit of open files to the hard one: every connection and every upload
/// holds one, and the usual soft limit (1024) is reached by a few hundred slow clients, after
/// which the server cannot accept anyone.
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

//! Workers: each takes the oldest queued job, masters it with the engine (as `lathe master` or
//! `lathe render` would), records progress in the queue, and marks it done or failed with the
//! reason. A bounded number run at once; the rest wait in the queue.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lathe_engine::master::render_session_with;
use lathe_engine::progress::Progress;
use lathe_engine::spec::session::Session;

use crate::child::{self, ChildLimits, Outcome};
use crate::queue::Queue;
use crate::storage::Store;

/// The `options` part of an upload: the engine's request without its files (the uploads are
/// the files); the keys mirror `lathe master`'s flags.
pub type JobOptions = lathe_engine::master::MasterRequest;

/// Progress of a render, into the queue (at most every 0.2 s).
struct QueueProgress<'a> {
    queue: &'a dyn Queue,
    id: &'a str,
    state: std::sync::Mutex<(usize, String, u64, u64, std::time::Instant)>,
}

impl QueueProgress<'_> {
    fn report(&self, force: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !force && s.4.elapsed().as_secs_f64() < 0.2 {
            return;
        }
        s.4 = std::time::Instant::now();
        // Stages count for equal shares of a curve that approaches (never reaches) 1.
        let within = if s.3 > 0 {
            (s.2 as f64 / s.3 as f64).min(1.0)
        } else {
            0.0
        };
        let stages = s.0 as f64 + within;
        let progress = 0.95 * (1.0 - (-stages / 3.0).exp());
        let _ = self.queue.progress(self.id, progress, &s.1);
    }
}

impl Progress for QueueProgress<'_> {
    fn stage(&self, name: &str, total_frames: Option<u64>) {
        {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.0 += 1;
            s.1 = name.to_string();
            s.2 = 0;
            s.3 = total_frames.unwrap_or(0);
        }
        self.report(true);
    }

    fn advance(&self, frames: u64) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).2 += frames;
        self.report(false);
    }

    fn done(&self) {}
}

/// The uploaded files of a job, in the order they came.
fn inputs(dir: &Path) -> (Vec<PathBuf>, Option<PathBuf>, Option<PathBuf>) {
    let mut files = Vec::new();
    let mut reference = None;
    let mut session = None;
    let order = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    };
    for p in order(dir) {
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
        match stem.as_deref() {
            Some("mix") => files.push(p),
            Some("reference") => reference = Some(p),
            Some("session") => session = Some(p),
            _ => {}
        }
    }
    // Stems keep their upload order: `stems/NN/<name>.<ext>`.
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir.join("stems"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for sub in subs {
        files.extend(order(&sub));
    }
    (files, reference, session)
}

/// Renders revision `rev` of a job into its output folder: revision 1 masters the uploads
/// with the order's options (or its uploaded session), a later one renders the session an
/// engineer posted for it.
pub fn run_job(
    store: &dyn Store,
    queue: &dyn Queue,
    id: &str,
    options: &str,
    rev: u32,
) -> Result<(), String> {
    let opts: JobOptions = serde_json::from_str(options).map_err(|e| format!("options: {e}"))?;
    let in_dir = store.inputs(id, false).map_err(|e| e.to_string())?;
    let out_dir = store.outputs(id, rev, true).map_err(|e| e.to_string())?;
    let progress = QueueProgress {
        queue,
        id,
        state: std::sync::Mutex::new((0, String::new(), 0, 0, std::time::Instant::now())),
    };
    let (files, reference, session_file) = inputs(&in_dir);
    let posted = if rev > 1 {
        let text = queue
            .revisions(id)?
            .into_iter()
            .find(|r| r.n == rev)
            .and_then(|r| r.session)
            .ok_or_else(|| format!("revision {rev} has no session"))?;
        Some(revision_session(&text, id, &in_dir)?)
    } else {
        None
    };
    let (session, known) = if let Some(s) = posted {
        (s, None)
    } else if let Some(path) = session_file {
        (Session::load(&path)?, None)
    } else {
        if files.is_empty() {
            return Err("no mix and no stems were uploaded".into());
        }
        let mut request = opts.clone();
        request.files = files.clone();
        request.references = reference.into_iter().collect();
        progress.stage("analysing the inputs", None);
        let prepared = request.prepare().map_err(|e| e.to_string())?;
        let (session, known) = (prepared.session, prepared.known);
        (session, Some(known))
    };
    let report = render_session_with(&session, &out_dir, true, known, &progress)
        .map_err(|e| e.to_string())?;
    scrub_report(&out_dir.join("report.json"), &in_dir);
    // The session that rendered it, its files named inside the job's input folder (the
    // server's paths stay on the server; a revision posts it back as it is).
    let rendered = report.session.to_toml();
    let public = crate::revisions::public_session(&rendered, &in_dir).unwrap_or(rendered);
    let _ = std::fs::write(out_dir.join("session.toml"), public);
    // What the results page plots: loudness over time and the spectrum, before and after.
    progress.stage("measuring for the plots", None);
    let master = report
        .deliverables
        .iter()
        .find(|d| lathe_io::Format::parse(&d.format).is_ok_and(|f| !f.is_lossy()))
        .map(|d| PathBuf::from(&d.path));
    let curve = |p: &Path| lathe_engine::analyze::loudness_curve(p, 0.5).ok();
    let levels = serde_json::json!({
        "input": files.first().filter(|_| files.len() == 1).and_then(|p| curve(p)),
        "master": master.as_deref().and_then(curve),
    });
    let _ = std::fs::write(out_dir.join("levels.json"), levels.to_string());
    if rev == 1 && session.stems.len() > 1 {
        progress.stage("a preview of the stems' sum", None);
        if let Err(e) = stem_sum_preview(store, id, &session) {
            // The master is there; only the A/B's "original" is missing.
            eprintln!("lathe serve: job {id}: no preview of the stem sum: {e}");
        }
    }
    if !report.all_pass() {
        // Delivered, but say so: the report has the figures.
        let _ = queue.progress(id, 1.0, "a deliverable missed its target (see the report)");
    }
    Ok(())
}

/// The report as clients read it: every server path in it (the deliverables', the inputs')
/// shortened to the job's own file names, as error messages are.
fn scrub_report(path: &Path, in_dir: &Path) {
    fn walk(v: &mut serde_json::Value, data: &Path) {
        match v {
            serde_json::Value::String(s) if s.starts_with('/') => {
                *s = crate::public_message(s, data);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, data)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, data)),
            _ => {}
        }
    }
    // DATA/jobs/<id>/in
    let Some(data) = in_dir.ancestors().nth(3) else {
        return;
    };
    let Some(mut report) = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return;
    };
    walk(&mut report, data);
    let part = path.with_extension("json.part");
    if std::fs::write(&part, report.to_string()).is_ok() {
        let _ = std::fs::rename(&part, path);
    }
}

/// The stems summed as they came (their gains, pans and mutes; no chains, no master chain,
/// no target), as 32-bit float WAV so that a sum over full scale is not clipped: the
/// "original" the client compares revisions with.
fn stem_sum_preview(store: &dyn Store, id: &str, session: &Session) -> Result<(), String> {
    let mut plain = session.clone();
    for stem in &mut plain.stems {
        stem.chain.clear();
    }
    // No chain, target, reference, stem masters or platform bundle.
    plain.master = Default::default();
    plain.versions.clear();
    plain.title = Some("original".into());
    plain.deliver = vec![lathe_engine::spec::session::DeliverEntry {
        format: "wav".into(),
        bits: Some(32),
        sample_rate_hz: None,
        dither: None,
        bitrate_kbps: None,
    }];
    let dir = store.preview(id, true).map_err(|e| e.to_string())?;
    // The engine writes the preview's report.json (its loudness) beside it.
    render_session_with(&plain, &dir, true, None, &lathe_engine::progress::Silent)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A revision's session as the server stored it (its files resolved to the uploads in the
/// data folder of the web process that took it), pointed at this process's copy of them.
fn revision_session(text: &str, id: &str, in_dir: &Path) -> Result<Session, String> {
    let mut s: Session =
        toml::from_str(text).map_err(|e| format!("session: {}", e.to_string().trim_end()))?;
    let inside = format!("jobs/{id}/in/");
    let rebase = |p: &mut PathBuf| {
        let text = p.to_string_lossy().into_owned();
        if let Some(at) = text.find(&inside) {
            *p = in_dir.join(&text[at + inside.len()..]);
        }
    };
    crate::revisions::session_files_mut(&mut s).for_each(rebase);
    s.validate().map_err(|e| format!("session: {e}"))?;
    Ok(s)
}

/// What the workers need besides the queue and the store.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// How each job's child process is started and bounded.
    pub limits: ChildLimits,
    /// The data folder (handed to the child).
    pub data_dir: PathBuf,
    /// Attempts a job gets before a crash fails it.
    pub max_attempts: u32,
    /// `--store`: where a job's inputs come from and its outputs go (`None`: the data folder
    /// is shared).
    pub mirror: Option<Arc<crate::mirror::Mirror>>,
}

/// How often an idle worker looks for expired claims (each look is a query; the lease is far
/// longer).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `n` workers until `stop` is set; each polls the queue every `poll` and renders each
/// job it takes in a child process ([`crate::child`]); a job that is running when `stop` is
/// set finishes first.
pub fn spawn_workers(
    n: usize,
    config: WorkerConfig,
    open_queue: impl Fn() -> Result<Arc<dyn Queue>, String> + Send + Sync + 'static,
    stop: Arc<AtomicBool>,
    poll: std::time::Duration,
) -> Vec<std::thread::JoinHandle<()>> {
    let open_queue = Arc::new(open_queue);
    (0..n)
        .map(|_| {
            let (config, open_queue, stop) = (config.clone(), open_queue.clone(), stop.clone());
            std::thread::spawn(move || {
                let queue = match open_queue() {
                    Ok(q) => q,
                    Err(e) => {
                        eprintln!("lathe serve: worker: {e}");
                        return;
                    }
                };
                let mut swept = std::time::Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let mark = queue.work_mark();
                    match queue.claim() {
                        Ok(Some(job)) => attempt(&config, queue.as_ref(), &job),
                        Ok(None) if swept.elapsed() < SWEEP_EVERY => {
                            queue.wait_for_work(mark, poll);
                        }
                        Ok(None) => {
                            // Idle: hand back the jobs of workers that stopped renewing
                            // their claims (killed, their machine gone).
                            swept = std::time::Instant::now();
                            match queue.requeue_expired(config.max_attempts) {
                                Ok((0, 0)) => {}
                                Ok((requeued, failed)) => eprintln!(
                                    "lathe serve: worker: {requeued} job(s) of a stopped worker queued again, {failed} failed"
                                ),
                                Err(e) => eprintln!("lathe serve: worker: {e}"),
                            }
                            queue.wait_for_work(mark, poll);
                        }
                        Err(e) => {
                            eprintln!("lathe serve: worker: {e}");
                            std::thread::sleep(poll);
                        }
                    }
                }
            })
        })
        .collect()
}

/// Runs `transfer` (to or from the store: large stems take longer than a lease) on a thread
/// of its own while this one keeps the claim alive with `keep`; `None` when the claim was lost
/// meanwhile (the transfer is let finish: a blocking copy cannot be cut short).
fn renewing(
    keep: &mut dyn FnMut() -> bool,
    transfer: impl FnOnce() -> Result<(), String> + Send,
) -> Option<Result<(), String>> {
    std::thread::scope(|s| {
        let running = s.spawn(transfer);
        let mut held = true;
        while !running.is_finished() {
            held = held && keep();
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let done = running
            .join()
            .unwrap_or_else(|_| Err("internal error (the transfer panicked)".into()));
        held.then_some(done)
    })
}

/// Runs one attempt of `job` in a child and records how it ended. With leases, the claim is
/// renewed while the child runs (three times a lease); an attempt that learns it lost the job
/// stops its child and records nothing.
fn attempt(config: &WorkerConfig, queue: &dyn Queue, job: &crate::queue::Job) {
    let every = queue.lease().map(|l| l / 3);
    let mut last = std::time::Instant::now();
    let mut keep = || {
        let Some(every) = every else { return true };
        if last.elapsed() < every {
            return true;
        }
        last = std::time::Instant::now();
        // A database that does not answer is not a lost claim: the lease says when it is.
        queue.heartbeat(&job.id, job.attempts).unwrap_or(true)
    };
    let pulled = match config.mirror.as_deref() {
        Some(m) => renewing(&mut keep, || m.pull_inputs(&job.id)),
        None => Some(Ok(())),
    };
    let outcome = match pulled {
        None => Outcome::Lost,
        Some(Err(e)) => Outcome::Crashed(format!("the job's uploads could not be fetched: {e}")),
        Some(Ok(())) => child::run_while(&config.limits, &config.data_dir, &job.id, &mut keep),
    };
    // Rendered: its files go under this attempt's own prefix before the ending is recorded
    // (a store that fails them makes the attempt one to retry, never a job without files).
    let outcome = match (outcome, config.mirror.as_deref()) {
        (Outcome::Done, Some(m)) => {
            match renewing(&mut keep, || {
                m.push_outputs(&job.id, job.revision, job.attempts)
            }) {
                None => Outcome::Lost,
                Some(Ok(())) => Outcome::Done,
                Some(Err(e)) => Outcome::Crashed(format!("the masters could not be stored: {e}")),
            }
        }
        (other, _) => other,
    };
    let recorded = match outcome {
        Outcome::Lost => {
            eprintln!(
                "lathe serve: job {} attempt {} lost its claim; stopped",
                job.id, job.attempts
            );
            Ok(true)
        }
        Outcome::Done => queue.finish(&job.id, job.attempts, None),
        Outcome::Failed(why) => queue.finish(&job.id, job.attempts, Some(&why)),
        Outcome::Crashed(why) if job.attempts < config.max_attempts => {
            eprintln!(
                "lathe serve: job {} crashed (attempt {} of {}): {why}",
                job.id, job.attempts, config.max_attempts
            );
            queue.retry(
                &job.id,
                job.attempts,
                &format!("attempt {} crashed", job.attempts),
            )
        }
        Outcome::Crashed(why) => {
            eprintln!("lathe serve: job {} crashed and fails: {why}", job.id);
            queue.finish(
                &job.id,
                job.attempts,
                Some(&format!(
                    "the render crashed on each of its {} attempts (the last: {why}); the file may be damaged in a way lathe does not yet refuse",
                    job.attempts
                )),
            )
        }
        Outcome::TimedOut(limit) => queue.finish(
            &job.id,
            job.attempts,
            Some(&format!(
                "the render took longer than {} s and was stopped",
                limit.as_secs()
            )),
        ),
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => eprintln!(
            "lathe serve: job {} attempt {} ended after its claim had gone to another; not recorded",
            job.id, job.attempts
        ),
        Err(e) => eprintln!("lathe serve: worker: {e}"),
    }
}

/// The job runner's entry (`lathe serve-job DATA ID`, or the `lathe-job` binary): renders job
/// `ID` of the data folder `DATA` in this process and returns the process's exit code: 0 when
/// the master was made, [`child::EXIT_JOB_FAILED`] with the reason as the last line on stderr
/// when the job failed. Progress goes straight into the queue.
///
/// `DATA --probe FILE` only checks that FILE is audio lathe can read (the upload check, kept
/// out of the server's process like the render).
pub fn job_main(args: &[std::ffi::OsString]) -> i32 {
    if let [data, flag, file] = args {
        if flag == "--probe" {
            return match lathe_io::Decoder::open(file) {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("{}", crate::public_message(&e.to_string(), Path::new(data)));
                    child::EXIT_JOB_FAILED
                }
            };
        }
    }
    let [data, id] = args else {
        eprintln!("usage: serve-job DATA ID, or serve-job DATA --probe FILE");
        return 2;
    };
    let data = PathBuf::from(data);
    let id = id.to_string_lossy().into_owned();
    let fail = |msg: String| {
        eprintln!("{}", crate::public_message(&msg, &data));
        child::EXIT_JOB_FAILED
    };
    let database = match std::env::var(crate::records::DB_URL_ENV) {
        // The job's process only reports progress: leases are its worker's business.
        Ok(url) => crate::records::Database::parse(Some(&url), &data),
        Err(_) => crate::records::Database::parse(None, &data),
    };
    let queue = match database.and_then(|d| d.open_queue()) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let job = match queue.get(&id) {
        Ok(Some(j)) => j,
        Ok(None) => return fail(format!("no job {id}")),
        Err(e) => return fail(e),
    };
    let store = crate::storage::LocalStore::new(&data);
    // An attempt starts from an empty output folder: nothing of a crashed one is kept.
    if let Ok(out) = store.outputs(&id, job.revision, false) {
        let _ = std::fs::remove_dir_all(out);
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_job(&store, queue.as_ref(), &id, &job.options, job.revision)
    }));
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => fail(e),
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            fail(format!("internal error (the render panicked: {what})"))
        }
    }
}

//! Revisions and approval: an engineer renders revision n + 1 of a job from a session
//! (`POST /api/jobs/{id}/revisions`), the owning client approves one
//! (`POST /api/jobs/{id}/approve`) or asks for another (`POST /api/jobs/{id}/changes`).
//!
//! Sessions travel with their files named as the job's uploads (`mix.wav`,
//! `stems/01/drums.wav`, `reference.wav`: paths inside the job's input folder): the server's
//! own paths never leave it, and a posted session can reach nothing but the job's uploads.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lathe_engine::spec::session::Session;
use serde::Deserialize;

use crate::access::visible;
use crate::auth::Caller;
use crate::queue::{self, Event, Job, Revision};
use crate::storage::Store;
use crate::{error, AppState};

/// The largest session a revision may post, bytes (as for an upload's session part).
const MAX_SESSION_BYTES: usize = crate::MAX_TEXT_PART_BYTES;

/// The job's revisions with the current one's state from the job itself (it is the queue's),
/// and revision 1 for jobs made before revisions were recorded.
pub(crate) fn revisions_of(st: &AppState, job: &Job) -> Result<Vec<Revision>, String> {
    let mut revs = st.queue.revisions(&job.id)?;
    if revs.is_empty() {
        revs.push(Revision {
            n: 1,
            note: "the automatic master".into(),
            author: None,
            created_s: job.created_s,
            state: None,
            error: None,
            session: None,
            attempt: None,
        });
    }
    for r in &mut revs {
        if r.n == job.revision {
            r.state = Some(job.state);
            r.error = job.error.clone();
        }
    }
    Ok(revs)
}

/// The newest revision whose files are there.
pub(crate) fn latest_done(revs: &[Revision]) -> Option<u32> {
    revs.iter()
        .rev()
        .find(|r| r.state == Some(queue::State::Done))
        .map(|r| r.n)
}

/// The job's uploads as paths inside its input folder (`mix.wav`, `stems/01/drums.wav`,
/// `reference.wav`).
fn uploads(in_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut walk = vec![in_dir.to_path_buf()];
    while let Some(d) = walk.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk.push(p);
            } else if let Ok(rel) = p.strip_prefix(in_dir) {
                let rel = rel.to_string_lossy().into_owned();
                let name = p.file_stem().map(|s| s.to_string_lossy().into_owned());
                // The order's own files are not audio.
                if !matches!(name.as_deref(), Some("options" | "session")) || rel.contains('/') {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// Every file a session names: its stems' and its references'.
pub(crate) fn session_files_mut(s: &mut Session) -> impl Iterator<Item = &mut PathBuf> {
    let Session { stems, master, .. } = s;
    stems
        .iter_mut()
        .map(|stem| &mut stem.file)
        .chain(master.reference.iter_mut().flat_map(|r| r.files.iter_mut()))
}

/// A stored session as the API shows it: files named inside the job's input folder.
pub fn public_session(text: &str, in_dir: &Path) -> Option<String> {
    let mut s: Session = toml::from_str(text).ok()?;
    let public = |p: &mut PathBuf| {
        if p.is_absolute() {
            *p = p
                .strip_prefix(in_dir)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| p.file_name().map(PathBuf::from).unwrap_or_default());
        }
    };
    session_files_mut(&mut s).for_each(public);
    Some(s.to_toml())
}

/// The same, as JSON (what the engineer's form edits).
pub fn public_session_json(text: &str, in_dir: &Path) -> Option<serde_json::Value> {
    let s: Session = toml::from_str(&public_session(text, in_dir)?).ok()?;
    serde_json::to_value(s).ok()
}

/// A posted session with its files pointed at the job's uploads, checked as `lathe render`
/// would; the error names what is wrong.
fn resolve_posted(mut s: Session, in_dir: &Path) -> Result<String, String> {
    let known = uploads(in_dir);
    let find = |p: &Path, what: &str| -> Result<PathBuf, String> {
        let want = p.to_string_lossy().replace('\\', "/");
        // Exactly an upload's path, or the file name of exactly one upload.
        let exact = known.iter().find(|k| **k == want);
        let by_name: Vec<&String> = known
            .iter()
            .filter(|k| k.rsplit('/').next() == Some(want.as_str()))
            .collect();
        match (exact, by_name.as_slice()) {
            (Some(k), _) => Ok(in_dir.join(k)),
            (None, [k]) => Ok(in_dir.join(k)),
            (None, []) => Err(format!(
                "session: {what} '{want}' is not one of this job's uploads ({})",
                known.join(", ")
            )),
            (None, _) => Err(format!(
                "session: {what} '{want}' names several uploads; give its path ({})",
                by_name
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    };
    for (i, stem) in s.stems.iter_mut().enumerate() {
        stem.file = find(&stem.file, &format!("stem[{i}].file"))?;
    }
    for f in s
        .master
        .reference
        .iter_mut()
        .flat_map(|r| r.files.iter_mut())
    {
        *f = find(f, "master.reference file")?;
    }
    s.validate().map_err(|e| format!("session: {e}"))?;
    Ok(s.to_toml())
}

/// A revision's request: the session as TOML (`session`) or as the JSON the job lists
/// (`session_json`, what the engineer's form sends), and a note for the client.
#[derive(Deserialize)]
pub(crate) struct PostRevision {
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    session_json: Option<serde_json::Value>,
    #[serde(default)]
    note: String,
}

impl PostRevision {
    fn session(self) -> Result<Session, String> {
        match (self.session, self.session_json) {
            (Some(t), None) => {
                toml::from_str(&t).map_err(|e| format!("session: {}", e.to_string().trim_end()))
            }
            (None, Some(j)) => serde_json::from_value(j).map_err(|e| format!("session_json: {e}")),
            _ => Err("give the session as 'session' (TOML) or 'session_json', one of them".into()),
        }
    }
}

fn engineer(caller: &Caller) -> bool {
    match caller {
        Caller::Open => true,
        Caller::User(u) => u.role.sees_all(),
    }
}

/// `POST /api/jobs/{id}/revisions`: an engineer renders a new revision.
pub(crate) async fn post_revision(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Response {
    let job = match visible(&st, &caller, &id) {
        Ok(j) => j,
        Err(r) => return r.into_response(),
    };
    if !engineer(&caller) {
        return error(
            StatusCode::FORBIDDEN,
            "only an engineer renders revisions; ask for changes instead",
        );
    }
    if body.len() > MAX_SESSION_BYTES + 64 * 1024 {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "the session is too large");
    }
    let posted: PostRevision = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected JSON {{\"session\": TOML, \"note\": text}}: {e}"),
            )
        }
    };
    let Ok(in_dir) = st.store.inputs(&job.id, false) else {
        return error(StatusCode::NOT_FOUND, "no such job");
    };
    let note: String = posted.note.chars().take(2000).collect();
    let session = match posted.session().and_then(|s| resolve_posted(s, &in_dir)) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match st
        .queue
        .add_revision(&job.id, &session, &note, caller.name())
    {
        Ok(Some(n)) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "revision": n })),
        )
            .into_response(),
        Ok(None) => error(
            StatusCode::CONFLICT,
            "a revision of this job is still queued or rendering",
        ),
        Err(e) => crate::unavailable(e),
    }
}

/// Only the client who ordered the job approves it or asks for changes (in the open
/// service, its one user).
fn owner(caller: &Caller, job: &Job) -> bool {
    match caller {
        Caller::Open => true,
        Caller::User(u) => job.owner.as_deref() == Some(u.name.as_str()),
    }
}

/// The job and the request's JSON body, when the caller owns the job (`doing` completes the
/// refusal: "only the client who ordered the master …"); `shape` shows the expected JSON.
fn owners_request<T: serde::de::DeserializeOwned>(
    st: &AppState,
    caller: &Caller,
    id: &str,
    body: &[u8],
    doing: &str,
    shape: &str,
) -> Result<(Job, T), Box<Response>> {
    let job = visible(st, caller, id).map_err(|h| Box::new(h.into_response()))?;
    if !owner(caller, &job) {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            format!("only the client who ordered the master {doing}"),
        )));
    }
    let parsed = serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("expected JSON {shape}: {e}"),
        ))
    })?;
    Ok((job, parsed))
}

#[derive(Deserialize)]
pub(crate) struct Approve {
    revision: u32,
    #[serde(default)]
    comment: String,
}

/// `POST /api/jobs/{id}/approve`.
pub(crate) async fn approve(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Response {
    let (job, a): (Job, Approve) = match owners_request(
        &st,
        &caller,
        &id,
        &body,
        "approves it",
        "{\"revision\": n, \"comment\": text}",
    ) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let revs = match revisions_of(&st, &job) {
        Ok(r) => r,
        Err(e) => return crate::unavailable(e),
    };
    match revs.iter().find(|r| r.n == a.revision) {
        Some(r) if r.state == Some(queue::State::Done) => {}
        Some(_) => {
            return error(
                StatusCode::CONFLICT,
                format!("revision {} has not been rendered", a.revision),
            )
        }
        None => {
            return error(
                StatusCode::NOT_FOUND,
                format!("this job has no revision {}", a.revision),
            )
        }
    }
    let comment: String = a.comment.chars().take(2000).collect();
    match st.queue.approve(&id, a.revision, caller.name(), &comment) {
        Ok(()) => Json(serde_json::json!({ "approved_revision": a.revision })).into_response(),
        Err(e) => crate::unavailable(e),
    }
}

#[derive(Deserialize)]
pub(crate) struct Changes {
    comment: String,
}

/// `POST /api/jobs/{id}/changes`: the client asks for another revision.
pub(crate) async fn changes(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Response {
    let (job, c): (Job, Changes) = match owners_request(
        &st,
        &caller,
        &id,
        &body,
        "asks for changes",
        "{\"comment\": text}",
    ) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if c.comment.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "say what should change");
    }
    let event = Event {
        at_s: queue::now_s(),
        who: caller.name().map(str::to_string),
        what: "changes".into(),
        revision: Some(job.revision),
        comment: c.comment.chars().take(2000).collect(),
    };
    match st.queue.record(&id, &event) {
        Ok(()) => Json(serde_json::json!({ "recorded": true })).into_response(),
        Err(e) => crate::unavailable(e),
    }
}

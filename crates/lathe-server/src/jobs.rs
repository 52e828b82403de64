//! The job API and the job page, as each caller sees them: a client only its own jobs (any
//! other is 404, as if it did not exist), engineers and admins every job ([`visible`]).

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};

use crate::access::visible;
use crate::auth::Caller;
use crate::queue::{self, Job};
use crate::storage::Store;
use crate::{error, web, AppState};

/// `GET /api/me`: who the service takes the caller for, and (for a browser session) the
/// CSRF token its pages send with every change.
pub(crate) async fn me(
    Extension(caller): Extension<Caller>,
    csrf: Option<Extension<crate::auth::Csrf>>,
) -> Response {
    let csrf = csrf.map(|Extension(c)| c.0);
    let (name, role) = match &caller {
        Caller::Open => (None, None),
        Caller::User(u) => (Some(u.name.clone()), Some(u.role)),
    };
    Json(serde_json::json!({
        "name": name,
        "role": role,
        "open": matches!(caller, Caller::Open),
        "csrf": csrf,
    }))
    .into_response()
}

/// `GET /api/jobs`: the jobs the caller may see, newest first.
pub(crate) async fn list_jobs(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match st.queue.list() {
        Ok(jobs) => Json(serde_json::json!({
            "jobs": jobs
                .iter()
                .filter(|j| caller.may_see(j.owner.as_deref()))
                .map(|j| serde_json::json!({
                    "id": j.id,
                    "state": j.state,
                    "kind": j.kind,
                    "owner": j.owner,
                    "created_s": j.created_s,
                    "url": format!("/api/jobs/{}", j.id),
                }))
                .collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => crate::unavailable(e),
    }
}

pub(crate) async fn get_job(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let job = match visible(&st, &caller, &id) {
        Ok(j) => j,
        Err(r) => return r.into_response(),
    };
    let revs = match crate::revisions::revisions_of(&st, &job) {
        Ok(r) => r,
        Err(e) => return crate::unavailable(e),
    };
    let in_dir = st.store.inputs(&id, false).ok();
    let shown: Vec<serde_json::Value> = revs
        .iter()
        .map(|r| revision_json(&st, &job, r, in_dir.as_deref()))
        .collect();
    // The top level shows the newest rendered revision, as before revisions existed.
    let latest = crate::revisions::latest_done(&revs)
        .and_then(|n| shown.iter().find(|r| r["n"] == n))
        .cloned()
        .unwrap_or_default();
    let events = st.queue.events(&id).unwrap_or_default();
    // The original the A/B compares with, at its loudness: a mix's upload (measured in the
    // first revision's report), a stem job's preview of its sum.
    let original_lufs = if job.kind == "mix" {
        shown
            .first()
            .map(|r| r["report"]["input"]["integrated_lufs"].clone())
    } else {
        st.store
            .preview_wav(&id)
            .and_then(|p| std::fs::read(p.with_file_name("report.json")).ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(|r| r["deliverables"][0]["measured"]["integrated_lufs"].clone())
    }
    .filter(|v| v.is_number());
    let original = original_lufs.map(
        |l| serde_json::json!({ "url": format!("/api/jobs/{id}/input"), "integrated_lufs": l }),
    );
    Json(serde_json::json!({
        "id": job.id,
        "state": job.state,
        "progress": job.progress,
        "stage": job.stage,
        "error": job.error,
        // Workers that have taken the current revision (more than one: a crash, or a worker
        // that stopped, handed it on).
        "attempts": job.attempts,
        "kind": job.kind,
        "owner": job.owner,
        "options": serde_json::from_str::<serde_json::Value>(&job.options).unwrap_or_default(),
        "report": latest.get("report").cloned().unwrap_or_default(),
        "files": latest.get("files").cloned().unwrap_or(serde_json::json!([])),
        "revision": job.revision,
        "approved_revision": job.approved,
        "revisions": shown,
        "original": original,
        "events": events,
    }))
    .into_response()
}

/// One revision as `GET /api/jobs/{id}` lists it: its state, note, the session that rendered
/// it (files named as the uploads), and once rendered its report and files.
fn revision_json(
    st: &AppState,
    job: &Job,
    r: &crate::queue::Revision,
    in_dir: Option<&std::path::Path>,
) -> serde_json::Value {
    let done = r.state == Some(queue::State::Done);
    let out = st.store.outputs(&job.id, r.n, false).ok();
    let read = |name: &str| out.as_ref().and_then(|d| std::fs::read(d.join(name)).ok());
    let report: Option<serde_json::Value> = read("report.json")
        .filter(|_| done)
        .and_then(|b| serde_json::from_slice(&b).ok());
    let session_text = read("session.toml")
        .filter(|_| done)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .or_else(|| r.session.clone());
    let public = |f: fn(&str, &std::path::Path) -> Option<serde_json::Value>| {
        session_text
            .as_deref()
            .zip(in_dir)
            .and_then(|(t, d)| f(t, d))
    };
    let session = public(|t, d| crate::revisions::public_session(t, d).map(Into::into));
    let session_json = public(crate::revisions::public_session_json);
    let files: Vec<serde_json::Value> = if done {
        st.store
            .list_outputs(&job.id, r.n)
            .into_iter()
            .map(|(name, size)| {
                serde_json::json!({
                    "name": name,
                    "bytes": size,
                    "url": format!("/api/jobs/{}/revisions/{}/files/{name}", job.id, r.n),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    serde_json::json!({
        "n": r.n,
        "state": r.state,
        "error": r.error,
        "note": r.note,
        "author": r.author,
        "created_s": r.created_s,
        "session": session,
        "session_json": session_json,
        "report": report,
        "files": files,
    })
}

pub(crate) async fn delete_job(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    match visible(&st, &caller, &id) {
        Ok(j) if j.state == queue::State::Running => error(
            StatusCode::CONFLICT,
            "the job is running; delete it when it has finished",
        ),
        Ok(j) => match st
            .store
            .remove(&id)
            .map_err(|e| e.to_string())
            .and_then(|_| st.queue.remove(&id))
            .and_then(|_| {
                st.queue.record(
                    &id,
                    &crate::queue::Event {
                        at_s: queue::now_s(),
                        who: caller.name().map(str::to_string),
                        what: "deleted".into(),
                        revision: Some(j.revision),
                        comment: String::new(),
                    },
                )
            }) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => crate::unavailable(e),
        },
        Err(r) => r.into_response(),
    }
}

pub(crate) async fn job_page(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    match visible(&st, &caller, &id) {
        Ok(_) => Html(web::job_page(&id)).into_response(),
        Err(r) => r.into_response(),
    }
}

/// `GET /api/audit?limit=N`: who did what to which job, and who logged in (or tried) from
/// where, newest first (admins, and the open service's one user); deleted jobs stay in it.
pub(crate) async fn audit(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let admin = match &caller {
        Caller::Open => true,
        Caller::User(u) => u.role == crate::accounts::Role::Admin,
    };
    if !admin {
        return error(StatusCode::FORBIDDEN, "the audit log is for admins");
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<u32>().ok())
        .unwrap_or(500)
        .min(10_000);
    let logins = match st.accounts.logins(limit) {
        Ok(l) => l,
        Err(e) => return crate::unavailable(e.to_string()),
    };
    match st.queue.audit(limit) {
        Ok(events) => Json(serde_json::json!({
            "logins": logins,
            "events": events
                .into_iter()
                .map(|(job, e)| serde_json::json!({
                    "job": job, "at_s": e.at_s, "who": e.who, "what": e.what,
                    "revision": e.revision, "comment": e.comment,
                }))
                .collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => crate::unavailable(e),
    }
}

//! Who may see which job: the one place that decides it. A client sees its own jobs, engineers
//! and admins every job, the open service (no accounts) all; anything else is 404, the same
//! answer as for a job that is not there.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::Caller;
use crate::queue::Job;
use crate::{error, valid_id, AppState};

/// Why a job is not shown.
pub(crate) enum Hidden {
    /// Not there, or someone else's: the same answer for both.
    NotFound,
    /// The database did not answer (503: try again).
    Database(String),
    /// The object store did not answer (503: try again).
    Store(String),
}

impl IntoResponse for Hidden {
    fn into_response(self) -> Response {
        match self {
            Hidden::NotFound => error(StatusCode::NOT_FOUND, "no such job"),
            // The records or the files did not answer: try again (a database restarting, a
            // store cut off), never "not found".
            Hidden::Database(e) | Hidden::Store(e) => crate::unavailable(e),
        }
    }
}

/// The job `id` if the caller may see it (404 for a job that is not there and for one that is
/// someone else's alike).
pub(crate) fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<Job, Hidden> {
    if !valid_id(id) {
        return Err(Hidden::NotFound);
    }
    let job = match st.queue.get(id) {
        Ok(Some(j)) if caller.may_see(j.owner.as_deref()) => j,
        Ok(_) => return Err(Hidden::NotFound),
        Err(e) => return Err(Hidden::Database(e)),
    };
    if let Some(mirror) = &st.mirror {
        // Every handler that reads a job's files comes through here: the job's committed
        // files are copied into this process's data folder first (once; later calls find
        // them there).
        let revisions = st.queue.revisions(id).map_err(Hidden::Database)?;
        mirror
            .pull_job(id, &revisions)
            .map_err(|e| Hidden::Store(format!("the job's files: {e}")))?;
    }
    Ok(job)
}

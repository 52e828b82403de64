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
    Database(String),
}

impl IntoResponse for Hidden {
    fn into_response(self) -> Response {
        match self {
            Hidden::NotFound => error(StatusCode::NOT_FOUND, "no such job"),
            Hidden::Database(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        }
    }
}

/// The job `id` if the caller may see it (404 for a job that is not there and for one that is
/// someone else's alike).
pub(crate) fn visible(st: &AppState, caller: &Caller, id: &str) -> Result<Job, Hidden> {
    if !valid_id(id) {
        return Err(Hidden::NotFound);
    }
    match st.queue.get(id) {
        Ok(Some(j)) if caller.may_see(j.owner.as_deref()) => Ok(j),
        Ok(_) => Err(Hidden::NotFound),
        Err(e) => Err(Hidden::Database(e)),
    }
}

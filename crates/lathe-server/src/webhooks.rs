//! `GET|PUT|DELETE /api/me/webhook`: a user sets, reads and removes their own webhook, and sees
//! how its last deliveries went. Webhooks belong to accounts: the open service (no users) has
//! none.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use crate::accounts::{AccountError, User};
use crate::auth::Caller;
use crate::notify::sign::SIGNATURE_HEADER;
use crate::{error, AppState};

/// How many recent deliveries `GET` shows.
const RECENT: u32 = 20;

fn user(caller: &Caller) -> Result<&User, Box<Response>> {
    match caller {
        Caller::User(u) => Ok(u),
        Caller::Open => Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "webhooks belong to accounts, and this service has none",
        ))),
    }
}

/// `GET /api/me/webhook`: the URL (or `null`) and the newest deliveries with their outcome.
pub(crate) async fn get_webhook(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let u = match user(&caller) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let hook = match st.accounts.webhook(&u.name) {
        Ok(h) => h,
        Err(e) => return crate::unavailable(e.to_string()),
    };
    let deliveries = match st.outbox.of_user(&u.name, RECENT) {
        Ok(d) => d,
        Err(e) => return crate::unavailable(e),
    };
    Json(serde_json::json!({
        "url": hook.as_ref().map(|h| h.url.clone()),
        "created_s": hook.as_ref().map(|h| h.created_s),
        "deliveries": deliveries,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetWebhook {
    url: String,
}

/// `PUT /api/me/webhook {url}`: sets the URL; answers the new signing secret, once.
pub(crate) async fn put_webhook(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Response {
    let u = match user(&caller) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let set: SetWebhook = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected JSON {{\"url\": \"https://…\"}}: {e}"),
            )
        }
    };
    match st.accounts.set_webhook(&u.name, set.url.trim()) {
        Ok(secret) => Json(serde_json::json!({
            "url": set.url.trim(),
            "secret": secret,
            "signature_header": SIGNATURE_HEADER,
            "signature": "sha256=hex(HMAC-SHA256(secret, raw body))",
        }))
        .into_response(),
        Err(e @ AccountError::BadWebhook(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => crate::unavailable(e.to_string()),
    }
}

/// `DELETE /api/me/webhook`: nothing more is sent (204; 404 when there was none).
pub(crate) async fn delete_webhook(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let u = match user(&caller) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    match st.accounts.clear_webhook(&u.name) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "no webhook is set"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

//! The operator API, on its own listener with a bearer token: revealed results per account,
//! below-threshold state only behind `--audit`, health and aggregate metrics.

use super::App;
use crate::server::{evaluate_read_only, status_json};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use blindmatch_core::server::Outcome;
use std::sync::Arc;

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/accounts/{account}/reveals", get(reveals))
        .route("/v1/accounts/{account}/state", get(state))
        .with_state(app)
}

/// Whether the request carries the operator token (compared in constant time).
fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(got) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    let want: &[u8] = &app.token;
    got.len() == want.len() && got.iter().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

fn json(code: StatusCode, v: &serde_json::Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"error": "operator token required"}),
    )
}

async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    let app2 = app.clone();
    let depth = tokio::task::spawn_blocking(move || {
        // Once more on a fresh connection if the pooled one failed.
        let depth = |fresh: bool| {
            let mut s = if fresh {
                app2.fresh().ok()?
            } else {
                app2.take().ok()?
            };
            let d = s.queue_depth().ok()?;
            app2.put(s);
            Some(d)
        };
        depth(false).or_else(|| depth(true))
    })
    .await
    .ok()
    .flatten();
    let body = app.metrics.render(depth, app.opener.malformed());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

/// Every window of the account, evaluated (which also records the evaluation); once more on
/// a fresh connection if the pooled one failed (a database restart, a dropped connection).
fn outcomes(app: &App, account: &str) -> Result<Vec<(u64, Outcome)>, crate::store::StoreError> {
    outcomes_once(app, account, false).or_else(|_| outcomes_once(app, account, true))
}

fn outcomes_once(
    app: &App,
    account: &str,
    fresh: bool,
) -> Result<Vec<(u64, Outcome)>, crate::store::StoreError> {
    let mut store = if fresh { app.fresh()? } else { app.take()? };
    let mut out = Vec::new();
    for w in store.windows(account)? {
        if let Some(e) = evaluate_read_only(store.as_mut(), account, w)? {
            out.push((w, e.outcome));
        }
    }
    app.put(store);
    Ok(out)
}

async fn per_account(app: Arc<App>, account: String, audit_view: bool) -> Response {
    let app2 = app.clone();
    let acct = account.clone();
    let got = tokio::task::spawn_blocking(move || outcomes(&app2, &acct)).await;
    let windows = match got {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => {
            eprintln!(
                "blindmatch serve: operator: {}",
                super::store_error(&app, e)
            );
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"error": "store unavailable"}),
            );
        }
        Err(_) => {
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"error": "store unavailable"}),
            );
        }
    };
    let list: Vec<serde_json::Value> = windows
        .iter()
        .filter(|(_, o)| audit_view || matches!(o, Outcome::Revealed { .. }))
        .map(|(w, o)| status_json(*w, o, audit_view))
        .collect();
    json(
        StatusCode::OK,
        &serde_json::json!({"account": account, "windows": list}),
    )
}

async fn reveals(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    per_account(app, account, false).await
}

async fn state(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    if !app.audit {
        return json(
            StatusCode::FORBIDDEN,
            &serde_json::json!({"error": "below-threshold state needs a server started with --audit"}),
        );
    }
    per_account(app, account, true).await
}

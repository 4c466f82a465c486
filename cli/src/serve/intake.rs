//! Intake: the only surface senders reach. It checks the framing, applies the per-account rate
//! limit, stores the vouchers durably and answers `202` — it never opens anything, so what a
//! sender sees (status, body, timing) depends on the framing alone, never on list membership.

use super::App;
use super::metrics::Metrics;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Largest voucher or probe bundle: a bundle of 512 layers with s_max = 1024 and the
/// largest bucket is 214 + 96·512 + 8·(1024 + 1) + 65 536 = 123 102 bytes (a voucher at most
/// 74 044), rounded up.
pub(crate) const MAX_VOUCHER: usize = 124_000;
/// Most vouchers in one request.
pub(crate) const MAX_FRAMES: usize = 1024;

/// Body limit and the per-account token buckets.
pub(crate) struct Limits {
    max_body: usize,
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limits {
    pub(crate) fn new(max_body: usize, rate: f64, burst: f64) -> Limits {
        Limits {
            max_body,
            rate: rate.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take `n` tokens from the account's bucket, or say how many seconds to wait.
    fn take(&self, account: &str, n: usize) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget accounts whose buckets refilled (idle for a full burst's time).
            let full = self.burst / self.rate;
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < full);
        }
        let b = buckets.entry(account.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        let need = n as f64;
        if need > self.burst {
            // A request larger than the bucket can never pass: answer as for the largest wait.
            return Err((self.burst / self.rate).ceil() as u64);
        }
        if b.tokens < need {
            return Err(((need - b.tokens) / self.rate).ceil().max(1.0) as u64);
        }
        b.tokens -= need;
        Ok(())
    }
}

pub(crate) fn router(app: Arc<App>) -> Router {
    let limit = app.limits.max_body;
    Router::new()
        .route("/v1/accounts/{account}/vouchers", post(vouchers))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// Rate-limit tokens a frame costs: one per voucher, and K for a probe bundle that declares K
/// outer layers (its opening costs K point multiplications; a bundle whose K is not the
/// database's is refused before any). From the frame's bytes alone, never from the list.
pub(crate) fn cost(frame: &[u8]) -> usize {
    match (frame.get(..2), frame.get(84..86)) {
        (Some(b"BB"), Some(&[lo, hi])) => usize::from(u16::from_le_bytes([lo, hi])).clamp(1, 512),
        _ => 1,
    }
}

/// Split a body into its frames (`LE32(len) ‖ bytes`, back to back).
pub(crate) fn frames(body: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        if len == 0 || len > MAX_VOUCHER || out.len() == MAX_FRAMES {
            return None;
        }
        let (v, tail) = tail.split_at_checked(len)?;
        out.push(v);
        rest = tail;
    }
    (!out.is_empty()).then_some(out)
}

fn status(code: StatusCode, body: &'static str) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn vouchers(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    body: Bytes,
) -> Response {
    let m = &app.metrics;
    if account.is_empty() || account.len() > 255 {
        Metrics::add(&m.requests_bad, 1);
        return status(
            StatusCode::BAD_REQUEST,
            r#"{"error":"account id must be 1 to 255 bytes"}"#,
        );
    }
    let Some(framed) = frames(&body) else {
        Metrics::add(&m.requests_bad, 1);
        return status(
            StatusCode::BAD_REQUEST,
            r#"{"error":"malformed voucher framing"}"#,
        );
    };
    let n = framed.len();
    let tokens: usize = framed.iter().map(|f| cost(f)).sum();
    if let Err(wait) = app.limits.take(&account, tokens) {
        Metrics::add(&m.requests_limited, 1);
        let mut r = status(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"error":"account rate limit"}"#,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let app2 = app.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let framed = frames(&body).unwrap_or_default();
        // Once more on a fresh connection if the pooled one failed (it is dropped, not put
        // back): a dropped database connection costs a retry, not a 503.
        let enqueue = |fresh: bool| {
            let mut store = if fresh { app2.fresh()? } else { app2.take()? };
            let t = Instant::now();
            store.enqueue(&account, &framed, super::now_ms())?;
            Metrics::time(&app2.metrics.store_us[super::metrics::ENQUEUE], t);
            app2.put(store);
            Ok::<_, crate::store::StoreError>(())
        };
        enqueue(false).or_else(|_| enqueue(true))
    })
    .await;
    match stored {
        Ok(Ok(())) => {
            Metrics::add(&m.received, n as u64);
            Metrics::add(&m.requests_accepted, 1);
            (
                StatusCode::ACCEPTED,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"accepted\":{n}}}"),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            eprintln!("blindmatch serve: intake: {}", super::store_error(&app, e));
            Metrics::add(&m.requests_unavailable, 1);
            status(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"store unavailable"}"#,
            )
        }
        Err(_) => {
            Metrics::add(&m.requests_unavailable, 1);
            status(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"store unavailable"}"#,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    #[test]
    fn framing_is_checked_strictly() {
        assert_eq!(
            frames(&frame(&[b"abc", b"de"])),
            Some(vec![&b"abc"[..], b"de"])
        );
        assert_eq!(frames(b""), None);
        assert_eq!(frames(&frame(&[b""])), None, "a zero length");
        let mut truncated = frame(&[b"abc"]);
        truncated.pop();
        assert_eq!(frames(&truncated), None);
        assert_eq!(frames(&[1, 0, 0]), None, "a cut length");
        let big = vec![0u8; MAX_VOUCHER + 1];
        assert_eq!(frames(&frame(&[&big])), None);
        let many: Vec<&[u8]> = (0..=MAX_FRAMES).map(|_| &b"x"[..]).collect();
        assert_eq!(frames(&frame(&many)), None);
        assert_eq!(
            frames(&frame(&many[..MAX_FRAMES])).map(|f| f.len()),
            Some(MAX_FRAMES)
        );
    }

    #[test]
    fn the_rate_limit_refills_over_time() {
        let l = Limits::new(1 << 20, 1000.0, 10.0);
        assert_eq!(l.take("a", 10), Ok(()));
        assert!(l.take("a", 1).is_err());
        assert_eq!(l.take("b", 5), Ok(()), "buckets are per account");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(l.take("a", 5), Ok(()));
        assert!(l.take("a", 11).is_err(), "more than the burst never passes");
    }

    #[test]
    fn a_bundle_costs_its_declared_layers() {
        let mut b = vec![0u8; 200];
        b[..2].copy_from_slice(b"BB");
        b[84..86].copy_from_slice(&84u16.to_le_bytes());
        assert_eq!(cost(&b), 84);
        b[84..86].copy_from_slice(&60_000u16.to_le_bytes());
        assert_eq!(cost(&b), 512);
        b[84..86].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(cost(&b), 1);
        assert_eq!(cost(&b[..80]), 1);
        assert_eq!(cost(b"BV\x02"), 1);
    }
}

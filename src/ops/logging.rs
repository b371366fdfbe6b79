//! Puts each request's id into a tracing span, so every log line a handler or the
//! blocking work it awaits writes carries `request_id` (in JSON logs, as a span field).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub async fn request_span(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %request.method());
    next.run(request).instrument(span).await
}

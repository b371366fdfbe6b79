//! The embedded admin UI: static files from `assets/`, compiled into the binary.
//!
//! `/` and `/ui/...` answer the single-page app's `index.html`; `/assets/...` the files.
//! Every answer carries a strict Content-Security-Policy (nothing inline, nothing from
//! elsewhere), an ETag from the file's SHA-256, and `no-cache` so a new binary's files
//! are picked up at once while unchanged ones revalidate with a 304.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::app::AppState;
use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers).unwrap_or_else(|| ApiError::not_found("the admin UI is not built in").into_response())
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if path.split('/').any(|part| part.is_empty() || part.starts_with('.')) {
        return ApiError::not_found("no such file").into_response();
    }
    serve(&path, &headers).unwrap_or_else(|| ApiError::not_found(format!("no file `/assets/{path}`")).into_response())
}

fn content_type(path: &str, guessed: &str) -> String {
    let ext = path.rsplit('.').next().unwrap_or("");
    let mime = match ext {
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        "html" => "text/html",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        _ => guessed,
    };
    if mime.starts_with("text/") || mime == "application/json" || mime == "image/svg+xml" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    }
}

fn serve(path: &str, request: &HeaderMap) -> Option<Response> {
    let file = Assets::get(path)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let matches = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = file.data.into_owned().into_response();
        let mime = content_type(path, file.metadata.mimetype());
        if let Ok(value) = HeaderValue::from_str(&mime) {
            response.headers_mut().insert(CONTENT_TYPE, value);
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_type() {
        for path in Assets::iter() {
            let file = Assets::get(&path).expect("listed file");
            let mime = content_type(&path, file.metadata.mimetype());
            assert!(!mime.starts_with("application/octet-stream"), "{path}: {mime}");
        }
    }

    #[test]
    fn no_inline_script_or_style_in_html() {
        for path in Assets::iter().filter(|p| p.ends_with(".html")) {
            let file = Assets::get(&path).expect("listed file");
            let text = String::from_utf8_lossy(&file.data);
            assert!(!text.contains("<style"), "{path} has an inline <style>");
            assert!(!text.contains(" style="), "{path} has a style attribute");
            assert!(!text.contains(" on"), "{path} may have an inline event handler");
            for chunk in text.split("<script").skip(1) {
                assert!(chunk.contains("src="), "{path} has an inline <script>");
            }
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{path} loads from outside"
            );
        }
    }
}

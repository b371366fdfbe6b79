//! The `oauth2` crate's blocking HTTP client, backed by a ureq 3 agent (the crate's own
//! `ureq` feature is on ureq 2). The agent comes from `net::agent`: timeouts on,
//! redirects off (RFC 9700 §4.11), statuses as values. Blocking: call on a blocking thread.

use oauth2::{HttpRequest, HttpResponse, SyncHttpClient};

/// Token responses larger than this are refused.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024;

pub struct UreqClient<'a>(pub &'a ureq::Agent);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpClientError(String);

impl SyncHttpClient for UreqClient<'_> {
    type Error = HttpClientError;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, Self::Error> {
        let response = self
            .0
            .run(request)
            .map_err(|e| HttpClientError(crate::net::describe_transport_error(&e)))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| HttpClientError(crate::net::describe_transport_error(&e)))?;
        Ok(HttpResponse::from_parts(parts, bytes))
    }
}

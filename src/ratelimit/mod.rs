//! Rate limits: a fixed one-minute window per key (token, session or client address),
//! sized by the tenant's tier. The webhook receiver's limits are in [`webhooks`] (the
//! receiver resolves the tenant first, so it applies them itself). Every `/api` answer
//! carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`; over the limit the answer is 429 with
//! `Retry-After`. The same layer feeds usage counters and request metrics, so each request
//! is authenticated once (the principal is cached in the request's extensions).

mod webhooks;
mod window;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

pub use webhooks::{WebhookBudgets, WebhookLimits};
pub use window::{Decision, Windows};

use crate::app::AppState;
use crate::auth::{Auth, authenticate_parts};
use crate::error::ApiError;
use crate::tenants::Tier;

/// Limiter state shared by every request.
#[derive(Default)]
pub struct RateLimiter {
    windows: Windows,
}

/// What a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub limit: u32,
    /// Label for the rejection metric: `token`, `session`, `platform`, `anonymous`.
    pub kind: &'static str,
}

impl RateLimiter {
    pub fn check(&self, bucket: &Bucket, now_unix: u64) -> Decision {
        self.windows.check(&bucket.key, bucket.limit, now_unix)
    }

    /// The tenant's tier, from the tenant cache that every tenant change clears, so a new
    /// tier applies from the next request.
    async fn tier(&self, auth: &Auth, tenant_id: &str) -> Result<Tier, ApiError> {
        Ok(auth.tenant(tenant_id).await?.map_or(Tier::Free, |tenant| tenant.tier))
    }
}

pub fn tier_limit(config: &crate::Config, tier: Tier) -> u32 {
    match tier {
        Tier::Free => config.rate_limit_free,
        Tier::Pro => config.rate_limit_pro,
        Tier::Enterprise => config.rate_limit_enterprise,
    }
}

pub fn unix_now() -> u64 {
    crate::time::now().unix_timestamp().max(0) as u64
}

pub fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset_secs));
}

/// Who made an API request, for usage counting.
struct Caller {
    tenant_id: Option<String>,
    actor: String,
}

/// The router layer: limit, then count the request by route and status.
pub async fn enforce<F, Answer>(state: &AppState, request: Request, answer: F) -> Response
where
    F: FnOnce(Request) -> Answer,
    Answer: std::future::Future<Output = Response>,
{
    let is_api = request.uri().path().starts_with("/api/");
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);

    let mut caller = None;
    let (bucket, request) = if is_api {
        let (mut parts, body) = request.into_parts();
        let bucket = match authenticate_parts(&mut parts, state).await {
            Ok(auth) => {
                let principal = auth.principal;
                let bucket = match principal.tenant_id.as_deref() {
                    None => Bucket {
                        key: principal.actor.clone(),
                        limit: state.config.rate_limit_platform,
                        kind: "platform",
                    },
                    // A tenant's UI session: the admin UI makes several calls per page.
                    Some(_) if principal.token_id.is_none() => Bucket {
                        key: principal.actor.clone(),
                        limit: state.config.rate_limit_session,
                        kind: "session",
                    },
                    Some(tenant_id) => match state.limiter.tier(&state.auth, tenant_id).await {
                        Ok(tier) => Bucket {
                            key: principal.actor.clone(),
                            limit: tier_limit(&state.config, tier),
                            kind: "token",
                        },
                        Err(e) => return e.into_response(),
                    },
                };
                caller = Some(Caller {
                    tenant_id: principal.tenant_id,
                    actor: principal.actor,
                });
                bucket
            }
            // The handler answers 401 (or serves a public route); the address is limited.
            Err(_) => Bucket {
                key: format!(
                    "ip:{}",
                    crate::net::client_addr::client_addr_of(&parts.extensions)
                        .map(|addr| addr.budget_key())
                        .unwrap_or_else(|| "unknown".to_owned())
                ),
                limit: state.config.rate_limit_anonymous,
                kind: "anonymous",
            },
        };
        (Some(bucket), Request::from_parts(parts, body))
    } else {
        (None, request)
    };

    let decision = bucket.as_ref().map(|b| (b, state.limiter.check(b, unix_now())));
    let mut response = match &decision {
        Some((bucket, decision)) if !decision.allowed => {
            state
                .metrics
                .inc("tessera_rate_limited_total", &[("kind", bucket.kind)]);
            ApiError::rate_limited(decision.reset_secs.max(1)).into_response()
        }
        _ => answer(request).await,
    };
    if let Some((_, decision)) = &decision {
        set_headers(response.headers_mut(), decision);
    }
    let status = response.status();
    state.metrics.inc(
        "tessera_http_requests_total",
        &[("route", route), ("status", status.as_str())],
    );
    if let Some(caller) = caller {
        state
            .usage
            .record(caller.tenant_id.as_deref(), &caller.actor, route, status.as_u16());
    }
    response
}

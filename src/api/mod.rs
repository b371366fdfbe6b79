//! The HTTP surface: the route table, extractors, pagination.
//!
//! Each row's [`Access`] is what the router enforces: every handler is wrapped so that
//! [`crate::auth::admit`] checks the request against the row before the handler runs.

pub mod extract;
pub mod frame;
pub mod pagination;
mod routes;

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::app::AppState;
use crate::auth::Scope;

pub use routes::routes;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any valid token or session.
    Authenticated,
    /// The operator only.
    Platform,
    /// A principal of the `{tenant}` in the path holding this scope.
    Tenant(Scope),
    /// Any principal holding this scope (the platform holds every scope), on a route
    /// outside any tenant (the plugin marketplace).
    Scoped(Scope),
    /// The operator, or anyone when `metrics_public` is set (a Prometheus scraper).
    PlatformUnlessMetricsPublic,
}

/// A handler behind its row's access check: the check runs first and its grant is in the
/// request's extensions when the handler's extractors run.
#[derive(Clone)]
struct Guarded<H> {
    access: Access,
    handler: H,
}

impl<H, T> Handler<T, AppState> for Guarded<H>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, request: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Err(refusal) = crate::auth::admit(self.access, &mut parts, &state).await {
                return refusal.into_response();
            }
            self.handler.call(Request::from_parts(parts, body), state).await
        })
    }
}

/// One row of the route table: what the router serves and what the API description lists.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    handler: MethodRouter<AppState>,
}

macro_rules! verb {
    ($name:ident, $method:ident, $routing:path) => {
        pub fn $name<H, T>(path: &'static str, summary: &'static str, access: Access, handler: H) -> ApiRoute
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            ApiRoute {
                method: Method::$method,
                path,
                summary,
                access,
                handler: match access {
                    // Nothing to check: no wrapper on the public hot paths (`/healthz`,
                    // the webhook receiver).
                    Access::Public => $routing(handler),
                    _ => $routing(Guarded { access, handler }),
                },
            }
        }
    };
}

verb!(get, GET, axum::routing::get);
verb!(post, POST, axum::routing::post);
verb!(put, PUT, axum::routing::put);
verb!(patch, PATCH, axum::routing::patch);
verb!(delete, DELETE, axum::routing::delete);

/// A route that accepts every method (the authenticated proxy).
pub fn any<H, T>(path: &'static str, summary: &'static str, access: Access, handler: H) -> ApiRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    ApiRoute {
        method: Method::from_bytes(b"ANY").unwrap_or(Method::GET),
        path,
        summary,
        access,
        handler: match access {
            Access::Public => axum::routing::any(handler),
            _ => axum::routing::any(Guarded { access, handler }),
        },
    }
}

/// Builds the router from the table, merging the methods of each path.
pub fn router(table: Vec<ApiRoute>) -> Router<AppState> {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in table {
        match by_path.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(route.handler);
                *existing = merged;
            }
            None => by_path.push((route.path, route.handler)),
        }
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| router.route(path, handler))
}

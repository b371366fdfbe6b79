//! What every request passes through around the router: its client address, its request
//! id, the response headers every answer carries, request logging and the body limit.
//!
//! These wrap the router once, as one tower stack, instead of through `Router::layer`,
//! which wraps every route separately and so boxes and clones each layer again for every
//! request. The two services written here are plain tower services for the same reason:
//! `middleware::from_fn` boxes the rest of the stack on every call.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use ipnet::IpNet;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::net::client_addr::ClientAddr;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service `tessera serve` answers with: `router` inside the frame.
pub fn framed(
    router: Router,
    body_limit: usize,
    trusted_proxies: Arc<Vec<IpNet>>,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + Sync + 'static
{
    ServiceBuilder::new()
        .layer(RecordClientAddrLayer { trusted_proxies })
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(LogRequestsLayer)
        .layer(DefaultBodyLimit::max(body_limit))
        .service(router)
}

/// Decides the client address once per request (see [`ClientAddr::resolve`]).
#[derive(Clone)]
struct RecordClientAddrLayer {
    trusted_proxies: Arc<Vec<IpNet>>,
}

impl<S> Layer<S> for RecordClientAddrLayer {
    type Service = RecordClientAddr<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordClientAddr {
            inner,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

#[derive(Clone)]
struct RecordClientAddr<S> {
    inner: S,
    trusted_proxies: Arc<Vec<IpNet>>,
}

impl<S: Service<Request>> Service<Request> for RecordClientAddr<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let peer = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>().copied();
        if let Some(ConnectInfo(peer)) = peer {
            let client = ClientAddr::resolve(peer.ip(), request.headers(), &self.trusted_proxies);
            request.extensions_mut().insert(client);
        }
        self.inner.call(request)
    }
}

/// Logs each request by method, path (never the query: it may carry codes) and status,
/// and runs it inside a span carrying its request id, so every log line written while
/// serving it (handlers, awaited blocking work) carries `request_id`.
#[derive(Clone)]
struct LogRequestsLayer;

impl<S> Layer<S> for LogRequestsLayer {
    type Service = LogRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LogRequests { inner }
    }
}

#[derive(Clone)]
struct LogRequests<S> {
    inner: S,
}

impl<S> Service<Request> for LogRequests<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Logged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // With request logging filtered out (e.g. `TESSERA_LOG=warn`) the span would be
        // disabled too: skip building its fields.
        if !tracing::enabled!(tracing::Level::INFO) {
            return Logged {
                inner: self.inner.call(request),
                log: None,
            };
        }
        let request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let span = tracing::info_span!("request", request_id = %request_id, method = %request.method());
        let path = request.uri().path().to_owned();
        let inner = span.in_scope(|| self.inner.call(request));
        Logged {
            inner,
            log: Some(RequestLog {
                span,
                path,
                started: Instant::now(),
            }),
        }
    }
}

struct RequestLog {
    span: tracing::Span,
    path: String,
    started: Instant,
}

/// The inner future, polled inside the request's span; logs the answer when it is ready.
struct Logged<F> {
    inner: F,
    log: Option<RequestLog>,
}

impl<F, E> Future for Logged<F>
where
    F: Future<Output = Result<Response, E>> + Unpin,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(log) = &this.log else {
            return Pin::new(&mut this.inner).poll(cx);
        };
        let entered = log.span.enter();
        let polled = Pin::new(&mut this.inner).poll(cx);
        if let Poll::Ready(Ok(response)) = &polled {
            tracing::info!(
                path = %log.path,
                status = response.status().as_u16(),
                elapsed_ms = log.started.elapsed().as_millis() as u64,
                "request"
            );
        }
        drop(entered);
        if polled.is_ready() {
            this.log = None;
        }
        polled
    }
}

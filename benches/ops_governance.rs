//! What the governance layers (rate limit, usage, metrics, request span, 413 drain) cost
//! per API request, as a ratio against the same route served by the bare route table in
//! the same run. `cargo bench --bench ops_governance` (add `--profile dev` for a quick run).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

const ROUNDS: u32 = 2000;

async fn time_requests(app: &axum::Router, path: &str, token: &str) -> Duration {
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let request = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), 200);
    }
    started.elapsed()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = tessera::Config::with_data_dir(dir.path().join("data"));
    config.rate_limit_enterprise = u32::MAX;
    config.rate_limit_platform = u32::MAX;
    let report = tessera::setup::initialise(&config).expect("init");
    let admin = report.admin_token.expose().to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let state = tokio::task::spawn_blocking(move || tessera::app::AppState::open(config))
            .await
            .expect("join")
            .expect("open");
        let bare = tessera::api::router(tessera::api::routes()).with_state(state.clone());
        let full = tessera::app::router(state.clone());

        let create = Request::post("/api/v1/tenants")
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(r#"{"name":"bench","tier":"enterprise"}"#))
            .expect("request");
        assert_eq!(full.clone().oneshot(create).await.expect("create").status(), 201);

        let path = "/api/v1/tenants/bench";
        // Warm both (caches, pool) before measuring; alternate to share any drift.
        time_requests(&bare, path, &admin).await;
        time_requests(&full, path, &admin).await;
        let (mut bare_total, mut full_total) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..3 {
            bare_total += time_requests(&bare, path, &admin).await;
            full_total += time_requests(&full, path, &admin).await;
        }
        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(3 * ROUNDS);
        println!(
            "GET {path}: bare route table {:.1} µs/request, with every layer {:.1} µs/request, ratio {:.2}",
            per(bare_total),
            per(full_total),
            full_total.as_secs_f64() / bare_total.as_secs_f64()
        );

        // The limiter's window check against a plain map increment.
        let windows = tessera::ratelimit::Windows::default();
        let keys: Vec<String> = (0..1000).map(|i| format!("token:{i}")).collect();
        let n = 1_000_000u64;
        let started = Instant::now();
        for i in 0..n {
            std::hint::black_box(windows.check(&keys[(i % 1000) as usize], u32::MAX, 1_000_000 + i / 100_000));
        }
        let limiter = started.elapsed();
        let mut plain = std::collections::HashMap::<String, u64>::new();
        let started = Instant::now();
        for i in 0..n {
            *plain.entry(keys[(i % 1000) as usize].clone()).or_insert(0) += 1;
        }
        std::hint::black_box(&plain);
        let baseline = started.elapsed();
        println!(
            "window check {:.0} ns, HashMap<String,u64> increment {:.0} ns, ratio {:.2}",
            limiter.as_nanos() as f64 / n as f64,
            baseline.as_nanos() as f64 / n as f64,
            limiter.as_secs_f64() / baseline.as_secs_f64()
        );
    });
}

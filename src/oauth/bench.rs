//! `tessera bench token`: cached `GET .../token` reads under load, against `GET /healthz`
//! measured in the same run with the same load generator (keep-alive HTTP/1.1
//! connections, one request in flight per connection).
//!
//! It starts a throw-away server in a temp data dir, a local client-credentials token
//! endpoint, one tenant with one connection, warms the token cache, then loads each path.
//! `GET /api/v1/tenants/{tenant}` is measured too: the cheapest authenticated tenant
//! route, which pays the same authentication and tenant lookup as `/token`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::json;
use tokio::net::TcpStream;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Cached `/token` reads vs `GET /healthz` (throughput ratio, latency percentiles).
    Token {
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds of load per path (after a 1 s warm-up).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

pub fn execute(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Token { connections, seconds } => bench_token(connections.clamp(1, 1024), seconds.clamp(1, 600)),
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
struct Measured {
    requests: usize,
    errors: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn bench_token(connections: usize, seconds: u64) -> anyhow::Result<()> {
    let dir = TempDir(std::env::temp_dir().join(format!("tessera-bench-{}", crate::ids::new_id())));
    std::fs::create_dir_all(&dir.0)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    // A local token endpoint (the cached path never calls it after warm-up).
    let token_listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let token_addr = token_listener.local_addr()?;
    runtime.spawn(async move {
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(|| async {
                axum::Json(json!({"access_token": "bench-access-token", "token_type": "bearer", "expires_in": 3600}))
            }),
        );
        let _ = axum::serve(token_listener, app).await;
    });
    let providers = dir.0.join("providers.toml");
    std::fs::write(
        &providers,
        format!(
            "[providers.benchcc]\nname = \"Bench\"\ncategory = \"other\"\nauth_modes = [\"client_credentials\"]\n\
             token_url = \"http://{token_addr}/token\"\nfields = [\n\
             {{ name = \"client_id\", label = \"Client id\", required = true }},\n\
             {{ name = \"client_secret\", label = \"Client secret\", secret = true, required = true }},\n]\n"
        ),
    )?;

    let mut config = crate::Config::with_data_dir(dir.0.join("data"));
    config.providers_file = Some(providers);
    config.allow_private_targets = true;
    // Measure the request path, not the limiter's refusals: the limiter still runs.
    config.rate_limit_enterprise = u32::MAX;
    config.rate_limit_platform = u32::MAX;
    let report = crate::setup::initialise(&config)?;
    let admin = report.admin_token.expose().to_owned();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(crate::run(config, listener, async {
        let _ = stop_rx.await;
    }));

    let result = runtime.block_on(async move {
        wait_healthy(addr).await?;
        let tenant = call(
            addr,
            "POST",
            "/api/v1/tenants",
            &admin,
            Some(json!({"name": "bench", "tier": "enterprise"})),
        )
        .await?;
        anyhow::ensure!(tenant.0 == 201, "creating the tenant answered {}", tenant.0);
        let token = call(
            addr,
            "POST",
            "/api/v1/tenants/bench/tokens",
            &admin,
            Some(json!({"name": "bench", "scopes": ["credentials:reveal", "connections:write", "connections:read"]})),
        )
        .await?;
        let token: serde_json::Value = serde_json::from_str(&token.1)?;
        let token = token["token"].as_str().unwrap_or_default().to_owned();
        let put = call(
            addr,
            "PUT",
            "/api/v1/tenants/bench/connections/benchcc",
            &token,
            Some(json!({"credentials": {"client_id": "bench", "client_secret": "bench-secret"}})),
        )
        .await?;
        anyhow::ensure!(put.0 == 201, "creating the connection answered {}: {}", put.0, put.1);
        let warm = call(
            addr,
            "GET",
            "/api/v1/tenants/bench/connections/benchcc/token",
            &token,
            None,
        )
        .await?;
        anyhow::ensure!(warm.0 == 200, "warming /token answered {}: {}", warm.0, warm.1);

        let duration = Duration::from_secs(seconds);
        let health = load(addr, "/healthz", "", connections, duration).await?;
        let tenant = load(addr, "/api/v1/tenants/bench", &token, connections, duration).await?;
        let tokens = load(
            addr,
            "/api/v1/tenants/bench/connections/benchcc/token",
            &token,
            connections,
            duration,
        )
        .await?;
        Ok::<_, anyhow::Error>((health, tenant, tokens))
    });
    let _ = stop_tx.send(());
    let _ = runtime.block_on(server);
    let (health, tenant, tokens) = result?;
    let ratio = |m: &Measured| (m.per_second / health.per_second.max(f64::EPSILON) * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "connections": connections,
            "seconds_per_path": seconds,
            "healthz": summary(&health),
            "get_tenant": summary(&tenant),
            "token": summary(&tokens),
            "throughput_ratio_token_to_healthz": ratio(&tokens),
            "throughput_ratio_get_tenant_to_healthz": ratio(&tenant),
        }))?
    );
    Ok(())
}

fn summary(m: &Measured) -> serde_json::Value {
    json!({
        "requests": m.requests,
        "errors": m.errors,
        "requests_per_second": m.per_second.round(),
        "p50_ms": (m.p50_ms * 100.0).round() / 100.0,
        "p99_ms": (m.p99_ms * 100.0).round() / 100.0,
    })
}

async fn wait_healthy(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    for _ in 0..200 {
        if let Ok((200, _)) = call(addr, "GET", "/healthz", "", None).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("the bench server did not become healthy")
}

/// One request on a fresh connection (setup calls).
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<(u16, String)> {
    let stream = TcpStream::connect(addr).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = request_bytes(method, path, token, &body);
    write_all(&stream, &request).await?;
    let mut buffer = Vec::new();
    let (status, body) = read_response(&stream, &mut buffer).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn request_bytes(method: &str, path: &str, token: &str, body: &str) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
    if !token.is_empty() {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        text.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

// With tokio's `net` feature only (no `io-util`): readiness plus non-blocking calls.
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn read_some(stream: &TcpStream, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buffer) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads one HTTP/1.1 response with a Content-Length body; leftovers stay in `buffer`.
async fn read_response(stream: &TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("malformed response"))?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = read_some(stream, &mut chunk).await?;
                anyhow::ensure!(n > 0, "connection closed mid-body");
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = buffer[end + 4..end + 4 + length].to_vec();
            buffer.drain(..end + 4 + length);
            return Ok((status, body));
        }
        let n = read_some(stream, &mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Loads `path` over `connections` keep-alive connections for a warm-up second plus
/// `duration`; only requests after the warm-up count.
async fn load(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let request = std::sync::Arc::new(request_bytes("GET", path, token, ""));
    let warm_until = Instant::now() + Duration::from_secs(1);
    let until = warm_until + duration;
    let mut workers = Vec::new();
    for _ in 0..connections {
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut buffer = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                write_all(&stream, &request).await?;
                let (status, _) = read_response(&stream, &mut buffer).await?;
                if started >= warm_until {
                    latencies.push(started.elapsed().as_micros() as u32);
                    if status != 200 {
                        errors += 1;
                    }
                }
            }
            Ok::<_, anyhow::Error>((latencies, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (latencies, e) = worker.await??;
        all.extend(latencies);
        errors += e;
    }
    all.sort_unstable();
    let pick = |q: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let index = ((all.len() as f64 - 1.0) * q).round() as usize;
        f64::from(all[index]) / 1000.0
    };
    Ok(Measured {
        requests: all.len(),
        errors,
        per_second: all.len() as f64 / duration.as_secs_f64(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
    })
}

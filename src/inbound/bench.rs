//! `tessera bench ingest`: a load generator for webhook ingestion.
//!
//! Starts `tessera serve` as a child process on a fresh temporary data dir (so it runs
//! exactly as deployed, `synchronous=FULL`, logging at warn), creates a tenant with a
//! Posh.VIP connection, then drives it over keep-alive HTTP/1.1 connections: first
//! `GET /healthz` as the baseline, then uniquely numbered, correctly signed webhooks.
//! Reports rate and p50/p99 latency of both and their ratio.
//!
//! `--store postgres` runs the server on PostgreSQL instead — a throw-away cluster that
//! flushes every commit (or `--database-url`) — and `--nodes N` runs N servers on that one
//! database, the load spread over them connection by connection.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::net::TcpStream;

use super::signature::sign;

/// `tessera bench ...`
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Signed webhook ingestion vs. `GET /healthz`, over keep-alive connections.
    Ingest(IngestArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds measured per phase (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Approximate webhook body size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub body_bytes: usize,
    /// The database the server runs on.
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// Servers on the one database (PostgreSQL only), the load spread over them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// An empty PostgreSQL database to run on, instead of a throw-away cluster started for
    /// the run (which needs Debian's `postgresql` server programs).
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

const SECRET: &str = "bench-webhook-secret";

struct Server {
    child: Child,
    addr: String,
    /// The first platform token `tessera serve` prints (none for the bare server).
    token: Option<String>,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A child of this binary, with the caller's `TESSERA_*` settings removed.
fn this_binary() -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("locating the tessera binary")?;
    let mut cmd = Command::new(exe);
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("TESSERA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Ok(cmd)
}

/// The bare axum server (`tessera bench bare`), the ceiling `/healthz` is compared with.
fn start_bare() -> anyhow::Result<Server> {
    let child = this_binary()?
        .args(["bench", "bare", "--listen", "127.0.0.1:0"])
        .spawn()
        .context("starting the bare server")?;
    attach(child, None)
}

/// `tessera serve` on a new data dir; on `database_url` when given, and with the master
/// key of `first` (another node on the same database) when given.
fn start_server(database_url: Option<&str>, first: Option<&Server>) -> anyhow::Result<Server> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-{}", crate::ids::new_id()));
    let mut command = this_binary()?;
    // Measure ingestion, not the limiter's refusals (the limiter still runs).
    command
        .env("TESSERA_RATE_LIMIT_WEBHOOKS", u32::MAX.to_string())
        .env("TESSERA_RATE_LIMIT_PLATFORM", u32::MAX.to_string())
        .env("TESSERA_RATE_LIMIT_ANONYMOUS", u32::MAX.to_string());
    if let Some(url) = database_url {
        command.env("TESSERA_DATABASE_URL", url);
    }
    if let Some(first) = first.and_then(|f| f.dir.as_ref()) {
        command.env("TESSERA_MASTER_KEY_FILE", first.join("master.key"));
    }
    let child = command
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .context("starting tessera serve")?;
    let mut server = attach(child, Some(dir))?;
    match first {
        // The database was initialised by the first node: the same token works here.
        Some(first) => server.token = first.token.clone(),
        None => anyhow::ensure!(server.token.is_some(), "tessera serve printed no first admin token"),
    }
    Ok(server)
}

/// Where the servers keep their data: the SQLite file, or a PostgreSQL database (with
/// the throw-away cluster holding it, stopped when this drops — after the servers).
struct Database {
    url: Option<String>,
    _cluster: Option<crate::store::postgres::cluster::ThrowawayCluster>,
}

fn database(args: &IngestArgs) -> anyhow::Result<Database> {
    match (args.store, &args.database_url) {
        (StoreKind::Sqlite, _) => Ok(Database {
            url: None,
            _cluster: None,
        }),
        (StoreKind::Postgres, Some(url)) => Ok(Database {
            url: Some(url.clone()),
            _cluster: None,
        }),
        (StoreKind::Postgres, None) => {
            let cluster =
                crate::store::postgres::cluster::ThrowawayCluster::start_durable().map_err(anyhow::Error::msg)?;
            let url = cluster.create_database("bench").map_err(anyhow::Error::msg)?;
            Ok(Database {
                url: Some(url),
                _cluster: Some(cluster),
            })
        }
    }
}

/// Waits for the child's "listening on http://ADDR" line, keeping the first token seen.
fn attach(mut child: Child, dir: Option<std::path::PathBuf>) -> anyhow::Result<Server> {
    let stderr = child.stderr.take().context("server stderr")?;
    let mut reader = BufReader::new(stderr);
    let (mut token, mut addr) = (None, None);
    while addr.is_none() {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            let _ = child.kill();
            bail!("the server exited before listening");
        }
        let line = line.trim();
        if line.starts_with("tsr_") {
            token = Some(line.to_owned());
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(Server {
        child,
        addr: addr.context("listen address")?,
        token,
        dir,
    })
}

/// A minimal keep-alive HTTP/1.1 client: one request at a time on one connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    // tokio's readiness API (the crate is built without `io-util`).
    async fn write_all(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn read(&self, chunk: &mut [u8]) -> std::io::Result<usize> {
        loop {
            self.stream.readable().await?;
            match self.stream.try_read(chunk) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one request and returns (status, body).
    async fn request(&mut self, head: &[u8], body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        self.write_all(head).await?;
        if !body.is_empty() {
            self.write_all(body).await?;
        }
        self.buf.clear();
        let header_end = loop {
            if let Some(pos) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = self.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head_text = String::from_utf8_lossy(&self.buf[..header_end]).to_string();
        let status: u16 = head_text
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length: usize = head_text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buf.len() < header_end + length {
            let mut chunk = [0u8; 4096];
            let n = self.read(&mut chunk).await?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, self.buf[header_end..header_end + length].to_vec()))
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Healthz,
    Webhook,
}

struct Outcome {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

async fn drive(
    addr: String,
    phase: Phase,
    worker: usize,
    body_bytes: usize,
    warmup: Instant,
    end: Instant,
) -> anyhow::Result<Outcome> {
    let mut conn = Conn::open(&addr).await?;
    let mut out = Outcome {
        ok: 0,
        errors: 0,
        latencies_us: Vec::with_capacity(65_536),
    };
    let padding = "x".repeat(body_bytes.saturating_sub(260));
    let mut seq: u64 = 0;
    loop {
        let now = Instant::now();
        if now >= end {
            return Ok(out);
        }
        seq += 1;
        let (head, body) = match phase {
            Phase::Healthz => (
                format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes(),
                Vec::new(),
            ),
            Phase::Webhook => {
                let body = json!({
                    "event": "purchase.created",
                    "purchase": {
                        "id": format!("bench-{worker}-{seq}-{}", warmup.elapsed().as_nanos()),
                        "event_id": "ev_bench",
                        "event_name": "Benchmark Night",
                        "customer": {"email": format!("w{worker}s{seq}@bench.example"), "first_name": "Bench", "last_name": "Mark"},
                        "total_amount": 10.0,
                        "currency": "USD",
                        "tickets": [],
                        "note": padding,
                    }
                })
                .to_string()
                .into_bytes();
                let sig = sign::hmac_hex(SECRET, &body);
                let head = format!(
                    "POST /webhooks/poshvip/bench HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-posh-signature: {sig}\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                (head.into_bytes(), body)
            }
        };
        let started = Instant::now();
        let result = conn.request(&head, &body).await;
        let elapsed = started.elapsed();
        if started < warmup {
            if result.is_err() {
                conn = Conn::open(&addr).await?;
            }
            continue;
        }
        match result {
            Ok((200, _)) => {
                out.ok += 1;
                out.latencies_us.push(elapsed.as_micros().min(u32::MAX as u128) as u32);
            }
            Ok(_) => out.errors += 1,
            Err(_) => {
                out.errors += 1;
                conn = Conn::open(&addr).await?;
            }
        }
    }
}

struct Figures {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// One phase over `addrs`, the connections spread over them in turn.
async fn run_phase(addrs: &[String], phase: Phase, args: &IngestArgs) -> anyhow::Result<Figures> {
    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.connections)
        .map(|w| {
            let addr = addrs[w % addrs.len()].clone();
            tokio::spawn(drive(addr, phase, w, args.body_bytes, warmup, end))
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut ok, mut errors) = (0u64, 0u64);
    for task in tasks {
        let out = task.await??;
        ok += out.ok;
        errors += out.errors;
        latencies.extend(out.latencies_us);
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    Ok(Figures {
        rate: ok as f64 / args.seconds as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    })
}

fn setup_tenant(server: &Server) -> anyhow::Result<()> {
    let agent = crate::net::agent(Duration::from_secs(10));
    let base = format!("http://{}", server.addr);
    let auth = format!("Bearer {}", server.token.as_deref().unwrap_or_default());
    let send = |method: &str, path: &str, body: Value| -> anyhow::Result<u16> {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())?;
        Ok(agent.run(request)?.status().as_u16())
    };
    let created = send("POST", "/api/v1/tenants", json!({"name": "Bench", "slug": "bench"}))?;
    if created != 201 {
        bail!("creating the bench tenant answered {created}");
    }
    let put = send(
        "PUT",
        "/api/v1/tenants/bench/connections/poshvip",
        json!({"credentials": {"webhook_secret": SECRET}}),
    )?;
    if !(200..300).contains(&put) {
        bail!("creating the Posh.VIP connection answered {put}");
    }
    Ok(())
}

/// Runs the benchmark and prints its figures.
pub fn run(args: &IngestArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.seconds == 0 || args.nodes == 0 {
        bail!("--connections, --seconds and --nodes must be positive");
    }
    if args.database_url.is_some() && args.store != StoreKind::Postgres {
        bail!("--database-url is for --store postgres");
    }
    if args.nodes > 1 && args.store != StoreKind::Postgres {
        bail!("several nodes share a PostgreSQL database: add --store postgres");
    }
    let database = database(args)?;
    let server = start_server(database.url.as_deref(), None)?;
    setup_tenant(&server)?;
    let mut others = Vec::new();
    for _ in 1..args.nodes {
        others.push(start_server(database.url.as_deref(), Some(&server))?);
    }
    let addrs: Vec<String> = std::iter::once(&server)
        .chain(&others)
        .map(|s| s.addr.clone())
        .collect();
    let bare = start_bare()?;
    // The generator gets one thread: the server process keeps the rest of the machine.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (ceiling, health, ingest) = runtime.block_on(async {
        let ceiling = run_phase(std::slice::from_ref(&bare.addr), Phase::Healthz, args).await?;
        let health = run_phase(&addrs, Phase::Healthz, args).await?;
        let ingest = run_phase(&addrs, Phase::Webhook, args).await?;
        anyhow::Ok((ceiling, health, ingest))
    })?;
    drop(bare);
    let phase_end = Instant::now();
    let at_end = event_counts(&server)?;
    let drained = drain(&server, phase_end, Duration::from_secs(300))?;
    let store = match args.store {
        StoreKind::Sqlite => "SQLite, synchronous=FULL".to_owned(),
        StoreKind::Postgres => format!(
            "PostgreSQL{}, {} node{}",
            if args.database_url.is_some() {
                ""
            } else {
                " (throw-away cluster, fsync on)"
            },
            args.nodes,
            if args.nodes == 1 { "" } else { "s" }
        ),
    };
    println!(
        "tessera bench ingest: {} connections, {} s per phase, ~{} B bodies, {store}",
        args.connections, args.seconds, args.body_bytes
    );
    println!(
        "{:<24} {:>10} {:>9} {:>9} {:>7}",
        "phase", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, f) in [
        ("bare axum GET /healthz", &ceiling),
        ("GET /healthz", &health),
        ("POST /webhooks (signed)", &ingest),
    ] {
        println!(
            "{name:<24} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            f.rate, f.p50_ms, f.p99_ms, f.errors
        );
    }
    let ratio = if health.rate > 0.0 {
        ingest.rate / health.rate
    } else {
        0.0
    };
    println!("ingest / healthz ratio: {ratio:.2}");
    let overhead = if ceiling.rate > 0.0 {
        health.rate / ceiling.rate
    } else {
        0.0
    };
    println!("healthz / bare axum ratio: {overhead:.2}");
    // Acknowledged is half the story: every delivery is a purchase that processing turns
    // into a signup. Processing has its own pace; the end-to-end rate includes the drain.
    let phase_secs = (args.seconds + 1) as f64;
    println!(
        "processing: {:.0} events/s during the ingest phase, {} left to process at its end",
        at_end.processed as f64 / phase_secs,
        at_end.received
    );
    match drained {
        Some((counts, waited)) => {
            let total = phase_secs + waited.as_secs_f64();
            let end_to_end = counts.processed as f64 / total;
            println!(
                "all processed {:.1} s after the phase: {:.0} events/s received and processed, {:.2} of healthz",
                waited.as_secs_f64(),
                end_to_end,
                if health.rate > 0.0 {
                    end_to_end / health.rate
                } else {
                    0.0
                }
            );
        }
        None => println!("processing did not finish within 300 s of the phase"),
    }
    Ok(())
}

/// Stored events by status, from the server's `/metrics`.
#[derive(Debug, Default, Clone, Copy)]
struct EventCounts {
    received: u64,
    processed: u64,
    failed: u64,
}

fn event_counts(server: &Server) -> anyhow::Result<EventCounts> {
    let agent = crate::net::agent(Duration::from_secs(30));
    let request = axum::http::Request::builder()
        .uri(format!("http://{}/metrics", server.addr))
        .header(
            "authorization",
            format!("Bearer {}", server.token.as_deref().unwrap_or_default()),
        )
        .body(Vec::new())?;
    let mut response = agent.run(request)?;
    let text = response.body_mut().read_to_string()?;
    let mut counts = EventCounts::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("tessera_inbound_events{status=\"") else {
            continue;
        };
        let Some((status, value)) = rest.split_once("\"}") else {
            continue;
        };
        let n = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        match status {
            "received" => counts.received = n,
            "processed" => counts.processed = n,
            "failed" => counts.failed = n,
            _ => {}
        }
    }
    Ok(counts)
}

/// Waits until no stored event waits for processing; the counts then and the time since
/// `started`.
fn drain(server: &Server, started: Instant, limit: Duration) -> anyhow::Result<Option<(EventCounts, Duration)>> {
    loop {
        let counts = event_counts(server)?;
        if counts.received == 0 {
            if counts.failed > 0 {
                bail!("{} benchmark events failed processing", counts.failed);
            }
            return Ok(Some((counts, started.elapsed())));
        }
        if started.elapsed() > limit {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

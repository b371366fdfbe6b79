//! Test support: the real server on a random loopback port with a temp data dir, a small
//! HTTP client, and local imitations of providers.

#![allow(dead_code)]

pub mod binary;
pub mod fake;
pub mod raw;
pub mod ui;

pub mod oauth;

pub mod outbound;

pub mod inbound;

pub mod plugins;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tessera::Config;

#[allow(unused_imports)]
pub use fake::{FakeServer, Recorded};

pub struct TestServer {
    pub base: String,
    pub admin_token: String,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// The server's clock: the system's unless the test holds a manual one.
    pub clock: tessera::time::Clock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    /// Starts a server on `clock` (a manual clock the test moves instead of sleeping).
    pub fn start_with_clock(clock: tessera::time::Clock) -> TestServer {
        Self::start_on(clock, |_| {})
    }

    /// Starts a server after `configure` has adjusted its config.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(tessera::time::Clock::system(), configure)
    }

    fn start_on(clock: tessera::time::Clock, configure: impl FnOnce(&mut Config)) -> TestServer {
        // `TESSERA_TEST_LOG=warn cargo test …` shows the servers' logs while debugging.
        if let Ok(filter) = std::env::var("TESSERA_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::with_data_dir(dir.path().join("data"));
        config.allow_private_targets = true;
        // Tests poll and loop far faster than any client; rate-limit tests set their own.
        config.rate_limit_free = 1_000_000;
        config.rate_limit_pro = 1_000_000;
        config.rate_limit_enterprise = 1_000_000;
        config.rate_limit_session = 1_000_000;
        config.rate_limit_anonymous = 1_000_000;
        config.rate_limit_webhooks = 1_000_000;
        // A test that stops a server mid-attempt (a hanging receiver) need not wait long.
        config.shutdown_grace = Duration::from_secs(2);
        if let Some(url) = postgres_database() {
            config.database_url = Some(tessera::vault::Secret::new(url));
        }
        configure(&mut config);
        let report = tessera::setup::initialise(&config).expect("initialise data dir");
        if let Some(url) = &config.database_url {
            // The CLI commands a test runs on this data dir find the database there.
            let file = config.data_dir.join(tessera::config::CONFIG_FILE_NAME);
            std::fs::write(&file, format!("database_url = {:?}\n", url.expose())).expect("tessera.toml");
        }
        let admin_token = report.admin_token.expose().to_owned();
        Self::launch(config, dir, admin_token, clock)
    }

    /// Starts a server on a data dir prepared by the test (a restored backup) inside
    /// `dir`, whose platform token `admin_token` is known.
    pub fn start_on_data_dir(
        dir: tempfile::TempDir,
        data_dir: PathBuf,
        admin_token: String,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::with_data_dir(data_dir);
        config.allow_private_targets = true;
        config.rate_limit_anonymous = 1_000_000;
        config.rate_limit_platform = 1_000_000;
        configure(&mut config);
        Self::launch(config, dir, admin_token, tessera::time::Clock::system())
    }

    /// Starts a server on an existing, initialised data dir.
    pub fn restart(mut self) -> TestServer {
        self.stop_now();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let config = self.config.clone();
        let token = self.admin_token.clone();
        Self::launch(config, dir, token, self.clock.clone())
    }

    fn launch(
        mut config: Config,
        dir: tempfile::TempDir,
        admin_token: String,
        clock: tessera::time::Clock,
    ) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        config.listen = addr;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{addr}"));
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (run_config, run_clock) = (config.clone(), clock.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = ready_tx.send(());
                if let Err(e) = tessera::run_with_clock(run_config, run_clock, listener, async {
                    let _ = stop_rx.await;
                })
                .await
                {
                    eprintln!("server stopped with error: {e:#}");
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server thread started");
        let server = TestServer {
            base: format!("http://{addr}"),
            admin_token,
            config,
            dir,
            clock,
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let client = Client::new(&self.base, None);
        for _ in 0..200 {
            if client.get("/healthz").status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("server did not become healthy");
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// The server's database, on whichever backend it runs (for tests that look at or
    /// age rows directly).
    pub fn store(&self) -> tessera::store::Store {
        tessera::setup::open_store(&self.config).expect("open the server's store")
    }

    /// Everything the database keeps, as raw bytes, for tests that prove a secret is not
    /// stored in plaintext: on SQLite its files (the database and its log), on PostgreSQL
    /// every table's rows in COPY's binary form (text and bytea columns byte for byte).
    pub fn stored_bytes(&self) -> Vec<Vec<u8>> {
        let Some(url) = &self.config.database_url else {
            let file =
                |suffix: &str| std::fs::read(self.data_dir().join(format!("tessera.db{suffix}"))).unwrap_or_default();
            let files = vec![file(""), file("-wal")];
            assert!(!files[0].is_empty(), "no database file");
            return files;
        };
        postgres_stored_bytes(url.expose())
    }

    /// Statements on the server's database, each in a transaction of its own.
    pub fn db(&self) -> ServerDb {
        ServerDb { store: self.store() }
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn admin(&self) -> Client {
        Client::new(&self.base, Some(&self.admin_token))
    }

    pub fn anonymous(&self) -> Client {
        Client::new(&self.base, None)
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client::new(&self.base, Some(token))
    }

    /// Creates a tenant and returns its id.
    pub fn create_tenant(&self, slug: &str) -> String {
        let resp = self
            .admin()
            .post("/api/v1/tenants", &serde_json::json!({"name": slug, "slug": slug}));
        assert_eq!(resp.status, 201, "{}", resp.text);
        resp.json["id"].as_str().expect("tenant id").to_owned()
    }

    /// Another node on this server's PostgreSQL database: the same master key (its key
    /// file) and settings, a data dir of its own.
    pub fn join(&self) -> TestServer {
        let (dir, mut config) = self.node_config();
        if config.master_key.is_none() && config.master_key_file.is_none() {
            config.master_key_file = Some(self.config.default_master_key_path());
        }
        Self::launch(config, dir, self.admin_token.clone(), self.clock.clone())
    }

    /// Another node with a copy of this one's key file in its own data dir (as a node on
    /// another machine has): a version added here reaches it only when copied there.
    pub fn join_with_own_key_file(&self) -> TestServer {
        let (dir, mut config) = self.node_config();
        let key = (self.config.master_key_file.clone()).unwrap_or_else(|| self.config.default_master_key_path());
        config.master_key_file = None;
        std::fs::copy(key, config.default_master_key_path()).expect("copy the key file");
        Self::launch(config, dir, self.admin_token.clone(), self.clock.clone())
    }

    /// This server's settings for another node: a data dir of its own, no public URL.
    fn node_config(&self) -> (tempfile::TempDir, Config) {
        assert!(self.config.database_url.is_some(), "nodes share a PostgreSQL database");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = self.config.clone();
        config.data_dir = dir.path().join("data");
        std::fs::create_dir_all(&config.data_dir).expect("data dir");
        config.public_url = None;
        (dir, config)
    }

    /// Creates a tenant token with `scopes` and returns the plaintext.
    pub fn tenant_token(&self, tenant: &str, scopes: &[&str]) -> String {
        let resp = self.admin().post(
            &format!("/api/v1/tenants/{tenant}/tokens"),
            &serde_json::json!({"name": "test", "scopes": scopes}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text);
        resp.json["token"].as_str().expect("token").to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Writes a providers file into the server's temp dir (before start) and returns its path.
pub fn providers_file(dir: &Path, toml: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join("providers.toml");
    std::fs::write(&path, toml).expect("write providers file");
    path
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The problem document's `code`.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        // A fresh connection per request: a server may close a kept-alive connection after
        // answering without reading the body (403 before a large upload), and a pooled
        // connection then fails on reuse ("peer disconnected") — not what a test is about.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            agent,
            base: base.to_owned(),
            token: token.map(str::to_owned),
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None, &[])
    }

    pub fn delete(&self, path: &str) -> Response {
        self.send("DELETE", path, None, &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send(
            "POST",
            path,
            Some(body.to_string().into_bytes()),
            &[("content-type", "application/json")],
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.send(
            "PUT",
            path,
            Some(body.to_string().into_bytes()),
            &[("content-type", "application/json")],
        )
    }

    pub fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(
            "PATCH",
            path,
            Some(body.to_string().into_bytes()),
            &[("content-type", "application/json")],
        )
    }

    /// Any request with raw bytes and extra headers.
    pub fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>, headers: &[(&str, &str)]) -> Response {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let result = match body {
            Some(bytes) => self.agent.run(request.body(bytes).expect("request")),
            None => self.agent.run(request.body(()).expect("request")),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            text,
            json,
        }
    }
}

/// Sends one HTTP/1.1 request over a raw socket and reads the answer, tolerating a server
/// that answers (e.g. 413) and closes before the whole body is written — which an HTTP
/// client library reports as a broken pipe. Returns the status and the body text.
pub fn raw_request(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A fresh database on the shared throw-away cluster when this suite runs on PostgreSQL
/// (the `postgres` test binary).
pub fn postgres_database() -> Option<String> {
    crate::ON_POSTGRES
        .then(|| tessera::store::postgres::cluster::fresh_database().expect("throw-away PostgreSQL cluster"))
}

/// Every table's rows in COPY's binary form: text and bytea columns byte for byte.
pub fn postgres_stored_bytes(url: &str) -> Vec<Vec<u8>> {
    use std::io::Read as _;
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(!tables.is_empty(), "no tables");
    tables
        .iter()
        .map(|table| {
            let mut bytes = Vec::new();
            client
                .copy_out(&format!("COPY {table} TO STDOUT (FORMAT binary)"))
                .expect("copy out")
                .read_to_end(&mut bytes)
                .expect("read");
            bytes
        })
        .collect()
}

/// The server's database as a test sees it: `execute` and `query_row`, committed at once.
pub struct ServerDb {
    store: tessera::store::Store,
}

type StoreResult<T> = Result<T, tessera::store::StoreError>;

impl ServerDb {
    pub fn execute(&self, sql: &str, params: impl tessera::store::sql::Params) -> StoreResult<usize> {
        self.store.write(|db| db.execute(sql, params))
    }

    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl tessera::store::sql::Params,
        f: impl FnOnce(&tessera::store::sql::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.store.read(|db| db.query_row(sql, params, f))
    }

    pub fn query<T>(
        &self,
        sql: &str,
        params: impl tessera::store::sql::Params,
        f: impl FnMut(&tessera::store::sql::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.store.read(|db| db.query(sql, params, f))
    }
}

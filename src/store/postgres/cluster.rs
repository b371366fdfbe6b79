//! A throw-away PostgreSQL cluster on loopback, for the test suite and `tessera bench
//! --store postgres`: `initdb` into a temp dir, `postgres` on a free port, gone when the
//! process that started it exits.
//!
//! The server runs under a small shell that holds a pipe from this process and stops the
//! server when the pipe closes: an exit of this process, however abrupt, cannot leave a
//! server behind. PostgreSQL refuses to run as root, so as root it runs as the `postgres`
//! user that Debian's package creates.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running throw-away cluster. Dropping it stops the server and removes its files.
pub struct ThrowawayCluster {
    port: u16,
    keeper: Child,
}

impl std::fmt::Debug for ThrowawayCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrowawayCluster")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The superuser `initdb` creates; loopback connections are trusted.
const SUPERUSER: &str = "tessera";

/// Where PostgreSQL's server programs are: Debian keeps them out of `PATH`, under
/// `/usr/lib/postgresql/<major>/bin`; the newest major wins. `TESSERA_PG_BINDIR` overrides.
pub fn server_bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TESSERA_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl ThrowawayCluster {
    /// Starts a cluster and waits until it accepts connections (up to a minute). Its
    /// commits are not flushed to disk: for tests, whose files are thrown away.
    pub fn start() -> Result<ThrowawayCluster, String> {
        Self::start_with(false, None)
    }

    /// A cluster that flushes every commit to disk as a deployed one does (benchmarks).
    pub fn start_durable() -> Result<ThrowawayCluster, String> {
        Self::start_with(true, None)
    }

    /// A cluster that offers TLS with the PEM certificate and key at `cert` and `key`
    /// (both readable by the server's user; the server keeps copies of its own).
    pub fn start_with_tls(cert: &std::path::Path, key: &std::path::Path) -> Result<ThrowawayCluster, String> {
        let (cert, key) = (cert.to_str(), key.to_str());
        let (Some(cert), Some(key)) = (cert, key) else {
            return Err("certificate paths are not UTF-8".into());
        };
        Self::start_with(false, Some((cert, key)))
    }

    fn start_with(durable: bool, tls: Option<(&str, &str)>) -> Result<ThrowawayCluster, String> {
        let bindir = server_bindir().ok_or_else(|| {
            "PostgreSQL's server programs (initdb, postgres) were not found: install Debian's \
             `postgresql` package (`bash .ci/install-deps` does) or set TESSERA_PG_BINDIR"
                .to_string()
        })?;
        let bindir = bindir.to_str().ok_or("PostgreSQL's bindir is not UTF-8")?.to_string();
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        // fsync off for tests: their files are thrown away, so a power cut cannot matter.
        let flushing = if durable {
            ""
        } else {
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        // The server refuses a key file others can read: it gets a private copy.
        let (copy_tls, offer_tls) = match tls {
            Some((cert, key)) => (
                format!(
                    r#"cp {cert} "$dir/server.crt" && cp {key} "$dir/server.key" && chmod 600 "$dir/server.key""#,
                    cert = shell_quote(cert),
                    key = shell_quote(key)
                ),
                r#"-c ssl=on -c ssl_cert_file="$dir/server.crt" -c ssl_key_file="$dir/server.key""#,
            ),
            None => (String::from(":"), ""),
        };
        let script = format!(
            r#"set -e
dir=$(mktemp -d "${{TMPDIR:-/tmp}}/tessera-pg.XXXXXX")
trap 'rm -rf "$dir"' EXIT
{bin}/initdb -D "$dir/data" -U {user} --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {{ cat "$dir/initdb.log" >&2; exit 1; }}
{copy_tls}
{bin}/postgres -D "$dir/data" -p {port} -c listen_addresses=127.0.0.1 -k "$dir" \
  {flushing} {offer_tls} -c max_connections=400 \
  -c shared_buffers=128MB >"$dir/server.log" 2>&1 &
server=$!
cat >/dev/null || true
kill -INT "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
"#,
            bin = shell_quote(&bindir),
            user = SUPERUSER,
        );
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        let keeper = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the PostgreSQL cluster: {e}"))?;
        let mut cluster = ThrowawayCluster { port, keeper };
        cluster.wait_until_ready(Duration::from_secs(60))?;
        Ok(cluster)
    }

    fn wait_until_ready(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Ok(Some(status)) = self.keeper.try_wait() {
                let mut detail = String::new();
                if let Some(mut stderr) = self.keeper.stderr.take() {
                    use std::io::Read as _;
                    let _ = stderr.read_to_string(&mut detail);
                }
                return Err(format!("the PostgreSQL cluster exited ({status}): {}", detail.trim()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err("the PostgreSQL cluster did not accept connections within a minute".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("database name {name:?}: lowercase letters, digits and _ only"));
        }
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .map_err(|e| format!("connect to the cluster: {e}"))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .map_err(|e| format!("create database {name}: {e}"))?;
        Ok(self.url(name))
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        // Closing the pipe makes the keeper stop the server and remove the files.
        if let Some(mut stdin) = self.keeper.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.keeper.wait();
    }
}

/// A new, empty database on a cluster this process starts on first use and shares
/// (tests and benchmarks: one `initdb` per process, one database each).
pub fn fresh_database() -> Result<String, String> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static CLUSTER: OnceLock<Result<ThrowawayCluster, String>> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let cluster = CLUSTER
        .get_or_init(ThrowawayCluster::start)
        .as_ref()
        .map_err(Clone::clone)?;
    let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    cluster.create_database(&name)
}

#[cfg(test)]
pub fn test_database() -> String {
    fresh_database().expect("a database on the throw-away PostgreSQL cluster")
}

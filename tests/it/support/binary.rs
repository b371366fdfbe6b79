//! The real `tessera serve` binary as a child process, with its log captured, for tests
//! that must see what the binary writes (secret hygiene of logs, crashes).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub struct ServeProcess {
    pub child: Child,
    pub base: String,
    /// The first platform token, printed once by `serve` on a new data dir.
    pub admin_token: String,
    pub data_dir: PathBuf,
    /// The database when the suite runs on PostgreSQL.
    pub database_url: Option<String>,
    env: Vec<(String, String)>,
    log: Arc<Mutex<Vec<String>>>,
}

/// `tessera` with no inherited `TESSERA_*` variables.
pub fn tessera_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

impl ServeProcess {
    /// Starts `serve` on a new data dir with `env`, at debug log level, and waits until
    /// it listens.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> ServeProcess {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self::launch(data_dir, env, super::postgres_database(), None)
    }

    /// Another node on this one's PostgreSQL database (and master key), with its own data
    /// dir. Its log has no token: the database was initialised by the first node.
    pub fn join(&self, data_dir: &Path) -> ServeProcess {
        let url = self.database_url.clone().expect("nodes share a PostgreSQL database");
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "TESSERA_MASTER_KEY_FILE");
        let key = self.data_dir.join("master.key");
        env.push(("TESSERA_MASTER_KEY_FILE".into(), key.display().to_string()));
        Self::launch(data_dir, env, Some(url), Some(self.admin_token.clone()))
    }

    /// `kill -9`.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The same process again on the same data dir and database (after [`Self::crash`]).
    pub fn restart(&mut self) {
        self.crash();
        let next = Self::launch(
            &self.data_dir,
            self.env.clone(),
            self.database_url.clone(),
            Some(self.admin_token.clone()),
        );
        *self = next;
    }

    fn launch(
        data_dir: &Path,
        env: Vec<(String, String)>,
        database_url: Option<String>,
        admin_token: Option<String>,
    ) -> ServeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = tessera_command();
        cmd.arg("--data-dir").arg(data_dir).env("TESSERA_LOG", "debug");
        if let Some(url) = &database_url {
            cmd.env("TESSERA_DATABASE_URL", url);
        }
        for (key, value) in &env {
            cmd.env(key, value);
        }
        let mut child = cmd
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn tessera serve");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut token = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("tsr_") {
                    token = line.clone();
                }
                if line.contains("listening on") {
                    let _ = ready_tx.send(token.clone());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let printed = ready_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("serve did not start listening");
        let admin_token = admin_token.unwrap_or(printed);
        ServeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            admin_token,
            data_dir: data_dir.to_owned(),
            database_url,
            env,
            log,
        }
    }

    /// Everything the binary wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Kills the process; returns the database file and the WAL as they were on disk
    /// just before and after (on PostgreSQL: every table's rows), for scanning.
    pub fn kill_and_read_files(&mut self) -> Vec<(&'static str, Vec<u8>)> {
        if let Some(url) = &self.database_url {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return super::postgres_stored_bytes(url)
                .into_iter()
                .map(|rows| ("table rows", rows))
                .collect();
        }
        let wal = self.data_dir.join("tessera.db-wal");
        let live_wal = std::fs::read(&wal).unwrap_or_default();
        let _ = self.child.kill();
        let _ = self.child.wait();
        vec![
            (
                "database",
                std::fs::read(self.data_dir.join("tessera.db")).unwrap_or_default(),
            ),
            ("wal (live)", live_wal),
            ("wal (after)", std::fs::read(&wal).unwrap_or_default()),
        ]
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `needle` occurs anywhere in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

//! A webhook receiver that verifies deliveries with the reference Standard Webhooks
//! library: `tests/swh/receiver.js` run by node (dependencies from `.ci/install-deps`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Client;

pub struct Receiver {
    pub base: String,
    child: Child,
    client: Client,
}

impl Receiver {
    pub fn start() -> Receiver {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/swh");
        assert!(
            dir.join("node_modules/standardwebhooks").exists(),
            "the reference verifier is missing: run `npm ci --prefix tests/swh` (see .ci/install-deps)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("receiver.js"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node (is it installed?)");
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("receiver port line");
        let port = serde_json::from_str::<Value>(&line).expect("receiver port json")["port"]
            .as_u64()
            .expect("port");
        let base = format!("http://127.0.0.1:{port}");
        Receiver {
            client: Client::new(&base, None),
            base,
            child,
        }
    }

    /// Sets the secrets deliveries to `path` are verified with, and scripted answers
    /// (`{"status", "retry_after"?, "hang"?}`) given before the default 200.
    pub fn configure(&self, path: &str, secrets: &[&str], script: Value) {
        let resp = self.client.post(
            "/_control/configure",
            &json!({"path": path, "secrets": secrets, "script": script}),
        );
        assert_eq!(resp.status, 204, "{}", resp.text);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self, path: &str) -> Vec<Value> {
        let resp = self.client.get(&format!("/_control/log?path={path}"));
        resp.json.as_array().cloned().unwrap_or_default()
    }

    /// Waits until `path` has received at least `n` requests, returning them.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log(path);
            if log.len() >= n || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

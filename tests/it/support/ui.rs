//! Admin UI helpers: users created through the real CLI, and a cookie-carrying client.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::{Client, Response, TestServer};

/// Runs `tessera user create` against the server's data dir; returns its JSON line.
pub fn create_user(server: &TestServer, email: &str, password: &str, tenant: Option<&str>) -> Value {
    let mut args = vec!["create", "--email", email, "--password-stdin"];
    match tenant {
        Some(t) => args.extend(["--tenant", t]),
        None => args.push("--platform-admin"),
    };
    let out = user_cli(server, &args, password);
    assert!(
        out.status.success(),
        "user create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("json line")
}

/// Runs `tessera user ARGS` on the server's data dir with `stdin` piped in.
pub fn user_cli(server: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TESSERA_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--data-dir").arg(server.data_dir()).arg("user").args(args);
    if let Some(key) = &server.config.master_key {
        cmd.env("TESSERA_MASTER_KEY", key.expose());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tessera");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{stdin}\n").as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("tessera user")
}

/// A browser-like client: a session cookie and, once read, the CSRF token.
pub struct SessionClient {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    pub session: Value,
}

pub fn sign_in(server: &TestServer, email: &str, password: &str) -> Result<SessionClient, Response> {
    let resp = server
        .anonymous()
        .post("/api/v1/session", &json!({"email": email, "password": password}));
    if resp.status != 201 {
        return Err(resp);
    }
    let set_cookie = resp.header("set-cookie").expect("set-cookie").to_owned();
    let cookie = set_cookie.split(';').next().expect("cookie pair").to_owned();
    Ok(SessionClient {
        base: server.base.clone(),
        cookie,
        csrf: resp.json["csrf_token"].as_str().expect("csrf_token").to_owned(),
        session: resp.json,
    })
}

impl SessionClient {
    fn client(&self) -> Client {
        Client::new(&self.base, None)
    }

    /// A request with the cookie and, when `csrf`, the CSRF header.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>, csrf: bool) -> Response {
        let mut headers = vec![("cookie", self.cookie.as_str()), ("content-type", "application/json")];
        if csrf {
            headers.push(("x-csrf-token", self.csrf.as_str()));
        }
        self.client()
            .send(method, path, body.map(|b| b.to_string().into_bytes()), &headers)
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None, false)
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send("POST", path, Some(body), true)
    }
}

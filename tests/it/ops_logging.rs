//! Structured logs: `TESSERA_LOG_FORMAT=json` gives one JSON object per line, and a
//! request's lines carry its request id.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cli::tessera;
use crate::support::Client;

#[test]
fn json_logs_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tessera()
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("TESSERA_LOG_FORMAT", "json")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = Client::new(&base, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx.recv_timeout(Duration::from_secs(20)).expect("server did not start");
        if line.contains("listening on") {
            break;
        }
    }
    let resp = client.send(
        "GET",
        "/api/v1/tenants",
        None,
        &[("x-request-id", "req-ops-logging-42")],
    );
    assert_eq!(resp.status, 401);
    assert_eq!(resp.header("x-request-id"), Some("req-ops-logging-42"));

    let mut found = None;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains("req-ops-logging-42") => {
                found = Some(line);
                break;
            }
            Ok(line) if line.starts_with('{') => {
                serde_json::from_str::<serde_json::Value>(&line).expect("every log line is JSON");
            }
            _ => {}
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let line = found.expect("a log line for the request");
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    // The id comes from the request's span, which every line written while serving it carries.
    assert_eq!(entry["span"]["request_id"], "req-ops-logging-42", "{line}");
    assert_eq!(entry["fields"]["path"], "/api/v1/tenants");
    assert_eq!(entry["fields"]["status"], 401);
}

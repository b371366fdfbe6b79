//! Key rotation beside a running server, after a kill mid-way, and with an env key;
//! crypto-shredding of a deleted tenant.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::cli::{spawn_serve, tessera};
use crate::support::{Client, TestServer};

pub fn secret_for(slug: &str) -> String {
    format!("re_{slug}_rotation_secret_value")
}

pub fn seed(server: &TestServer, slugs: &[String]) {
    for slug in slugs {
        server.create_tenant(slug);
        let resp = server.admin().put(
            &format!("/api/v1/tenants/{slug}/connections/resend"),
            &json!({"credentials": {"api_key": secret_for(slug)}}),
        );
        assert_eq!(resp.status, 201, "{}", resp.text);
    }
}

pub fn assert_opens(client: &Client, slug: &str, expected: &str) {
    let shown = client.get(&format!("/api/v1/tenants/{slug}/connections/resend/credentials"));
    assert_eq!(shown.status, 200, "{slug}: {}", shown.text);
    assert_eq!(shown.json["credentials"]["api_key"], expected, "{slug}");
}

pub fn keys_status(data_dir: &std::path::Path) -> Value {
    let out = tessera()
        .arg("--data-dir")
        .arg(data_dir)
        .args(["keys", "status"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn version(status: &Value, v: u64) -> &Value {
    status["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["version"] == v)
        .unwrap_or_else(|| panic!("version {v} in {status}"))
}

fn rotate(data_dir: &std::path::Path) -> Value {
    rotate_with(data_dir, &[])
}

/// `tessera rotate-key ARGS...` on `data_dir`; its report.
pub fn rotate_with(data_dir: &std::path::Path, args: &[&str]) -> Value {
    let out = tessera()
        .arg("--data-dir")
        .arg(data_dir)
        .arg("rotate-key")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn rotation_beside_a_running_server_keeps_every_secret_open() {
    let server = TestServer::start();
    let slugs: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    seed(&server, &slugs);
    // A fresh process: no data key cached yet. Warm only the first three.
    let server = server.restart();
    let admin = server.admin();
    for slug in &slugs[..3] {
        assert_opens(&admin, slug, &secret_for(slug));
    }

    // Reads and writes keep going during the rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (stop, rounds, admin) = (stop.clone(), rounds.clone(), server.admin());
        std::thread::spawn(move || {
            let mut last = secret_for("t0");
            while !stop.load(Ordering::Relaxed) {
                let n = rounds.fetch_add(1, Ordering::Relaxed);
                assert_opens(&admin, "t1", &secret_for("t1"));
                assert_opens(&admin, "t0", &last);
                last = format!("re_t0_rewritten_{n:06}_value");
                let put = admin.put(
                    "/api/v1/tenants/t0/connections/resend",
                    &json!({"credentials": {"api_key": last}}),
                );
                assert_eq!(put.status, 200, "{}", put.text);
            }
            last
        })
    };
    while rounds.load(Ordering::Relaxed) < 2 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let report = rotate(server.data_dir());
    let before_stop = rounds.load(Ordering::Relaxed);
    while rounds.load(Ordering::Relaxed) < before_stop + 2 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let t0_secret = worker
        .join()
        .expect("reads and writes kept working during the rotation");
    assert_eq!(report["active_version"], 2, "{report}");
    assert_eq!(report["new_key"]["kind"], "file");
    assert_eq!(report["rewrapped"], 7, "six tenants and the platform: {report}");
    assert_eq!(report["retired_versions"], json!([1]));
    let key_file = std::fs::read_to_string(server.data_dir().join("master.key")).unwrap();
    assert!(
        key_file.contains("\n1:") && key_file.contains("\n2:"),
        "both versions kept in the file"
    );

    // The running server opens keys it had not cached (now under version 2).
    for slug in &slugs[3..] {
        assert_opens(&admin, slug, &secret_for(slug));
    }
    // A tenant created now gets a data key under the new version.
    seed(&server, &["late".to_owned()]);
    let status = keys_status(server.data_dir());
    assert_eq!(status["pending_rewrap"], 0, "{status}");
    assert_eq!(version(&status, 1)["data_keys"], 0);
    assert!(version(&status, 1)["retired_at"].is_string());
    assert_eq!(version(&status, 2)["data_keys"], 8);
    assert_eq!(version(&status, 2)["in_keyring"], true);

    // After a restart everything still opens.
    let server = server.restart();
    let admin = server.admin();
    for slug in &slugs[1..] {
        assert_opens(&admin, slug, &secret_for(slug));
    }
    assert_opens(&admin, "t0", &t0_secret);
    assert_opens(&admin, "late", &secret_for("late"));
}

#[test]
fn a_rotation_killed_mid_way_resumes_and_finishes() {
    let server = TestServer::start();
    let slugs: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    seed(&server, &slugs);
    let mut child = tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["rotate-key", "--throttle-ms", "400"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "rotate-key ended early");
        if line.contains("2/9") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: no chance to tidy up
    child.wait().unwrap();

    let half = keys_status(server.data_dir());
    assert_eq!(half["active_version"], 2, "{half}");
    let pending = half["pending_rewrap"].as_i64().unwrap();
    assert!((1..=7).contains(&pending), "{half}");
    assert!(version(&half, 1)["retired_at"].is_null(), "still in use: {half}");
    // Meanwhile the server opens both halves.
    for slug in &slugs {
        assert_opens(&server.admin(), slug, &secret_for(slug));
    }

    let report = rotate(server.data_dir());
    assert_eq!(report["new_key"]["kind"], "resumed", "{report}");
    assert_eq!(report["active_version"], 2);
    assert_eq!(report["rewrapped"].as_i64(), Some(pending));
    assert_eq!(report["retired_versions"], json!([1]));
    let done = keys_status(server.data_dir());
    assert_eq!(done["pending_rewrap"], 0);
    assert_eq!(version(&done, 2)["data_keys"], 9);
    let key_file = std::fs::read_to_string(server.data_dir().join("master.key")).unwrap();
    assert!(!key_file.contains("\n3:"), "resuming adds no version");

    let server = server.restart();
    for slug in &slugs {
        assert_opens(&server.admin(), slug, &secret_for(slug));
    }
    // A further rotation moves on to version 3.
    let next = rotate(server.data_dir());
    assert_eq!(next["active_version"], 3);
    assert_eq!(next["retired_versions"], json!([2]));
}

#[test]
fn with_an_env_key_rotation_prints_the_new_value_instead_of_writing_a_file() {
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = tessera()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_MASTER_KEY", KEY)
        .arg("init")
        .output()
        .unwrap();
    assert!(init.status.success());
    let token: Value = serde_json::from_slice(&init.stdout).unwrap();
    let token = token["admin_token"].as_str().unwrap().to_owned();
    let (mut child, base, _) = spawn_serve(tessera().arg("--data-dir").arg(&data).env("TESSERA_MASTER_KEY", KEY));
    let admin = Client::new(&base, Some(&token));
    assert_eq!(admin.post("/api/v1/tenants", &json!({"name": "envy"})).status, 201);
    let put = admin.put(
        "/api/v1/tenants/envy/connections/resend",
        &json!({"credentials": {"api_key": secret_for("envy")}}),
    );
    assert_eq!(put.status, 201);
    child.kill().unwrap();
    child.wait().unwrap();

    let out = tessera()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_MASTER_KEY", KEY)
        .arg("rotate-key")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!data.join("master.key").exists());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("TESSERA_MASTER_KEY="))
        .expect("new value printed")
        .to_owned();
    assert!(value.starts_with(&format!("1:{KEY},2:")), "{value}");
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["new_key"]["kind"], "environment");
    assert!(!report.to_string().contains(KEY), "the report holds no key");

    // The old value alone no longer opens the database; the new one does.
    let old = tessera()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_MASTER_KEY", KEY)
        .args(["token", "create", "--platform", "--name", "x"])
        .output()
        .unwrap();
    assert!(!old.status.success());
    assert!(String::from_utf8_lossy(&old.stderr).contains("version 2"));
    let (mut child, base, _) = spawn_serve(tessera().arg("--data-dir").arg(&data).env("TESSERA_MASTER_KEY", &value));
    assert_opens(&Client::new(&base, Some(&token)), "envy", &secret_for("envy"));
    child.kill().unwrap();
    child.wait().unwrap();
}

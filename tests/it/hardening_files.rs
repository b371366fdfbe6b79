//! The data dir on disk: the database and its side files readable by the owner only, and
//! a start that is going to fail never binding the port or saying it listens.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::binary::{ServeProcess, tessera_command};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_database_its_wal_and_backups_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut serve = ServeProcess::start(&data, &[]);
    // A write makes sure the WAL and shared-memory files exist.
    let resp = crate::support::Client::new(&serve.base, Some(&serve.admin_token))
        .post("/api/v1/tenants", &serde_json::json!({"name": "acme"}));
    assert_eq!(resp.status, 201, "{}", resp.text);
    for file in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let backup = dir.path().join("copy.db");
    let out = tessera_command()
        .arg("--data-dir")
        .arg(&data)
        .arg("backup")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&backup), 0o600, "backup");
    serve.kill_and_read_files();

    // A database left readable by others (an older version, a careless copy) is made
    // private again at the next start.
    for file in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
        let path = data.join(file);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let _again = ServeProcess::start(&data, &[]);
    assert_eq!(mode(&data.join("tessera.db")), 0o600);
}

#[test]
fn a_wrong_master_key_is_refused_before_anything_listens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = tessera_command()
        .arg("--data-dir")
        .arg(&data)
        .arg("init")
        .output()
        .unwrap();
    assert!(init.status.success());
    assert_eq!(
        mode(&data.join("tessera.db")),
        0o600,
        "init creates the database private"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tessera_command()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .env("TESSERA_LOG", "debug")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_deadline(child, Duration::from_secs(20));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master key does not match"), "{err}");
    assert!(
        !err.contains("listening"),
        "a refused start said it was listening: {err}"
    );
}

fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = std::time::Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the process kept running");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

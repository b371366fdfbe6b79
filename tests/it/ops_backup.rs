//! `tessera backup` while the server writes, then a restore into a new data dir.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;

use crate::cli::{spawn_serve, tessera};
use crate::support::{Client, TestServer};

fn secret_for(i: usize) -> String {
    format!("re_backup_canary_{i:04}_plaintext")
}

#[test]
fn backup_while_writing_restores_into_a_new_data_dir_without_plaintext() {
    let server = TestServer::start();
    for i in 0..3 {
        let slug = format!("before{i}");
        server.create_tenant(&slug);
        let resp = server.admin().put(
            &format!("/api/v1/tenants/{slug}/connections/resend"),
            &json!({"credentials": {"api_key": secret_for(i)}}),
        );
        assert!(resp.status == 201, "{}", resp.text);
    }

    // A writer keeps creating tenants and sealing credentials during the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written, admin) = (stop.clone(), written.clone(), server.admin());
        std::thread::spawn(move || {
            let mut i = 100;
            while !stop.load(Ordering::Relaxed) {
                let slug = format!("during{i}");
                let created = admin.post("/api/v1/tenants", &json!({"name": slug, "slug": slug}));
                assert_eq!(created.status, 201, "{}", created.text);
                let put = admin.put(
                    &format!("/api/v1/tenants/{slug}/connections/resend"),
                    &json!({"credentials": {"api_key": secret_for(i)}}),
                );
                assert_eq!(put.status, 201, "{}", put.text);
                written.store(i - 99, Ordering::Relaxed);
                i += 1;
            }
            i
        })
    };
    while written.load(Ordering::Relaxed) < 3 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let backup_file = server.dir.path().join("backup.db");
    let out = tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .arg("backup")
        .arg(&backup_file)
        .output()
        .unwrap();
    let written_at_backup = written.load(Ordering::Relaxed);
    while written.load(Ordering::Relaxed) < written_at_backup + 2 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let last = writer.join().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["tenants"].as_i64().unwrap() >= 6, "{report}");
    // One snapshot: a tenant may be copied without the connection its next request adds.
    let (tenants, connections) = (
        report["tenants"].as_i64().unwrap(),
        report["connections"].as_i64().unwrap(),
    );
    assert!(tenants - connections <= 1 && connections >= 6, "{report}");

    // A second backup to the same file is refused and leaves it alone.
    let again = tessera()
        .arg("--data-dir")
        .arg(server.data_dir())
        .arg("backup")
        .arg(&backup_file)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // No plaintext secret, master key or token in the copy.
    let bytes = std::fs::read(&backup_file).unwrap();
    let haystack = String::from_utf8_lossy(&bytes);
    for i in (0..3).chain(100..last) {
        assert!(!haystack.contains(&secret_for(i)), "plaintext secret {i} in the backup");
    }
    assert!(!haystack.contains("re_backup_canary"));
    assert!(!haystack.contains(&server.admin_token));
    let key_file = std::fs::read_to_string(server.data_dir().join("master.key")).unwrap();
    for line in key_file.lines().filter(|l| !l.starts_with('#')) {
        let key = line.split_once(':').unwrap().1;
        assert!(!haystack.contains(key), "master key in the backup");
    }

    // Restore: the backup becomes the database of a new data dir, with the same key file.
    let restore = tempfile::tempdir().unwrap();
    let data = restore.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&backup_file, data.join("tessera.db")).unwrap();
    std::fs::copy(server.data_dir().join("master.key"), data.join("master.key")).unwrap();
    let admin_token = server.admin_token.clone();
    drop(server);
    let (mut child, base, _) = spawn_serve(tessera().arg("--data-dir").arg(&data));
    let admin = Client::new(&base, Some(&admin_token));
    for i in 0..3 {
        let shown = admin.get(&format!("/api/v1/tenants/before{i}/connections/resend/credentials"));
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert_eq!(shown.json["credentials"]["api_key"], secret_for(i));
    }
    let shown = admin.get("/api/v1/tenants/during100/connections/resend/credentials");
    assert_eq!(shown.json["credentials"]["api_key"], secret_for(100));
    // The restored server accepts writes.
    let put = admin.put(
        "/api/v1/tenants/before0/connections/resend",
        &json!({"credentials": {"api_key": "re_after_restore_000000"}}),
    );
    assert_eq!(put.status, 200, "{}", put.text);
    child.kill().unwrap();
    child.wait().unwrap();
}

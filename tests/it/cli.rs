//! The binary itself: init, serve, token create, wrong keys.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::Client;

pub fn tessera() -> Command {
    crate::support::binary::tessera_command()
}

#[test]
fn init_prints_one_json_line_and_refuses_to_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = tessera().arg("--data-dir").arg(&data).arg("init").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(line["admin_token"].as_str().unwrap().starts_with("tsr_"));
    assert_eq!(line["data_dir"], data.display().to_string());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key_before = std::fs::read(data.join("master.key")).unwrap();
    let db_before = std::fs::read(data.join("tessera.db")).unwrap();
    let again = tessera().arg("--data-dir").arg(&data).arg("init").output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));
    assert!(again.stdout.is_empty());
    assert_eq!(std::fs::read(data.join("master.key")).unwrap(), key_before);
    assert_eq!(std::fs::read(data.join("tessera.db")).unwrap(), db_before);
}

#[test]
fn init_with_env_key_writes_no_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera()
        .env("TESSERA_DATA_DIR", dir.path())
        .env("TESSERA_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join("master.key").exists());
}

/// Starts `tessera serve` and waits for it to listen; returns the child and base URL.
pub fn spawn_serve(cmd: &mut Command) -> (std::process::Child, String, Vec<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = cmd
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stderr);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("serve exited early: {lines:?}");
        }
        let done = line.contains("listening on");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, format!("http://127.0.0.1:{port}"), lines)
}

#[test]
fn serve_initialises_prints_the_first_token_once_and_token_create_works() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, base, lines) = spawn_serve(tessera().arg("--data-dir").arg(&data));
    let token = lines
        .iter()
        .find(|l| l.starts_with("tsr_"))
        .expect("first token printed")
        .clone();
    let client = Client::new(&base, Some(&token));
    assert_eq!(client.get("/api/v1/tenants").status, 200);

    let out = tessera()
        .arg("--data-dir")
        .arg(&data)
        .args(["token", "create", "--platform", "--name", "ops"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let second = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(second.starts_with("tsr_"));
    assert_eq!(Client::new(&base, Some(&second)).get("/api/v1/tenants").status, 200);
    child.kill().unwrap();
    child.wait().unwrap();

    // A second start prints no token.
    let (mut child, _, lines) = spawn_serve(tessera().arg("--data-dir").arg(&data));
    assert!(!lines.iter().any(|l| l.contains("tsr_")), "{lines:?}");
    child.kill().unwrap();
    child.wait().unwrap();

    let tenant_only = tessera()
        .arg("--data-dir")
        .arg(&data)
        .args(["token", "create", "--name", "x"])
        .output()
        .unwrap();
    assert!(!tenant_only.status.success());
}

#[test]
fn a_wrong_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        tessera()
            .arg("--data-dir")
            .arg(&data)
            .arg("init")
            .output()
            .unwrap()
            .status
            .success()
    );
    let mut child = tessera()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve with a wrong key kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("master key does not match"), "{err}");

    let garbage = tessera()
        .arg("--data-dir")
        .arg(&data)
        .env("TESSERA_MASTER_KEY", "short")
        .args(["token", "create", "--platform", "--name", "x"])
        .output()
        .unwrap();
    assert!(!garbage.status.success());
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("master key"));
}

#[test]
fn unknown_tessera_env_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera()
        .env("TESSERA_DATA_DIR", dir.path())
        .env("TESSERA_PUBLC_URL", "typo")
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TESSERA_PUBLC_URL"));
}

#[test]
fn serve_is_quiet_and_prints_the_address_it_really_listens_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = tessera()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut lines = Vec::new();
    let listening = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited early: {lines:?}"
        );
        lines.push(line.trim_end().to_owned());
        if line.contains("listening on") {
            break line;
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    // `tessera: listening on http://127.0.0.1:PORT (public URL http://127.0.0.1:PORT)`
    let url = listening
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(!url.ends_with(":0"), "{listening}");
    assert!(listening.contains(&format!("(public URL {url})")), "{listening}");
    let token = lines
        .iter()
        .find(|l| l.starts_with("tsr_"))
        .expect("first token")
        .clone();
    let tenant = Client::new(&url, Some(&token)).post("/api/v1/tenants", &serde_json::json!({"name": "acme"}));
    assert_eq!(tenant.status, 201, "{}", tenant.text);
    let info = Client::new(&url, Some(&token)).get("/api/v1/tenants/acme/webhooks/poshvip");
    assert_eq!(
        info.json["webhook_url"],
        format!("{url}/webhooks/poshvip/acme"),
        "{}",
        info.text
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !lines.iter().any(|l| l.contains("migration") || l.contains('\u{1b}')),
        "no migration lines or colour codes by default: {lines:?}"
    );

    // At debug level the migration runner says what it does.
    let out = tessera()
        .arg("--data-dir")
        .arg(dir.path().join("other"))
        .env("TESSERA_LOG", "debug")
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("applying migration"));
}

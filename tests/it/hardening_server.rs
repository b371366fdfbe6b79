//! The listener against slow, idle and too many clients: each is closed (or kept waiting)
//! within the configured bounds, and well-behaved clients are served meanwhile.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::TestServer;
use crate::support::raw::{KeepAlive, read_response, time_until_closed};

fn server(settings: &[(&str, &str)]) -> TestServer {
    let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    TestServer::start_with(move |config| {
        for (name, value) in &settings {
            assert!(config.apply(name, value).unwrap(), "unknown setting {name}");
        }
    })
}

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
}

/// Writes `bytes` one at a time, `gap` apart, until the server closes the connection
/// (then `true`) or all are written.
fn trickle(stream: &mut TcpStream, bytes: &[u8], gap: Duration) -> bool {
    for byte in bytes {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            return true;
        }
        std::thread::sleep(gap);
    }
    false
}

#[test]
fn a_client_trickling_its_headers_is_closed_after_the_header_timeout() {
    let server = server(&[("header_read_timeout_secs", "2"), ("idle_timeout_secs", "2")]);
    let mut slow = connect(&server);
    let mut writer = slow.try_clone().unwrap();
    // A header line that never ends, one byte every 300 ms (the classic slowloris).
    let feeder = std::thread::spawn(move || {
        let _ = writer.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        trickle(&mut writer, &[b'a'; 200], Duration::from_millis(300))
    });
    let closed = time_until_closed(&mut slow, Duration::from_secs(15));
    let closed = closed.expect("a slow-header client was never closed");
    assert!(closed < Duration::from_secs(8), "closed only after {closed:?}");
    let _ = slow.shutdown(std::net::Shutdown::Both);
    let _ = feeder.join();
    // Meanwhile and afterwards, others are served.
    assert_eq!(server.anonymous().get("/healthz").status, 200);
}

#[test]
fn a_client_trickling_its_body_is_closed_after_the_body_timeout() {
    let server = server(&[("request_body_timeout_secs", "2")]);
    let mut slow = connect(&server);
    let mut writer = slow.try_clone().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = writer.write_all(
            b"POST /webhooks/poshvip/acme HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n",
        );
        // 500 bytes at one per 100 ms would take 50 s; each byte arrives well within any
        // per-read timeout, so only a deadline for the whole body stops it.
        trickle(&mut writer, &[b' '; 500], Duration::from_millis(100))
    });
    let closed = time_until_closed(&mut slow, Duration::from_secs(20)).expect("a trickling body was never cut off");
    assert!(closed < Duration::from_secs(10), "closed only after {closed:?}");
    let _ = slow.shutdown(std::net::Shutdown::Both);
    let _ = feeder.join();
    assert_eq!(server.anonymous().get("/healthz").status, 200);
}

#[test]
fn a_slow_body_gets_408_before_the_close() {
    let server = server(&[("request_body_timeout_secs", "1")]);
    let stream = connect(&server);
    let mut writer = stream.try_clone().unwrap();
    writer
        .write_all(b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{")
        .unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream);
    let (status, body) = read_response(&mut reader).expect("an answer before the close");
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("request_timeout"), "{body}");
}

#[test]
fn idle_connections_are_closed_new_and_kept_alive() {
    let server = server(&[("header_read_timeout_secs", "3"), ("idle_timeout_secs", "1")]);
    // A connection that never sends anything.
    let mut silent = connect(&server);
    let closed = time_until_closed(&mut silent, Duration::from_secs(15)).expect("a silent connection stayed open");
    assert!(closed < Duration::from_secs(6), "closed only after {closed:?}");
    // A kept-alive connection, idle after its first answer.
    let mut kept = KeepAlive::connect(&server.base);
    assert_eq!(kept.request("GET", "/healthz", &[], b"").map(|r| r.0), Some(200));
    assert_eq!(
        kept.request("GET", "/healthz", &[], b"").map(|r| r.0),
        Some(200),
        "keep-alive works"
    );
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        kept.request("GET", "/healthz", &[], b""),
        None,
        "an idle kept-alive connection stayed open"
    );
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = server(&[
        ("max_connections", "3"),
        ("header_read_timeout_secs", "60"),
        ("idle_timeout_secs", "60"),
    ]);
    // Three kept-alive connections, each accepted (it answered) before the fourth comes.
    let mut kept: Vec<KeepAlive> = Vec::new();
    for _ in 0..3 {
        let mut conn = KeepAlive::connect(&server.base);
        assert_eq!(conn.request("GET", "/healthz", &[], b"").map(|r| r.0), Some(200));
        kept.push(conn);
    }
    let mut fourth = connect(&server);
    fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    fourth.set_read_timeout(Some(Duration::from_millis(800))).unwrap();
    let mut reader = BufReader::new(fourth.try_clone().unwrap());
    assert!(
        read_response(&mut reader).is_none(),
        "a fourth connection was served while three were open"
    );
    // One of the three goes away: the fourth is served.
    drop(kept.pop());
    fourth.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let (status, _) = read_response(&mut reader).expect("the waiting connection was served");
    assert_eq!(status, 200);
}

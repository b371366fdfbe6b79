use std::collections::HashMap;

use super::*;

/// Names resolve only to what the table says; anything else is "not found".
struct TableResolver(HashMap<&'static str, Vec<IpAddr>>);

impl NameResolver for TableResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        self.0
            .get(host)
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
    }
}

fn names() -> TableResolver {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    TableResolver(HashMap::from([
        ("public.example", vec![ip("93.184.215.14")]),
        ("public6.example", vec![ip("2606:2800:21f:cb07:6820:80da:af6b:8b2c")]),
        ("loop.example", vec![ip("127.0.0.1")]),
        ("metadata.example", vec![ip("169.254.169.254")]),
        ("lan.example", vec![ip("192.168.1.20")]),
        ("cgnat.example", vec![ip("100.100.0.1")]),
        ("ula.example", vec![ip("fd12:3456::1")]),
        ("mapped.example", vec![ip("::ffff:10.0.0.1")]),
        // One good and one bad answer: refused, since the connection could use either.
        ("mixed.example", vec![ip("93.184.215.14"), ip("10.1.2.3")]),
    ]))
}

#[test]
fn refuses_internal_targets_literal_numeric_and_by_name() {
    let policy = TargetPolicy::default();
    let refused = [
        "http://127.0.0.1/hook",
        "http://127.1/hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://0177.0.0.1/hook",
        "http://0/hook",
        "http://0.0.0.0/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://172.31.255.255/hook",
        "http://192.168.0.1/hook",
        "http://100.64.0.1/hook",
        "http://100.127.255.254/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/hook",
        "http://255.255.255.255/hook",
        "http://192.0.2.1/hook",
        "http://198.18.0.1/hook",
        "http://[::1]/hook",
        "http://[::]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[ff02::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:7f00:1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://[64:ff9b::a00:1]/hook",
        "http://[64:ff9b::127.0.0.1]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[2002:c0a8:101::1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[2001:db8::1]/hook",
        "https://loop.example/hook",
        "https://metadata.example/hook",
        "https://lan.example/hook",
        "https://cgnat.example/hook",
        "https://ula.example/hook",
        "https://mapped.example/hook",
        "https://mixed.example/hook",
    ];
    for url in refused {
        match check_target(url, &policy, &names()) {
            Err(TargetError::Refused(refusal)) => {
                assert!(refusal.to_string().contains(&refusal.ip.to_string()), "{refusal}")
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn allows_public_targets() {
    let policy = TargetPolicy::default();
    for url in [
        "https://public.example/hook",
        "https://public6.example:8443/x?y=1",
        "http://93.184.215.14/hook",
        "http://[2606:4700::1111]/hook",
        "http://[::ffff:93.184.215.14]/hook",
        "http://100.63.255.255/",
        "http://100.128.0.1/",
        "http://172.32.0.1/",
    ] {
        assert!(check_target(url, &policy, &names()).is_ok(), "{url}");
    }
}

#[test]
fn numeric_hosts_are_normalised_before_anything_else() {
    for (raw, normal) in [
        ("http://0x7f000001/a", "http://127.0.0.1/a"),
        ("http://2130706433/a", "http://127.0.0.1/a"),
        ("http://0177.0.0.1/a", "http://127.0.0.1/a"),
        ("http://127.1/a", "http://127.0.0.1/a"),
        ("HTTP://Public.Example/a", "http://public.example/a"),
    ] {
        assert_eq!(parse_target(raw).unwrap().as_str(), normal);
    }
}

#[test]
fn rejects_bad_shapes_clearly() {
    let policy = TargetPolicy::default();
    assert_eq!(
        check_target("ftp://public.example/", &policy, &names()),
        Err(TargetError::Scheme)
    );
    assert_eq!(
        check_target("file:///etc/passwd", &policy, &names()),
        Err(TargetError::Scheme)
    );
    assert_eq!(
        check_target("https://user:pw@public.example/", &policy, &names()),
        Err(TargetError::Credentials)
    );
    assert!(matches!(
        check_target("not a url", &policy, &names()),
        Err(TargetError::Invalid(_))
    ));
    assert!(matches!(
        check_target("https://nowhere.example/", &policy, &names()),
        Err(TargetError::Unresolvable(_))
    ));
}

#[test]
fn allow_list_and_allow_private_open_the_guard() {
    let allowed = crate::config::parse::networks("10.1.0.0/16, fd12:3456::/32, 127.0.0.1").unwrap();
    let policy = TargetPolicy::new(false, allowed);
    assert!(check_target("http://10.1.2.3/", &policy, &names()).is_ok());
    assert!(check_target("http://10.2.0.1/", &policy, &names()).is_err());
    assert!(check_target("https://ula.example/", &policy, &names()).is_ok());
    assert!(check_target("https://loop.example/", &policy, &names()).is_ok());
    assert!(check_target("http://127.0.0.2/", &policy, &names()).is_err());
    let open = TargetPolicy::new(true, Vec::new());
    assert!(check_target("http://169.254.169.254/", &open, &names()).is_ok());
}

#[test]
fn the_guarded_agent_refuses_at_connect_time() {
    // A name that resolved to a public address when the endpoint was saved but resolves
    // to loopback now (DNS rebinding): the agent's resolver refuses before connecting.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let agent = crate::net::guarded_agent_with(
        std::time::Duration::from_secs(2),
        &TargetPolicy::default(),
        Arc::new(names()),
    );
    for url in [
        format!("http://loop.example:{port}/"),
        format!("http://127.0.0.1:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let err = agent.post(&url).send("{}").unwrap_err();
        let described = crate::net::describe_transport_error(&err);
        assert!(described.starts_with("refused: "), "{url}: {described}");
        assert!(described.contains("is an internal address"), "{url}: {described}");
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "no connection may have been made");
}

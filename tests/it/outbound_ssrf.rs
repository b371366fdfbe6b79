//! The SSRF guard on a server with private targets closed (the test default opens them).

use serde_json::json;

use crate::outbound_delivery::{create_endpoint, deliveries};
use crate::support::TestServer;
use crate::support::outbound::{Receiver, eventually};

const BASE: &str = "/api/v1/tenants/alpha/webhook-endpoints";

#[test]
fn internal_targets_are_refused_when_creating_or_patching() {
    let server = TestServer::start_with(|c| c.allow_private_targets = false);
    server.create_tenant("alpha");
    let admin = server.admin();
    let refused = [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://LOCALHOST./hook",
        "http://0x7f000001/hook",
        "http://2130706433/hook",
        "http://0177.0.0.1/hook",
        "http://127.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:a9fe:a9fe::]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        "http://224.0.0.1/hook",
    ];
    for url in refused {
        let r = admin.post(BASE, &json!({"url": url, "events": ["*"]}));
        assert_eq!(r.status, 400, "{url}: {}", r.text);
        assert_eq!(r.json["errors"][0]["field"], "url", "{url}");
        let message = r.json["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("internal address") || message.contains("does not resolve"),
            "{url}: {message}"
        );
    }
    assert_eq!(admin.get(BASE).json["items"].as_array().unwrap().len(), 0);

    // Patching an existing endpoint to an internal URL is refused the same way.
    let server2 = TestServer::start_with(|c| {
        c.allow_private_targets = false;
        c.allowed_target_cidrs = vec!["127.0.0.1/32".parse().unwrap()];
    });
    server2.create_tenant("alpha");
    let admin2 = server2.admin();
    let ep = admin2.post(BASE, &json!({"url": "http://127.0.0.1:9/ok", "events": ["*"]}));
    assert_eq!(ep.status, 201, "{}", ep.text);
    let id = ep.json["id"].as_str().unwrap();
    let r = admin2.patch(&format!("{BASE}/{id}"), &json!({"url": "http://127.0.0.2:9/"}));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("internal address"), "{}", r.text);
    assert_eq!(admin2.get(&format!("{BASE}/{id}")).json["url"], "http://127.0.0.1:9/ok");
}

#[test]
fn the_allow_list_opens_a_range_and_connect_time_refusals_show_in_history() {
    let receiver = Receiver::start();
    let server = TestServer::start_with(|c| {
        c.allow_private_targets = false;
        c.allowed_target_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
    });
    server.create_tenant("alpha");
    let admin = server.admin();
    let ep = create_endpoint(
        &admin,
        "alpha",
        json!({"url": receiver.url("/allowed"), "events": ["*"]}),
    );
    receiver.configure("/allowed", &[ep["secret"].as_str().unwrap()], json!([]));
    let id = ep["id"].as_str().unwrap().to_owned();
    assert_eq!(admin.post(&format!("{BASE}/{id}/test"), &json!({})).status, 202);
    let log = receiver.wait_for("/allowed", 1, std::time::Duration::from_secs(15));
    assert_eq!(log[0]["verified"], json!([true]));

    // The operator closes the range: the stored endpoint is refused at connect time,
    // nothing reaches the receiver, and the delivery history says why.
    let mut server = server;
    server.config.allowed_target_cidrs = Vec::new();
    let server = server.restart();
    let admin = server.admin();
    assert_eq!(admin.post(&format!("{BASE}/{id}/test"), &json!({})).status, 202);
    let refused = eventually("the refusal to be recorded", std::time::Duration::from_secs(15), || {
        deliveries(&admin, "alpha", &id)
            .into_iter()
            .find(|d| d["status"] != "succeeded" && d["status"] != "pending" && d["attempt"] == 1)
    });
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.starts_with("refused: 127.0.0.1 is an internal address"),
        "{error}"
    );
    assert!(refused["response_status"].is_null());
    assert_eq!(receiver.log("/allowed").len(), 1);
}

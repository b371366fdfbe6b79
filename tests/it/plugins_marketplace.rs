//! The marketplace API: publishing with validation, upgrades, limits, removal, scopes,
//! isolation between tenants, and secrets in plugin configuration.

use serde_json::json;

use crate::support::TestServer;
use crate::support::inbound::items;
use crate::support::plugins::{calendly_package, install, publish};

#[test]
fn publishing_validates_and_names_fields_and_lines() {
    let server = TestServer::start();
    let bad = publish(
        &server,
        &json!({
            "manifest": {"id": "Bad", "name": "x", "version": "one", "description": "d",
                "config_fields": [{"name": "k", "label": "K"}, {"name": "k", "label": "K"}]},
            "providers": "[providers.thing]\nname = \"Thing\"\ncategory = crm\n",
            "script": "function onInbound() {\n  return (;\n}",
        }),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    let fields: Vec<&str> = bad.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "manifest.id",
            "manifest.version",
            "manifest.config_fields[1].name",
            "providers",
            "script"
        ]
    );
    let messages = bad.json["errors"].to_string();
    assert!(messages.contains("line 3"), "{messages}");
    assert!(messages.contains("line 2: SyntaxError"), "{messages}");

    let unknown = publish(
        &server,
        &json!({"manifest": {"id": "a", "name": "a", "version": "1.0.0", "description": "d", "colour": "red"}}),
    );
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json["errors"][0]["field"], "manifest.colour");

    // A provider key another plugin defines is refused.
    let clash = publish(&server, &calendly_package("calendly", "9.0.0"));
    assert_eq!(clash.status, 409, "built-in id: {}", clash.text);
    let mut package = calendly_package("other-cal", "1.0.0");
    package["providers"] = json!(
        package["providers"]
            .as_str()
            .unwrap()
            .replace("[providers.other-cal", "[providers.calendly")
    );
    let taken = publish(&server, &package);
    assert_eq!(taken.status, 400, "{}", taken.text);
    assert!(
        taken.text.contains("already defined by plugin `calendly`"),
        "{}",
        taken.text
    );
}

#[test]
fn versions_upgrade_size_is_limited_and_removal_is_guarded() {
    let server = TestServer::start_with(|c| c.plugin_max_size_bytes = 8 * 1024);
    server.create_tenant("acme");
    let admin = server.admin();
    assert_eq!(publish(&server, &calendly_package("cal", "1.0.0")).status, 201);
    assert_eq!(publish(&server, &calendly_package("cal", "1.0.0")).status, 409);
    let upgraded = publish(&server, &calendly_package("cal", "1.1.0"));
    assert_eq!(upgraded.status, 200, "{}", upgraded.text);
    assert_eq!(upgraded.json["version"], "1.1.0");
    assert_eq!(publish(&server, &calendly_package("cal", "1.0.9")).status, 409);
    let detail = admin.get("/api/v1/plugins/cal");
    assert_eq!(detail.json["versions"].as_array().unwrap().len(), 2);
    assert!(detail.json["package"]["script"].as_str().unwrap().contains("onInbound"));

    let mut big = calendly_package("big", "1.0.0");
    big["script"] = json!(format!("{}\n// {}", big["script"].as_str().unwrap(), "x".repeat(9000)));
    let too_big = publish(&server, &big);
    assert_eq!(too_big.status, 413, "{}", too_big.text);
    assert!(too_big.text.contains("plugin_max_size_bytes"));

    assert_eq!(install(&admin, "acme", "cal", json!({})).status, 201);
    assert_eq!(install(&admin, "acme", "cal", json!({})).status, 409);
    assert_eq!(admin.delete("/api/v1/plugins/cal").status, 409);
    assert_eq!(admin.delete("/api/v1/plugins/calendly").status, 409, "built-ins stay");
    assert_eq!(admin.delete("/api/v1/plugins/cal?force=true").status, 204);
    assert_eq!(items(&admin.get("/api/v1/tenants/acme/plugins")).len(), 0);
    let audit = items(&admin.get("/api/v1/tenants/acme/audit"));
    let actions: Vec<&str> = audit.iter().filter_map(|a| a["action"].as_str()).collect();
    assert!(
        actions.contains(&"plugin.installed") && actions.contains(&"plugin.uninstalled"),
        "{actions:?}"
    );
}

#[test]
fn installs_per_tenant_are_capped() {
    let server = TestServer::start_with(|c| c.plugin_max_installs_per_tenant = 1);
    server.create_tenant("acme");
    let admin = server.admin();
    assert_eq!(install(&admin, "acme", "calendly", json!({})).status, 201);
    let second = install(&admin, "acme", "slack-signups", json!({}));
    assert_eq!(second.status, 409, "{}", second.text);
    assert!(second.text.contains("plugin_max_installs_per_tenant"));
}

#[test]
fn scopes_tenants_and_secrets() {
    let server = TestServer::start();
    server.create_tenant("acme");
    server.create_tenant("rival");
    let secret = "xoxb-plugin-canary-7f3a9c";
    let published = publish(
        &server,
        &json!({
            "manifest": {"id": "notify", "name": "Notify", "version": "1.0.0", "description": "Posts somewhere",
                "config_fields": [
                    {"name": "channel", "label": "Channel", "required": true},
                    {"name": "token", "label": "Bot token", "secret": true, "required": true}
                ]},
            "script": "function onOutbound(m, c) { return {channel: c.channel, token: c.token === undefined}; }",
        }),
    );
    assert_eq!(published.status, 201, "{}", published.text);

    let reader = server.with_token(&server.tenant_token("acme", &["plugins:read"]));
    let writer = server.with_token(&server.tenant_token("acme", &["plugins:write", "plugins:read", "audit:read"]));
    let unscoped = server.with_token(&server.tenant_token("acme", &["connections:read"]));
    let rival = server.with_token(&server.tenant_token("rival", &["admin"]));

    assert_eq!(unscoped.get("/api/v1/plugins").status, 403);
    assert_eq!(unscoped.get("/api/v1/tenants/acme/plugins").status, 403);
    assert_eq!(install(&unscoped, "acme", "notify", json!({})).status, 403);
    assert_eq!(install(&reader, "acme", "notify", json!({})).status, 403);
    assert_eq!(
        reader.post("/api/v1/plugins", &json!({})).status,
        403,
        "publishing is the operator's"
    );
    assert_eq!(reader.get("/api/v1/plugins").status, 200);

    let missing = install(&writer, "acme", "notify", json!({"channel": "#sales"}));
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json["errors"][0]["field"], "configuration.token");
    let installed = install(&writer, "acme", "notify", json!({"channel": "#sales", "token": secret}));
    assert_eq!(installed.status, 201, "{}", installed.text);
    assert_eq!(installed.json["configuration"]["token"], "****3a9c");
    assert!(!installed.text.contains(secret));
    let read = reader.get("/api/v1/tenants/acme/plugins/notify");
    assert_eq!(
        read.json["configuration"],
        json!({"channel": "#sales", "token": "****3a9c"})
    );
    let masked_back = writer.patch(
        "/api/v1/tenants/acme/plugins/notify",
        &json!({"configuration": {"token": "****3a9c"}}),
    );
    assert_eq!(masked_back.status, 400);
    assert!(!masked_back.text.contains(secret));

    // Another tenant sees neither the installation nor may it act on it.
    assert_eq!(rival.get("/api/v1/tenants/acme/plugins").status, 403);
    assert_eq!(rival.get("/api/v1/tenants/rival/plugins/notify").status, 404);
    assert_eq!(items(&rival.get("/api/v1/tenants/rival/plugins")).len(), 0);
    assert_eq!(rival.delete("/api/v1/tenants/acme/plugins/notify").status, 403);
    let endpoint = rival.post(
        "/api/v1/tenants/rival/webhook-endpoints",
        &json!({"url": "http://127.0.0.1:9/x", "events": ["*"], "transform": "notify"}),
    );
    assert_eq!(endpoint.status, 400, "{}", endpoint.text);

    let audit = writer.get("/api/v1/tenants/acme/audit");
    assert!(audit.text.contains("plugin.installed"));
    assert!(!audit.text.contains(secret));
    assert!(!server.admin().get("/api/v1/plugins/notify").text.contains(secret));
}

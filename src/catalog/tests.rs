use super::*;

#[test]
fn built_in_catalog_has_every_required_provider() {
    let catalog = Catalog::built_in().unwrap();
    for key in [
        "eventbrite",
        "zoom",
        "poshvip",
        "genesys",
        "stripe",
        "resend",
        "wise",
        "mux",
        "assemblyai",
        "anthropic",
        "openai",
        "shopify",
        "brevo",
        "easyappointments",
        "github",
        "slack",
        "google",
    ] {
        let p = catalog.get(key).unwrap_or_else(|| panic!("{key} missing"));
        assert!(!p.setup_steps.is_empty(), "{key} has no setup steps");
        assert!(!p.fields.is_empty(), "{key} has no fields");
    }
}

#[test]
fn contract_field_names_hold() {
    let catalog = Catalog::built_in().unwrap();
    let names = |key: &str| -> Vec<String> {
        catalog
            .get(key)
            .unwrap()
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect()
    };
    assert!(names("stripe").contains(&"secret_key".to_string()));
    assert_eq!(names("zoom"), ["account_id", "client_id", "client_secret"]);
    assert_eq!(names("mux")[..2], ["token_id".to_string(), "token_secret".to_string()]);
    let genesys = catalog.get("genesys").unwrap();
    assert_eq!(genesys.config_fields[0].name, "region");
    assert_eq!(genesys.token_url.as_deref(), Some("https://login.{region}/oauth/token"));
    let posh = catalog.get("poshvip").unwrap();
    assert_eq!(posh.webhook.as_ref().unwrap().header, "X-Posh-Signature");
    assert_eq!(posh.auth_modes, [AuthMode::Webhook]);
}

#[test]
fn providers_file_overrides_fields_and_adds_providers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        r#"
[providers.stripe]
api_base_url = "http://127.0.0.1:9100"
[providers.stripe.verify]
path = "/v1/other"

[providers.acme]
name = "Acme"
category = "crm"
auth_modes = ["oauth2"]
authorization_url = "http://127.0.0.1:9200/authorize"
token_url = "http://127.0.0.1:9200/token"
api_base_url = "http://127.0.0.1:9200/api"
scopes = ["read"]
[providers.acme.verify]
method = "GET"
path = "/me"
"#,
    )
    .unwrap();
    let catalog = Catalog::load(Some(&path)).unwrap();
    let stripe = catalog.get("stripe").unwrap();
    assert_eq!(stripe.api_base_url.as_deref(), Some("http://127.0.0.1:9100"));
    assert_eq!(stripe.verify.as_ref().unwrap().path, "/v1/other");
    assert_eq!(
        stripe.verify.as_ref().unwrap().method,
        "GET",
        "unnamed fields keep built-in values"
    );
    assert_eq!(stripe.name, "Stripe");
    let acme = catalog.get("acme").unwrap();
    assert_eq!(acme.scopes, ["read"]);
}

#[test]
fn bad_providers_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    for (text, needle) in [
        ("[providers.x]\nname = \"X\"\n", "x"),
        ("[providers.stripe]\nnope = 1\n", "nope"),
        ("not toml [", "TOML"),
        (
            "[providers.y]\nname=\"Y\"\ncategory=\"c\"\nauth_modes=[\"oauth2\"]\n",
            "authorization_url",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = Catalog::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn url_shaping_fields_and_their_allowed_hosts() {
    let catalog = Catalog::built_in().unwrap();
    let shopify = catalog.get("shopify").unwrap();
    assert_eq!(shopify.url_shaping_fields(), ["shop"]);
    assert!(shopify.allows_host("shop", "brand.myshopify.com"));
    for bad in [
        "myshopify.com",
        "evil.example",
        "brand.myshopify.com.evil.example",
        ".myshopify.com",
    ] {
        assert!(!shopify.allows_host("shop", bad), "{bad}");
    }
    let genesys = catalog.get("genesys").unwrap();
    assert_eq!(genesys.url_shaping_fields(), ["region"]);
    assert!(genesys.allows_host("region", "mypurecloud.de"));
    assert!(!genesys.allows_host("region", "x.mypurecloud.de"));
    assert!(
        genesys.allows_host("region", "aps1.mypurecloud.com"),
        "the guide's example"
    );
    assert!(!genesys.allows_host("region", "mypurecloud.com.evil.example"));
    let ea = catalog.get("easyappointments").unwrap();
    assert_eq!(ea.url_shaping_fields(), ["base_url"]);
    assert!(
        ea.allows_host("base_url", "https://booking.brand.example"),
        "unrestricted"
    );
    assert!(catalog.get("stripe").unwrap().url_shaping_fields().is_empty());

    // An operator's file adds hosts (a base URL is judged by host and port).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        "[providers.genesys.allow]\nregion = [\"genesys.test\"]\n[providers.shopify.allow]\nshop = [\"*.shops.test\"]\n",
    )
    .unwrap();
    let extended = Catalog::load(Some(&path)).unwrap();
    assert!(extended.get("genesys").unwrap().allows_host("region", "genesys.test"));
    assert!(
        extended
            .get("genesys")
            .unwrap()
            .allows_host("region", "mypurecloud.com")
    );
    assert!(extended.get("shopify").unwrap().allows_host("shop", "a.shops.test"));
    std::fs::write(&path, "[providers.genesys.allow]\nnope = [\"x.test\"]\n").unwrap();
    assert!(Catalog::load(Some(&path)).unwrap_err().to_string().contains("nope"));
    std::fs::write(&path, "[providers.genesys.allow]\nregion = [\"Bad Host/\"]\n").unwrap();
    assert!(Catalog::load(Some(&path)).is_err());
}

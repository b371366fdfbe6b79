use std::time::Duration;

use super::flow::check_return_to;
use super::store::backoff;
use crate::config::Config;

fn config() -> super::OAuthSettings {
    let mut config = Config::with_data_dir("/tmp/tessera-oauth-unit");
    config.apply("public_url", "https://hub.example/").unwrap();
    config
        .apply("allowed_return_origins", "https://app.example, http://localhost:3000")
        .unwrap();
    super::OAuthSettings::from_config(&config)
}

#[test]
fn return_to_stays_on_known_origins() {
    let config = config();
    assert_eq!(check_return_to(&config, None).unwrap(), "https://hub.example/");
    assert!(check_return_to(&config, Some("https://hub.example/ui/#/x")).is_ok());
    assert!(check_return_to(&config, Some("https://app.example/done?a=1")).is_ok());
    assert!(check_return_to(&config, Some("http://localhost:3000/cb")).is_ok());
    for bad in [
        "https://evil.example/",
        "https://app.example.evil.example/",
        "http://app.example/",
        "https://app.example:444/",
        "//evil.example/",
        "/relative",
        "javascript:alert(1)",
        "https://user:pw@hub.example/",
    ] {
        assert!(check_return_to(&config, Some(bad)).is_err(), "{bad} accepted");
    }
}

#[test]
fn platform_apps_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = crate::config::Overrides {
        data_dir: Some(dir.path().to_owned()),
        listen: None,
    };
    let env = vec![
        ("TESSERA_APP_EVENTBRITE_CLIENT_ID".to_owned(), "eb-id".to_owned()),
        (
            "TESSERA_APP_EVENTBRITE_CLIENT_SECRET".to_owned(),
            "eb-secret-value".to_owned(),
        ),
        ("TESSERA_OAUTH_REFRESH_MARGIN_SECS".to_owned(), "120".to_owned()),
    ];
    let config = Config::load_from(&overrides, &env).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let app = &config.platform_apps["eventbrite"];
    assert_eq!(app.client_id.as_deref(), Some("eb-id"));
    assert_eq!(app.client_secret.as_ref().unwrap().expose(), "eb-secret-value");
    assert_eq!(config.oauth_refresh_margin, Duration::from_secs(120));
    assert!(!format!("{config:?}").contains("eb-secret-value"));
}

#[test]
fn backoff_grows_and_caps() {
    assert_eq!(backoff(1).whole_seconds(), 5);
    assert_eq!(backoff(2).whole_seconds(), 10);
    assert_eq!(backoff(4).whole_seconds(), 40);
    assert_eq!(backoff(50).whole_seconds(), 600);
}

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE_NAME),
        "listen = \"127.0.0.1:8000\"\npublic_url = \"https://file.example\"\nallow_private_targets = true\n",
    )
    .unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        listen: Some("127.0.0.1:9000".parse().unwrap()),
    };
    let config = Config::load_from(&overrides, &env(&[("TESSERA_PUBLIC_URL", "https://env.example/")])).unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(config.public_url(), "https://env.example");
    assert!(config.allow_private_targets);
}

#[test]
fn unknown_env_is_warned_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        listen: None,
    };
    let config = Config::load_from(&overrides, &env(&[("TESSERA_PUBLC_URL", "x")])).unwrap();
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].contains("TESSERA_PUBLC_URL"));
}

#[test]
fn secrets_do_not_show_in_debug() {
    let mut config = Config::with_data_dir("/tmp/x");
    config.apply("master_key", "c2VjcmV0LWNhbmFyeS1rZXk=").unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("c2VjcmV0LWNhbmFyeS1rZXk="));
    assert!(printed.contains("<redacted>"));
}

#[test]
fn a_bad_retry_schedule_is_refused_at_load() {
    let mut config = Config::with_data_dir("/tmp/x");
    let err = config.apply("retry_schedule", "5,soon").unwrap_err().to_string();
    assert!(err.contains("retry_schedule") && err.contains("soon"), "{err}");
    assert!(config.apply("retry_schedule", "0.5, 5,300").unwrap());
}

#[test]
fn bad_values_are_named() {
    let mut config = Config::with_data_dir("/tmp/x");
    let err = config.apply("listen", "nope").unwrap_err().to_string();
    assert!(err.contains("listen"), "{err}");
}

#[test]
fn governance_settings_parse_and_reject_nonsense() {
    let mut config = Config::with_data_dir("/tmp/x");
    assert_eq!(config.rate_limit_free, 60);
    assert_eq!(config.rate_limit_pro, 1000);
    assert_eq!(config.rate_limit_enterprise, 5000);
    assert!(config.apply("rate_limit_free", "100").unwrap());
    assert_eq!(config.rate_limit_free, 100);
    assert!(config.apply("audit_retention_days", "30").unwrap());
    assert_eq!(config.audit_retention_days, 30);
    assert!(config.apply("metrics_public", "yes").unwrap());
    assert!(config.metrics_public);
    assert!(config.apply("demo_emit_interval_secs", "0").unwrap());
    assert!(config.demo_emit_interval.is_none());
    for (name, value) in [
        ("rate_limit_free", "0"),
        ("rate_limit_pro", "-1"),
        ("usage_flush_interval_secs", "soon"),
    ] {
        let err = config.apply(name, value).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn the_packaged_example_config_is_all_known_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CONFIG_FILE_NAME);
    std::fs::write(&path, include_str!("../../packaging/tessera.toml")).unwrap();
    let mut config = Config::with_data_dir(dir.path());
    config.apply_file(&path).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.server.trusted_proxies.len(), 2);
    assert_eq!(config.webhook_failure_limit, 120);
    assert!(!config.paused);
}

//! Operator commands: key rotation, key status, backups.

/// A positive whole number (limits, intervals) for a setting.
pub fn parse_count(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{value}` is not a positive whole number")),
    }
}

pub mod backup;
pub mod cli;
pub mod keys;
pub mod lingering;
pub mod retention;
pub mod routes;

#[cfg(test)]
mod tests {
    use crate::config::Config;

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
}

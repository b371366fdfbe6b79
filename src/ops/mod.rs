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
pub mod logging;
pub mod retention;

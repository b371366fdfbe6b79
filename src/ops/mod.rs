//! Operator commands: key rotation, key status, backups.

pub mod backup;
pub mod cli;
pub mod keys;
pub mod lingering;
pub mod retention;
pub mod routes;

//! Operator commands: key rotation, key status, backups, moving to PostgreSQL.

pub mod backup;
pub mod cli;
pub mod keys;
pub mod lingering;
pub mod migrate_store;
pub mod retention;
pub mod routes;

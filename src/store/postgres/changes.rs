//! Changes that other nodes must see at once: a write that makes a node drop something
//! it holds in memory (an accepted token, a tenant, a connection's tokens, a data key)
//! announces it with `pg_notify` in its own transaction, so the announcement leaves
//! exactly when the change commits; every node listens and drops the same.
//!
//! After a lost connection a node cannot know what it missed, so it drops everything
//! ([`EVERYTHING`]) each time it (re)connects.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::PgStore;

pub const CHANNEL: &str = "tessera_changes";
/// Said to the handler after every (re)connect: forget whatever is cached.
pub const EVERYTHING: &str = "*";

/// Accepted API tokens (one was changed or revoked).
pub const TOKENS: &str = "tokens";
/// Resolved tenants (one was changed or deleted; its tokens go with it).
pub const TENANTS: &str = "tenants";

/// A connection whose credentials or OAuth tokens changed.
pub fn connection(connection_id: &str) -> String {
    format!("connection:{connection_id}")
}

/// A webhook endpoint whose URL, secret, filter or state changed, or that was deleted:
/// work queued for it in memory is re-read before it is sent.
pub fn endpoint(endpoint_id: &str) -> String {
    format!("endpoint:{endpoint_id}")
}

/// A plugin published, deleted, installed, configured or uninstalled: every node rebuilds
/// the catalogs and transformations in force.
pub fn plugin(plugin_id: &str) -> String {
    format!("plugin:{plugin_id}")
}

/// A deleted tenant whose data key is gone.
pub fn tenant_keys(tenant_id: &str) -> String {
    format!("tenant-keys:{tenant_id}")
}

/// Stops the listening thread when dropped.
pub struct ChangeListener {
    stop: Arc<AtomicBool>,
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeListener")
    }
}

/// Listens on a connection of its own and calls `handle` with each announced topic.
pub fn listen(store: &PgStore, handle: impl Fn(&str) + Send + 'static) -> std::io::Result<ChangeListener> {
    let stop = Arc::new(AtomicBool::new(false));
    let (config, tls) = (store.config.clone(), store.tls.clone());
    let stopping = stop.clone();
    std::thread::Builder::new()
        .name("tessera-changes".into())
        .spawn(move || {
            while !stopping.load(Ordering::Acquire) {
                match config.connect(tls.clone()) {
                    Ok(mut client) => {
                        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                            tracing::warn!(error = %e, "cannot listen for changes from other nodes");
                        } else {
                            handle(EVERYTHING);
                            relay(&mut client, &stopping, &handle);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot connect to listen for changes from other nodes"),
                }
                if !stopping.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        })?;
    Ok(ChangeListener { stop })
}

/// Hands each notification to `handle` until the connection fails or `stop` is set.
fn relay(client: &mut postgres::Client, stop: &AtomicBool, handle: &impl Fn(&str)) {
    use postgres::fallible_iterator::FallibleIterator;
    while !stop.load(Ordering::Acquire) {
        {
            let mut notifications = client.notifications();
            let mut pending = notifications.timeout_iter(Duration::from_millis(250));
            loop {
                match pending.next() {
                    Ok(Some(note)) => handle(note.payload()),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the connection that hears other nodes' changes");
                        return;
                    }
                }
            }
        }
        if client.is_closed() {
            return;
        }
    }
}

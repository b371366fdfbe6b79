//! Browser sessions: a random id in an HttpOnly cookie, stored only as its SHA-256,
//! with an idle timeout (from `last_seen_at`) and an absolute one (`expires_at`).

use std::time::Duration;

use crate::store::sql::{Db, params};
use time::OffsetDateTime;

use super::{User, find_user};
use crate::store::{OptionalRow, Store, StoreError};
use crate::time::{format_rfc3339, parse_rfc3339};
use crate::vault::{Secret, hash_token, random_token};

pub const COOKIE_NAME: &str = "tessera_session";
const SESSION_PREFIX: &str = "tss_";
/// `last_seen_at` is written at most this often, so reads stay reads.
const TOUCH_EVERY: time::Duration = time::Duration::seconds(30);

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

/// A valid session and who it belongs to.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id: String,
    pub user: User,
    pub created_at: String,
    /// The earlier of the absolute expiry and the idle expiry.
    pub expires_at: String,
}

#[derive(Debug)]
pub enum Lookup {
    Valid(Box<ActiveSession>),
    /// Known but past its idle or absolute expiry.
    Expired,
    Unknown,
}

/// The CSRF token of a session: derived from its secret, so nothing more is stored and
/// it cannot be computed from the database.
pub fn csrf_token(secret: &str) -> String {
    hash_token(&format!("csrf:{secret}"))
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
}

/// Starts a session for `user_id` and returns its secret (for the cookie only).
pub fn create_session(
    conn: &Db<'_>,
    user_id: &str,
    ip: Option<&str>,
    policy: SessionPolicy,
    now: OffsetDateTime,
) -> Result<(Secret, String), StoreError> {
    let secret = random_token(SESSION_PREFIX);
    let id = crate::ids::new_id();
    let now_text = format_rfc3339(now);
    // Expired sessions stay (and keep answering "expired") until their owner signs in again.
    conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND expires_at <= ?2",
        params![user_id, now_text],
    )?;
    conn.execute(
        "INSERT INTO sessions (id, session_hash, user_id, created_at, last_seen_at, expires_at, ip)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
        params![
            id,
            hash_token(secret.expose()),
            user_id,
            now_text,
            format_rfc3339(now + to_time(policy.absolute)),
            ip
        ],
    )?;
    Ok((secret, id))
}

/// Finds the session for a cookie value at `now`, refreshing its idle timer when it is in
/// use. An expired session is kept, so every lookup of it (several per request) agrees.
pub fn lookup(store: &Store, secret: &str, policy: SessionPolicy, now: OffsetDateTime) -> Result<Lookup, StoreError> {
    let hash = hash_token(secret);
    let row = store.read(|conn| {
        conn.query_row(
            "SELECT id, user_id, created_at, last_seen_at, expires_at FROM sessions WHERE session_hash = ?1",
            [&hash],
            |row| {
                Ok((
                    row.get::<String>(0)?,
                    row.get::<String>(1)?,
                    row.get::<String>(2)?,
                    row.get::<String>(3)?,
                    row.get::<String>(4)?,
                ))
            },
        )
        .optional_row()
    })?;
    let Some((id, user_id, created_at, last_seen, expires)) = row else {
        return Ok(Lookup::Unknown);
    };
    let absolute = parse_rfc3339(&expires).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let last_seen = parse_rfc3339(&last_seen).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let idle_end = last_seen + to_time(policy.idle);
    if now >= absolute || now >= idle_end {
        return Ok(Lookup::Expired);
    }
    let Some(user) = store.read(|conn| find_user(conn, &user_id))? else {
        return Ok(Lookup::Unknown);
    };
    let mut seen = last_seen;
    if now - last_seen >= TOUCH_EVERY {
        let now_text = format_rfc3339(now);
        store.write(|tx| {
            tx.execute(
                "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1",
                params![id, now_text],
            )
        })?;
        seen = now;
    }
    let expires_at = absolute.min(seen + to_time(policy.idle));
    Ok(Lookup::Valid(Box::new(ActiveSession {
        id,
        user,
        created_at,
        expires_at: format_rfc3339(expires_at),
    })))
}

/// Ends the session with this secret. Returns whether one existed.
pub fn delete_session(conn: &Db<'_>, secret: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE session_hash = ?1", [hash_token(secret)])? > 0)
}

/// Removes sessions past their absolute expiry (idle ones go when next looked up).
pub fn purge_expired(conn: &Db<'_>, now: OffsetDateTime) -> Result<usize, StoreError> {
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [format_rfc3339(now)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::{NewUser, create_user};

    fn store_with_user() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        let user = store
            .write(|tx| {
                create_user(
                    tx,
                    &NewUser {
                        email: "root@example.test",
                        password: "correct horse battery staple",
                        tenant: None,
                    },
                )
            })
            .expect("user");
        (dir, store, user.id)
    }

    const POLICY: SessionPolicy = SessionPolicy {
        idle: Duration::from_secs(600),
        absolute: Duration::from_secs(3600),
    };

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).expect("time")
    }

    #[test]
    fn idle_time_is_refreshed_by_use_but_the_absolute_end_holds() {
        let (_dir, store, user) = store_with_user();
        let (secret, _) = store
            .write(|tx| create_session(tx, &user, None, POLICY, at(0)))
            .expect("session");
        let s = secret.expose();
        // Used every 9 minutes: never idle for 10.
        for minute in [9, 18, 27, 36, 45, 54] {
            assert!(
                matches!(
                    lookup(&store, s, POLICY, at(minute * 60)).expect("lookup"),
                    Lookup::Valid(_)
                ),
                "minute {minute}"
            );
        }
        assert!(matches!(
            lookup(&store, s, POLICY, at(3600)).expect("lookup"),
            Lookup::Expired
        ));
        assert!(matches!(
            lookup(&store, s, POLICY, at(3601)).expect("lookup"),
            Lookup::Expired
        ));
    }

    #[test]
    fn an_idle_session_expires_and_reports_its_end() {
        let (_dir, store, user) = store_with_user();
        let (secret, _) = store
            .write(|tx| create_session(tx, &user, None, POLICY, at(0)))
            .expect("session");
        let Lookup::Valid(session) = lookup(&store, secret.expose(), POLICY, at(60)).expect("lookup") else {
            panic!("valid at first");
        };
        assert_eq!(session.expires_at, format_rfc3339(at(60 + 600)));
        assert!(matches!(
            lookup(&store, secret.expose(), POLICY, at(60 + 600)).expect("lookup"),
            Lookup::Expired
        ));
    }

    #[test]
    fn only_the_hash_is_stored_and_sign_out_deletes() {
        let (_dir, store, user) = store_with_user();
        let (secret, _) = store
            .write(|tx| create_session(tx, &user, None, POLICY, at(0)))
            .expect("session");
        let stored: String = store
            .read(|c| c.query_row("SELECT session_hash FROM sessions", [], |r| r.get(0)))
            .expect("row");
        assert_eq!(stored, hash_token(secret.expose()));
        assert_ne!(csrf_token(secret.expose()), stored);
        assert!(store.write(|tx| delete_session(tx, secret.expose())).expect("delete"));
        assert!(matches!(
            lookup(&store, secret.expose(), POLICY, at(1)).expect("lookup"),
            Lookup::Unknown
        ));
    }
}

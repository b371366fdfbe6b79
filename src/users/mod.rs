//! People who sign in to the admin UI: platform admins and tenant admins.
//! Passwords are stored only as Argon2id PHC strings.

pub mod cli;
pub mod limiter;
pub mod routes;
pub mod sessions;
mod signin;

use crate::store::sql::{Db, Row, params};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use serde::Serialize;

use std::sync::Arc;

use crate::config::Config;
use crate::store::{OptionalRow, Store, StoreError};
use crate::tenants::find_tenant;
use crate::time::Clock;
use limiter::{Limits, LoginLimiter};
use sessions::SessionPolicy;

pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    TenantAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::TenantAdmin => "tenant_admin",
        }
    }

    fn parse(value: &str) -> Role {
        if value == "platform_admin" {
            Role::PlatformAdmin
        } else {
            Role::TenantAdmin
        }
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub tenant_id: Option<String>,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("a user with this email already exists")]
    EmailTaken,
    #[error("no user with this email")]
    UnknownUser,
    #[error("no tenant `{0}`")]
    UnknownTenant(String),
    #[error("password hashing failed")]
    Hashing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UserError> for crate::error::ApiError {
    fn from(err: UserError) -> Self {
        use crate::error::ApiError;
        match err {
            UserError::Invalid { field, message } => ApiError::invalid_field(field, message),
            UserError::EmailTaken => ApiError::conflict(err.to_string()),
            UserError::UnknownTenant(_) | UserError::UnknownUser => ApiError::not_found(err.to_string()),
            UserError::Hashing => ApiError::internal("password hashing", &"argon2"),
            UserError::Store(e) => e.into(),
        }
    }
}

/// Trims and lower-cases an email and checks it looks like one.
pub fn normalize_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid {
        return Err(UserError::Invalid {
            field: "email",
            message: "must be an email address like ada@example.com".into(),
        });
    }
    Ok(email)
}

pub fn validate_password(password: &str) -> Result<(), UserError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(UserError::Invalid {
            field: "password",
            message: format!("must be at least {MIN_PASSWORD_LEN} characters"),
        });
    }
    if chars > 1024 {
        return Err(UserError::Invalid {
            field: "password",
            message: "must be at most 1024 characters".into(),
        });
    }
    Ok(())
}

/// Argon2id with the crate's default (OWASP-recommended) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| UserError::Hashing)
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
        .unwrap_or(false)
}

/// A hash of nothing in particular, verified when the email is unknown so that a wrong
/// email takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-at-all").unwrap_or_default())
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// `None` for a platform admin; a tenant id or slug for a tenant admin.
    pub tenant: Option<&'a str>,
}

/// Validates and inserts a user. Hashing is slow: call from a blocking context.
pub fn create_user(conn: &Db<'_>, new: &NewUser<'_>) -> Result<User, UserError> {
    let email = normalize_email(new.email)?;
    validate_password(new.password)?;
    let tenant_id = match new.tenant {
        Some(reference) => Some(
            find_tenant(conn, reference)?
                .ok_or_else(|| UserError::UnknownTenant(reference.to_owned()))?
                .id,
        ),
        None => None,
    };
    let role = if tenant_id.is_some() {
        Role::TenantAdmin
    } else {
        Role::PlatformAdmin
    };
    let hash = hash_password(new.password)?;
    let now = crate::time::now_rfc3339();
    let user = User {
        id: crate::ids::new_id(),
        email,
        role,
        tenant_id,
        created_at: now.clone(),
        last_login_at: None,
    };
    conn.execute(
        "INSERT INTO users (id, email, password_hash, role, tenant_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![user.id, user.email, hash, role.as_str(), user.tenant_id, now],
    )
    .map_err(|e| {
        if e.is_unique_violation() {
            UserError::EmailTaken
        } else {
            e.into()
        }
    })?;
    Ok(user)
}

const COLUMNS: &str = "id, email, role, tenant_id, created_at, last_login_at";

fn from_row(row: &Row<'_>) -> Result<User, StoreError> {
    let role: String = row.get(2)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        role: Role::parse(&role),
        tenant_id: row.get(3)?,
        created_at: row.get(4)?,
        last_login_at: row.get(5)?,
    })
}

pub fn find_user(conn: &Db<'_>, id: &str) -> Result<Option<User>, StoreError> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"), [id], from_row)
        .optional_row()
}

/// The user and password hash for an email, for sign-in.
pub fn find_for_login(conn: &Db<'_>, email: &str) -> Result<Option<(User, String)>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE lower(email) = lower(?1)"),
        [email],
        |row| Ok((from_row(row)?, row.get(6)?)),
    )
    .optional_row()
}

/// Replaces a user's password and ends every session of theirs. Returns how many ended.
pub fn set_password(conn: &Db<'_>, email: &str, password: &str) -> Result<usize, UserError> {
    let email = normalize_email(email)?;
    validate_password(password)?;
    let hash = hash_password(password)?;
    let now = crate::time::now_rfc3339();
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE lower(email) = lower(?1)",
        params![email, hash, now],
    )?;
    if changed == 0 {
        return Err(UserError::UnknownUser);
    }
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE lower(email) = lower(?1))",
        [&email],
    )?)
}

/// Deletes a user; their sessions go with them (ON DELETE CASCADE).
pub fn delete_user(conn: &Db<'_>, email: &str) -> Result<(), UserError> {
    let email = normalize_email(email)?;
    if conn.execute("DELETE FROM users WHERE lower(email) = lower(?1)", [&email])? == 0 {
        return Err(UserError::UnknownUser);
    }
    Ok(())
}

pub fn mark_login(conn: &Db<'_>, user_id: &str, at: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        params![user_id, at],
    )?;
    Ok(())
}

/// People who sign in to the admin UI: their sessions and the sign-in limits. Cheap to
/// clone.
#[derive(Clone)]
pub struct Users {
    store: Store,
    /// Session expiry is judged by this clock.
    clock: Clock,
    policy: SessionPolicy,
    limits: Limits,
    limiter: Arc<LoginLimiter>,
}

impl Users {
    pub fn new(store: Store, clock: Clock, config: &Config) -> Users {
        Users {
            store,
            clock,
            policy: SessionPolicy {
                idle: config.session_idle_timeout,
                absolute: config.session_absolute_timeout,
            },
            limits: Limits::from_config(config),
            limiter: Arc::default(),
        }
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.policy
    }

    /// The session a cookie value names, judged now.
    pub async fn lookup_session(&self, secret: &str) -> Result<sessions::Lookup, StoreError> {
        let (secret, policy, now) = (secret.to_owned(), self.policy, self.clock.now());
        self.store
            .run(move |store| sessions::lookup(store, &secret, policy, now))
            .await
    }

    /// Deletes sessions past their absolute expiry (the periodic purge).
    pub async fn purge_expired_sessions(&self) {
        let now = self.clock.now();
        let result = self.store.write_async(move |tx| sessions::purge_expired(tx, now)).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "purging expired sessions failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email(" Ada@Example.COM ").expect("ok"), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@localhost", "a da@example.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_session_ends_when_the_clock_passes_its_idle_timeout() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("t.db")).expect("store");
        let clock = Clock::manual(crate::time::parse_rfc3339("2030-01-01T00:00:00Z").expect("time"));
        let mut config = Config::with_data_dir(dir.path());
        config.session_idle_timeout = std::time::Duration::from_secs(600);
        let users = Users::new(store.clone(), clock.clone(), &config);
        let (now, policy) = (clock.now(), users.session_policy());
        let secret = store
            .write(|tx| {
                let user = create_user(
                    tx,
                    &NewUser {
                        email: "ada@example.test",
                        password: "correct horse battery",
                        tenant: None,
                    },
                )?;
                Ok::<_, UserError>(sessions::create_session(tx, &user.id, None, policy, now)?.0)
            })
            .expect("session");
        let valid = users.lookup_session(secret.expose()).await.expect("lookup");
        assert!(matches!(valid, sessions::Lookup::Valid(_)));
        clock.advance(std::time::Duration::from_secs(601));
        let expired = users.lookup_session(secret.expose()).await.expect("lookup");
        assert!(matches!(expired, sessions::Lookup::Expired));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough pass").is_ok());
    }
}

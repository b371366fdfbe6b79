//! Signing in and out: the limiter, the password check (the same Argon2 work for an
//! unknown email), the session and the audit entries.

use std::time::Instant;

use zeroize::Zeroizing;

use super::limiter::AttemptKeys;
use super::sessions::{self as repo, ActiveSession};
use super::{Users, dummy_hash, find_for_login, mark_login, verify_password};
use crate::audit::{self, AuditEntry};
use crate::auth::RequestContext;
use crate::store::StoreError;
use crate::vault::Secret;

/// How a sign-in ended.
pub enum SignIn {
    /// Too many failures for the account or the address: try again in this many seconds.
    Limited(u64),
    /// Wrong email or password (audited).
    Refused,
    /// The new session, its secret (for the cookie only) and the browser's new device
    /// token (for the device cookie).
    SignedIn(Box<ActiveSession>, String, Secret),
}

/// Where a sign-in attempt comes from, for the limits.
pub struct Attempt {
    /// The client address's budget key (see [`crate::net::ClientAddr::budget_key`]).
    pub address: String,
    /// The device cookie the browser presented, if any.
    pub device: Option<String>,
}

impl Users {
    /// Signs `email` in with `password`. `email` is already trimmed and lower-cased.
    pub async fn sign_in(
        &self,
        email: String,
        password: Zeroizing<String>,
        attempt: Attempt,
        ctx: RequestContext,
    ) -> Result<SignIn, StoreError> {
        let keys = AttemptKeys {
            account: email.clone(),
            ip: Some(attempt.address),
            device: attempt.device,
        };
        let limits = self.limits;
        if let Err(wait) = self.limiter.check(&limits, &keys, Instant::now()) {
            return Ok(SignIn::Limited(wait));
        }
        let (policy, clock) = (self.policy, self.clock.clone());
        let outcome = self
            .store
            .run(move |store| {
                let found = store.read(|conn| find_for_login(conn, &email))?;
                let refused_user = match found {
                    Some((user, hash)) if verify_password(&password, &hash) => Ok(user),
                    Some((user, _)) => Err(Some(user)),
                    None => {
                        // Same Argon2 work for an unknown email as for a wrong password.
                        let _ = verify_password(&password, dummy_hash());
                        Err(None)
                    }
                };
                let user = match refused_user {
                    Ok(user) => user,
                    Err(known) => {
                        let entry = AuditEntry::new(
                            known.as_ref().and_then(|u| u.tenant_id.as_deref()),
                            &known
                                .as_ref()
                                .map_or("anonymous".to_owned(), |u| format!("user:{}", u.id)),
                            "session.login_failed",
                            Some(&email),
                            &ctx,
                        );
                        store.write(|tx| audit::record(tx, &entry))?;
                        return Ok::<_, StoreError>(None);
                    }
                };
                let now = clock.now();
                let secret = store.write(|tx| {
                    let (secret, _) = repo::create_session(tx, &user.id, ctx.ip.as_deref(), policy, now)?;
                    mark_login(tx, &user.id, &crate::time::format_rfc3339(now))?;
                    let entry = AuditEntry::new(
                        user.tenant_id.as_deref(),
                        &format!("user:{}", user.id),
                        "session.created",
                        Some(&user.email),
                        &ctx,
                    );
                    audit::record(tx, &entry)?;
                    Ok::<_, StoreError>(secret)
                })?;
                match repo::lookup(store, secret.expose(), policy, now)? {
                    repo::Lookup::Valid(session) => Ok(Some((session, secret.expose().to_owned()))),
                    _ => Ok(None),
                }
            })
            .await?;
        Ok(match outcome {
            None => {
                self.limiter.record_failure(&limits, &keys, Instant::now());
                SignIn::Refused
            }
            Some((session, secret)) => {
                let device = self.limiter.record_success(&keys, Instant::now());
                SignIn::SignedIn(session, secret, device)
            }
        })
    }

    /// Ends `session` (the one `secret` names), audited.
    pub async fn sign_out(
        &self,
        secret: String,
        session: ActiveSession,
        ctx: RequestContext,
    ) -> Result<(), StoreError> {
        self.store
            .write_async(move |tx| {
                repo::delete_session(tx, &secret)?;
                let user = &session.user;
                let entry = AuditEntry::new(
                    user.tenant_id.as_deref(),
                    &format!("user:{}", user.id),
                    "session.deleted",
                    Some(&user.email),
                    &ctx,
                );
                audit::record(tx, &entry)
            })
            .await
    }
}

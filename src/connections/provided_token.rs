//! An OAuth token the tenant already holds, handed in with an `oauth2` connection
//! (`"credentials": {"access_token", "refresh_token"?, "expires_at"?}`, as a platform's
//! `POST /oauth/connections` carries it). It is stored as the connection's tokens (sealed
//! in `oauth_tokens`), never among the credentials, and refreshed like any other.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::FieldError;
use crate::vault::Secret;

/// The fields that carry a provided token.
pub const TOKEN_FIELDS: &[&str] = &["access_token", "refresh_token", "expires_at"];

#[derive(Clone)]
pub struct ProvidedToken {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for ProvidedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvidedToken")
            .field("refresh_token", &self.refresh_token.is_some())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Splits the token fields off `credentials` (an `oauth2` connection's): the rest, and the
/// token when one was given. Problems are added to `errors`.
pub fn split(
    credentials: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> (Map<String, Value>, Option<ProvidedToken>) {
    let mut rest = credentials.clone();
    let mut taken: Map<String, Value> = Map::new();
    for name in TOKEN_FIELDS {
        if let Some(value) = rest.remove(*name) {
            taken.insert((*name).to_owned(), value);
        }
    }
    if taken.is_empty() {
        return (rest, None);
    }
    let mut text = |name: &str| -> Option<String> {
        match taken.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(_) => {
                errors.push(FieldError {
                    field: format!("credentials.{name}"),
                    message: "must be a non-empty string".into(),
                });
                None
            }
        }
    };
    let access = text("access_token");
    let refresh = text("refresh_token");
    let expires = text("expires_at");
    let expires_at = match expires {
        Some(value) => match crate::time::parse_rfc3339(&value) {
            Some(at) => Some(at),
            None => {
                errors.push(FieldError {
                    field: "credentials.expires_at".into(),
                    message: "expected an RFC 3339 time such as 2025-12-31T23:59:59Z".into(),
                });
                None
            }
        },
        None => None,
    };
    let Some(access) = access else {
        if !errors.iter().any(|e| e.field == "credentials.access_token") {
            errors.push(FieldError {
                field: "credentials.access_token".into(),
                message: "is required when a refresh_token or expires_at is given".into(),
            });
        }
        return (rest, None);
    };
    let token = ProvidedToken {
        access_token: Secret::new(access),
        refresh_token: refresh.map(Secret::new),
        expires_at,
    };
    (rest, Some(token))
}

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Secret;

/// `prefix` followed by 32 random bytes in URL-safe base64.
pub fn random_token(prefix: &str) -> Secret {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Secret::new(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

/// SHA-256 hex of a bearer secret: what the database stores instead of the secret.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

//! Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256>` signatures
//! over `"{webhook-id}.{webhook-timestamp}.{body}"`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::vault::Secret;

pub const SECRET_PREFIX: &str = "whsec_";
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;
const GENERATED_SECRET_BYTES: usize = 32;

/// A decoded signing key. Zeroized on drop, never printed.
#[derive(Clone)]
pub struct SigningKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Parses `whsec_<base64>` holding 24–64 bytes. The message never echoes the value.
    pub fn parse(secret: &str) -> Result<SigningKey, String> {
        let encoded = secret
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| format!("must start with `{SECRET_PREFIX}`"))?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| format!("must be `{SECRET_PREFIX}` followed by standard base64"))?,
        );
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(format!(
                "must encode {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes (got {})",
                bytes.len()
            ));
        }
        Ok(SigningKey(bytes))
    }

    /// Parses a key without the length rule (the spec's golden vector is 24 bytes; older
    /// secrets stay usable even if the rule changes).
    fn parse_any_length(secret: &str) -> Option<SigningKey> {
        let encoded = secret.strip_prefix(SECRET_PREFIX)?;
        STANDARD
            .decode(encoded)
            .ok()
            .filter(|b| !b.is_empty())
            .map(|b| SigningKey(Zeroizing::new(b)))
    }

    pub fn from_secret(secret: &Secret) -> Option<SigningKey> {
        Self::parse_any_length(secret.expose())
    }

    /// `v1,<base64>` for one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length; an error here would be a broken invariant.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// A new random `whsec_` secret.
pub fn generate_secret() -> Secret {
    let mut bytes = Zeroizing::new([0u8; GENERATED_SECRET_BYTES]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut());
    Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes.as_ref())))
}

/// The `webhook-signature` header value: one signature per key, space-separated (during a
/// rotation the old and the new secret both sign, so receivers can switch at leisure).
pub fn signature_header(keys: &[SigningKey], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|k| k.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `webhook-id` for an outbox event.
pub fn message_id(event_id: &str) -> String {
    format!("msg_{event_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_vector_from_the_spec() {
        let key = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = key.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn rotation_sends_both_signatures() {
        let old = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let new = SigningKey::from_secret(&generate_secret()).unwrap();
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 10, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, vec![new.sign("msg_1", 10, b"{}"), old.sign("msg_1", 10, b"{}")]);
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn secrets_are_validated_without_echoing_them() {
        let generated = generate_secret();
        assert!(SigningKey::parse(generated.expose()).is_ok());
        for bad in [
            "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "whsec_!!!notbase64",
            "whsec_c2hvcnQ=",
        ] {
            let err = SigningKey::parse(bad).unwrap_err();
            assert!(!err.contains(bad), "{err}");
        }
        let too_long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert!(SigningKey::parse(&too_long).is_err());
        assert!(format!("{:?}", SigningKey::parse(generated.expose()).unwrap()).contains("redacted"));
    }
}

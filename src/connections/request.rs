//! Building authenticated requests to a provider's API the catalog's way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::Credentials;
use crate::catalog::{AuthMode, InjectionType, PlaceholderError, Provider, expand};
use crate::vault::Secret;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0} has no API base URL in the catalog")]
    NoBaseUrl(String),
    #[error("{0} does not say how credentials are sent to its API")]
    NoInjection(String),
    #[error("credential field `{0}` is not set")]
    MissingCredential(String),
    #[error("no access token yet: connect (or acquire a token) first")]
    NoAccessToken,
    #[error(transparent)]
    Url(#[from] PlaceholderError),
}

/// The provider's API base URL with the tenant's config placeholders filled in.
pub fn api_base_url(provider: &Provider, config: &Map<String, Value>) -> Result<String, RequestError> {
    let template = provider
        .api_base_url
        .as_deref()
        .ok_or_else(|| RequestError::NoBaseUrl(provider.name.clone()))?;
    Ok(expand(template, |k| config.get(k).and_then(Value::as_str))?)
}

/// Expands any catalog URL template (token, authorization, revocation URLs).
pub fn expand_url(template: &str, config: &Map<String, Value>) -> Result<String, RequestError> {
    Ok(expand(template, |k| config.get(k).and_then(Value::as_str))?)
}

/// Joins a base URL and a path (which may carry a query string).
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// The headers that carry a tenant's credentials: in token modes the access token, in
/// key modes the fields the catalog's `inject` names. Values are secrets.
pub fn auth_headers(
    provider: &Provider,
    mode: AuthMode,
    credentials: &Credentials,
    access_token: Option<&Secret>,
) -> Result<Vec<(String, Secret)>, RequestError> {
    let inject = provider.inject.as_ref();
    let mut headers = Vec::new();
    let field = |name: Option<&String>| -> Result<Secret, RequestError> {
        let name = name.ok_or_else(|| RequestError::NoInjection(provider.name.clone()))?;
        credentials
            .get(name)
            .ok_or_else(|| RequestError::MissingCredential(name.clone()))
    };
    if mode.uses_access_token() {
        let token = access_token.ok_or(RequestError::NoAccessToken)?;
        match inject {
            Some(i) if i.kind == InjectionType::Header => {
                let header = i.header.clone().unwrap_or_else(|| "Authorization".into());
                headers.push((header, Secret::new(format!("{}{}", i.prefix, token.expose()))));
            }
            _ => headers.push((
                "Authorization".into(),
                Secret::new(format!("Bearer {}", token.expose())),
            )),
        }
    } else {
        let inject = inject.ok_or_else(|| RequestError::NoInjection(provider.name.clone()))?;
        match inject.kind {
            InjectionType::Bearer => {
                let value = field(inject.field.as_ref())?;
                headers.push((
                    "Authorization".into(),
                    Secret::new(format!("Bearer {}", value.expose())),
                ));
            }
            InjectionType::Basic => {
                let user = field(inject.username_field.as_ref())?;
                let pass = match inject.password_field.as_ref() {
                    Some(name) => credentials
                        .get(name)
                        .ok_or_else(|| RequestError::MissingCredential(name.clone()))?,
                    None => Secret::default(),
                };
                let encoded = STANDARD.encode(format!("{}:{}", user.expose(), pass.expose()));
                headers.push(("Authorization".into(), Secret::new(format!("Basic {encoded}"))));
            }
            InjectionType::Header => {
                let value = field(inject.field.as_ref())?;
                let header = inject.header.clone().unwrap_or_else(|| "Authorization".into());
                headers.push((header, Secret::new(format!("{}{}", inject.prefix, value.expose()))));
            }
        }
    }
    if let Some(inject) = inject {
        for (name, value) in &inject.headers {
            headers.push((name.clone(), Secret::new(value.clone())));
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn creds(pairs: &[(&str, &str)]) -> Credentials {
        let mut c = Credentials::default();
        for (k, v) in pairs {
            c.insert(k, v);
        }
        c
    }

    fn header(headers: &[(String, Secret)], name: &str) -> Option<String> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.expose().to_owned())
    }

    #[test]
    fn injects_each_providers_way() {
        let catalog = Catalog::built_in().unwrap();
        let stripe = auth_headers(
            catalog.get("stripe").unwrap(),
            AuthMode::ApiKey,
            &creds(&[("secret_key", "sk_1")]),
            None,
        )
        .unwrap();
        assert_eq!(header(&stripe, "authorization").unwrap(), "Bearer sk_1");

        let mux = auth_headers(
            catalog.get("mux").unwrap(),
            AuthMode::Basic,
            &creds(&[("token_id", "id"), ("token_secret", "s")]),
            None,
        )
        .unwrap();
        assert_eq!(
            header(&mux, "authorization").unwrap(),
            format!("Basic {}", STANDARD.encode("id:s"))
        );

        let anthropic = auth_headers(
            catalog.get("anthropic").unwrap(),
            AuthMode::ApiKey,
            &creds(&[("api_key", "k")]),
            None,
        )
        .unwrap();
        assert_eq!(header(&anthropic, "x-api-key").unwrap(), "k");
        assert_eq!(header(&anthropic, "anthropic-version").unwrap(), "2023-06-01");
        assert!(header(&anthropic, "authorization").is_none());

        let assembly = auth_headers(
            catalog.get("assemblyai").unwrap(),
            AuthMode::ApiKey,
            &creds(&[("api_key", "raw")]),
            None,
        )
        .unwrap();
        assert_eq!(header(&assembly, "authorization").unwrap(), "raw");

        let brevo = auth_headers(
            catalog.get("brevo").unwrap(),
            AuthMode::ApiKey,
            &creds(&[("api_key", "xk")]),
            None,
        )
        .unwrap();
        assert_eq!(header(&brevo, "api-key").unwrap(), "xk");

        let token = Secret::new("at");
        let shopify = auth_headers(
            catalog.get("shopify").unwrap(),
            AuthMode::Oauth2,
            &creds(&[]),
            Some(&token),
        )
        .unwrap();
        assert_eq!(header(&shopify, "x-shopify-access-token").unwrap(), "at");
        let zoom = auth_headers(
            catalog.get("zoom").unwrap(),
            AuthMode::ClientCredentials,
            &creds(&[]),
            Some(&token),
        )
        .unwrap();
        assert_eq!(header(&zoom, "authorization").unwrap(), "Bearer at");
        assert_eq!(
            auth_headers(
                catalog.get("zoom").unwrap(),
                AuthMode::ClientCredentials,
                &creds(&[]),
                None
            ),
            Err(RequestError::NoAccessToken)
        );
    }

    #[test]
    fn base_urls_fill_placeholders() {
        let catalog = Catalog::built_in().unwrap();
        let mut config = Map::new();
        config.insert("region".into(), Value::String("mypurecloud.de".into()));
        assert_eq!(
            api_base_url(catalog.get("genesys").unwrap(), &config).unwrap(),
            "https://api.mypurecloud.de"
        );
        assert!(api_base_url(catalog.get("genesys").unwrap(), &Map::new()).is_err());
        assert_eq!(join_url("http://x/api/", "/me?a=1"), "http://x/api/me?a=1");
    }
}

//! `{config_field}` placeholders in catalog URLs.
//!
//! A placeholder that starts the URL (`{base_url}/api`) takes a whole http(s) base URL;
//! anywhere else (`https://login.{region}/...`) it takes a host name fragment only, so a
//! tenant's value cannot smuggle in a path, credentials or another host.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error("config field `{0}` is required by this provider's URLs")]
    Missing(String),
    #[error("config field `{0}` has a value that is not allowed in a URL here")]
    Unsafe(String),
    #[error("unclosed placeholder in `{0}`")]
    Unclosed(String),
}

/// Whether a tenant's config value shapes the URL's host (any placeholder does: a whole
/// base URL at the start, a host fragment elsewhere), so calls to it need the SSRF guard.
pub fn is_tenant_shaped(template: &str) -> bool {
    template.contains('{')
}

/// The names of the placeholders in `template`, in order.
pub fn names(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

pub fn expand<'a>(template: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> Result<String, PlaceholderError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| PlaceholderError::Unclosed(template.to_owned()))?;
        let name = &after[..end];
        let value = lookup(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| PlaceholderError::Missing(name.to_owned()))?;
        let at_start = out.is_empty();
        if at_start {
            out.push_str(&safe_base_url(value).ok_or_else(|| PlaceholderError::Unsafe(name.to_owned()))?);
        } else if is_host_fragment(value) {
            out.push_str(value);
        } else {
            return Err(PlaceholderError::Unsafe(name.to_owned()));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_host_fragment(value: &str) -> bool {
    value.len() <= 253
        && !value.starts_with('.')
        && !value.contains("..")
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

fn safe_base_url(value: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    ok.then(|| value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    #[test]
    fn urls_with_placeholders_are_tenant_shaped() {
        assert!(is_tenant_shaped("{base_url}/index.php/api/v1"));
        assert!(is_tenant_shaped("https://{shop}/admin/api/2025-01"));
        assert!(!is_tenant_shaped("https://api.stripe.com"));
    }

    #[test]
    fn expands_host_fragments_and_base_urls() {
        let got = expand(
            "https://login.{region}/oauth/token",
            with(&[("region", "aps1.mypurecloud.com")]),
        );
        assert_eq!(got.unwrap(), "https://login.aps1.mypurecloud.com/oauth/token");
        let got = expand(
            "{base_url}/index.php/api/v1",
            with(&[("base_url", "https://book.example.com/")]),
        );
        assert_eq!(got.unwrap(), "https://book.example.com/index.php/api/v1");
        assert_eq!(expand("https://plain", with(&[])).unwrap(), "https://plain");
    }

    #[test]
    fn refuses_missing_and_smuggled_values() {
        assert_eq!(
            expand("https://login.{region}/x", with(&[])),
            Err(PlaceholderError::Missing("region".into()))
        );
        for bad in ["evil.com/x", "evil.com#", "a@b", "evil.com:80", "..", "a b"] {
            assert!(
                expand("https://login.{region}/x", with(&[("region", bad)])).is_err(),
                "{bad}"
            );
        }
        for bad in ["ftp://x", "https://u:p@x", "https://x/?q=1", "not a url"] {
            assert!(expand("{base_url}/api", with(&[("base_url", bad)])).is_err(), "{bad}");
        }
    }
}

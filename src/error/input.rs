//! Problems with a request's JSON body or query string, described by field and problem
//! without the value: serde's own messages quote what was sent (`invalid type: string
//! "sk_live_…", expected a sequence`), and what was sent may be a secret in the wrong
//! field.

use serde_path_to_error::{Path, Segment};

use super::{ApiError, FieldError};

/// A key that looks like one of tessera's field names (`client_secret`, `list_id`):
/// lowercase letters and underscores. Anything else a caller sent as a key — a token
/// pasted in the wrong place — is not repeated back.
pub fn is_field_name(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// `credentials.client_id`, `scopes[2]`; keys that are not field names shown as `*`.
fn render(path: &Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_field_name(key) { key } else { "*" });
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// The text between the first pair of backticks after `marker`.
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let start = message.find(marker)? + marker.len();
    let end = message[start..].find('`')? + start;
    Some(&message[start..end])
}

/// What is expected, from `…, expected X` (serde's wording for the expected type or
/// the list of known names — words of the program, never of the request).
fn expected(message: &str) -> Option<&str> {
    message.split_once(", expected ").map(|(_, e)| e)
}

/// Removes everything quoted (`…` or "…") from a message of unknown shape.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '"' => quote = Some(c),
            None => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One field error from serde's message and the path it happened at.
pub(super) fn field_problem(path: &str, message: &str) -> FieldError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let (field, problem) = if let Some(name) = quoted_after(message, "missing field `") {
        (join(path, name), "is required".to_owned())
    } else if let Some(name) = quoted_after(message, "duplicate field `") {
        (join(path, name), "is given twice".to_owned())
    } else if message.starts_with("unknown field `") {
        // The path already ends with the unknown key (shown as `*` unless it looks like a
        // field name).
        let known = expected(message).map(|e| format!("; expected {e}")).unwrap_or_default();
        (path.to_owned(), format!("is not a known field{known}"))
    } else if message.starts_with("invalid type:") || message.starts_with("invalid value:") {
        let problem = expected(message).map_or("has a value of the wrong type".to_owned(), |e| format!("expected {e}"));
        (path.to_owned(), problem)
    } else if message.starts_with("unknown variant") {
        let problem = expected(message).map_or("is not one of the allowed values".to_owned(), |e| {
            format!("expected {e}")
        });
        (path.to_owned(), problem)
    } else if message.starts_with("invalid length") {
        (path.to_owned(), message.to_owned())
    } else {
        (path.to_owned(), without_quoted(message))
    };
    FieldError {
        field: if field.is_empty() { "body".to_owned() } else { field },
        message: problem,
    }
}

/// A JSON body that failed to deserialize into its request type.
pub fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = err.inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            ApiError::invalid_fields(vec![field_problem(&render(err.path()), &inner.to_string())])
        }
        _ => malformed_json(inner),
    }
}

/// Syntax errors name the position only.
pub fn malformed_json(err: &serde_json::Error) -> ApiError {
    ApiError::invalid_input(format!(
        "malformed JSON at line {}, column {}",
        err.line(),
        err.column()
    ))
}

/// A query string that failed to deserialize into its query type.
pub fn query_error(err: serde_path_to_error::Error<serde::de::value::Error>) -> ApiError {
    let mut problem = field_problem(&render(err.path()), &err.inner().to_string());
    if problem.field == "body" {
        problem.field = "query".to_owned();
    }
    ApiError::invalid_fields(vec![problem])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_field_and_lose_the_value() {
        let cases = [
            (
                "scopes",
                "invalid type: string \"sk_live_SECRET\", expected a sequence at line 1 column 40",
                ("scopes", "expected a sequence"),
            ),
            (
                "tier",
                "unknown variant `sk_live_SECRET`, expected one of `free`, `pro`",
                ("tier", "expected one of `free`, `pro`"),
            ),
            ("", "missing field `password`", ("password", "is required")),
            (
                "credentials",
                "invalid value: integer `4242`, expected u8",
                ("credentials", "expected u8"),
            ),
            (
                "remember",
                "unknown field `remember`, expected `email` or `password`",
                ("remember", "is not a known field; expected `email` or `password`"),
            ),
            (
                "*",
                "unknown field `sk_live_SECRET`, expected `email`",
                ("*", "is not a known field; expected `email`"),
            ),
            (
                "limit",
                "custom: `sk_live_SECRET` is no good",
                ("limit", "custom: is no good"),
            ),
        ];
        for (path, message, (field, problem)) in cases {
            let got = field_problem(path, message);
            assert_eq!(
                (got.field.as_str(), got.message.as_str()),
                (field, problem),
                "{message}"
            );
            assert!(!got.message.contains("SECRET"));
        }
    }

    #[test]
    fn field_names_are_what_tessera_names_fields() {
        for ok in ["client_secret", "list_id", "email"] {
            assert!(is_field_name(ok));
        }
        for not in [
            "d41d8cd98f00b204",
            "sk_live_X",
            "Authorization",
            "",
            "a-b",
            &"a".repeat(41),
        ] {
            assert!(!is_field_name(not), "{not}");
        }
    }
}

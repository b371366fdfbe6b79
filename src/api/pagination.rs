//! `?limit=&cursor=` lists answering `{"items": [...], "next_cursor": ...}`.

use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Flatten this into a list's query struct (`#[serde(flatten)] page: PageQuery`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// A flattened struct sees query values only as strings, so the number is parsed here.
    #[serde(default, deserialize_with = "number_from_query")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn number_from_query<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u32),
        Text(String),
    }
    match Option::<NumberOrText>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => Ok(Some(n)),
        Some(NumberOrText::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("limit: expected a whole number")),
    }
}

impl PageQuery {
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order; the extra row only
    /// tells that there is more, and the cursor is the id of the last row kept.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> String) -> Page<T> {
        let limit = limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&id_of)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct ListQuery {
        #[serde(flatten)]
        page: PageQuery,
        status: Option<String>,
    }

    fn parse(query: &str) -> Result<ListQuery, axum::extract::rejection::QueryRejection> {
        let uri: axum::http::Uri = format!("/x?{query}").parse().unwrap();
        axum::extract::Query::<ListQuery>::try_from_uri(&uri).map(|q| q.0)
    }

    #[test]
    fn a_flattened_page_reads_its_limit_from_a_query_string() {
        let q = parse("limit=7&cursor=abc&status=x").unwrap();
        assert_eq!(
            (q.page.limit, q.page.cursor.as_deref(), q.status.as_deref()),
            (Some(7), Some("abc"), Some("x"))
        );
        assert_eq!(q.page.limit(), 7);
        let none = parse("").unwrap();
        assert_eq!(none.page.limit(), DEFAULT_LIMIT);
        assert!(parse("limit=lots").is_err());
    }
}

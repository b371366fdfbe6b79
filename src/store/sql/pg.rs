//! Running statements on PostgreSQL: the clients a [`super::Db`] wraps and the types
//! each statement's parameters are sent with.

use postgres::types::{ToSql as PgToSql, Type};

use super::StoreError;
use super::values::Value;

/// The PostgreSQL clients a [`Db`] can run on: a pooled connection or a transaction.
pub trait PgClient {
    /// Whether a failed statement would abort an open transaction.
    fn in_transaction(&self) -> bool;
    fn prepare_typed(&mut self, sql: &str, types: &[Type]) -> Result<postgres::Statement, postgres::Error>;
    fn execute_typed(&mut self, sql: &str, params: &[(&(dyn PgToSql + Sync), Type)]) -> Result<u64, postgres::Error>;
    fn query_typed(
        &mut self,
        sql: &str,
        params: &[(&(dyn PgToSql + Sync), Type)],
    ) -> Result<Vec<postgres::Row>, postgres::Error>;
    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error>;
}

macro_rules! pg_client {
    ($t:ty, $in_transaction:expr) => {
        impl PgClient for $t {
            fn in_transaction(&self) -> bool {
                $in_transaction
            }
            fn prepare_typed(&mut self, sql: &str, types: &[Type]) -> Result<postgres::Statement, postgres::Error> {
                <$t>::prepare_typed(self, sql, types)
            }
            fn execute_typed(
                &mut self,
                sql: &str,
                params: &[(&(dyn PgToSql + Sync), Type)],
            ) -> Result<u64, postgres::Error> {
                <$t>::execute_typed(self, sql, params)
            }
            fn query_typed(
                &mut self,
                sql: &str,
                params: &[(&(dyn PgToSql + Sync), Type)],
            ) -> Result<Vec<postgres::Row>, postgres::Error> {
                <$t>::query_typed(self, sql, params)
            }
            fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
                <$t>::batch_execute(self, sql)
            }
        }
    };
}
pg_client!(postgres::Client, false);
pg_client!(postgres::Transaction<'_>, true);

/// A statement as PostgreSQL runs it: `$N` placeholders and a type for each.
pub(super) struct PgStatement {
    pub(super) sql: String,
    pub(super) types: Vec<Type>,
}

/// Statements already typed, by their SQLite text. The types come from PostgreSQL itself,
/// once per statement and process (a prepare that infers them); after that each run is
/// one round trip with the types sent along.
fn typed_statements() -> &'static std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<PgStatement>>> {
    static STATEMENTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<PgStatement>>>,
    > = std::sync::OnceLock::new();
    STATEMENTS.get_or_init(Default::default)
}

pub(super) fn typed(client: &mut dyn PgClient, sql: &str) -> Result<std::sync::Arc<PgStatement>, StoreError> {
    if let Some(known) = typed_statements().lock().ok().and_then(|map| map.get(sql).cloned()) {
        return Ok(known);
    }
    let statement = std::sync::Arc::new(infer_types(client, sql)?);
    if let Ok(mut map) = typed_statements().lock() {
        map.insert(sql.to_owned(), statement.clone());
    }
    Ok(statement)
}

pub(super) fn infer_types(client: &mut dyn PgClient, sql: &str) -> Result<PgStatement, StoreError> {
    let pg_sql = super::postgres_placeholders(sql);
    let types = match guarded_prepare(client, &pg_sql, &[]) {
        Ok(types) => types,
        Err(e)
            if e.code() == Some(&postgres::error::SqlState::INDETERMINATE_DATATYPE)
                || e.code() == Some(&postgres::error::SqlState::AMBIGUOUS_PARAMETER) =>
        {
            // `(?3 IS NULL OR received_epoch >= ?3)`: PostgreSQL cannot reconcile the
            // untyped use beside IS NULL with the typed one. Ask it about the statement
            // without its NULL tests, where the other uses decide; a parameter used only
            // in NULL tests is text.
            let (probe, used) = without_null_tests(&pg_sql);
            let hints: Vec<Type> = (1..=highest_parameter(&pg_sql))
                .map(|n| if used.contains(&n) { Type::UNKNOWN } else { Type::TEXT })
                .collect();
            guarded_prepare(client, &probe, &hints)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(PgStatement { sql: pg_sql, types })
}

/// Prepares `sql` to learn its parameter types; inside a transaction under a savepoint,
/// because a refused prepare would abort the transaction around it.
fn guarded_prepare(client: &mut dyn PgClient, sql: &str, hints: &[Type]) -> Result<Vec<Type>, postgres::Error> {
    let guarded = client.in_transaction();
    if guarded {
        client.batch_execute("SAVEPOINT tessera_typing")?;
    }
    let prepared = client.prepare_typed(sql, hints);
    if guarded {
        client.batch_execute(if prepared.is_ok() {
            "RELEASE SAVEPOINT tessera_typing"
        } else {
            "ROLLBACK TO SAVEPOINT tessera_typing; RELEASE SAVEPOINT tessera_typing"
        })?;
    }
    Ok(prepared?.params().to_vec())
}

/// `$N` placeholders in `sql` (outside string literals), in order, with their spans.
fn placeholders(sql: &str) -> Vec<(usize, usize, u32)> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let start = i;
                let mut end = i + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if let Ok(n) = sql[start + 1..end].parse::<u32>() {
                    found.push((start, end, n));
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn highest_parameter(sql: &str) -> u32 {
    placeholders(sql).iter().map(|p| p.2).max().unwrap_or(0)
}

/// `sql` with every `$N IS NULL` / `$N IS NOT NULL` replaced by `TRUE`, and the numbers
/// of the parameters still used in what is left.
fn without_null_tests(sql: &str) -> (String, std::collections::BTreeSet<u32>) {
    let mut out = String::with_capacity(sql.len());
    let mut used = std::collections::BTreeSet::new();
    let mut copied = 0;
    for (start, end, n) in placeholders(sql) {
        let words: Vec<&str> = sql[end..].split_whitespace().take(3).collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let test_len = match upper.as_slice() {
            [is, null, ..] if is == "IS" && null.trim_end_matches([')', ',']) == "NULL" => Some(2),
            [is, not, null] if is == "IS" && not == "NOT" && null.trim_end_matches([')', ',']) == "NULL" => Some(3),
            _ => None,
        };
        let Some(words_in_test) = test_len else {
            used.insert(n);
            continue;
        };
        // The end of the test: after the NULL keyword (not the `)` that may follow it).
        let rest = &sql[end..];
        let mut cut = 0;
        for _ in 0..words_in_test {
            let skipped = rest[cut..].len() - rest[cut..].trim_start().len();
            cut += skipped;
            let word_len = rest[cut..]
                .find(|c: char| c.is_whitespace() || c == ')' || c == ',')
                .unwrap_or(rest.len() - cut);
            cut += word_len;
        }
        out.push_str(&sql[copied..start]);
        out.push_str("TRUE");
        copied = end + cut;
    }
    out.push_str(&sql[copied..]);
    (out, used)
}

pub(super) fn bind<'v>(values: &'v [Value<'_>], types: &[Type]) -> Vec<(&'v (dyn PgToSql + Sync), Type)> {
    values
        .iter()
        .zip(types.iter().cloned().chain(std::iter::repeat(Type::TEXT)))
        .map(|(v, t)| (v as &(dyn PgToSql + Sync), t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::without_null_tests;

    #[test]
    fn null_tests_drop_out_of_the_typing_probe_and_other_uses_stay() {
        let (probe, used) =
            without_null_tests("WHERE ($3 IS NULL OR e >= $3) AND ($4 is not null) AND x = '$9 IS NULL'");
        assert_eq!(probe, "WHERE (TRUE OR e >= $3) AND (TRUE) AND x = '$9 IS NULL'");
        assert_eq!(used.into_iter().collect::<Vec<_>>(), vec![3]);
        let (probe, _) = without_null_tests("a = $1 AND ($2 IS NULL)");
        assert_eq!(probe, "a = $1 AND (TRUE)");
    }
}

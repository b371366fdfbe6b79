//! Running statements on PostgreSQL: the clients a [`super::Db`] wraps and the types
//! each statement's parameters are sent with.

use postgres::types::{ToSql as PgToSql, Type};

use super::StoreError;
use super::values::Value;

/// The PostgreSQL clients a [`Db`] can run on: a pooled connection or a transaction.
pub trait PgClient {
    /// Whether a failed statement would abort an open transaction.
    fn in_transaction(&self) -> bool;
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error>;
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
            fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
                <$t>::prepare(self, sql)
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

/// A statement as PostgreSQL runs it: `$N` placeholders and a type for each, or `None`
/// where PostgreSQL cannot infer one and each run takes the types of its values.
pub(super) struct PgStatement {
    pub(super) sql: String,
    pub(super) types: Option<Vec<Type>>,
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

/// The type each value says it is, where PostgreSQL cannot infer one (a parameter used
/// only as `?1 IS NULL`). A NULL reads as text there.
fn types_of(values: &[Value<'_>]) -> Vec<Type> {
    values
        .iter()
        .map(|value| match value {
            Value::Null | Value::Text(_) => Type::TEXT,
            Value::Integer(_) => Type::INT8,
            Value::Real(_) => Type::FLOAT8,
            Value::Blob(_) => Type::BYTEA,
        })
        .collect()
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
    // Inside a transaction a refused prepare would abort it: try under a savepoint.
    let guarded = client.in_transaction();
    if guarded {
        client.batch_execute("SAVEPOINT tessera_typing")?;
    }
    let inferred = client.prepare(&pg_sql);
    if guarded {
        let undo = if inferred.is_ok() {
            "RELEASE SAVEPOINT tessera_typing"
        } else {
            "ROLLBACK TO SAVEPOINT tessera_typing; RELEASE SAVEPOINT tessera_typing"
        };
        client.batch_execute(undo)?;
    }
    let types = match inferred {
        Ok(stmt) => Some(stmt.params().to_vec()),
        Err(e)
            if e.code() == Some(&postgres::error::SqlState::INDETERMINATE_DATATYPE)
                || e.code() == Some(&postgres::error::SqlState::AMBIGUOUS_PARAMETER) =>
        {
            None
        }
        Err(e) => return Err(e.into()),
    };
    Ok(PgStatement { sql: pg_sql, types })
}

pub(super) fn bind<'v>(values: &'v [Value<'_>], types: &Option<Vec<Type>>) -> Vec<(&'v (dyn PgToSql + Sync), Type)> {
    let types = types.clone().unwrap_or_else(|| types_of(values));
    values
        .iter()
        .zip(types.into_iter().chain(std::iter::repeat(Type::TEXT)))
        .map(|(v, t)| (v as &(dyn PgToSql + Sync), t))
        .collect()
}

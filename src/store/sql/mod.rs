//! One way to run SQL on either store. Domain repositories write their statements once,
//! with SQLite's numbered placeholders (`?1`, `?2`), bind [`Value`]s and read columns
//! through [`Row::get`]; [`Db`] runs them on a SQLite connection as they are, and on
//! PostgreSQL with the placeholders renumbered (`$1`) and every value converted to the
//! column type PostgreSQL infers. The dialect differences stay here and in the
//! migrations; a repository that needs a construct only one engine has asks
//! [`Db::dialect`].

use std::cell::RefCell;

use postgres::types::{ToSql as PgToSql, Type};

use super::StoreError;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value or a column read back, in SQLite's five storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// A Rust value that binds as a statement parameter.
pub trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

macro_rules! integer_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value<'_> {
                // Every integer the store keeps fits in an i64; a larger one saturates
                // instead of wrapping to a negative.
                Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
integer_to_value!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Integer(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }
}

/// A value read from SQLite as it is stored (copying between stores).
impl ToValue for rusqlite::types::Value {
    fn to_value(&self) -> Value<'_> {
        use rusqlite::types::Value as V;
        match self {
            V::Null => Value::Null,
            V::Integer(i) => Value::Integer(*i),
            V::Real(r) => Value::Real(*r),
            V::Text(s) => Value::Text(s),
            V::Blob(b) => Value::Blob(b),
        }
    }
}

/// Parameters for [`Db`]'s methods: `sql_params![a, b, c]`.
#[macro_export]
macro_rules! sql_params {
    () => { &[] as &[&dyn $crate::store::sql::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::sql::ToValue),+] as &[&dyn $crate::store::sql::ToValue] };
}

/// A Rust value read from a column.
pub trait FromValue: Sized {
    fn from_value(value: Value<'_>) -> Result<Self, String>;
}

macro_rules! integer_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value<'_>) -> Result<Self, String> {
                match value {
                    Value::Integer(i) => <$t>::try_from(i).map_err(|_| format!("{i} is out of range for {}", stringify!($t))),
                    other => Err(format!("expected an integer, found {}", kind(&other))),
                }
            }
        }
    )*};
}
integer_from_value!(i32, i64, u32, u64, usize);

fn kind(value: &Value<'_>) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Integer(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    }
}

impl FromValue for bool {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Integer(i) => Ok(i != 0),
            other => Err(format!("expected a boolean, found {}", kind(&other))),
        }
    }
}
impl FromValue for f64 {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Real(r) => Ok(r),
            // Like SQLite, an integer column reads as a real where one is asked for.
            Value::Integer(i) => Ok(i as f64),
            other => Err(format!("expected a real, found {}", kind(&other))),
        }
    }
}
impl FromValue for String {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.to_owned()),
            other => Err(format!("expected text, found {}", kind(&other))),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.to_vec()),
            other => Err(format!("expected a blob, found {}", kind(&other))),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value<'_>) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result.
pub struct Row<'r> {
    inner: RowInner<'r>,
}

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as `T`.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, StoreError> {
        let value = match &self.inner {
            RowInner::Sqlite(row) => row.get_ref(index).map(sqlite_value)?,
            RowInner::Postgres(row) => row.try_get::<_, Value<'_>>(index)?,
        };
        T::from_value(value).map_err(|why| StoreError::Column { index, why })
    }
}

fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Value<'_> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        // SQLite text is UTF-8 as written by this program; anything else reads as NULL
        // would hide corruption, so it is an error at `from_value` as a blob.
        ValueRef::Text(t) => std::str::from_utf8(t).map(Value::Text).unwrap_or(Value::Blob(t)),
        ValueRef::Blob(b) => Value::Blob(b),
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

mod pg_types {
    //! Binding to and reading from PostgreSQL's typed protocol.
    use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

    use super::Value;

    type BoxError = Box<dyn std::error::Error + Sync + Send>;

    fn mismatch(value: &Value<'_>, ty: &Type) -> BoxError {
        format!("cannot bind {} to a parameter of type {ty}", super::kind(value)).into()
    }

    impl ToSql for Value<'_> {
        fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
            match (self, ty) {
                (Value::Null, _) => Ok(IsNull::Yes),
                (Value::Integer(i), &Type::INT8) => i.to_sql(ty, out),
                (Value::Integer(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
                (Value::Integer(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
                (Value::Integer(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
                (Value::Integer(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
                // An untyped parameter (`?1 IS NULL`) is text to PostgreSQL.
                (Value::Integer(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().as_str().to_sql(ty, out),
                (Value::Real(r), &Type::FLOAT8) => r.to_sql(ty, out),
                (Value::Real(r), &Type::FLOAT4) => (*r as f32).to_sql(ty, out),
                (Value::Text(s), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME | &Type::UNKNOWN) => {
                    s.to_sql(ty, out)
                }
                (Value::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
                (value, ty) => Err(mismatch(value, ty)),
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for Value<'a> {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
            Ok(match *ty {
                Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
                Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
                Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
                Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
                Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
                Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
                Type::BYTEA => Value::Blob(raw),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    Value::Text(<&str>::from_sql(ty, raw)?)
                }
                ref other => return Err(format!("cannot read a column of type {other}").into()),
            })
        }

        fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
            Ok(Value::Null)
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }
}

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
struct PgStatement {
    sql: String,
    types: Option<Vec<Type>>,
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

fn typed(client: &mut dyn PgClient, sql: &str) -> Result<std::sync::Arc<PgStatement>, StoreError> {
    if let Some(known) = typed_statements().lock().ok().and_then(|map| map.get(sql).cloned()) {
        return Ok(known);
    }
    let statement = std::sync::Arc::new(infer_types(client, sql)?);
    if let Ok(mut map) = typed_statements().lock() {
        map.insert(sql.to_owned(), statement.clone());
    }
    Ok(statement)
}

fn infer_types(client: &mut dyn PgClient, sql: &str) -> Result<PgStatement, StoreError> {
    let pg_sql = postgres_placeholders(sql);
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

fn bind<'v>(values: &'v [Value<'_>], types: &Option<Vec<Type>>) -> Vec<(&'v (dyn PgToSql + Sync), Type)> {
    let types = types.clone().unwrap_or_else(|| types_of(values));
    values
        .iter()
        .zip(types.into_iter().chain(std::iter::repeat(Type::TEXT)))
        .map(|(v, t)| (v as &(dyn PgToSql + Sync), t))
        .collect()
}

/// A connection or transaction of either store.
pub struct Db<'c> {
    inner: DbInner<'c>,
}

enum DbInner<'c> {
    Sqlite(&'c rusqlite::Connection),
    // A shared `&Db` runs statements one after another, as on SQLite; the client wants
    // `&mut` for each, hence the cell. Nothing holds the borrow across a call.
    Postgres(RefCell<&'c mut dyn PgClient>),
}

impl<'c> Db<'c> {
    pub fn sqlite(conn: &'c rusqlite::Connection) -> Db<'c> {
        Db {
            inner: DbInner::Sqlite(conn),
        }
    }

    pub fn postgres(client: &'c mut impl PgClient) -> Db<'c> {
        Db {
            inner: DbInner::Postgres(RefCell::new(client)),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            DbInner::Sqlite(_) => Dialect::Sqlite,
            DbInner::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, StoreError> {
        let values: Vec<Value<'_>> = params.iter().map(|p| p.to_value()).collect();
        match &self.inner {
            DbInner::Sqlite(conn) => {
                let changed = conn
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(values.iter()))?;
                Ok(changed as u64)
            }
            DbInner::Postgres(client) => {
                let client = &mut **client.borrow_mut();
                let stmt = typed(client, sql)?;
                Ok(client.execute_typed(&stmt.sql, &bind(&values, &stmt.types))?)
            }
        }
    }

    /// [`Db::execute`] for a statement run once (a generated bulk insert): neither engine
    /// keeps it prepared or typed afterwards.
    pub fn execute_uncached(&self, sql: &str, params: &[&dyn ToValue]) -> Result<u64, StoreError> {
        let values: Vec<Value<'_>> = params.iter().map(|p| p.to_value()).collect();
        match &self.inner {
            DbInner::Sqlite(conn) => {
                let changed = conn.prepare(sql)?.execute(rusqlite::params_from_iter(values.iter()))?;
                Ok(changed as u64)
            }
            DbInner::Postgres(client) => {
                let client = &mut **client.borrow_mut();
                let stmt = infer_types(client, sql)?;
                Ok(client.execute_typed(&stmt.sql, &bind(&values, &stmt.types))?)
            }
        }
    }

    /// Runs a query and maps every row.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let values: Vec<Value<'_>> = params.iter().map(|p| p.to_value()).collect();
        match &self.inner {
            DbInner::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(map(&Row {
                        inner: RowInner::Sqlite(row),
                    })?);
                }
                Ok(out)
            }
            DbInner::Postgres(client) => {
                let client = &mut **client.borrow_mut();
                let stmt = typed(client, sql)?;
                let rows = client.query_typed(&stmt.sql, &bind(&values, &stmt.types))?;
                rows.iter()
                    .map(|row| {
                        map(&Row {
                            inner: RowInner::Postgres(row),
                        })
                    })
                    .collect()
            }
        }
    }

    /// The first row, mapped, or `None` when there is none.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let values: Vec<Value<'_>> = params.iter().map(|p| p.to_value()).collect();
        match &self.inner {
            DbInner::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                match rows.next()? {
                    Some(row) => map(&Row {
                        inner: RowInner::Sqlite(row),
                    })
                    .map(Some),
                    None => Ok(None),
                }
            }
            DbInner::Postgres(client) => {
                let client = &mut **client.borrow_mut();
                let stmt = typed(client, sql)?;
                let rows = client.query_typed(&stmt.sql, &bind(&values, &stmt.types))?;
                rows.first()
                    .map(|row| {
                        map(&Row {
                            inner: RowInner::Postgres(row),
                        })
                    })
                    .transpose()
            }
        }
    }

    /// Runs several statements separated by `;`, without parameters (schema, pragmas).
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.inner {
            DbInner::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            DbInner::Postgres(client) => Ok(client.borrow_mut().batch_execute(sql)?),
        }
    }
}

/// `?N` placeholders as PostgreSQL's `$N`, leaving string literals, quoted names and
/// comments as written. A bare `?` is numbered after the highest so far, as SQLite does.
pub fn postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut highest = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == c {
                        // A doubled quote inside a literal closes and reopens it; the
                        // next loop turn sees the second quote and re-enters.
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let number = digits.parse::<u32>().unwrap_or(highest + 1);
                highest = highest.max(number);
                out.push('$');
                out.push_str(&number.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;

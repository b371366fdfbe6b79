//! One way to run SQL on either store. Domain repositories write their statements once,
//! with SQLite's numbered placeholders (`?1`, `?2`), bind [`Value`]s and read columns
//! through [`Row::get`]; [`Db`] runs them on a SQLite connection as they are, and on
//! PostgreSQL with the placeholders renumbered (`$1`) and every value converted to the
//! column type PostgreSQL infers. The dialect differences stay here and in the
//! migrations; a repository that needs a construct only one engine has asks
//! [`Db::dialect`].

mod pg;
mod values;

use std::cell::RefCell;

pub use self::pg::PgClient;
use self::pg::{bind, infer_types, typed};
pub use self::values::{FromValue, Params, ToValue, Value};
use super::StoreError;
/// `params![a, b, c]`: parameters of different types, as with rusqlite.
pub use crate::sql_params as params;

/// Which engine a [`Db`] talks to, and the few SQL fragments the two spell differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The text at `key` of a JSON object stored as text in `column`.
    pub fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("(CAST({column} AS jsonb) ->> '{key}')"),
        }
    }

    /// A subquery of the strings in the JSON array bound at `param` (`?2`).
    pub fn json_array_values(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("SELECT value FROM json_each({param})"),
            Dialect::Postgres => format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))"),
        }
    }

    /// Appended to a claim's inner SELECT: on PostgreSQL, nodes claiming at once skip the
    /// rows another has locked instead of waiting for them (SQLite has one writer).
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// Appended to a SELECT that decides on a row before writing it: on PostgreSQL the row
    /// stays locked until the commit, so no other node changes it in between.
    pub fn lock_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE",
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
            RowInner::Sqlite(row) => row.get_ref(index).map(values::sqlite_value)?,
            RowInner::Postgres(row) => row.try_get::<_, Value<'_>>(index)?,
        };
        T::from_value(value).map_err(|why| StoreError::Column { index, why })
    }
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
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        let values = params.values();
        match &self.inner {
            DbInner::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            DbInner::Postgres(client) => {
                let client = &mut **client.borrow_mut();
                let stmt = typed(client, sql)?;
                Ok(client.execute_typed(&stmt.sql, &bind(&values, &stmt.types))? as usize)
            }
        }
    }

    /// [`Db::execute`] for a statement run once (a generated bulk insert): neither engine
    /// keeps it prepared or typed afterwards.
    pub fn execute_uncached(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        let values = params.values();
        match &self.inner {
            DbInner::Sqlite(conn) => Ok(conn.prepare(sql)?.execute(rusqlite::params_from_iter(values.iter()))?),
            DbInner::Postgres(client) => {
                let client = &mut **client.borrow_mut();
                let stmt = infer_types(client, sql)?;
                Ok(client.execute_typed(&stmt.sql, &bind(&values, &stmt.types))? as usize)
            }
        }
    }

    /// Runs a query and maps every row.
    pub fn query<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let values = params.values();
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
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let values = params.values();
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

    /// The first row, mapped; [`StoreError::NoRows`] when there is none (a row that must
    /// exist: `count(*)`, an `INSERT … RETURNING`). [`super::OptionalRow`] turns that into
    /// `None` where absence is an answer.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, map)?.ok_or(StoreError::NoRows)
    }

    /// Tells every node sharing the database that `topic` changed, when this transaction
    /// commits (PostgreSQL's NOTIFY; see `store::postgres::changes`). Nothing on SQLite,
    /// whose one process already knows.
    pub fn announce(&self, topic: &str) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Postgres {
            self.query_row(
                "SELECT pg_notify(?1, ?2)::text",
                [super::postgres::changes::CHANNEL, topic],
                |_| Ok(()),
            )?;
        }
        Ok(())
    }

    /// Runs several statements separated by `;`, without parameters (schema, pragmas).
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.inner {
            DbInner::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            DbInner::Postgres(client) => Ok(client.borrow_mut().batch_execute(sql)?),
        }
    }

    /// Runs `f` in a savepoint: its changes are kept when it returns `Ok` and undone when
    /// it returns an error, and the transaction around it carries on either way.
    pub fn savepoint<T, E: From<StoreError>>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E> {
        self.execute_batch("SAVEPOINT tessera_step")?;
        match f(self) {
            Ok(value) => {
                self.execute_batch("RELEASE SAVEPOINT tessera_step")?;
                Ok(value)
            }
            Err(e) => {
                self.execute_batch("ROLLBACK TO SAVEPOINT tessera_step; RELEASE SAVEPOINT tessera_step")?;
                Err(e)
            }
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

//! Values bound to statements and read from rows, in SQLite's five storage classes, and
//! their conversions to and from each engine.

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

/// What a statement is run with: `sql_params![a, b, c]`, or an array of values of one
/// type (`[id]`, `[tenant, id]`).
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value<'_>> {
        Vec::new()
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn values(&self) -> Vec<Value<'_>> {
                self.iter().map(|p| p.to_value()).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

impl<T: ToValue> Params for &[T] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|p| p.to_value()).collect()
    }
}

/// Parameters of different types: `sql_params![a, b, c]`.
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
integer_from_value!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

pub(super) fn kind(value: &Value<'_>) -> &'static str {
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

pub(super) fn sqlite_value(value: rusqlite::types::ValueRef<'_>) -> Value<'_> {
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
                // JSON kept as text binds where a statement casts a parameter to JSON.
                (Value::Text(s), &Type::JSON) => {
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                (Value::Text(s), &Type::JSONB) => {
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                (value, ty) => Err(mismatch(value, ty)),
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    /// A NUMERIC in PostgreSQL's binary form (base-10000 digits after a header of count,
    /// weight, sign and scale): an integer when it has no fraction and fits, else a real.
    fn numeric(raw: &[u8]) -> Result<Value<'static>, BoxError> {
        let word = |i: usize| -> Result<i16, BoxError> {
            let bytes = raw.get(i * 2..i * 2 + 2).ok_or("truncated NUMERIC")?;
            Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
        };
        let (count, weight, sign) = (word(0)?.max(0) as usize, i32::from(word(1)?), word(2)? as u16);
        let negative = match sign {
            0x0000 => false,
            0x4000 => true,
            _ => return Err("NaN or infinity is not a number the store keeps".into()),
        };
        let mut integer: Option<i128> = Some(0);
        let mut real = 0f64;
        for i in 0..count {
            let digit = word(4 + i)?;
            let power = weight - i as i32;
            real += f64::from(digit) * 10000f64.powi(power);
            integer = match (integer, u32::try_from(power)) {
                (Some(sum), Ok(power)) => 10000i128
                    .checked_pow(power)
                    .and_then(|scale| scale.checked_mul(i128::from(digit)))
                    .and_then(|term| sum.checked_add(term)),
                (Some(sum), Err(_)) if digit == 0 => Some(sum),
                _ => None,
            };
        }
        let sign = if negative { -1 } else { 1 };
        match integer.and_then(|i| i64::try_from(i * sign).ok()) {
            Some(i) => Ok(Value::Integer(i)),
            None => Ok(Value::Real(real * sign as f64)),
        }
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
                // SUM over BIGINT is NUMERIC in PostgreSQL; SQLite's SUM is an integer.
                Type::NUMERIC => numeric(raw)?,
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

//! [`super::Db`] on SQLite: `$N` placeholders become `?N`; writing transactions take the write
//! lock at their start (see `sqlite_tx.rs`).

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::{DbError, DbResult, Row, Tx, Value};

pub(super) fn open(data_dir: &Path, schema: &str) -> DbResult<Connection> {
    let conn = Connection::open(data_dir.join("jobs.sqlite"))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(v) => ToSqlOutput::Owned((*v).into()),
            Value::Real(v) => ToSqlOutput::Owned((*v).into()),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

/// `$12` → `?12` (outside quotes: the statements are the program's own, and none quotes a `$`).
fn placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}

fn to_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
    }
}

pub(super) fn query(c: &Connection, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
    let mut st = c.prepare(&placeholders(sql))?;
    let n = st.column_count();
    let rows = st.query_map(rusqlite::params_from_iter(params), |r| {
        (0..n)
            .map(|i| r.get_ref(i).map(to_value))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map(Row)
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

struct SqliteTx<'a>(&'a Connection);

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        let n = self
            .0
            .execute(&placeholders(sql), rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        query(self.0, sql, params)
    }
}

pub(super) fn transaction<T, E: From<DbError>>(
    c: &Connection,
    f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
) -> Result<T, E> {
    let tx = crate::sqlite_tx::write_transaction(c).map_err(DbError::from)?;
    let out = f(&mut SqliteTx(&tx))?;
    tx.commit().map_err(DbError::from)?;
    Ok(out)
}

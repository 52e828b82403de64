//! One way to ask either database: the accounts and the webhook outbox are written once, in
//! SQL that SQLite and PostgreSQL both read, against [`Db`].
//!
//! The SQL's conventions: placeholders are `$1`, `$2` … (rewritten for SQLite); integers are
//! 64-bit (`BIGINT` in the PostgreSQL schema), reals `DOUBLE PRECISION`; `user` is a keyword
//! in PostgreSQL, so that column is always written `"user"`; the order rows were added in is
//! the column [`Db::insertion_order`] names (`rowid` in SQLite, a `seq` column in PostgreSQL).

mod postgres;
mod sqlite;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::pg::Pg;

/// A value going into or coming out of a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter list: `params![a, b]`.
#[macro_export]
macro_rules! db_params {
    ($($v:expr),* $(,)?) => { &[$($crate::db::Value::from($v)),*] as &[$crate::db::Value] };
}

/// One result row.
#[derive(Clone, Debug)]
pub struct Row(pub Vec<Value>);

impl Row {
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Some(*v),
            Some(Value::Real(v)) => Some(*v as i64),
            _ => None,
        }
    }
    pub fn real(&self, i: usize) -> f64 {
        match self.0.get(i) {
            Some(Value::Real(v)) => *v,
            Some(Value::Int(v)) => *v as f64,
            _ => 0.0,
        }
    }
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Some(v.clone()),
            _ => None,
        }
    }
}

/// A database error, with the database's own message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError(e.to_string())
    }
}

impl From<crate::pg::PgError> for DbError {
    fn from(e: crate::pg::PgError) -> Self {
        DbError(e.to_string())
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Statements inside one transaction.
pub trait Tx {
    /// Runs a statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Value]) -> DbResult<u64>;
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>>;
}

/// SQLite in the data folder, or a PostgreSQL pool.
pub enum Db {
    Sqlite(Mutex<Connection>),
    Postgres(Arc<Pg>),
}

impl Db {
    /// The data folder's SQLite database (`jobs.sqlite`), created if missing, with `schema`
    /// (idempotent `CREATE … IF NOT EXISTS` statements).
    pub fn sqlite(data_dir: &Path, schema: &str) -> DbResult<Self> {
        sqlite::open(data_dir, schema).map(|c| Db::Sqlite(Mutex::new(c)))
    }

    /// The column that orders rows as they were added.
    pub fn insertion_order(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "rowid",
            Db::Postgres(_) => "seq",
        }
    }

    pub fn exec(&self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.transaction(|tx| tx.exec(sql, params))
    }

    pub fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        match self {
            Db::Sqlite(c) => sqlite::query(&lock(c), sql, params),
            Db::Postgres(pg) => postgres::query(pg, sql, params),
        }
    }

    /// The first row, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> DbResult<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn transaction<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(c) => sqlite::transaction(&lock(c), f),
            Db::Postgres(pg) => postgres::transaction(pg, f),
        }
    }
}

fn lock(c: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

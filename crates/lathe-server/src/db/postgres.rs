//! [`super::Db`] on PostgreSQL: values bound by the column's type (a `NULL` fits any), rows
//! read back by theirs; a transaction holds one pooled connection from `BEGIN` to `COMMIT`.

use deadpool_postgres::Object;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use super::{DbError, DbResult, Row, Tx, Value};
use crate::pg::{Pg, PgError};

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::FLOAT8 => (*v as f64).to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Real(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which knows the column's type.
        true
    }

    to_sql_checked!();
}

fn to_row(r: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    let values = r
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let t = c.type_();
            Ok(if *t == Type::INT8 {
                r.try_get::<_, Option<i64>>(i)?
                    .map_or(Value::Null, Value::Int)
            } else if *t == Type::INT4 {
                r.try_get::<_, Option<i32>>(i)?
                    .map_or(Value::Null, |v| Value::Int(v.into()))
            } else if *t == Type::INT2 {
                r.try_get::<_, Option<i16>>(i)?
                    .map_or(Value::Null, |v| Value::Int(v.into()))
            } else if *t == Type::FLOAT8 {
                r.try_get::<_, Option<f64>>(i)?
                    .map_or(Value::Null, Value::Real)
            } else if *t == Type::BOOL {
                r.try_get::<_, Option<bool>>(i)?
                    .map_or(Value::Null, |v| Value::Int(v.into()))
            } else {
                r.try_get::<_, Option<String>>(i)?
                    .map_or(Value::Null, Value::Text)
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Row(values))
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

pub(super) fn query(pg: &Pg, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
    let (sql, params) = (sql.to_owned(), params.to_vec());
    Ok(pg.call(|pool| async move {
        let c = pool.get().await?;
        let rows = c.query(&sql, &refs(&params)).await?;
        Ok(rows.iter().map(to_row).collect::<Result<Vec<_>, _>>()?)
    })?)
}

/// A pooled connection inside a transaction. Dropped before `COMMIT` or `ROLLBACK` went
/// through (a panic, a timeout), the connection is closed rather than returned to the pool:
/// the server then rolls the transaction back, and no later caller finds itself inside it.
struct Held(Option<Object>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(o) = self.0.take() {
            drop(Object::take(o));
        }
    }
}

struct PgTx<'a> {
    pg: &'a Pg,
    held: Held,
}

enum Step {
    Exec,
    Query,
    Batch,
}

impl PgTx<'_> {
    fn step(&mut self, sql: &str, params: &[Value], step: Step) -> DbResult<(u64, Vec<Row>)> {
        let client = self.held.0.take().ok_or_else(|| {
            DbError("the transaction's connection was lost (an earlier call timed out)".into())
        })?;
        let (sql, params) = (sql.to_owned(), params.to_vec());
        let (client, out) = self.pg.run(async move {
            let held = Held(Some(client));
            let c = held.0.as_ref().expect("just put");
            let out = match step {
                Step::Exec => c
                    .execute(&sql, &refs(&params))
                    .await
                    .map(|n| (n, Vec::new())),
                Step::Query => c.query(&sql, &refs(&params)).await.and_then(|rows| {
                    let rows = rows.iter().map(to_row).collect::<Result<Vec<_>, _>>()?;
                    Ok((0, rows))
                }),
                Step::Batch => c.batch_execute(&sql).await.map(|()| (0, Vec::new())),
            };
            let mut held = held;
            Ok((held.0.take(), out.map_err(PgError::from)))
        })?;
        self.held.0 = client;
        Ok(out?)
    }

    fn finish(&mut self, sql: &str) -> DbResult<()> {
        self.step(sql, &[], Step::Batch).map(drop)
    }
}

impl Tx for PgTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.step(sql, params, Step::Exec).map(|(n, _)| n)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        self.step(sql, params, Step::Query).map(|(_, rows)| rows)
    }
}

pub(super) fn transaction<T, E: From<DbError>>(
    pg: &Pg,
    f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
) -> Result<T, E> {
    let client = pg
        .call(|pool| async move { Ok(pool.get().await?) })
        .map_err(DbError::from)?;
    let mut tx = PgTx {
        pg,
        held: Held(Some(client)),
    };
    tx.finish("BEGIN")?;
    match f(&mut tx) {
        Ok(v) => {
            tx.finish("COMMIT")?;
            // Back to the pool: the transaction is over.
            drop(tx.held.0.take());
            Ok(v)
        }
        Err(e) => {
            if tx.finish("ROLLBACK").is_ok() {
                drop(tx.held.0.take());
            }
            Err(e)
        }
    }
}

//! Versioned schema migrations: each a numbered SQL script, applied once and in order, recorded
//! in `lathe_schema`. The scripts a start applies run in one transaction (a failing one leaves
//! the schema as it was), and processes that start together take turns (an advisory lock), so
//! a script never runs twice.

use deadpool_postgres::Pool;

use super::PgError;

/// One step of a schema.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Applied in increasing order; never renumbered once released.
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The advisory lock key that serialises migrations (any constant the database does not
/// otherwise use: "lathe" in ASCII).
const LOCK_KEY: i64 = 0x6c_61_74_68_65;

/// Applies the migrations the database has not seen. A database newer than this program (a
/// version it does not know) is refused: an older process must not write to it.
pub(super) async fn run(pool: &Pool, migrations: &[Migration]) -> Result<(), PgError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS lathe_schema (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let newest: Option<i32> = tx
        .query_one("SELECT MAX(version) FROM lathe_schema", &[])
        .await?
        .get(0);
    let known = migrations.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(v) = newest.filter(|&v| v > known) {
        return Err(PgError::Db(format!(
            "the schema is at version {v}, newer than this program's {known}: upgrade lathe"
        )));
    }
    for m in migrations.iter().filter(|m| Some(m.version) > newest) {
        tx.batch_execute(m.sql).await.map_err(|e| {
            PgError::Db(format!(
                "migration {} ({}): {}",
                m.version,
                m.name,
                PgError::from(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO lathe_schema (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

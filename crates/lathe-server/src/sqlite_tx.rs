//! How the SQLite stores write: every transaction that writes starts as `BEGIN IMMEDIATE`.
//!
//! The web handlers, the workers and each job's process hold connections of their own. A
//! deferred transaction that reads first and writes second (a claim: find the oldest queued
//! job, then mark it) cannot wait for another writer once it holds its read snapshot: SQLite
//! answers "database is locked" at once instead of waiting out the busy timeout. Taking the
//! write lock at `BEGIN` makes such transactions queue behind each other within the timeout.

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// A transaction holding SQLite's write lock from its start.
pub(crate) fn write_transaction(c: &Connection) -> rusqlite::Result<Transaction<'_>> {
    Transaction::new_unchecked(c, TransactionBehavior::Immediate)
}

//! Running the accounts over time: removing a user, changing a password, revoking tokens, and
//! the log of logins (who, from where, whether it worked) that the audit log shows next to
//! the jobs' events.

use rusqlite::params;
use serde::Serialize;

use super::{password, AccountError, Accounts};
use crate::queue::now_s;

/// One attempt to log in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Login {
    pub at_s: i64,
    pub name: String,
    pub addr: String,
    /// `ok`, `wrong` (name or password) or `throttled` (refused before checking).
    pub outcome: String,
}

impl Accounts {
    pub(super) fn create_login_table(c: &rusqlite::Connection) -> rusqlite::Result<()> {
        c.execute_batch(
            "CREATE TABLE IF NOT EXISTS logins (
                at_s INTEGER NOT NULL,
                name TEXT NOT NULL,
                addr TEXT NOT NULL,
                outcome TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS logins_at ON logins (at_s);",
        )
    }

    /// Removes a user with their tokens, sessions and webhook (at once: their next request
    /// is 401). Their projects stay, for the engineers.
    pub fn remove_user(&self, name: &str) -> Result<(), AccountError> {
        self.in_user_transaction(name, |tx| {
            for table in ["tokens", "sessions", "webhooks"] {
                tx.execute(&format!("DELETE FROM {table} WHERE user = ?1"), [name])?;
            }
            tx.execute("DELETE FROM users WHERE name = ?1", [name])
        })
    }

    /// Runs `f` in one transaction; `f` answers how many user rows it touched (0: no such
    /// user, and nothing is kept).
    fn in_user_transaction(
        &self,
        name: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize>,
    ) -> Result<(), AccountError> {
        let n = self.with(|c| {
            let tx = crate::sqlite_tx::write_transaction(c)?;
            let n = f(&tx)?;
            if n > 0 {
                tx.commit()?;
            }
            Ok(n)
        })?;
        if n == 0 {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        Ok(())
    }

    /// Sets a new password and ends the user's browser sessions (tokens stay).
    pub fn set_password(&self, name: &str, pass: &str) -> Result<(), AccountError> {
        if pass.chars().count() < password::MIN_PASSWORD_CHARS {
            return Err(AccountError::ShortPassword);
        }
        let phc = password::hash(pass).map_err(AccountError::Secret)?;
        self.in_user_transaction(name, |tx| {
            tx.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
            tx.execute(
                "UPDATE users SET password = ?2 WHERE name = ?1",
                params![name, phc],
            )
        })
    }

    /// Revokes every API token of `name`; returns how many there were.
    pub fn revoke_tokens(&self, name: &str) -> Result<usize, AccountError> {
        if self.user(name)?.is_none() {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        self.with(|c| c.execute("DELETE FROM tokens WHERE user = ?1", [name]))
    }

    /// Records a login attempt (names are cut to 64 characters: anyone can type one).
    pub fn record_login(&self, name: &str, addr: &str, outcome: &str) -> Result<(), AccountError> {
        let name: String = name.chars().take(64).collect();
        self.with(|c| {
            c.execute(
                "INSERT INTO logins (at_s, name, addr, outcome) VALUES (?1, ?2, ?3, ?4)",
                params![now_s(), name, addr, outcome],
            )
            .map(|_| ())
        })
    }

    /// The newest `limit` login attempts, newest first.
    pub fn logins(&self, limit: u32) -> Result<Vec<Login>, AccountError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT at_s, name, addr, outcome FROM logins ORDER BY at_s DESC, rowid DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(Login {
                    at_s: r.get(0)?,
                    name: r.get(1)?,
                    addr: r.get(2)?,
                    outcome: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }
}

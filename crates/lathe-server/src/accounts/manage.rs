//! Running the accounts over time: removing a user, changing a password, revoking tokens, and
//! the log of logins (who, from where, whether it worked) that the audit log shows next to
//! the jobs' events.

use serde::Serialize;

use super::{password, AccountError, Accounts};
use crate::db::{DbResult, Tx};
use crate::db_params as params;
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
    /// Removes a user with their tokens, sessions and webhook (at once: their next request
    /// is 401). Their projects stay, for the engineers.
    pub fn remove_user(&self, name: &str) -> Result<(), AccountError> {
        self.in_user_transaction(name, |tx| {
            for table in ["tokens", "sessions", "webhooks"] {
                tx.exec(
                    &format!("DELETE FROM {table} WHERE \"user\" = $1"),
                    params![name],
                )?;
            }
            tx.exec("DELETE FROM users WHERE name = $1", params![name])
        })
    }

    /// Runs `f` in one transaction; `f` answers how many user rows it touched (0: no such
    /// user, and nothing is kept).
    fn in_user_transaction(
        &self,
        name: &str,
        f: impl FnOnce(&mut dyn Tx) -> DbResult<u64>,
    ) -> Result<(), AccountError> {
        self.db.transaction(|tx| match f(tx)? {
            0 => Err(AccountError::NoSuchUser(name.to_string())),
            _ => Ok(()),
        })
    }

    /// Sets a new password and ends the user's browser sessions (tokens stay).
    pub fn set_password(&self, name: &str, pass: &str) -> Result<(), AccountError> {
        if pass.chars().count() < password::MIN_PASSWORD_CHARS {
            return Err(AccountError::ShortPassword);
        }
        let phc = password::hash(pass).map_err(AccountError::Secret)?;
        self.in_user_transaction(name, |tx| {
            tx.exec("DELETE FROM sessions WHERE \"user\" = $1", params![name])?;
            tx.exec(
                "UPDATE users SET password = $2 WHERE name = $1",
                params![name, phc],
            )
        })
    }

    /// Revokes every API token of `name`; returns how many there were.
    pub fn revoke_tokens(&self, name: &str) -> Result<usize, AccountError> {
        if self.user(name)?.is_none() {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        let n = self
            .db
            .exec("DELETE FROM tokens WHERE \"user\" = $1", params![name])?;
        Ok(n as usize)
    }

    /// Records a login attempt (names are cut to 64 characters: anyone can type one).
    pub fn record_login(&self, name: &str, addr: &str, outcome: &str) -> Result<(), AccountError> {
        let name: String = name.chars().take(64).collect();
        self.db.exec(
            "INSERT INTO logins (at_s, name, addr, outcome) VALUES ($1, $2, $3, $4)",
            params![now_s(), name, addr, outcome],
        )?;
        Ok(())
    }

    /// The newest `limit` login attempts, newest first.
    pub fn logins(&self, limit: u32) -> Result<Vec<Login>, AccountError> {
        let sql = format!(
            "SELECT at_s, name, addr, outcome FROM logins ORDER BY at_s DESC, {} DESC LIMIT $1",
            self.db.insertion_order()
        );
        let rows = self.db.query(&sql, params![limit])?;
        Ok(rows
            .iter()
            .map(|r| Login {
                at_s: r.int(0),
                name: r.text(1),
                addr: r.text(2),
                outcome: r.text(3),
            })
            .collect())
    }
}

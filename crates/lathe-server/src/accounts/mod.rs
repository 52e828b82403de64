//! The studio's accounts: users with a role, their API tokens and their browser sessions, in
//! tables of the service's database (the data folder's `jobs.sqlite`, next to the queue, or
//! PostgreSQL), written once for both through [`crate::db::Db`].
//!
//! With no user at all the service is one person's tool on their own machine (open, and only
//! on loopback: [`crate::start`] refuses any other address); once a user exists every request
//! needs a session cookie or a bearer token ([`crate::auth`]).

pub mod manage;
pub mod password;
pub mod secret;
pub mod webhook;

use std::path::Path;

use serde::Serialize;

use crate::db::{Db, DbError, Row};
use crate::db_params as params;
use crate::queue::now_s;

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Orders masters and sees only its own projects.
    Client,
    /// Sees every project, reviews and renders revisions.
    Engineer,
    /// An engineer who also runs the service.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Engineer => "engineer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "client" => Some(Role::Client),
            "engineer" => Some(Role::Engineer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Engineers and admins see every project.
    pub fn sees_all(self) -> bool {
        self != Role::Client
    }
}

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub created_s: i64,
}

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a user name is 1–64 letters, digits, '.', '_' or '-' (got {0:?})")]
    BadName(String),
    #[error("a role is client, engineer or admin (got {0:?})")]
    BadRole(String),
    #[error("a password has at least {min} characters", min = password::MIN_PASSWORD_CHARS)]
    ShortPassword,
    #[error("a user named {0:?} exists already")]
    Exists(String),
    #[error("no user is named {0:?}")]
    NoSuchUser(String),
    #[error("account database: {0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Secret(String),
    #[error("{0}")]
    BadWebhook(String),
}

/// How long a browser session lasts, seconds (two weeks).
pub const SESSION_S: i64 = 14 * 86_400;

/// The accounts' tables in a SQLite database (created when missing; the PostgreSQL schema is
/// in `pg/schema.rs`).
pub const SQLITE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password TEXT NOT NULL,
        created_s INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tokens (
        digest TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users (name),
        created_s INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS sessions (
        digest TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users (name),
        expires_s INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS webhooks (
        user TEXT PRIMARY KEY REFERENCES users (name),
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_s INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS logins (
        at_s INTEGER NOT NULL,
        name TEXT NOT NULL,
        addr TEXT NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS logins_at ON logins (at_s);";

/// The accounts of one service.
pub struct Accounts {
    db: Db,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Accounts {
    /// Opens (creating) the account tables in `data_dir`'s database.
    pub fn open(data_dir: &Path) -> Result<Self, AccountError> {
        Ok(Self::on(Db::sqlite(data_dir, SQLITE_SCHEMA)?))
    }

    /// The accounts in `db` (its schema made already).
    pub fn on(db: Db) -> Self {
        Self { db }
    }

    /// Whether any user exists (then every request needs credentials).
    pub fn any(&self) -> Result<bool, AccountError> {
        let row = self
            .db
            .query_opt("SELECT EXISTS (SELECT 1 FROM users)", &[])?;
        Ok(row.is_some_and(|r| r.int(0) != 0))
    }

    pub fn add_user(&self, name: &str, role: Role, pass: &str) -> Result<User, AccountError> {
        if !valid_name(name) {
            return Err(AccountError::BadName(name.to_string()));
        }
        if pass.chars().count() < password::MIN_PASSWORD_CHARS {
            return Err(AccountError::ShortPassword);
        }
        let phc = password::hash(pass).map_err(AccountError::Secret)?;
        let created_s = now_s();
        let added = self.db.exec(
            "INSERT INTO users (name, role, password, created_s) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            params![name, role.as_str(), phc, created_s],
        )?;
        if added == 0 {
            return Err(AccountError::Exists(name.to_string()));
        }
        Ok(User {
            name: name.to_string(),
            role,
            created_s,
        })
    }

    pub fn users(&self) -> Result<Vec<User>, AccountError> {
        let rows = self
            .db
            .query("SELECT name, role, created_s FROM users ORDER BY name", &[])?;
        Ok(rows.iter().map(row_to_user).collect())
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, AccountError> {
        let row = self.db.query_opt(
            "SELECT name, role, created_s FROM users WHERE name = $1",
            params![name],
        )?;
        Ok(row.as_ref().map(row_to_user))
    }

    /// The user whose name and password these are.
    pub fn check_password(&self, name: &str, pass: &str) -> Result<Option<User>, AccountError> {
        let stored = self
            .db
            .query_opt("SELECT password FROM users WHERE name = $1", params![name])?
            .map(|r| r.text(0));
        let ok = password::verify(pass, stored.as_deref().unwrap_or(password::decoy()));
        if ok && stored.is_some() {
            self.user(name)
        } else {
            Ok(None)
        }
    }

    /// A new API token for `name`: returned once, only its digest is kept.
    pub fn create_token(&self, name: &str) -> Result<String, AccountError> {
        if self.user(name)?.is_none() {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        let token = secret::new_secret("lathe_").map_err(AccountError::Secret)?;
        self.db.exec(
            "INSERT INTO tokens (digest, \"user\", created_s) VALUES ($1, $2, $3)",
            params![secret::digest(&token), name, now_s()],
        )?;
        Ok(token)
    }

    pub fn user_by_token(&self, token: &str) -> Result<Option<User>, AccountError> {
        let row = self.db.query_opt(
            "SELECT u.name, u.role, u.created_s FROM tokens t JOIN users u ON u.name = t.\"user\"
             WHERE t.digest = $1",
            params![secret::digest(token)],
        )?;
        Ok(row.as_ref().map(row_to_user))
    }

    /// A new browser session for `name`: the cookie's value (only its digest is kept).
    pub fn create_session(&self, name: &str) -> Result<String, AccountError> {
        let cookie = secret::new_secret("").map_err(AccountError::Secret)?;
        let now = now_s();
        self.db.transaction(|tx| {
            tx.exec("DELETE FROM sessions WHERE expires_s < $1", params![now])?;
            tx.exec(
                "INSERT INTO sessions (digest, \"user\", expires_s) VALUES ($1, $2, $3)",
                params![secret::digest(&cookie), name, now + SESSION_S],
            )
        })?;
        Ok(cookie)
    }

    pub fn user_by_session(&self, cookie: &str) -> Result<Option<User>, AccountError> {
        let row = self.db.query_opt(
            "SELECT u.name, u.role, u.created_s FROM sessions s JOIN users u ON u.name = s.\"user\"
             WHERE s.digest = $1 AND s.expires_s >= $2",
            params![secret::digest(cookie), now_s()],
        )?;
        Ok(row.as_ref().map(row_to_user))
    }

    pub fn end_session(&self, cookie: &str) -> Result<(), AccountError> {
        self.db.exec(
            "DELETE FROM sessions WHERE digest = $1",
            params![secret::digest(cookie)],
        )?;
        Ok(())
    }
}

pub(crate) fn row_to_user(r: &Row) -> User {
    User {
        name: r.text(0),
        // A role this build does not know gets the least rights.
        role: Role::parse(&r.text(1)).unwrap_or(Role::Client),
        created_s: r.int(2),
    }
}

//! The studio's accounts: users with a role, their API tokens and their browser sessions, in
//! three tables of the data folder's database (`jobs.sqlite`, next to the queue).
//!
//! With no user at all the service is one person's tool on their own machine (open, and only
//! on loopback: [`crate::start`] refuses any other address); once a user exists every request
//! needs a session cookie or a bearer token ([`crate::auth`]).

pub mod manage;
pub mod password;
pub mod secret;
pub mod webhook;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

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
    Database(#[from] rusqlite::Error),
    #[error("{0}")]
    Secret(String),
    #[error("{0}")]
    BadWebhook(String),
}

/// How long a browser session lasts, seconds (two weeks).
pub const SESSION_S: i64 = 14 * 86_400;

/// The accounts of one data folder.
pub struct Accounts {
    conn: std::sync::Mutex<Connection>,
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
        let conn = Connection::open(data_dir.join("jobs.sqlite"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
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
            );",
        )?;
        Self::create_webhook_table(&conn)?;
        Self::create_login_table(&conn)?;
        Ok(Self {
            conn: std::sync::Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, AccountError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    /// Whether any user exists (then every request needs credentials).
    pub fn any(&self) -> Result<bool, AccountError> {
        self.with(|c| c.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0)))
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
        let added = self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO users (name, role, password, created_s) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), phc, created_s],
            )
        })?;
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
        self.with(|c| {
            let mut st = c.prepare("SELECT name, role, created_s FROM users ORDER BY name")?;
            let rows = st.query_map([], row_to_user)?;
            rows.collect()
        })
    }

    pub fn user(&self, name: &str) -> Result<Option<User>, AccountError> {
        self.with(|c| {
            c.query_row(
                "SELECT name, role, created_s FROM users WHERE name = ?1",
                [name],
                row_to_user,
            )
            .optional()
        })
    }

    /// The user whose name and password these are.
    pub fn check_password(&self, name: &str, pass: &str) -> Result<Option<User>, AccountError> {
        let stored: Option<String> = self.with(|c| {
            c.query_row("SELECT password FROM users WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
        })?;
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
        self.with(|c| {
            c.execute(
                "INSERT INTO tokens (digest, user, created_s) VALUES (?1, ?2, ?3)",
                params![secret::digest(&token), name, now_s()],
            )
        })?;
        Ok(token)
    }

    pub fn user_by_token(&self, token: &str) -> Result<Option<User>, AccountError> {
        self.with(|c| {
            c.query_row(
                "SELECT u.name, u.role, u.created_s FROM tokens t JOIN users u ON u.name = t.user
                 WHERE t.digest = ?1",
                [secret::digest(token)],
                row_to_user,
            )
            .optional()
        })
    }

    /// A new browser session for `name`: the cookie's value (only its digest is kept).
    pub fn create_session(&self, name: &str) -> Result<String, AccountError> {
        let cookie = secret::new_secret("").map_err(AccountError::Secret)?;
        let now = now_s();
        self.with(|c| {
            c.execute("DELETE FROM sessions WHERE expires_s < ?1", [now])?;
            c.execute(
                "INSERT INTO sessions (digest, user, expires_s) VALUES (?1, ?2, ?3)",
                params![secret::digest(&cookie), name, now + SESSION_S],
            )
        })?;
        Ok(cookie)
    }

    pub fn user_by_session(&self, cookie: &str) -> Result<Option<User>, AccountError> {
        self.with(|c| {
            c.query_row(
                "SELECT u.name, u.role, u.created_s FROM sessions s JOIN users u ON u.name = s.user
                 WHERE s.digest = ?1 AND s.expires_s >= ?2",
                params![secret::digest(cookie), now_s()],
                row_to_user,
            )
            .optional()
        })
    }

    pub fn end_session(&self, cookie: &str) -> Result<(), AccountError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM sessions WHERE digest = ?1",
                [secret::digest(cookie)],
            )
            .map(|_| ())
        })
    }
}

pub(crate) fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(1)?;
    Ok(User {
        name: r.get(0)?,
        // A role this build does not know gets the least rights.
        role: Role::parse(&role).unwrap_or(Role::Client),
        created_s: r.get(2)?,
    })
}

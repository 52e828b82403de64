//! Where the service keeps its records (jobs, revisions, history, accounts, webhook
//! deliveries): SQLite in the data folder (one machine, nothing to set up) or a PostgreSQL
//! database that every web and worker process shares (`--db postgres://…`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::db::Db;
use crate::notify::outbox::Outbox;
use crate::pg::Pg;
use crate::queue::postgres::PgQueue;
use crate::queue::{Queue, SqliteQueue};

/// The environment variable through which a job's process learns the database URL (not an
/// argument: arguments are visible to every user of the machine, and the URL may hold a
/// password).
pub const DB_URL_ENV: &str = "LATHE_DB_URL";

/// Which database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// `jobs.sqlite` in the data folder.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL URL, and how long a worker's claim on a job lasts without a heartbeat.
    Postgres { url: String, lease_s: i64 },
}

/// The records' three parts, on one database.
pub struct Records {
    pub queue: Arc<dyn Queue>,
    pub accounts: Arc<Accounts>,
    pub outbox: Arc<Outbox>,
}

impl Database {
    /// `--db` as given (`None`: SQLite in `data_dir`).
    pub fn parse(db: Option<&str>, data_dir: &Path) -> Result<Self, String> {
        match db {
            None => Ok(Database::Sqlite {
                data_dir: data_dir.to_path_buf(),
            }),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Database::Postgres {
                    url: u.to_owned(),
                    lease_s: crate::queue::postgres::DEFAULT_LEASE_S,
                })
            }
            Some(u) => Err(format!(
                "--db takes a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE), got {:?}",
                redact(u)
            )),
        }
    }

    /// The same database with claims lasting `lease_s` seconds without a heartbeat (no
    /// effect on SQLite, whose claims do not expire).
    pub fn with_lease_s(self, lease_s: i64) -> Self {
        match self {
            Database::Postgres { url, .. } => Database::Postgres { url, lease_s },
            other => other,
        }
    }

    /// The URL without its password, for messages.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite { data_dir } => format!("{}", data_dir.join("jobs.sqlite").display()),
            Database::Postgres { url, .. } => redact(url),
        }
    }

    /// Opens every part (and brings a PostgreSQL schema up to date).
    pub fn open(&self) -> Result<Records, String> {
        match self {
            Database::Sqlite { data_dir } => Ok(Records {
                queue: Arc::new(SqliteQueue::open(data_dir)?),
                accounts: Arc::new(Accounts::open(data_dir).map_err(|e| e.to_string())?),
                outbox: Arc::new(Outbox::open(data_dir)?),
            }),
            Database::Postgres { lease_s, .. } => {
                let pg = self.connect()?;
                Ok(Records {
                    queue: Arc::new(PgQueue::on(pg.clone()).with_lease_s(*lease_s)),
                    accounts: Arc::new(Accounts::on(Db::Postgres(pg.clone()))),
                    outbox: Arc::new(Outbox::on(Db::Postgres(pg))),
                })
            }
        }
    }

    /// The accounts alone (the admin commands).
    pub fn open_accounts(&self) -> Result<Accounts, String> {
        match self {
            Database::Sqlite { data_dir } => Accounts::open(data_dir).map_err(|e| e.to_string()),
            Database::Postgres { .. } => Ok(Accounts::on(Db::Postgres(self.connect()?))),
        }
    }

    /// The database itself, for statements of one's own (tests, maintenance); the schema is
    /// not touched on SQLite.
    pub fn open_db(&self) -> Result<Db, String> {
        match self {
            Database::Sqlite { data_dir } => Db::sqlite(data_dir, "").map_err(|e| e.to_string()),
            Database::Postgres { .. } => Ok(Db::Postgres(self.connect()?)),
        }
    }

    /// The queue alone (a job's process).
    pub fn open_queue(&self) -> Result<Arc<dyn Queue>, String> {
        match self {
            Database::Sqlite { data_dir } => Ok(Arc::new(SqliteQueue::open(data_dir)?)),
            Database::Postgres { lease_s, .. } => Ok(Arc::new(
                PgQueue::on(self.connect()?).with_lease_s(*lease_s),
            )),
        }
    }

    fn connect(&self) -> Result<Arc<Pg>, String> {
        let Database::Postgres { url, .. } = self else {
            unreachable!("only PostgreSQL connects")
        };
        Pg::connect(url, crate::pg::schema::MIGRATIONS)
            .map(Arc::new)
            .map_err(|e| format!("{} ({})", e, redact(url)))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((cred, host)) => match cred.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgres://lathe:s3cret@db:5432/studio"),
            "postgres://lathe:***@db:5432/studio"
        );
        let e = Database::parse(Some("mysql://a:b@c/d"), Path::new("/d")).unwrap_err();
        assert!(!e.contains(":b@"), "{e}");
        assert!(e.contains("a:***@c/d"), "{e}");
    }
}

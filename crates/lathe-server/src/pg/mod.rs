//! PostgreSQL: one connection pool per process, shared by the parts of the server that keep
//! their state in the database (the job queue first; accounts and the webhook outbox next).
//!
//! The server's stores are synchronous traits (SQLite answers from the local disk), while
//! PostgreSQL is reached through an asynchronous client. [`Pg`] runs the client on a runtime of
//! its own and hands each call's result back to the calling thread, so a caller never enters a
//! runtime inside another. A call waits at most [`CALL_TIMEOUT`]: a database that goes away
//! turns into an error the caller can answer (503, retry), never a hung thread.

mod listen;
mod migrate;
pub mod schema;

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

pub use listen::Wakeups;
pub use migrate::Migration;

/// The longest one database call (waiting for a connection included) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections one process holds at most.
pub const POOL_SIZE: usize = 8;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("database URL: {0}")]
    Url(String),
    #[error("database: {0}")]
    Db(String),
    #[error("database: no answer within {} s", CALL_TIMEOUT.as_secs())]
    Timeout,
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's own message (`password authentication failed for user …`), not only
        // the client's summary (`db error`).
        match e.as_db_error() {
            Some(d) => PgError::Db(d.message().to_string()),
            // The client's summary (`error connecting to server`) and why (`Connection
            // refused`).
            None => match std::error::Error::source(&e) {
                Some(why) => PgError::Db(format!("{e}: {why}")),
                None => PgError::Db(e.to_string()),
            },
        }
    }
}

impl From<deadpool_postgres::PoolError> for PgError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            deadpool_postgres::PoolError::Timeout(_) => PgError::Timeout,
            e => PgError::Db(e.to_string()),
        }
    }
}

/// A pool of connections to one database and the runtime its client runs on: one thread of
/// its own, on which every connection and every call's future run, so that a round trip
/// inside a call wakes no other thread (on a multi-threaded runtime a call and its connection
/// may sit on different threads).
pub struct Pg {
    pool: Pool,
    /// For connections of their own (LISTEN).
    config: tokio_postgres::Config,
    runtime: tokio::runtime::Handle,
    /// Ends the runtime's thread when dropped.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Pg {
    /// Connects to `url` (`postgres://user:password@host:port/database`), checks that the
    /// database answers and brings its schema up to date with `migrations`.
    pub fn connect(url: &str, migrations: &[Migration]) -> Result<Self, PgError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| PgError::Url(e.to_string()))?;
        let built = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PgError::Db(format!("starting the database client: {e}")))?;
        let runtime = built.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("lathe-pg".into())
            .spawn(move || {
                // Drives every spawned call until the `Pg` is dropped (the sender with it).
                let _ = built.block_on(stopped);
                built.shutdown_background();
            })
            .map_err(|e| PgError::Db(format!("starting the database client: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _inside = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(CALL_TIMEOUT))
                .create_timeout(Some(CALL_TIMEOUT))
                .recycle_timeout(Some(CALL_TIMEOUT))
                .build()
                .map_err(|e| PgError::Db(e.to_string()))?
        };
        let me = Self {
            pool,
            config,
            runtime,
            _stop: stop,
        };
        let list = migrations.to_vec();
        me.call(move |pool| async move { migrate::run(&pool, &list).await })?;
        Ok(me)
    }

    /// Runs `work` with the pool on the client's runtime and waits for its result (at most
    /// [`CALL_TIMEOUT`]). Callable from any thread, inside an async runtime or not.
    pub fn call<T, F, Fut>(&self, work: F) -> Result<T, PgError>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
    {
        self.run(work(self.pool.clone()))
    }

    /// Runs `work` on the client's runtime and waits for its result (at most
    /// [`CALL_TIMEOUT`]; past it, `work` is dropped where it stands).
    pub fn run<T, Fut>(&self, work: Fut) -> Result<T, PgError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, PgError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let out = tokio::time::timeout(CALL_TIMEOUT, work)
                .await
                .unwrap_or(Err(PgError::Timeout));
            let _ = tx.send(out);
        });
        // A little longer than the task's own timeout, so that the task reports it.
        rx.recv_timeout(CALL_TIMEOUT + Duration::from_secs(1))
            .unwrap_or(Err(PgError::Timeout))
    }
}

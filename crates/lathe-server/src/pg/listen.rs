//! LISTEN on a channel over a connection of its own (a pooled connection goes back to the
//! pool between calls, and its notifications with it), counting the notifications that
//! arrive, so that a thread can sleep until one does.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Pg, PgError};

/// Notifications counted as they arrive, and whether the listening connection still lives.
#[derive(Default)]
pub struct Wakeups {
    state: Mutex<(u64, bool)>,
    arrived: Condvar,
    client: Mutex<Option<tokio_postgres::Client>>,
}

impl Wakeups {
    /// How many notifications have arrived so far (read before looking for work).
    pub fn mark(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.0)
    }

    /// Sleeps until a notification arrives after `mark`, at most `max`; true if one did.
    /// Returns at once when the listening connection is gone (the caller polls instead).
    pub fn wait(&self, mark: u64, max: Duration) -> bool {
        let Ok(guard) = self.state.lock() else {
            return false;
        };
        let (guard, _) = self
            .arrived
            .wait_timeout_while(guard, max, |(n, alive)| *n == mark && *alive)
            .unwrap_or_else(|e| e.into_inner());
        guard.0 != mark
    }

    /// Whether the listening connection still lives.
    pub fn alive(&self) -> bool {
        self.state.lock().is_ok_and(|s| s.1)
    }

    fn set(&self, arrived: bool, alive: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.0 += arrived as u64;
            s.1 = alive;
        }
        self.arrived.notify_all();
    }
}

impl Pg {
    /// Starts listening on `channel` on a new connection; the returned counter sees every
    /// notification until the connection ends (the database restarted, the network cut),
    /// after which [`Wakeups::alive`] is false and a caller listens again.
    pub fn listen(&self, channel: &'static str) -> Result<Arc<Wakeups>, PgError> {
        let config = self.config.clone();
        let wakeups = Arc::new(Wakeups::default());
        let mine = wakeups.clone();
        self.run(async move {
            let (client, mut connection) = config.connect(NoTls).await?;
            // The connection's messages (notifications among them) come only to whoever polls
            // it; a task of its own does, for as long as it lives.
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            let counter = mine.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = messages.next().await {
                    if let AsyncMessage::Notification(_) = message {
                        counter.set(true, true);
                    }
                }
                counter.set(false, false);
            });
            client.batch_execute(&format!("LISTEN {channel}")).await?;
            mine.set(false, true);
            // The connection lives as long as its client: as long as the counter.
            if let Ok(mut slot) = mine.client.lock() {
                *slot = Some(client);
            }
            Ok(())
        })?;
        Ok(wakeups)
    }
}

//! Object storage for job files: an S3-compatible bucket (`--store s3://BUCKET[/prefix]`) or
//! a local folder, through the same [`object_store`] code.
//!
//! The server's workers are plain threads, while the object store client is asynchronous.
//! [`Blobs`] runs the client on a runtime of its own (two threads: transfers overlap their
//! network waits) and hands each call's result back to the calling thread; an async caller
//! (a web handler streaming a download) awaits [`Blobs::open`] directly.
//!
//! Files move whole between a local path and a key: uploads of more than [`PART_BYTES`] go
//! in parts (S3's multipart upload: a part lost to a failure is sent again, not the file), and
//! downloads land as `NAME.part` renamed into place, so a reader never sees half a file.

mod config;
mod transfer;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};

pub use config::{S3Access, StoreUrl};

/// Size of one part of a multipart upload (S3 wants at least 5 MiB but the last).
pub const PART_BYTES: usize = 8 << 20;
/// The longest one request may take before it is retried (a part, a listing, a small file).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the store could not be used. Messages name the store (`s3://bucket/prefix` or the
/// folder), never credentials.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("store: {0}")]
    Config(String),
    #[error("store {store}: no object {key}")]
    NotFound { store: String, key: String },
    #[error("store {store}: {why}")]
    Store { store: String, why: String },
    #[error("store: {0}")]
    Io(String),
}

pub type BlobResult<T> = Result<T, BlobError>;

/// One object store (a bucket and a prefix in it, or a folder) and the runtime its client
/// runs on.
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// How errors name it: `s3://bucket/prefix`, or the folder.
    name: String,
    runtime: tokio::runtime::Handle,
    /// Ends the runtime's threads when dropped.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Blobs {
    /// The bucket `url` names, reached with `access` ([`S3Access::from_env`]: the standard
    /// `AWS_*` variables). Nothing is contacted yet: [`Blobs::check`] does.
    pub fn s3(url: &StoreUrl, access: &S3Access) -> BlobResult<Self> {
        let (store, name) = config::build(url, access)?;
        Self::on(store, name)
    }

    /// Files under the folder `root` (made if missing), through the same code as a bucket.
    pub fn local(root: &std::path::Path) -> BlobResult<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| BlobError::Io(format!("{}: {e}", root.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(root)
            .map_err(|e| BlobError::Config(format!("{}: {e}", root.display())))?
            .with_automatic_cleanup(true);
        Self::on(Arc::new(store), root.display().to_string())
    }

    fn on(store: Arc<dyn ObjectStore>, name: String) -> BlobResult<Self> {
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lathe-store")
            .enable_all()
            .build()
            .map_err(|e| BlobError::Io(format!("starting the store client: {e}")))?;
        let runtime = built.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("lathe-store".into())
            .spawn(move || {
                let _ = built.block_on(stopped);
                built.shutdown_background();
            })
            .map_err(|e| BlobError::Io(format!("starting the store client: {e}")))?;
        Ok(Self {
            store,
            name,
            runtime,
            _stop: stop,
        })
    }

    /// What errors call this store (`s3://bucket/prefix` or the folder).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that the store answers and lets us in: lists one object and writes, reads and
    /// deletes a probe. The error names what failed (no such bucket, credentials refused, no
    /// server at the endpoint).
    pub fn check(&self) -> BlobResult<()> {
        let (store, name) = (self.store.clone(), self.name.clone());
        self.block(async move {
            let err = |e| store_error(&name, e);
            let mut listing = store.list(None);
            if let Some(Err(e)) = listing.next().await {
                return Err(err(e));
            }
            let probe = Key::from(format!(".lathe-probe-{}", std::process::id()));
            store
                .put(&probe, bytes::Bytes::from_static(b"lathe").into())
                .await
                .map_err(err)?;
            let back = store
                .get(&probe)
                .await
                .map_err(err)?
                .bytes()
                .await
                .map_err(err)?;
            store.delete(&probe).await.map_err(err)?;
            if back.as_ref() != b"lathe" {
                return Err(BlobError::Store {
                    store: name,
                    why: "an object read back differs from what was written".into(),
                });
            }
            Ok(())
        })
    }

    /// Copies the local file `from` to `key` (in parts when large); returns its size.
    pub fn put_file(&self, key: &str, from: &std::path::Path) -> BlobResult<u64> {
        let key = parse_key(key)?;
        let (store, name, from) = (self.store.clone(), self.name.clone(), from.to_path_buf());
        self.block(async move { transfer::upload(store.as_ref(), &name, &key, &from).await })
    }

    /// Copies `key` to the local file `to` (written as `to.part`, renamed when whole); returns
    /// its size.
    pub fn get_file(&self, key: &str, to: &std::path::Path) -> BlobResult<u64> {
        let key = parse_key(key)?;
        let (store, name, to) = (self.store.clone(), self.name.clone(), to.to_path_buf());
        self.block(async move { transfer::download(store.as_ref(), &name, &key, &to).await })
    }

    /// The objects under `prefix` (a folder-like key, no trailing slash needed): names
    /// relative to it and sizes, sorted by name.
    pub fn list(&self, prefix: &str) -> BlobResult<Vec<(String, u64)>> {
        let prefix = parse_key(prefix)?;
        let (store, name) = (self.store.clone(), self.name.clone());
        self.block(async move { transfer::list(store.as_ref(), &name, &prefix).await })
    }

    /// Deletes every object under `prefix`; returns how many.
    pub fn delete_prefix(&self, prefix: &str) -> BlobResult<usize> {
        let prefix = parse_key(prefix)?;
        let (store, name) = (self.store.clone(), self.name.clone());
        self.block(async move { transfer::delete_all(store, &name, &prefix).await })
    }

    /// Opens `key` for reading from async code (a download handler): its size and its bytes
    /// as a stream, read as they are sent.
    pub async fn open(&self, key: &str) -> BlobResult<(u64, transfer::ByteStream)> {
        let key = parse_key(key)?;
        let (store, name) = (self.store.clone(), self.name.clone());
        // On the store's runtime: the client's connections live there.
        self.runtime
            .spawn(async move { transfer::open(store.as_ref(), &name, &key).await })
            .await
            .map_err(|e| BlobError::Io(e.to_string()))?
    }

    /// Runs `work` on the store's runtime and waits for it (callable from any thread; from
    /// async code only through `spawn_blocking`).
    fn block<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = BlobResult<T>> + Send + 'static,
    ) -> BlobResult<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(BlobError::Io("the store client stopped".into())))
    }
}

/// A key as the server builds it (`jobs/<id>/in/mix.wav`): relative, `/`-separated, no empty,
/// `.` or `..` segment.
fn parse_key(key: &str) -> BlobResult<Key> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(BlobError::Config(format!(
            "not a valid object key: {key:?}"
        )));
    }
    Key::parse(key).map_err(|e| BlobError::Config(format!("not a valid object key: {e}")))
}

/// The store's error as one line naming the store: S3's own code and message where it sent
/// one (`NoSuchBucket`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`), the connection's
/// failure where it did not answer.
pub(crate) fn store_error(name: &str, e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { path, .. } => BlobError::NotFound {
            store: name.to_string(),
            key: path,
        },
        e => {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !why.contains(&text) {
                    why = format!("{why}: {text}");
                }
                source = s.source();
            }
            BlobError::Store {
                store: name.to_string(),
                why: s3_answer(&why).or_else(|| unreachable(&why)).unwrap_or(why),
            }
        }
    }
}

/// The connection's failure out of the client's long message (the endpoint is the one
/// `AWS_ENDPOINT_URL` gave): `no answer from the endpoint: … Connection refused`.
fn unreachable(text: &str) -> Option<String> {
    let at = text.find("error sending request")?;
    Some(format!("no answer from the endpoint: {}", &text[at..]))
}

/// `NoSuchBucket (404 Not Found)` out of the client's long message, when the server sent an
/// S3 error document.
fn s3_answer(text: &str) -> Option<String> {
    let between = |a: &str, b: &str| {
        let from = text.find(a)? + a.len();
        let to = text[from..].find(b)? + from;
        Some(text[from..to].to_string())
    };
    let code = between("<Code>", "</Code>")?;
    let status = between("status code: ", ":").map(|s| format!(" ({s})"));
    let message = between("<Message>", "</Message>").map(|m| format!(": {m}"));
    Some(format!(
        "{code}{}{}",
        status.unwrap_or_default(),
        message.unwrap_or_default()
    ))
}

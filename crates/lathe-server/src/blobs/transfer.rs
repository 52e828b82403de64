//! Whole files between a local path and an object: uploads in parts when large, downloads to
//! `NAME.part` then renamed, listings and deletions under a prefix.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{store_error, BlobError, BlobResult, PART_BYTES};

/// An object's bytes as they arrive.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Parts in flight at once during an upload (each holds one part in memory).
const PARTS_IN_FLIGHT: usize = 2;

fn io(path: &std::path::Path, e: std::io::Error) -> BlobError {
    BlobError::Io(format!("{}: {e}", path.display()))
}

pub(super) async fn upload(
    store: &dyn ObjectStore,
    name: &str,
    key: &Key,
    from: &std::path::Path,
) -> BlobResult<u64> {
    let mut file = tokio::fs::File::open(from).await.map_err(|e| io(from, e))?;
    let size = file.metadata().await.map_err(|e| io(from, e))?.len();
    if size <= PART_BYTES as u64 {
        let mut buf = Vec::with_capacity(size as usize);
        file.read_to_end(&mut buf).await.map_err(|e| io(from, e))?;
        let payload = PutPayload::from(Bytes::from(buf));
        store
            .put(key, payload)
            .await
            .map_err(|e| store_error(name, e))?;
        return Ok(size);
    }
    let upload = store
        .put_multipart(key)
        .await
        .map_err(|e| store_error(name, e))?;
    let mut parts = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut buf = vec![0u8; PART_BYTES];
    let mut sent = 0u64;
    loop {
        let n = match file.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Nothing half-written stays behind in the bucket.
                let _ = parts.abort().await;
                return Err(io(from, e));
            }
        };
        if let Err(e) = parts.wait_for_capacity(PARTS_IN_FLIGHT).await {
            return Err(store_error(name, e));
        }
        parts.write(&buf[..n]);
        sent += n as u64;
    }
    // The object appears only when every part is in.
    parts.finish().await.map_err(|e| store_error(name, e))?;
    Ok(sent)
}

pub(super) async fn download(
    store: &dyn ObjectStore,
    name: &str,
    key: &Key,
    to: &std::path::Path,
) -> BlobResult<u64> {
    let (_, mut stream) = open(store, name, key).await?;
    if let Some(dir) = to.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io(dir, e))?;
    }
    let mut part_name = to.as_os_str().to_owned();
    part_name.push(".part");
    let part = std::path::PathBuf::from(part_name);
    let mut file = tokio::fs::File::create(&part)
        .await
        .map_err(|e| io(&part, e))?;
    let mut size = 0u64;
    let written: Result<(), BlobError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BlobError::Store {
                store: name.to_string(),
                why: format!("reading {key}: {e}"),
            })?;
            file.write_all(&chunk).await.map_err(|e| io(&part, e))?;
            size += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| io(&part, e))?;
        file.sync_all().await.map_err(|e| io(&part, e))
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(e);
    }
    tokio::fs::rename(&part, to).await.map_err(|e| io(to, e))?;
    Ok(size)
}

pub(super) async fn open(
    store: &dyn ObjectStore,
    name: &str,
    key: &Key,
) -> BlobResult<(u64, ByteStream)> {
    let got = store.get(key).await.map_err(|e| store_error(name, e))?;
    let size = got.meta.size;
    let stream = got.into_stream().map_err(std::io::Error::other).boxed();
    Ok((size, stream))
}

pub(super) async fn list(
    store: &dyn ObjectStore,
    name: &str,
    prefix: &Key,
) -> BlobResult<Vec<(String, u64)>> {
    let metas: Vec<object_store::ObjectMeta> = store
        .list(Some(prefix))
        .try_collect()
        .await
        .map_err(|e| store_error(name, e))?;
    let mut out: Vec<(String, u64)> = metas
        .into_iter()
        .filter_map(|m| {
            let rel: Vec<String> = m
                .location
                .prefix_match(prefix)?
                .map(|p| p.as_ref().to_string())
                .collect();
            Some((rel.join("/"), m.size))
        })
        .collect();
    out.sort();
    Ok(out)
}

pub(super) async fn delete_all(
    store: Arc<dyn ObjectStore>,
    name: &str,
    prefix: &Key,
) -> BlobResult<usize> {
    let keys = store.list(Some(prefix)).map_ok(|m| m.location).boxed();
    let deleted: Vec<Key> = store
        .delete_stream(keys)
        .try_collect()
        .await
        .map_err(|e| store_error(name, e))?;
    Ok(deleted.len())
}

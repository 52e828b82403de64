//! Serving a job's files: outputs by their listed names, the uploaded mix (inline only as
//! audio), and the zip of everything, made once and streamed.

use super::*;
use crate::access::visible;
use crate::auth::Caller;
use axum::Extension;

/// The content type of an audio file lathe reads, by its extension (the formats lathe
/// delivers say their own).
fn audio_content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next().unwrap_or("");
    if let Some(f) = lathe_io::Format::from_extension(ext) {
        return Some(f.content_type());
    }
    Some(match ext {
        "m4a" | "mp4" | "aac" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "aif" | "aiff" => "audio/aiff",
        _ => return None,
    })
}

fn content_type(name: &str) -> &'static str {
    if let Some(t) = audio_content_type(name) {
        return t;
    }
    match name.rsplit('.').next().unwrap_or("") {
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "toml" => "text/plain; charset=utf-8",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Streams a file (64 KiB at a time: memory does not grow with the file).
async fn send_file(path: PathBuf, name: &str, kind: &'static str, attachment: bool) -> Response {
    match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let len = file.metadata().await.map(|m| m.len()).ok();
            let chunks = futures_util::stream::unfold(file, |mut f| async move {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 64 * 1024];
                match f.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok::<_, std::io::Error>(buf), f))
                    }
                    Err(e) => Some((Err(e), f)),
                }
            });
            let mut r = Response::new(Body::from_stream(chunks));
            let h = r.headers_mut();
            if let Some(len) = len {
                h.insert(header::CONTENT_LENGTH, len.into());
            }
            h.insert(header::CONTENT_TYPE, kind.parse().expect("valid"));
            if attachment {
                h.insert(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\"")
                        .parse()
                        .expect("valid"),
                );
            }
            r
        }
        Err(_) => error(StatusCode::NOT_FOUND, "no such file"),
    }
}

/// Serves output `name` of revision `rev`: only a name its own listing holds (a path never
/// comes from the URL).
async fn serve_output(st: &AppState, id: &str, rev: u32, name: &str) -> Response {
    if !st
        .store
        .list_outputs(id, rev)
        .iter()
        .any(|(n, _)| n == name)
    {
        return error(StatusCode::NOT_FOUND, "no such file");
    }
    let Ok(dir) = st.store.outputs(id, rev, false) else {
        return error(StatusCode::NOT_FOUND, "no such file");
    };
    let inline = name.ends_with(".svg") || name.ends_with(".json");
    send_file(dir.join(name), name, content_type(name), !inline).await
}

/// The revision whose files a job's own paths serve: the newest rendered (`approved`: the
/// approved one when there is one).
fn served_revision(st: &AppState, job: &queue::Job, approved: bool) -> Option<u32> {
    if approved && job.approved.is_some() {
        return job.approved;
    }
    crate::revisions::revisions_of(st, job)
        .ok()
        .and_then(|r| crate::revisions::latest_done(&r))
}

/// `GET /api/jobs/{id}/files/{name}`: the newest rendered revision's file.
pub(crate) async fn get_file(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Response {
    let Ok(job) = visible(&st, &caller, &id) else {
        return error(StatusCode::NOT_FOUND, "no such file");
    };
    match served_revision(&st, &job, false) {
        Some(rev) => serve_output(&st, &id, rev, &name).await,
        None => error(StatusCode::NOT_FOUND, "no such file"),
    }
}

/// `GET /api/jobs/{id}/revisions/{n}/files/{name}`.
pub(crate) async fn get_revision_file(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath((id, rev, name)): UrlPath<(String, u32, String)>,
) -> Response {
    let Ok(job) = visible(&st, &caller, &id) else {
        return error(StatusCode::NOT_FOUND, "no such file");
    };
    let done = crate::revisions::revisions_of(&st, &job)
        .ok()
        .is_some_and(|r| {
            r.iter()
                .any(|r| r.n == rev && r.state == Some(queue::State::Done))
        });
    if !done {
        return error(StatusCode::NOT_FOUND, "no such file");
    }
    serve_output(&st, &id, rev, &name).await
}

/// The uploaded mix, or a stem job's preview of its sum (the A/B players' original).
pub(crate) async fn get_input(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Err(r) = visible(&st, &caller, &id) {
        return r.into_response();
    }
    let Ok(dir) = st.store.inputs(&id, false) else {
        return error(StatusCode::NOT_FOUND, "no such job");
    };
    let mix = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| e.path().file_stem().is_some_and(|s| s == "mix"));
    match mix {
        Some(e) => {
            let name = e.file_name().to_string_lossy().into_owned();
            // Played inline only as audio; anything else the upload was named (an `.svg`, an
            // `.html` with audio appended passes the decoder) goes out as an opaque download.
            match audio_content_type(&name) {
                Some(kind) => send_file(e.path(), &name, kind, false).await,
                None => send_file(e.path(), &name, "application/octet-stream", true).await,
            }
        }
        None => match st.store.preview_wav(&id) {
            Some(p) => send_file(p, "original.wav", "audio/wav", false).await,
            None => error(
                StatusCode::NOT_FOUND,
                "this job has stems, and their sum's preview is not ready",
            ),
        },
    }
}

pub(crate) async fn get_zip(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    // The approved revision's files, else the newest rendered ones.
    let Some(rev) = visible(&st, &caller, &id)
        .ok()
        .and_then(|j| served_revision(&st, &j, true))
    else {
        return error(StatusCode::NOT_FOUND, "no finished job with this id");
    };
    let files = st.store.list_outputs(&id, rev);
    let Ok(dir) = st.store.outputs(&id, rev, false) else {
        return error(StatusCode::NOT_FOUND, "no such job");
    };
    // Made once on disk (hidden from the listing), then streamed.
    let bundle = dir.join(".all.zip");
    let made_at = bundle.clone();
    let made = tokio::task::spawn_blocking(move || -> Result<(), String> {
        if made_at.exists() {
            return Ok(());
        }
        // Requests that race to make it each write their own part; renames are atomic, so
        // whichever lands last is a whole bundle too.
        let part = made_at.with_extension(format!("zip.{}.part", new_id()?));
        let file = std::fs::File::create(&part).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        // WAV and FLAC do not compress further: stored.
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        for (name, _) in files {
            zip.start_file(name.as_str(), opts)
                .map_err(|e| e.to_string())?;
            let mut f = std::fs::File::open(dir.join(&name)).map_err(|e| e.to_string())?;
            std::io::copy(&mut f, &mut zip).map_err(|e| e.to_string())?;
        }
        let mut inner = zip.finish().map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut inner).map_err(|e| e.to_string())?;
        drop(inner);
        std::fs::rename(&part, &made_at).map_err(|e| e.to_string())
    })
    .await;
    match made {
        Ok(Ok(())) => {
            let name = format!("lathe-{id}-revision-{rev}.zip");
            send_file(bundle, &name, "application/zip", true).await
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

//! Receiving an upload: its parts streamed to disk under limits (size, text parts, stems,
//! stalls), each file checked as audio in a child process, a session part resolved against
//! the uploaded stems; a refused upload leaves nothing behind.

use super::*;
use crate::auth::Caller;
use axum::Extension;

/// A name from an upload, reduced to letters, digits, `-` and `_` (never a path).
fn clean(name: &str, max: usize) -> String {
    let s: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '_' } else { c })
        .take(max)
        .collect();
    if s.is_empty() {
        "stem".into()
    } else {
        s
    }
}

/// The (stem name, extension) of an uploaded file name.
fn split_name(file_name: Option<&str>) -> (String, String) {
    let f = file_name.unwrap_or("upload");
    let base = f.rsplit(['/', '\\']).next().unwrap_or(f);
    let (stem, ext) = base.rsplit_once('.').unwrap_or((base, "wav"));
    let ext: String = ext
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    (
        clean(stem, 48),
        if ext.is_empty() { "wav".into() } else { ext },
    )
}

/// Why an upload was refused.
enum Refused {
    TooLarge,
    Stalled,
    Bad(String),
    /// The object store did not take it (503: the client tries again).
    Unavailable(String),
}

pub(crate) async fn post_job(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let multipart = match multipart {
        Ok(m) => m,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected a multipart/form-data upload: {}", e.body_text()),
            )
        }
    };
    let Ok(_permit) = st.uploads.clone().try_acquire_owned() else {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} uploads are coming in already; try again shortly",
                st.max_uploads
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("10"));
        return r;
    };
    let id = match new_id() {
        Ok(id) => id,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    st.receiving
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone());
    let mut received = receive(&st, &id, multipart).await;
    if let (Ok(_), Some(mirror)) = (&received, st.mirror.clone()) {
        // Into the store before the job is queued: an order answered 201 is in the bucket.
        let pid = id.clone();
        let pushed = tokio::task::spawn_blocking(move || mirror.push_inputs(&pid)).await;
        if let Err(e) = pushed.map_err(|e| e.to_string()).and_then(|r| r) {
            eprintln!("lathe serve: upload {id}: {e}");
            received = Err(Refused::Unavailable(
                "the file store did not take the upload; try again shortly".into(),
            ));
        }
    }
    let answer = match received {
        Ok((kind, options)) => match st.queue.add(&id, &kind, &options, caller.name()) {
            Ok(()) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
            Err(e) => {
                let _ = st.store.remove(&id);
                if let Some(mirror) = st.mirror.clone() {
                    let gone = id.clone();
                    tokio::task::spawn_blocking(move || mirror.remove(&gone));
                }
                // Not accepted, nothing kept: the client sends it again.
                crate::unavailable(public_message(&e, &st.data_dir))
            }
        },
        Err(r) => {
            // Nothing of a refused upload stays on disk.
            let _ = st.store.remove(&id);
            match r {
                Refused::TooLarge => error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the upload is larger than {} MB", st.max_upload / 1_000_000),
                ),
                Refused::Stalled => error(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the upload stalled (nothing for {} s, or under {} KB/s after a minute)",
                        st.upload_idle.as_secs(),
                        UPLOAD_MIN_RATE_BPS / 1000.0
                    ),
                ),
                Refused::Bad(m) => error(StatusCode::BAD_REQUEST, public_message(&m, &st.data_dir)),
                Refused::Unavailable(m) => error(StatusCode::SERVICE_UNAVAILABLE, m),
            }
        }
    };
    st.receiving
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    answer
}

/// Waits for the next piece of an upload, or gives up on one that stalls.
async fn within<T>(
    idle: std::time::Duration,
    started: std::time::Instant,
    received: u64,
    next: impl std::future::Future<Output = T>,
) -> Result<T, Refused> {
    let elapsed = started.elapsed().as_secs_f64();
    if elapsed > 60.0 && (received as f64) / elapsed < UPLOAD_MIN_RATE_BPS {
        return Err(Refused::Stalled);
    }
    tokio::time::timeout(idle, next)
        .await
        .map_err(|_| Refused::Stalled)
}

/// Streams the parts of an upload into the job's input folder; returns the job kind and its
/// options JSON.
async fn receive(st: &AppState, id: &str, mut mp: Multipart) -> Result<(String, String), Refused> {
    let in_dir = st
        .store
        .inputs(id, true)
        .map_err(|e| Refused::Bad(format!("cannot store the upload: {e}")))?;
    let mut total = 0u64;
    let mut options = JobOptions::default();
    let mut session_text = None;
    let mut audio: Vec<(String, PathBuf)> = Vec::new();
    let mut stems = 0usize;
    let mut has_mix = false;
    let mut mix_name = None;
    let started = std::time::Instant::now();
    loop {
        let field = match within(st.upload_idle, started, total, mp.next_field()).await? {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(Refused::Bad(format!("malformed upload: {e}"))),
        };
        let part = field.name().unwrap_or("").to_string();
        let (name, ext) = split_name(field.file_name());
        let target = match part.as_str() {
            "mix" if !has_mix => {
                has_mix = true;
                mix_name = Some(name.clone());
                in_dir.join(format!("mix.{ext}"))
            }
            "stem" => {
                stems += 1;
                if stems > st.max_stems {
                    return Err(Refused::Bad(format!(
                        "at most {} stems per job",
                        st.max_stems
                    )));
                }
                let dir = in_dir.join("stems").join(format!("{stems:03}"));
                std::fs::create_dir_all(&dir).map_err(|e| Refused::Bad(e.to_string()))?;
                dir.join(format!("{name}.{ext}"))
            }
            "reference" => in_dir.join(format!("reference.{ext}")),
            "options" | "session" => PathBuf::new(),
            other => {
                return Err(Refused::Bad(format!(
                    "unknown part '{other}' (mix, stem, reference, options, session)"
                )))
            }
        };
        let mut field = field;
        let mut file = if target.as_os_str().is_empty() {
            None
        } else {
            Some(std::fs::File::create(&target).map_err(|e| Refused::Bad(e.to_string()))?)
        };
        let mut text = Vec::new();
        loop {
            let chunk = match within(st.upload_idle, started, total, field.chunk()).await? {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(Refused::Bad(format!("upload interrupted: {e}"))),
            };
            total += chunk.len() as u64;
            if total > st.max_upload {
                return Err(Refused::TooLarge);
            }
            match &mut file {
                Some(f) => {
                    use std::io::Write;
                    f.write_all(&chunk)
                        .map_err(|e| Refused::Bad(e.to_string()))?;
                }
                None if text.len() + chunk.len() > MAX_TEXT_PART_BYTES => {
                    return Err(Refused::Bad(format!(
                        "the '{part}' part is larger than {} KB",
                        MAX_TEXT_PART_BYTES / 1024
                    )));
                }
                None => text.extend_from_slice(&chunk),
            }
        }
        match part.as_str() {
            "options" => {
                options = serde_json::from_slice(&text)
                    .map_err(|e| Refused::Bad(format!("options: {e}")))?;
            }
            "session" => session_text = Some(String::from_utf8_lossy(&text).into_owned()),
            _ => audio.push((
                if part == "stem" {
                    format!("stem '{name}'")
                } else {
                    part.clone()
                },
                target,
            )),
        }
    }
    options
        .check()
        .map_err(|e| Refused::Bad(format!("options: {e}")))?;
    // A mix's masters are named (and titled) after the uploaded file unless a title is given.
    if options.title.is_none() {
        options.title = mix_name;
    }
    if !has_mix && stems == 0 {
        return Err(Refused::Bad(
            "upload a mix (part 'mix') or stems (parts 'stem')".into(),
        ));
    }
    if has_mix && stems > 0 {
        return Err(Refused::Bad(
            "upload either a mix or stems, not both".into(),
        ));
    }
    // Every file must be audio lathe can decode: checked in a child process, as renders are,
    // so that a file that hangs or aborts the decoder costs that process only.
    for (what, path) in &audio {
        let (p, limits, data) = (path.clone(), st.probe.clone(), st.data_dir.clone());
        let outcome = tokio::task::spawn_blocking(move || probe(&limits, &data, &p))
            .await
            .map_err(|e| Refused::Bad(e.to_string()))?;
        match outcome {
            child::Outcome::Done => {}
            child::Outcome::Failed(why) => {
                return Err(Refused::Bad(format!(
                    "{what} is not audio lathe can read: {why}"
                )))
            }
            child::Outcome::Crashed(why) => {
                return Err(Refused::Bad(format!(
                    "{what} could not be read safely (its check crashed: {why})"
                )))
            }
            child::Outcome::TimedOut(limit) => {
                return Err(Refused::Bad(format!(
                    "{what} could not be read safely (its check took over {} s)",
                    limit.as_secs()
                )))
            }
            // A probe is never asked to stop.
            child::Outcome::Lost => {
                return Err(Refused::Bad(format!("{what}: its check was stopped")))
            }
        }
    }
    if let Some(text) = session_text {
        resolve_session(&in_dir, &text, &audio).map_err(Refused::Bad)?;
    }
    let json = serde_json::to_string(&options).expect("options serialise");
    let _ = std::fs::write(in_dir.join("options.json"), &json);
    Ok((if stems > 0 { "stems" } else { "mix" }.to_string(), json))
}

/// Whether `path` is audio lathe can read: in a child process when a job runner is set, in
/// this one otherwise (embedded use without a runner).
fn probe(limits: &child::ChildLimits, data_dir: &Path, path: &Path) -> child::Outcome {
    if limits.command.is_empty() {
        return match lathe_io::Decoder::open(path) {
            Ok(_) => child::Outcome::Done,
            Err(e) => child::Outcome::Failed(public_message(&e.to_string(), data_dir)),
        };
    }
    child::run_with(
        limits,
        &[
            data_dir.as_os_str(),
            std::ffi::OsStr::new("--probe"),
            path.as_os_str(),
        ],
        &mut || true,
    )
}

/// A `session` part: its stems' `file` keys name uploaded files (by file name); they are
/// pointed at the stored uploads and the session is stored as `session.toml`.
fn resolve_session(in_dir: &Path, text: &str, audio: &[(String, PathBuf)]) -> Result<(), String> {
    let mut s: lathe_engine::spec::session::Session =
        toml::from_str(text).map_err(|e| format!("session: {}", e.to_string().trim_end()))?;
    for (i, stem) in s.stems.iter_mut().enumerate() {
        let want = stem
            .file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (wanted_name, wanted_ext) = split_name(Some(&want));
        let found = audio.iter().find(|(_, p)| {
            p.file_stem()
                .is_some_and(|f| f.to_string_lossy() == wanted_name)
                && p.extension()
                    .is_some_and(|e| e.to_string_lossy() == wanted_ext)
        });
        match found {
            Some((_, p)) => stem.file = p.clone(),
            None => {
                return Err(format!(
                    "session: stem[{i}].file '{want}' was not uploaded as a 'stem' part"
                ))
            }
        }
    }
    s.master.reference = None;
    s.validate().map_err(|e| format!("session: {e}"))?;
    std::fs::write(in_dir.join("session.toml"), s.to_toml()).map_err(|e| e.to_string())
}

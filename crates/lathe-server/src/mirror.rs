//! With `--store s3://…` the bucket holds every job's files, and each process's data folder is
//! only its working copy: any web process serves any job and any worker renders any job,
//! whatever their disks hold.
//!
//! Keys: `jobs/<id>/in/…` (the uploads, written before the job is queued), `jobs/<id>/rev/<n>/
//! a<attempt>/…` (what one attempt rendered; each attempt under its own prefix, so a killed or
//! late attempt never mixes its files with another's), `jobs/<id>/preview/…` (a stem job's
//! unprocessed sum). A revision's files are those of the attempt the queue recorded as its
//! ending ([`Revision::attempt`]); the others are never listed.
//!
//! The one place that decides what moves when: a web process copies an accepted upload in
//! before queuing it ([`Mirror::push_inputs`]) and a job's committed files out before reading
//! them ([`Mirror::pull_job`]); a worker copies the inputs out before an attempt
//! ([`Mirror::pull_inputs`]) and the attempt's outputs in before recording its ending
//! ([`Mirror::push_outputs`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blobs::{BlobError, Blobs};
use crate::queue::{Revision, State};
use crate::storage::{LocalStore, Store};

/// In a revision's local folder: the attempt whose files it holds.
const HOLDS: &str = ".attempt";

pub struct Mirror {
    blobs: Arc<Blobs>,
    local: LocalStore,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mirror({})", self.blobs.name())
    }
}

fn in_key(id: &str) -> String {
    format!("jobs/{id}/in")
}

fn out_key(id: &str, rev: u32, attempt: u32) -> String {
    format!("jobs/{id}/rev/{rev}/a{attempt}")
}

fn preview_key(id: &str) -> String {
    format!("jobs/{id}/preview")
}

/// Every file under `dir` (not its hidden or part files), as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".part") {
                continue;
            }
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path(), &rel, out),
                Ok(t) if t.is_file() => out.push(rel),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

impl Mirror {
    pub fn new(blobs: Arc<Blobs>, data_dir: &Path) -> Self {
        Self {
            blobs,
            local: LocalStore::new(data_dir),
        }
    }

    /// The store, as messages name it.
    pub fn name(&self) -> &str {
        self.blobs.name()
    }

    fn push_dir(&self, dir: &Path, prefix: &str) -> Result<usize, String> {
        let files = files_under(dir);
        for rel in &files {
            self.blobs
                .put_file(&format!("{prefix}/{rel}"), &dir.join(rel))
                .map_err(|e| e.to_string())?;
        }
        Ok(files.len())
    }

    /// Copies every object under `prefix` into `dir`, but files already there at their size.
    fn pull_dir(&self, prefix: &str, dir: &Path) -> Result<usize, String> {
        let listed = self.blobs.list(prefix).map_err(|e| e.to_string())?;
        for (rel, size) in &listed {
            let to = dir.join(rel);
            if std::fs::metadata(&to).is_ok_and(|m| m.len() == *size) {
                continue;
            }
            self.blobs
                .get_file(&format!("{prefix}/{rel}"), &to)
                .map_err(|e| e.to_string())?;
        }
        Ok(listed.len())
    }

    /// An accepted upload's files, copied in before the job is queued: once the order is
    /// answered, every process can read them.
    pub fn push_inputs(&self, id: &str) -> Result<(), String> {
        let dir = self.local.inputs(id, false).map_err(|e| e.to_string())?;
        self.push_dir(&dir, &in_key(id)).map(|_| ())
    }

    /// A job's uploads, copied into this process's data folder (those already there stay).
    pub fn pull_inputs(&self, id: &str) -> Result<(), String> {
        let dir = self.local.inputs(id, true).map_err(|e| e.to_string())?;
        match self.pull_dir(&in_key(id), &dir) {
            Ok(0) => Err(format!("{}: job {id} has no uploads", self.name())),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What attempt `attempt` rendered for revision `rev` (and a stem job's preview), copied
    /// in under the attempt's own prefix before the attempt's ending is recorded.
    pub fn push_outputs(&self, id: &str, rev: u32, attempt: u32) -> Result<(), String> {
        let dir = self
            .local
            .outputs(id, rev, false)
            .map_err(|e| e.to_string())?;
        self.push_dir(&dir, &out_key(id, rev, attempt))?;
        let preview = self.local.preview(id, false).map_err(|e| e.to_string())?;
        if rev == 1 && preview.is_dir() {
            self.push_dir(&preview, &preview_key(id))?;
        }
        Ok(())
    }

    /// Before a web process reads a job's files: its uploads, the files of each revision's
    /// recorded attempt and the preview, copied into the data folder unless there already.
    pub fn pull_job(&self, id: &str, revisions: &[Revision]) -> Result<(), String> {
        self.pull_inputs(id)?;
        for r in revisions {
            let (Some(attempt), Some(State::Done)) = (r.attempt, r.state) else {
                continue;
            };
            let dir = self
                .local
                .outputs(id, r.n, true)
                .map_err(|e| e.to_string())?;
            let marker = dir.join(HOLDS);
            let held = std::fs::read_to_string(&marker).ok();
            if held.as_deref() == Some(&attempt.to_string()) {
                continue;
            }
            if held.is_some() {
                // Another attempt's files (a web process that read them mid-way): start over.
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            }
            self.pull_dir(&out_key(id, r.n, attempt), &dir)?;
            std::fs::write(&marker, attempt.to_string()).map_err(|e| e.to_string())?;
        }
        if self.local.preview_wav(id).is_none() {
            let dir: PathBuf = self.local.preview(id, false).map_err(|e| e.to_string())?;
            self.pull_dir(&preview_key(id), &dir)?;
        }
        Ok(())
    }

    /// Deletes every object of the job.
    pub fn remove(&self, id: &str) -> Result<usize, BlobError> {
        self.blobs.delete_prefix(&format!("jobs/{id}"))
    }
}

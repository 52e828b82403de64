//! One render at a time per output folder, and no temporary files left by a failed one.
//!
//! Two `lathe master` runs into one folder used to write the same `.part` and bus files at
//! once: a FLAC that failed its own checksum, a WAV whose header disagreed with its data. The
//! lock is an advisory `flock` on `.lathe.lock` in the folder (the standard library's
//! `File::try_lock`): the kernel drops it when the process ends, however it ends, so a killed
//! run never leaves the folder locked (only, then, an empty `.lathe.lock`, which the next run
//! takes over and removes).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::MasterError;

/// The lock file's name (hidden; the service never lists it).
pub const LOCK_FILE: &str = ".lathe.lock";

/// Holds the folder's lock until dropped; dropping it removes the lock file.
#[derive(Debug)]
pub struct OutLock {
    file: File,
    path: PathBuf,
}

impl OutLock {
    /// Takes the lock of `dir` (which must exist), or says who holds it (a usage error: the
    /// other render is the user's); a folder that cannot be locked is an I/O error.
    pub fn take(dir: &Path) -> Result<Self, MasterError> {
        use std::os::unix::fs::MetadataExt;
        let path = dir.join(LOCK_FILE);
        // The holder removes the file when it is done, so a lock won on a file that is no
        // longer at the path guards nothing: then try again on the new one.
        for _ in 0..8 {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| MasterError::io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(MasterError::Usage(format!(
                        "{}: another lathe is writing into this folder; wait for it or choose another -o",
                        dir.display()
                    )))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(MasterError::io(dir, e))
                }
            }
            let held = file.metadata().map_err(|e| MasterError::io(&path, e))?;
            let current = std::fs::metadata(&path).ok();
            if current.is_some_and(|c| c.dev() == held.dev() && c.ino() == held.ino()) {
                return Ok(Self { file, path });
            }
        }
        Err(MasterError::io(
            dir,
            std::io::Error::other("cannot lock the folder (it keeps changing)"),
        ))
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the file when it closes.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether `file_name` is a temporary file of a render of `name` (the session's output
/// name): a deliverable or report under its `.part` name, a bus cache or a lossy bus copy.
pub fn is_scratch(file_name: &str, name: &str) -> bool {
    let ours = file_name.starts_with(&format!("{name}_"))
        || file_name.starts_with(&format!(".{name}_"))
        || file_name == "report.json.part";
    let temporary = file_name.ends_with(".part")
        || (file_name.starts_with('.')
            && (file_name.ends_with(".prebus.f32") || file_name.ends_with(".f32.wav")));
    ours && temporary
}

/// Removes the temporary files a failed render of `name` left in `dir` (call it with the
/// lock held: no other render can be writing them).
pub fn remove_scratch(dir: &Path, name: &str) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if is_scratch(&file_name, name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_folder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutLock::take(dir.path()).unwrap();
        let err = OutLock::take(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("another lathe is writing"),
            "{err}"
        );
        // Another run of the user's is a usage error (exit 2), not a failure of the machine.
        assert_eq!(err.exit_code(), crate::error::EXIT_BAD_INPUT);
        drop(first);
        assert!(!dir.path().join(LOCK_FILE).exists(), "the lock file stays");
        OutLock::take(dir.path()).unwrap();
    }

    #[test]
    fn scratch_names_are_only_this_renders_temporary_files() {
        for ok in [
            "song_master_44k1_24b.wav.part",
            ".song_master.prebus.f32",
            ".song_master.bus44100.f32.wav",
            "report.json.part",
        ] {
            assert!(is_scratch(ok, "song"), "{ok}");
        }
        for keep in [
            "song_master_44k1_24b.wav",
            "other_master_44k1_24b.wav.part",
            "mix.wav",
            "report.json",
            ".lathe.lock",
        ] {
            assert!(!is_scratch(keep, "song"), "{keep}");
        }
    }
}

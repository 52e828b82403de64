//! The engine's error: what went wrong, in which category, naming the key or the path. The
//! category decides the command line's exit code, so that a script can tell a refused input
//! from a full disk.

use std::path::{Path, PathBuf};

use crate::analyze::AnalyzeError;
use crate::render::RenderError;

/// Exit code when everything was delivered and met its target.
pub const EXIT_OK: u8 = 0;
/// Exit code when every file was delivered but one missed its target (the report says which).
pub const EXIT_MISSED_TARGET: u8 = 1;
/// Exit code for bad input or usage: a flag, a key, a file that cannot be decoded.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a failure of this machine or of lathe: writing, encoding, verifying.
pub const EXIT_FAILURE: u8 = 3;

/// What kind of failure an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// A flag, a session key or a value out of range; an output that exists; a refused job.
    Usage,
    /// An input that cannot be decoded or used (channels, NaN samples, a broken file).
    Decode,
    /// Reading or writing on this machine failed (a full disk, permissions).
    Io,
    /// An encoder failed, or a delivered file could not be decoded back.
    Encode,
}

impl Category {
    pub fn exit_code(self) -> u8 {
        match self {
            Category::Usage | Category::Decode => EXIT_BAD_INPUT,
            Category::Io | Category::Encode => EXIT_FAILURE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// Bad input or usage; the message names the key or the path.
    #[error("{0}")]
    Usage(String),
    /// An input file could not be analysed.
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    /// A reference file could not be analysed.
    #[error("reference {}: {source}", path.display())]
    Reference { path: PathBuf, source: AnalyzeError },
    /// A render pass failed: reading an input, or writing an output.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A file or folder of this machine could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An encoder failed on `path`, or the file it wrote cannot be decoded back.
    #[error("{}: {message}", path.display())]
    Encode { path: PathBuf, message: String },
}

impl MasterError {
    pub fn category(&self) -> Category {
        match self {
            MasterError::Usage(_) => Category::Usage,
            MasterError::Analyze(_) | MasterError::Reference { .. } => Category::Decode,
            MasterError::Render(RenderError::Source(_)) => Category::Decode,
            MasterError::Render(RenderError::Write(_)) | MasterError::Io { .. } => Category::Io,
            MasterError::Encode { .. } => Category::Encode,
        }
    }

    /// The command line's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.category().exit_code()
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        MasterError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn encode(path: &Path, message: impl std::fmt::Display) -> Self {
        MasterError::Encode {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_give_the_documented_exit_codes() {
        let disk = std::io::Error::other("No space left on device");
        assert_eq!(MasterError::Usage("x".into()).exit_code(), 2);
        assert_eq!(MasterError::io(Path::new("/o"), disk).exit_code(), 3);
        assert_eq!(
            MasterError::Render(RenderError::Write(std::io::Error::other("full"))).exit_code(),
            3
        );
        assert_eq!(
            MasterError::encode(Path::new("a.mp3"), "lame").exit_code(),
            3
        );
        let e = MasterError::encode(Path::new("a.mp3"), "lame failed");
        assert_eq!(e.to_string(), "a.mp3: lame failed");
    }
}

//! One exception for everything lathe refuses or fails at, carrying the command line's message.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(
    _native,
    LatheError,
    PyException,
    "What lathe refused or failed at, with the message its command line prints."
);

/// A lathe error with `message` (the text `lathe` prints after `lathe: `).
pub(crate) fn lathe_error(message: impl std::fmt::Display) -> PyErr {
    LatheError::new_err(message.to_string())
}

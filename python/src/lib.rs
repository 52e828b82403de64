//! The native half of the `lathe` Python package (`lathe._native`): the engine's jobs on
//! files (analysis, masters, sessions), arrays to and from WAV files, and chains of
//! processors on blocks of samples. The Python half (`python/lathe/`) gives them their
//! keyword arguments, numpy arrays and docstrings.
//!
//! Audio crosses as flat float64 arrays, interleaved `(frames, channels)` (processed in place
//! by chains; written to and read from files by jobs); every call that processes audio
//! releases the GIL.

use pyo3::prelude::*;

mod chain;
mod error;
mod jobs;
mod run;
mod wav;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LatheError", m.py().get_type::<error::LatheError>())?;
    m.add_function(wrap_pyfunction!(jobs::analyze_file, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::master_files, m)?)?;
    m.add_function(wrap_pyfunction!(jobs::render_session, m)?)?;
    m.add_function(wrap_pyfunction!(wav::write_float_wav, m)?)?;
    m.add_function(wrap_pyfunction!(wav::read_audio, m)?)?;
    m.add_class::<chain::NativeChain>()?;
    Ok(())
}

//! The engine's jobs on files, as the command line runs them: `lathe analyze --json`,
//! `lathe master`, `lathe render`. Results cross as JSON (the Python half turns them into
//! dicts), so a field added to a report reaches Python with no change here.

use std::path::PathBuf;

use lathe_engine::master::{render_session_with, MasterRequest, Prepared};
use lathe_engine::progress::Silent;
use lathe_engine::spec::session::Session;
use pyo3::prelude::*;

use crate::error::lathe_error;

/// `lathe analyze --json` of one file: its analysis as JSON.
#[pyfunction]
pub(crate) fn analyze_file(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    let analysis = py
        .detach(|| lathe_engine::analyze_file(&path))
        .map_err(lathe_error)?;
    serde_json::to_string(&analysis).map_err(lathe_error)
}

/// `lathe master`: `files` (a mix, or stems), `references`, and the request's options as the
/// service's job options JSON (keys as the command line's flags); the report as JSON.
#[pyfunction]
#[pyo3(signature = (files, references, options_json, out_dir, force=false))]
pub(crate) fn master_files(
    py: Python<'_>,
    files: Vec<PathBuf>,
    references: Vec<PathBuf>,
    options_json: &str,
    out_dir: PathBuf,
    force: bool,
) -> PyResult<String> {
    let mut request: MasterRequest = serde_json::from_str(options_json)
        .map_err(|e| lathe_error(format!("master options: {e}")))?;
    request.files = files;
    request.references = references;
    let report = py.detach(|| {
        let Prepared { session, known } = request.prepare()?;
        render_session_with(&session, &out_dir, force, Some(known), &Silent)
    });
    report_json(report.map_err(lathe_error)?)
}

/// `lathe render SESSION -o OUT`: the report as JSON.
#[pyfunction]
#[pyo3(signature = (session_path, out_dir, force=false))]
pub(crate) fn render_session(
    py: Python<'_>,
    session_path: PathBuf,
    out_dir: PathBuf,
    force: bool,
) -> PyResult<String> {
    let session = Session::load(&session_path).map_err(lathe_error)?;
    let report = py.detach(|| render_session_with(&session, &out_dir, force, None, &Silent));
    report_json(report.map_err(lathe_error)?)
}

fn report_json(report: impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(&report).map_err(lathe_error)
}

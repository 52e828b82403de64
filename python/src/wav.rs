//! Arrays to and from files: the engine reads and writes files (its jobs stream them, so any
//! length fits in bounded memory), so an array handed to a job goes through a temporary WAV.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::error::lathe_error;
use crate::run::Sample;

/// Samples converted and written per step.
const CHUNK: usize = 1 << 16;

/// Writes interleaved float32 or float64 `samples` (`channels` per frame) as a 32-bit float
/// WAV; NaN or infinite samples are refused.
#[pyfunction]
pub(crate) fn write_float_wav(
    py: Python<'_>,
    path: PathBuf,
    samples: &Bound<'_, PyAny>,
    channels: u16,
    sample_rate_hz: u32,
) -> PyResult<()> {
    if channels == 0 || sample_rate_hz == 0 {
        return Err(lathe_error(
            "an array needs at least one channel and a sample rate above 0",
        ));
    }
    if let Ok(a) = samples.cast::<PyArray1<f32>>() {
        return write_array(py, &path, a.try_readonly(), channels, sample_rate_hz);
    }
    match samples.cast::<PyArray1<f64>>() {
        Ok(a) => write_array(py, &path, a.try_readonly(), channels, sample_rate_hz),
        Err(_) => Err(lathe_error(
            "samples must be a 1-D float32 or float64 array",
        )),
    }
}

fn write_array<S: Sample + numpy::Element>(
    py: Python<'_>,
    path: &Path,
    samples: Result<PyReadonlyArray1<'_, S>, numpy::BorrowError>,
    channels: u16,
    rate: u32,
) -> PyResult<()> {
    let samples = samples.map_err(|e| lathe_error(format!("the array: {e}")))?;
    let data = samples
        .as_slice()
        .map_err(|_| lathe_error("the array must be contiguous"))?;
    if data.iter().any(|v| !v.to_f64().is_finite()) {
        return Err(lathe_error("the audio holds NaN or infinite samples"));
    }
    py.detach(|| write_float(path, data, channels, rate))
        .map_err(|e| lathe_error(format!("{}: cannot write: {e}", path.display())))
}

/// A WAVE_FORMAT_IEEE_FLOAT file: the `fmt ` chunk (with its empty extension), the `fact`
/// chunk that non-PCM formats carry, and the samples as little-endian f32.
fn write_float<S: Sample>(
    path: &Path,
    data: &[S],
    channels: u16,
    rate: u32,
) -> std::io::Result<()> {
    let data_bytes = u32::try_from(data.len() * 4)
        .ok()
        .filter(|b| *b <= u32::MAX - 58)
        .ok_or_else(|| std::io::Error::other("too long for a WAV file (4 GiB)"))?;
    let frames = (data.len() / channels as usize) as u32;
    let block_align = 4 * channels;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut h = Vec::with_capacity(58);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(50 + data_bytes).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&18u32.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * block_align as u32).to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(b"fact");
    h.extend_from_slice(&4u32.to_le_bytes());
    h.extend_from_slice(&frames.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_bytes.to_le_bytes());
    out.write_all(&h)?;
    let mut bytes = Vec::with_capacity(4 * CHUNK);
    for chunk in data.chunks(CHUNK) {
        bytes.clear();
        bytes.extend(
            chunk
                .iter()
                .flat_map(|&v| (v.to_f64() as f32).to_le_bytes()),
        );
        out.write_all(&bytes)?;
    }
    // A temporary file for a job: no need to wait for the disk.
    out.flush()
}

/// Decodes any file lathe reads: (interleaved float64 samples, channels, rate).
#[pyfunction]
pub(crate) fn read_audio(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(Py<PyArray1<f64>>, usize, u32)> {
    let (samples, channels, rate) = py
        .detach(|| -> Result<_, lathe_io::decode::DecodeError> {
            let mut d = lathe_io::Decoder::open(&path)?;
            let (channels, rate) = (d.info().channels, d.info().sample_rate_hz);
            let mut samples = Vec::new();
            while let Some(block) = d.next_block()? {
                let frames = block.first().map_or(0, |c| c.len());
                samples.reserve(frames * channels);
                for i in 0..frames {
                    samples.extend(block.iter().map(|c| c[i]));
                }
            }
            Ok((samples, channels, rate))
        })
        .map_err(|e| lathe_error(format!("{}: {e}", path.display())))?;
    Ok((PyArray1::from_vec(py, samples).unbind(), channels, rate))
}

//! Arrays to and from files: the engine reads and writes files (its jobs stream them, so any
//! length fits in bounded memory), so an array handed to a job goes through a temporary WAV.

use std::path::PathBuf;

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::lathe_error;

/// Writes interleaved float64 `samples` (`channels` per frame) as a 32-bit float WAV.
#[pyfunction]
pub(crate) fn write_float_wav(
    py: Python<'_>,
    path: PathBuf,
    samples: PyBuffer<f64>,
    channels: u16,
    sample_rate_hz: u32,
) -> PyResult<()> {
    if channels == 0 || sample_rate_hz == 0 {
        return Err(lathe_error(
            "an array needs at least one channel and a sample rate above 0",
        ));
    }
    let data = samples.to_vec(py)?;
    py.detach(|| -> Result<(), hound::Error> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: sample_rate_hz,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec)?;
        for &v in &data {
            w.write_sample(v as f32)?;
        }
        w.finalize()
    })
    .map_err(|e| lathe_error(format!("{}: cannot write: {e}", path.display())))
}

/// Decodes any file lathe reads: (interleaved float64 samples as bytes, channels, rate).
#[pyfunction]
pub(crate) fn read_audio(py: Python<'_>, path: PathBuf) -> PyResult<(Py<PyBytes>, usize, u32)> {
    let (bytes, channels, rate) = py
        .detach(|| -> Result<_, lathe_io::decode::DecodeError> {
            let mut d = lathe_io::Decoder::open(&path)?;
            let (channels, rate) = (d.info().channels, d.info().sample_rate_hz);
            let mut bytes = Vec::new();
            while let Some(block) = d.next_block()? {
                let frames = block.first().map_or(0, |c| c.len());
                for i in 0..frames {
                    for c in &block {
                        bytes.extend_from_slice(&c[i].to_ne_bytes());
                    }
                }
            }
            Ok((bytes, channels, rate))
        })
        .map_err(|e| lathe_error(format!("{}: {e}", path.display())))?;
    Ok((PyBytes::new(py, &bytes).unbind(), channels, rate))
}

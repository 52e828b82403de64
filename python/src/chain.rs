//! A chain of processors kept across calls: the state of `lathe.Chain`. Entries are the
//! session file's chain entries (`{"compressor": {"ratio": 2}}`, validated as a session's are,
//! with the same messages) plus `{"dither": {"bits": 16, "kind": "tpdf", "seed": 0}}`, which a
//! session puts on its deliverables instead.

use lathe_dsp::dither::{Dither, DitherKind};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_engine::spec::chain::{validate_chain, ProcessorSpec};
use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use serde::Deserialize;
use std::sync::Mutex;

use crate::error::lathe_error;

/// Frames per processor call (the engine's block).
const BLOCK: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DitherSpec {
    #[serde(default = "sixteen")]
    bits: u32,
    #[serde(default)]
    kind: DitherKind,
    #[serde(default)]
    seed: u64,
}

fn sixteen() -> u32 {
    16
}

#[pyclass(module = "lathe._native")]
pub(crate) struct NativeChain {
    /// Behind a lock so that the object may be shared between Python threads (one call
    /// processes at a time).
    state: Mutex<State>,
}

struct State {
    processors: Vec<Box<dyn Processor>>,
    /// The rate the processors are prepared for (0: not yet).
    rate_hz: f64,
}

/// The processors of `entries` (a JSON list), in order.
fn build(entries: &[serde_json::Value]) -> Result<Vec<Box<dyn Processor>>, String> {
    let mut specs = Vec::new();
    let mut out: Vec<Box<dyn Processor>> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(d) = e.get("dither") {
            let d: DitherSpec =
                serde_json::from_value(d.clone()).map_err(|m| format!("chain[{i}].dither: {m}"))?;
            if !(8..=24).contains(&d.bits) {
                return Err(format!(
                    "chain[{i}].dither.bits must be within 8…24, got {}",
                    d.bits
                ));
            }
            out.push(Box::new(Dither::new(d.bits, d.kind, d.seed)));
            continue;
        }
        let spec: ProcessorSpec =
            serde_json::from_value(e.clone()).map_err(|m| format!("chain[{i}]: {m}"))?;
        specs.push(spec.clone());
        validate_chain(&specs).map_err(|m| m.replace("chain[0]", &format!("chain[{i}]")))?;
        specs.clear();
        out.push(spec.build());
    }
    Ok(out)
}

impl State {
    fn prepare(&mut self, rate_hz: f64) {
        if self.rate_hz != rate_hz {
            for p in &mut self.processors {
                p.prepare(rate_hz, BLOCK);
            }
            self.rate_hz = rate_hz;
        }
    }
}

#[pymethods]
impl NativeChain {
    #[new]
    fn new(entries_json: &str) -> PyResult<Self> {
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(entries_json).map_err(|e| lathe_error(format!("chain: {e}")))?;
        Ok(Self {
            state: Mutex::new(State {
                processors: build(&entries).map_err(lathe_error)?,
                rate_hz: 0.0,
            }),
        })
    }

    /// The chain's delay at `sample_rate_hz`, frames.
    fn latency_samples(&self, sample_rate_hz: f64) -> PyResult<usize> {
        check_rate(sample_rate_hz)?;
        let mut state = self.lock();
        state.prepare(sample_rate_hz);
        Ok(state.processors.iter().map(|p| p.latency_samples()).sum())
    }

    /// Clears every processor's state (delay lines, envelopes).
    fn reset(&self) {
        for p in &mut self.lock().processors {
            p.reset();
        }
    }

    /// Processes `samples` (interleaved float64, 1 or 2 channels) in place, continuing from the
    /// state the previous call left (after `reset`: from silence).
    fn process(
        &self,
        py: Python<'_>,
        samples: PyBuffer<f64>,
        channels: usize,
        sample_rate_hz: f64,
    ) -> PyResult<()> {
        check_rate(sample_rate_hz)?;
        if !(1..=2).contains(&channels) {
            return Err(lathe_error(format!(
                "processors take 1 or 2 channels, got {channels}"
            )));
        }
        if samples.readonly() {
            return Err(lathe_error("the buffer to process is read-only"));
        }
        let mut data = samples.to_vec(py)?;
        // Into one plane per side (mono: the same signal on both), processed without the GIL,
        // and back into the caller's buffer.
        py.detach(|| {
            let (mut left, mut right): (Vec<f64>, Vec<f64>) = match channels {
                1 => data.iter().map(|&v| (v, v)).unzip(),
                _ => data.chunks_exact(2).map(|f| (f[0], f[1])).unzip(),
            };
            let mut state = self.lock();
            let state = &mut *state;
            state.prepare(sample_rate_hz);
            for (l, r) in left.chunks_mut(BLOCK).zip(right.chunks_mut(BLOCK)) {
                for p in &mut state.processors {
                    p.process(&mut StereoBlock { left: l, right: r });
                }
            }
            match channels {
                // Mono in, mono out: both sides carry it (a stereo stage may part them).
                1 => {
                    for ((d, l), r) in data.iter_mut().zip(&left).zip(&right) {
                        *d = 0.5 * (l + r);
                    }
                }
                _ => {
                    for ((f, l), r) in data.chunks_exact_mut(2).zip(&left).zip(&right) {
                        f[0] = *l;
                        f[1] = *r;
                    }
                }
            }
        });
        samples.copy_from_slice(py, &data)?;
        Ok(())
    }
}

impl NativeChain {
    /// The state; a panic in another call cannot leave it half-processed in a way that
    /// matters more than a reset, so a poisoned lock is taken over.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn check_rate(sample_rate_hz: f64) -> PyResult<()> {
    if sample_rate_hz.is_finite() && (8_000.0..=768_000.0).contains(&sample_rate_hz) {
        Ok(())
    } else {
        Err(lathe_error(format!(
            "sample_rate must be within 8000…768000 Hz, got {sample_rate_hz}"
        )))
    }
}

//! A chain of processors kept across calls: the state of `lathe.Chain`. Entries are the
//! session file's chain entries (`{"compressor": {"ratio": 2}}`, validated as a session's are,
//! with the same messages) plus `{"dither": {"bits": 16, "kind": "tpdf", "seed": 0}}`, which a
//! session puts on its deliverables instead.

use lathe_dsp::dither::{Dither, DitherKind};
use lathe_dsp::processor::Processor;
use lathe_engine::spec::chain::ProcessorSpec;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;
use serde::Deserialize;
use std::sync::Mutex;

use crate::error::lathe_error;
use crate::run::{run, Io, Sample, BLOCK};

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
        spec.validate().map_err(|m| format!("chain[{i}].{m}"))?;
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
    /// Processes `input` (interleaved float32 or float64, 1 or 2 channels) into `output` (the
    /// same type and length), continuing from the state the previous call left (after `reset`:
    /// from silence); reads `flush` silent frames after the input and drops the first `skip`
    /// output frames.
    #[pyo3(signature = (input, output, channels, sample_rate_hz, skip=0, flush=0))]
    #[allow(clippy::too_many_arguments)]
    fn process(
        &self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        output: &Bound<'_, PyAny>,
        channels: usize,
        sample_rate_hz: f64,
        skip: usize,
        flush: usize,
    ) -> PyResult<()> {
        check_rate(sample_rate_hz)?;
        if !(1..=2).contains(&channels) {
            return Err(lathe_error(format!(
                "processors take 1 or 2 channels, got {channels}"
            )));
        }
        let io = (channels, sample_rate_hz, (skip, flush));
        match self.run_as::<f32>(py, input, output, io) {
            Some(done) => done,
            None => self
                .run_as::<f64>(py, input, output, io)
                .unwrap_or_else(|| {
                    Err(lathe_error(
                        "input and output must be 1-D float32 or float64 arrays of the same type",
                    ))
                }),
        }
    }
}

impl NativeChain {
    /// [`NativeChain::run`] when both arrays hold `S`; `None` when they do not.
    fn run_as<S: Sample + numpy::Element>(
        &self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        output: &Bound<'_, PyAny>,
        (channels, rate_hz, skip_flush): (usize, f64, (usize, usize)),
    ) -> Option<PyResult<()>> {
        let i = input.cast::<PyArray1<S>>().ok()?;
        let o = output.cast::<PyArray1<S>>().ok()?;
        Some(self.run(
            py,
            i.try_readonly(),
            o.try_readwrite(),
            channels,
            rate_hz,
            skip_flush,
        ))
    }

    fn run<S: Sample + numpy::Element>(
        &self,
        py: Python<'_>,
        input: Result<PyReadonlyArray1<'_, S>, numpy::BorrowError>,
        output: Result<PyReadwriteArray1<'_, S>, numpy::BorrowError>,
        channels: usize,
        sample_rate_hz: f64,
        (skip, flush): (usize, usize),
    ) -> PyResult<()> {
        let borrowed = |e: numpy::BorrowError| lathe_error(format!("the arrays: {e}"));
        let (input, mut output) = (input.map_err(borrowed)?, output.map_err(borrowed)?);
        let contiguous = || lathe_error("the arrays must be contiguous");
        let input = input.as_slice().map_err(|_| contiguous())?;
        let output = output.as_slice_mut().map_err(|_| contiguous())?;
        if input.len() != output.len() || input.len() % channels != 0 {
            return Err(lathe_error(
                "input and output must hold the same whole number of frames",
            ));
        }
        py.detach(|| {
            let mut state = self.lock();
            let state = &mut *state;
            state.prepare(sample_rate_hz);
            let io = Io {
                input,
                output,
                channels,
                skip,
                flush,
            };
            run(&mut state.processors, io);
        });
        Ok(())
    }

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

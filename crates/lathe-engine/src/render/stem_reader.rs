//! One stem being rendered: decoded, resampled, run through its chain block by block, its
//! chain's latency dropped, its output kept in a small FIFO until the mixer takes it.
//!
//! **Keys.** A processor keyed on another stem hears that stem's chain output of the same
//! input block (before its gain and pan), passed in by the mixer, which runs key stems first.
//! The two are aligned: a processor standing after `d` samples of its own chain's latency
//! hears a key `D` samples late (the key stem's whole chain latency); the earlier of the two
//! is delayed by the difference (a delay on the audio adds to this stem's latency).

use lathe_dsp::delay::DelayLine;
use lathe_dsp::processor::{KeyBlock, Processor, StereoBlock};

use crate::render::block::BLOCK;
use crate::render::source::{SourceError, StereoSource};
use crate::spec::stem::StemSpec;

/// A stem's chain output of the current step, before gain and pan: what the stems keyed on it
/// hear (kept apart from the reader so that readers of a later wave can share it).
pub(super) struct KeyOut {
    buf: [Vec<f64>; 2],
    len: usize,
}

impl KeyOut {
    pub(super) fn new() -> Self {
        Self {
            buf: [vec![0.0; BLOCK], vec![0.0; BLOCK]],
            len: 0,
        }
    }
}

/// Where a keyed processor's key comes from, and the delays that align it.
struct KeyTap {
    /// The key stem: an index into the key outputs the mixer passes to [`StemReader::produce`].
    reader: usize,
    key_delay: [DelayLine; 2],
    audio_delay: [DelayLine; 2],
}

struct Stage {
    processor: Box<dyn Processor>,
    key: Option<KeyTap>,
}

pub(super) struct StemReader {
    source: StereoSource,
    stages: Vec<Stage>,
    latency: usize,
    to_skip: usize,
    gains: (f64, f64),
    /// Whether the stem is heard in some lane (a stem may be opened only as another's key).
    pub audible: bool,
    input_frames: u64,
    input_done: bool,
    flushed: usize,
    emitted: u64,
    pub finished: bool,
    fifo: [Vec<f64>; 2],
    fifo_pos: usize,
    work: [Vec<f64>; 2],
    /// The key of the processor being run, aligned.
    key_in: [Vec<f64>; 2],
    /// This block's output, zero beyond the stem's end.
    pub out: [Vec<f64>; 2],
}

impl StemReader {
    /// Opens a stem. `key_latencies`: the chain latencies of the readers opened so far;
    /// `key_index(name)` finds a key stem's reader among them.
    pub(super) fn open(
        stem: &StemSpec,
        rate_hz: u32,
        audible: bool,
        key_latencies: &[usize],
        key_index: impl Fn(&str) -> usize,
    ) -> Result<Self, SourceError> {
        let source = StereoSource::open(&stem.file, rate_hz, stem.non_finite)?;
        let mut stages = Vec::with_capacity(stem.chain.len());
        let mut latency = 0usize;
        for spec in &stem.chain {
            let mut processor = spec.build();
            processor.prepare(rate_hz as f64, BLOCK);
            let key = spec.key().map(|name| {
                let reader = key_index(name);
                let key_latency = key_latencies[reader];
                let (key_delay, audio_delay) = if key_latency > latency {
                    (0, key_latency - latency)
                } else {
                    (latency - key_latency, 0)
                };
                latency += audio_delay;
                KeyTap {
                    reader,
                    key_delay: [DelayLine::new(key_delay), DelayLine::new(key_delay)],
                    audio_delay: [DelayLine::new(audio_delay), DelayLine::new(audio_delay)],
                }
            });
            latency += processor.latency_samples();
            stages.push(Stage { processor, key });
        }
        let g = lathe_dsp::db_to_lin(stem.gain_db);
        let block = || [vec![0.0; BLOCK], vec![0.0; BLOCK]];
        Ok(Self {
            source,
            stages,
            latency,
            to_skip: latency,
            gains: (g * (1.0 - stem.pan).min(1.0), g * (1.0 + stem.pan).min(1.0)),
            audible,
            input_frames: 0,
            input_done: false,
            flushed: 0,
            emitted: 0,
            finished: false,
            fifo: [Vec::new(), Vec::new()],
            fifo_pos: 0,
            work: block(),
            key_in: block(),
            out: block(),
        })
    }

    pub(super) fn warnings(&self) -> Vec<String> {
        self.source.warnings()
    }

    /// Frames waiting in the FIFO.
    pub(super) fn available(&self) -> usize {
        self.fifo[0].len() - self.fifo_pos
    }

    /// The chain's latency, samples (with the delays that align keys).
    pub(super) fn latency(&self) -> usize {
        self.latency
    }

    /// Processes the next input block (the mixer's step) into the FIFO and `key_out`; `keys`:
    /// the key outputs of earlier waves, ready for this step.
    pub(super) fn produce(
        &mut self,
        key_out: &mut KeyOut,
        keys: &[KeyOut],
    ) -> Result<(), SourceError> {
        if self.finished || (self.input_done && self.flushed >= self.latency) {
            self.finished = true;
            key_out.len = 0;
            return Ok(());
        }
        let [l, r] = &mut self.work;
        let n_in = if self.input_done {
            0
        } else {
            self.source.read(l, r)?
        };
        self.input_done |= n_in < BLOCK;
        self.input_frames += n_in as u64;
        let pad = if self.input_done {
            (BLOCK - n_in).min(self.latency - self.flushed)
        } else {
            0
        };
        l[n_in..n_in + pad].fill(0.0);
        r[n_in..n_in + pad].fill(0.0);
        self.flushed += pad;
        let n = n_in + pad;
        for stage in &mut self.stages {
            let mut block = StereoBlock {
                left: &mut l[..n],
                right: &mut r[..n],
            };
            match &mut stage.key {
                None => stage.processor.process(&mut block),
                Some(tap) => {
                    let key = &keys[tap.reader];
                    for ch in 0..2 {
                        let have = key.len.min(n);
                        self.key_in[ch][..have].copy_from_slice(&key.buf[ch][..have]);
                        self.key_in[ch][have..n].fill(0.0);
                        tap.key_delay[ch].process(&mut self.key_in[ch][..n]);
                    }
                    tap.audio_delay[0].process(block.left);
                    tap.audio_delay[1].process(block.right);
                    let key_block = KeyBlock {
                        left: &self.key_in[0][..n],
                        right: &self.key_in[1][..n],
                    };
                    stage.processor.process_keyed(&mut block, &key_block);
                }
            }
        }
        for ch in 0..2 {
            key_out.buf[ch][..n].copy_from_slice(&self.work[ch][..n]);
        }
        key_out.len = n;
        let skip = self.to_skip.min(n);
        self.to_skip -= skip;
        let take = ((n - skip) as u64).min(self.input_frames - self.emitted) as usize;
        if self.audible {
            if self.fifo_pos >= BLOCK * 4 {
                for f in &mut self.fifo {
                    f.drain(..self.fifo_pos);
                }
                self.fifo_pos = 0;
            }
            let [l, r] = &self.work;
            for (fifo, ch, g) in [(0, l, self.gains.0), (1, r, self.gains.1)] {
                self.fifo[fifo].extend(ch[skip..skip + take].iter().map(|v| v * g));
            }
        }
        self.emitted += take as u64;
        Ok(())
    }

    /// Moves up to `len` frames from the FIFO into `self.out[..len]` (zeros after); returns
    /// how many were the stem's own.
    pub(super) fn take(&mut self, len: usize) -> usize {
        let n = self.available().min(len);
        for ch in 0..2 {
            self.out[ch][..n].copy_from_slice(&self.fifo[ch][self.fifo_pos..self.fifo_pos + n]);
            self.out[ch][n..len].fill(0.0);
        }
        self.fifo_pos += n;
        n
    }
}

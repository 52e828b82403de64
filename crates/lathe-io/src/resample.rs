//! Streaming sample-rate conversion, any rate to any rate, with rubato's FFT resampler in f64.
//!
//! [`StreamResampler`] takes planar blocks of any length and returns the converted audio with
//! the resampler's delay already removed: output frame `k` is the input at time `k / out_hz`,
//! and a whole stream of `n` input frames becomes exactly `ceil(n · out_hz / in_hz)` frames.
//! Memory is fixed by the chunk size, whatever the length of the stream.
//!
//! Quality, measured by `tests/resample_quality.rs` with analytic sines (96 kHz → 44.1 kHz:
//! passband flatness, aliases, noise): see that test for the figures it asserts.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

/// Input frames per FFT chunk. Longer chunks make a longer anti-alias filter, hence a narrower
/// transition band; 8192 puts the −3 dB point within 0.4 % of the output Nyquist frequency.
const CHUNK_FRAMES: usize = 8192;

/// Why a resampler cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot resample {from_hz} Hz to {to_hz} Hz: {why}")]
pub struct ResampleError {
    pub from_hz: u32,
    pub to_hz: u32,
    pub why: String,
}

/// A streaming resampler for `channels` channels.
pub struct StreamResampler {
    inner: Fft<f64>,
    from_hz: u32,
    to_hz: u32,
    channels: usize,
    /// Input not yet consumed, per channel.
    pending: Vec<Vec<f64>>,
    /// Scratch output of one `process_into_buffer` call.
    scratch: Vec<Vec<f64>>,
    /// Output frames still to drop (the resampler's delay).
    to_trim: usize,
    frames_in: u64,
    frames_out: u64,
}

impl StreamResampler {
    pub fn new(from_hz: u32, to_hz: u32, channels: usize) -> Result<Self, ResampleError> {
        let err = |why: String| ResampleError {
            from_hz,
            to_hz,
            why,
        };
        if from_hz == 0 || to_hz == 0 || channels == 0 {
            return Err(err("rates and channel count must be positive".into()));
        }
        // An even number of FFT blocks keeps both FFT sizes even, so the resampler's delay
        // (half the output FFT size) is a whole number of frames: with an odd size the output
        // would lag by half a sample (measured: 8 kHz → 44.1 kHz).
        let min_in = (from_hz / gcd(from_hz, to_hz)) as usize;
        let chunk = CHUNK_FRAMES.div_ceil(2 * min_in) * 2 * min_in;
        let inner = Fft::<f64>::new_custom(
            from_hz as usize,
            to_hz as usize,
            chunk,
            1,
            channels,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| err(e.to_string()))?;
        let scratch = vec![vec![0.0; inner.output_frames_max()]; channels];
        Ok(Self {
            to_trim: inner.output_delay(),
            inner,
            from_hz,
            to_hz,
            channels,
            pending: vec![Vec::with_capacity(2 * CHUNK_FRAMES); channels],
            scratch,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Converts `input` (planar, equal lengths) and appends the result to `out`.
    pub fn process(&mut self, input: &[&[f64]], out: &mut [Vec<f64>]) {
        for (p, i) in self.pending.iter_mut().zip(input) {
            p.extend_from_slice(i);
        }
        self.frames_in += input.first().map_or(0, |c| c.len()) as u64;
        while self.pending[0].len() >= self.inner.input_frames_next() {
            self.run(None, out);
        }
    }

    /// Flushes the filter and appends the last frames, so that the whole stream has exactly
    /// `ceil(frames_in · to_hz / from_hz)` frames.
    pub fn finish(&mut self, out: &mut [Vec<f64>]) {
        let expected =
            (self.frames_in as u128 * self.to_hz as u128).div_ceil(self.from_hz as u128) as u64;
        let partial = self.pending[0].len();
        self.run(Some(partial), out);
        while self.frames_out < expected {
            self.run(Some(0), out);
        }
        let excess = (self.frames_out - expected) as usize;
        for o in out.iter_mut() {
            o.truncate(o.len() - excess);
        }
        self.frames_out = expected;
    }

    fn run(&mut self, partial: Option<usize>, out: &mut [Vec<f64>]) {
        let need = self.inner.input_frames_next();
        let avail = partial.unwrap_or(need);
        if self.pending[0].len() < need {
            for p in &mut self.pending {
                p.resize(need, 0.0);
            }
        }
        let input = SequentialSliceOfVecs::new(&self.pending, self.channels, need)
            .expect("pending holds `need` frames per channel");
        let max_out = self.scratch[0].len();
        let mut output = SequentialSliceOfVecs::new_mut(&mut self.scratch, self.channels, max_out)
            .expect("scratch sized by output_frames_max");
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            active_channels_mask: None,
            partial_len: partial,
        };
        let (used, produced) = self
            .inner
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .expect("buffers are sized from the resampler's own limits");
        let skip = self.to_trim.min(produced);
        self.to_trim -= skip;
        for (o, s) in out.iter_mut().zip(&self.scratch) {
            o.extend_from_slice(&s[skip..produced]);
        }
        self.frames_out += (produced - skip) as u64;
        let consumed = if partial.is_some() {
            avail.min(self.pending[0].len())
        } else {
            used
        };
        for p in &mut self.pending {
            p.drain(..consumed.min(p.len()));
        }
        if partial.is_some() {
            for p in &mut self.pending {
                p.clear();
            }
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

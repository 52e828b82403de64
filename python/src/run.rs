//! Running a chain from one array into another, block by block: one plane per side per block
//! (mono: the same signal on both sides), so a call allocates no more than its output. The
//! input is followed by `flush` frames of silence and the first `skip` frames of the output
//! are dropped, which takes a chain's delay out of a whole-array call. Long calls run each
//! processor on a thread of its own, blocks passed along bounded queues (a pipeline, as the
//! engine's render runs its stages), so that a chain keeps both cores busy.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use lathe_dsp::processor::{Processor, StereoBlock};

/// Frames per block (the processors are prepared for it).
pub(crate) const BLOCK: usize = 16384;
/// Calls shorter than this many frames run on the calling thread: starting threads would cost
/// more than they save.
const PIPELINE_MIN_FRAMES: usize = 4 * BLOCK;
/// Blocks in flight between two stages.
const QUEUE: usize = 4;

/// A sample type of numpy arrays the chain reads and writes.
pub(crate) trait Sample: Copy + Send + Sync {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Sample for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Sample for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// Where a chain reads and writes: interleaved input and output of the same length, 1 or 2
/// channels.
pub(crate) struct Io<'a, S> {
    pub input: &'a [S],
    pub output: &'a mut [S],
    pub channels: usize,
    /// Output frames dropped at the start, and silent frames read after the input.
    pub skip: usize,
    pub flush: usize,
}

/// One block's two planes.
type Planes = (Vec<f64>, Vec<f64>);

/// Processes `io.input` through `processors` into `io.output`.
pub(crate) fn run<S: Sample>(processors: &mut [Box<dyn Processor>], io: Io<'_, S>) {
    let Io {
        input,
        output,
        channels,
        skip,
        flush,
    } = io;
    let frames = input.len() / channels;
    let total = frames + flush;
    let starts = (0..total).step_by(BLOCK);
    let read = |start: usize| planes(input, channels, start, (start + BLOCK).min(total));
    let mut writer = Writer {
        output,
        channels,
        skip,
        at: 0,
    };
    if processors.len() < 2 || total < PIPELINE_MIN_FRAMES {
        for start in starts {
            let mut b = read(start);
            for p in processors.iter_mut() {
                p.process(&mut StereoBlock {
                    left: &mut b.0,
                    right: &mut b.1,
                });
            }
            writer.write(&b);
        }
        return;
    }
    std::thread::scope(|s| {
        let (first_tx, mut rx) = sync_channel::<Planes>(QUEUE);
        for p in processors.iter_mut() {
            let (tx, next_rx) = sync_channel(QUEUE);
            let input = std::mem::replace(&mut rx, next_rx);
            s.spawn(move || stage(p.as_mut(), input, tx));
        }
        s.spawn(move || {
            for b in rx {
                writer.write(&b);
            }
        });
        for start in starts {
            if first_tx.send(read(start)).is_err() {
                break;
            }
        }
    });
}

/// One processor's thread: every block through it, then on.
fn stage(p: &mut dyn Processor, input: Receiver<Planes>, output: SyncSender<Planes>) {
    for mut b in input {
        p.process(&mut StereoBlock {
            left: &mut b.0,
            right: &mut b.1,
        });
        if output.send(b).is_err() {
            return;
        }
    }
}

/// Frames `start..end` of the input (silence past its end) as two planes.
fn planes<S: Sample>(input: &[S], channels: usize, start: usize, end: usize) -> Planes {
    let frames = input.len() / channels;
    let (a, b) = (start.min(frames), end.min(frames));
    let (mut left, mut right): Planes = match channels {
        1 => input[a..b].iter().map(|v| (v.to_f64(), v.to_f64())).unzip(),
        _ => input[2 * a..2 * b]
            .chunks_exact(2)
            .map(|f| (f[0].to_f64(), f[1].to_f64()))
            .unzip(),
    };
    left.resize(end - start, 0.0);
    right.resize(end - start, 0.0);
    (left, right)
}

/// Writes processed blocks in order, dropping the first `skip` frames.
struct Writer<'a, S> {
    output: &'a mut [S],
    channels: usize,
    skip: usize,
    /// Frames written (after the skip).
    at: usize,
}

impl<S: Sample> Writer<'_, S> {
    fn write(&mut self, (left, right): &Planes) {
        let drop = self.skip.min(left.len());
        self.skip -= drop;
        let room = self.output.len() / self.channels - self.at;
        let n = (left.len() - drop).min(room);
        let (l, r) = (&left[drop..drop + n], &right[drop..drop + n]);
        let at = self.at;
        match self.channels {
            // Mono in, mono out: both sides carry it (a stereo stage may part them).
            1 => {
                for ((d, l), r) in self.output[at..at + n].iter_mut().zip(l).zip(r) {
                    *d = S::from_f64(0.5 * (l + r));
                }
            }
            _ => {
                let out = self.output[2 * at..2 * (at + n)].chunks_exact_mut(2);
                for ((f, l), r) in out.zip(l).zip(r) {
                    f[0] = S::from_f64(*l);
                    f[1] = S::from_f64(*r);
                }
            }
        }
        self.at += n;
    }
}

//! The stem mixer: each stem is decoded, resampled to the session rate, run through its own
//! chain, given its gain and pan, and summed sample-aligned with the others — whatever latency
//! each chain has (every stem drops its own chain's latency), whatever each file's rate, bit
//! depth, channel count and length (shorter stems continue as silence). A stereo master is one
//! stem with an empty chain.
//!
//! Pan is a balance: pan p ∈ [−1, 1] scales left by min(1, 1 − p) and right by min(1, 1 + p).

use lathe_dsp::processor::{Processor, StereoBlock};
use rayon::prelude::*;

use crate::render::block::BLOCK;
use crate::render::source::{SourceError, StereoSource};
use crate::spec::stem::StemSpec;

/// One stem being rendered: its aligned output is buffered in a small FIFO.
struct StemReader {
    source: StereoSource,
    procs: Vec<Box<dyn Processor>>,
    latency: usize,
    to_skip: usize,
    gains: (f64, f64),
    input_frames: u64,
    input_done: bool,
    flushed: usize,
    emitted: u64,
    fifo: [Vec<f64>; 2],
    fifo_pos: usize,
    work: [Vec<f64>; 2],
    /// This block's output, zero beyond the stem's end.
    out: [Vec<f64>; 2],
}

impl StemReader {
    fn open(stem: &StemSpec, rate_hz: u32) -> Result<Self, SourceError> {
        let source = StereoSource::open(&stem.file, rate_hz, stem.non_finite)?;
        let mut procs: Vec<Box<dyn Processor>> = stem.chain.iter().map(|p| p.build()).collect();
        for p in &mut procs {
            p.prepare(rate_hz as f64, BLOCK);
        }
        let latency = procs.iter().map(|p| p.latency_samples()).sum();
        let g = lathe_dsp::db_to_lin(stem.gain_db);
        Ok(Self {
            source,
            procs,
            latency,
            to_skip: latency,
            gains: (g * (1.0 - stem.pan).min(1.0), g * (1.0 + stem.pan).min(1.0)),
            input_frames: 0,
            input_done: false,
            flushed: 0,
            emitted: 0,
            fifo: [Vec::new(), Vec::new()],
            fifo_pos: 0,
            work: [vec![0.0; BLOCK], vec![0.0; BLOCK]],
            out: [vec![0.0; BLOCK], vec![0.0; BLOCK]],
        })
    }

    /// Processes one more input block into the FIFO. Returns false when nothing is left.
    fn produce(&mut self) -> Result<bool, SourceError> {
        if self.input_done && self.flushed >= self.latency {
            return Ok(false);
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
        let mut block = StereoBlock {
            left: &mut l[..n],
            right: &mut r[..n],
        };
        for p in &mut self.procs {
            p.process(&mut block);
        }
        let skip = self.to_skip.min(n);
        self.to_skip -= skip;
        let take = ((n - skip) as u64).min(self.input_frames - self.emitted) as usize;
        for (fifo, ch, g) in [(0, &*l, self.gains.0), (1, &*r, self.gains.1)] {
            self.fifo[fifo].extend(ch[skip..skip + take].iter().map(|v| v * g));
        }
        self.emitted += take as u64;
        Ok(true)
    }

    /// Fills `self.out[..len]`; returns how many of those frames are real (the rest is silence).
    fn fill(&mut self, len: usize) -> Result<usize, SourceError> {
        let mut written = 0;
        while written < len {
            if self.fifo_pos >= self.fifo[0].len() {
                for f in &mut self.fifo {
                    f.clear();
                }
                self.fifo_pos = 0;
                if !self.produce()? {
                    break;
                }
                continue;
            }
            let n = (self.fifo[0].len() - self.fifo_pos).min(len - written);
            for ch in 0..2 {
                self.out[ch][written..written + n]
                    .copy_from_slice(&self.fifo[ch][self.fifo_pos..self.fifo_pos + n]);
            }
            self.fifo_pos += n;
            written += n;
        }
        for ch in &mut self.out {
            ch[written..len].fill(0.0);
        }
        Ok(written)
    }
}

/// The sum of the audible stems, aligned; with versions, one sum per lane (the main mix and
/// each locked version), from the same processed stems.
pub struct StemMix {
    readers: Vec<StemReader>,
    names: Vec<String>,
    /// Per lane, per reader: the factor on that stem's output in that lane's sum.
    lane_gains: Vec<Vec<f64>>,
    /// Frames of its own audio each stem produced in the last read.
    last_read: Vec<usize>,
}

impl StemMix {
    /// Opens every audible stem (muted stems, and all but the soloed ones when any is soloed,
    /// are left out).
    pub fn open(stems: &[StemSpec], rate_hz: u32) -> Result<Self, SourceError> {
        Self::open_lanes(
            stems,
            &[crate::spec::version::main_stem_gains(stems)],
            rate_hz,
        )
    }

    /// Opens the stems for several lanes: `lanes[k][i]` is stem `i`'s factor in lane `k`'s sum
    /// (0: not in it). Stems in no lane are not opened.
    pub fn open_lanes(
        stems: &[StemSpec],
        lanes: &[Vec<f64>],
        rate_hz: u32,
    ) -> Result<Self, SourceError> {
        let used: Vec<usize> = (0..stems.len())
            .filter(|&i| lanes.iter().any(|l| l[i] != 0.0))
            .collect();
        let readers: Vec<StemReader> = used
            .iter()
            .map(|&i| StemReader::open(&stems[i], rate_hz))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            last_read: vec![0; readers.len()],
            names: used.iter().map(|&i| stems[i].name.clone()).collect(),
            lane_gains: lanes
                .iter()
                .map(|l| used.iter().map(|&i| l[i]).collect())
                .collect(),
            readers,
        })
    }

    /// Lanes this mix produces.
    pub fn lanes(&self) -> usize {
        self.lane_gains.len()
    }

    /// Names of the audible stems, in the order of [`StemMix::last_read`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Frames of its own audio each audible stem produced in the last [`StemMix::read_lanes`].
    pub fn last_read(&self) -> &[usize] {
        &self.last_read
    }

    /// Warnings of every stem's decoder.
    pub fn warnings(&self) -> Vec<String> {
        self.readers
            .iter()
            .flat_map(|r| r.source.warnings())
            .collect()
    }

    /// Fills the start of every lane's buffers with its sum's next frames (at most `len`, at
    /// most [`BLOCK`]); returns how many, 0 when every stem has ended.
    pub fn read_lanes(
        &mut self,
        lanes: &mut [[Vec<f64>; 2]],
        len: usize,
    ) -> Result<usize, SourceError> {
        let len = len.min(BLOCK);
        // Stems are decoded and processed in parallel.
        let real: Vec<usize> = self
            .readers
            .par_iter_mut()
            .map(|s| s.fill(len))
            .collect::<Result<_, _>>()?;
        let n = real.iter().copied().max().unwrap_or(0);
        self.last_read = real;
        for (lane, gains) in lanes.iter_mut().zip(&self.lane_gains) {
            let [l, r] = lane;
            l[..n].fill(0.0);
            r[..n].fill(0.0);
            for (s, &g) in self.readers.iter().zip(gains) {
                if g == 0.0 {
                    continue;
                }
                for (o, v) in l[..n].iter_mut().zip(&s.out[0][..n]) {
                    *o += g * v;
                }
                for (o, v) in r[..n].iter_mut().zip(&s.out[1][..n]) {
                    *o += g * v;
                }
            }
        }
        Ok(n)
    }
}

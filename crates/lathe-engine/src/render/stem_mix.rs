//! The stem mixer: each stem is decoded, resampled to the session rate, run through its own
//! chain, given its gain and pan, and summed sample-aligned with the others — whatever latency
//! each chain has (every stem drops its own chain's latency), whatever each file's rate, bit
//! depth, channel count and length (shorter stems continue as silence). A stereo master is one
//! stem with an empty chain.
//!
//! Pan is a balance: pan p ∈ [−1, 1] scales left by min(1, 1 − p) and right by min(1, 1 + p).

use rayon::prelude::*;

use crate::render::block::BLOCK;
use crate::render::source::SourceError;
use crate::render::stem_reader::{KeyOut, StemReader};
use crate::spec::stem::StemSpec;

/// The sum of the audible stems, aligned; with versions, one sum per lane (the main mix and
/// each locked version), from the same processed stems.
///
/// Every stem advances one input block per step, in lockstep, so that a stem keyed on another
/// hears that stem's same block. Stems run in waves: those keyed on nothing first (in
/// parallel), then those keyed only on the first wave, and so on.
pub struct StemMix {
    /// In wave order.
    readers: Vec<StemReader>,
    /// Each reader's output of the current step, for the stems keyed on it.
    key_outs: Vec<KeyOut>,
    /// Start of each wave in `readers`, and the end.
    waves: Vec<usize>,
    /// The audible readers, in session order.
    audible: Vec<usize>,
    names: Vec<String>,
    /// Per lane, per audible stem: the factor on that stem's output in that lane's sum.
    lane_gains: Vec<Vec<f64>>,
    /// Frames of its own audio each audible stem produced in the last read.
    last_read: Vec<usize>,
}

impl StemMix {
    /// Opens every audible stem (muted stems, and all but the soloed ones when any is soloed,
    /// are left out, unless another stem is keyed on them).
    pub fn open(stems: &[StemSpec], rate_hz: u32) -> Result<Self, SourceError> {
        Self::open_lanes(
            stems,
            &[crate::spec::version::main_stem_gains(stems)],
            rate_hz,
        )
    }

    /// Opens the stems for several lanes: `lanes[k][i]` is stem `i`'s factor in lane `k`'s sum
    /// (0: not in it). Stems in no lane are opened only as keys of stems that are.
    pub fn open_lanes(
        stems: &[StemSpec],
        lanes: &[Vec<f64>],
        rate_hz: u32,
    ) -> Result<Self, SourceError> {
        let audible: Vec<usize> = (0..stems.len())
            .filter(|&i| lanes.iter().any(|l| l[i] != 0.0))
            .collect();
        // The session was validated: keys name stems and form no cycle.
        let keys = crate::spec::keys::keys_of(stems).unwrap_or_default();
        let mut needed = vec![false; stems.len()];
        let mut todo = audible.clone();
        while let Some(i) = todo.pop() {
            if !std::mem::replace(&mut needed[i], true) {
                todo.extend(keys.get(i).into_iter().flatten().copied());
            }
        }
        let order =
            crate::spec::keys::key_order(stems).unwrap_or_else(|_| (0..stems.len()).collect());
        // Wave of each stem: one past the latest wave of its keys.
        let mut wave = vec![0usize; stems.len()];
        for &i in &order {
            wave[i] = keys[i].iter().map(|&k| wave[k] + 1).max().unwrap_or(0);
        }
        let mut sorted: Vec<usize> = order.into_iter().filter(|&i| needed[i]).collect();
        sorted.sort_by_key(|&i| wave[i]);
        let mut readers: Vec<StemReader> = Vec::with_capacity(sorted.len());
        for &i in &sorted {
            let position = |name: &str| {
                sorted
                    .iter()
                    .position(|&k| stems[k].name == name)
                    .expect("key stems are opened first")
            };
            let latencies: Vec<usize> = readers.iter().map(StemReader::latency).collect();
            let r = StemReader::open(
                &stems[i],
                rate_hz,
                audible.contains(&i),
                &latencies,
                position,
            )?;
            readers.push(r);
        }
        let mut waves: Vec<usize> = (0..sorted.len())
            .filter(|&k| k == 0 || wave[sorted[k]] != wave[sorted[k - 1]])
            .collect();
        waves.push(sorted.len());
        let at = |i: usize| {
            sorted
                .iter()
                .position(|&k| k == i)
                .expect("audible stems are opened")
        };
        Ok(Self {
            last_read: vec![0; audible.len()],
            names: audible.iter().map(|&i| stems[i].name.clone()).collect(),
            lane_gains: lanes
                .iter()
                .map(|l| audible.iter().map(|&i| l[i]).collect())
                .collect(),
            audible: audible.iter().map(|&i| at(i)).collect(),
            waves,
            key_outs: readers.iter().map(|_| KeyOut::new()).collect(),
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
        self.readers.iter().flat_map(|r| r.warnings()).collect()
    }

    /// Every stem processes its next input block: wave by wave, each wave in parallel.
    fn step(&mut self) -> Result<(), SourceError> {
        for w in self.waves.windows(2) {
            let (done, now) = self.key_outs.split_at_mut(w[0]);
            let done: &[KeyOut] = done;
            self.readers[w[0]..w[1]]
                .par_iter_mut()
                .zip(now[..w[1] - w[0]].par_iter_mut())
                .map(|(r, out)| r.produce(out, done))
                .collect::<Result<Vec<()>, _>>()?;
        }
        Ok(())
    }

    /// Fills the start of every lane's buffers with its sum's next frames (at most `len`, at
    /// most [`BLOCK`]); returns how many, 0 when every stem has ended.
    pub fn read_lanes(
        &mut self,
        lanes: &mut [[Vec<f64>; 2]],
        len: usize,
    ) -> Result<usize, SourceError> {
        let len = len.min(BLOCK);
        while self
            .audible
            .iter()
            .map(|&k| &self.readers[k])
            .any(|r| !r.finished && r.available() < len)
        {
            self.step()?;
        }
        for (slot, &k) in self.audible.iter().enumerate() {
            self.last_read[slot] = self.readers[k].take(len);
        }
        let n = self.last_read.iter().copied().max().unwrap_or(0);
        for (lane, gains) in lanes.iter_mut().zip(&self.lane_gains) {
            let [l, r] = lane;
            l[..n].fill(0.0);
            r[..n].fill(0.0);
            for (&k, &g) in self.audible.iter().zip(gains) {
                if g == 0.0 {
                    continue;
                }
                let s = &self.readers[k];
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

//! Multiband compressor: 2–5 bands split by LR4 crossovers ([`crate::crossover`]) in a tree,
//! each lower band passed through the allpasses of the crossovers above it, so that the bands
//! sum to the product of the crossovers' allpasses (flat magnitude). Per band: a compressor,
//! bypass and solo. Band compressors run without lookahead so that all bands stay aligned.

use crate::compressor::{Compressor, CompressorSettings};
use crate::crossover::{Frame, Lr4Allpass, Lr4Split};
use crate::processor::{Processor, StereoBlock};

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct BandSettings {
    pub compressor: CompressorSettings,
    /// The band passes without compression.
    pub bypass: bool,
    /// Only soloed bands are heard (when any band is soloed).
    pub solo: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MultibandSettings {
    /// Crossover frequencies, Hz, increasing; bands = crossovers + 1.
    pub crossovers_hz: Vec<f64>,
    pub bands: Vec<BandSettings>,
}

impl MultibandSettings {
    pub fn validate(&self) -> Result<(), String> {
        let n = self.crossovers_hz.len();
        if !(1..=4).contains(&n) {
            return Err(format!(
                "crossovers_hz must hold 1 to 4 frequencies (2–5 bands), got {n}"
            ));
        }
        if self.bands.len() != n + 1 {
            return Err(format!(
                "bands must have {} entries (one more than crossovers_hz), got {}",
                n + 1,
                self.bands.len()
            ));
        }
        if self.crossovers_hz.windows(2).any(|w| w[1] <= w[0])
            || self
                .crossovers_hz
                .iter()
                .any(|&f| !(20.0..=20000.0).contains(&f))
        {
            return Err(format!(
                "crossovers_hz must increase within 20 Hz–20 kHz, got {:?}",
                self.crossovers_hz
            ));
        }
        for (i, b) in self.bands.iter().enumerate() {
            b.compressor
                .validate()
                .map_err(|e| format!("bands[{i}].{e}"))?;
            if b.compressor.lookahead_ms != 0.0 {
                return Err(format!(
                    "bands[{i}].lookahead_ms must be 0 in a multiband compressor"
                ));
            }
        }
        Ok(())
    }
}

/// The crossover tree of a stereo pair.
#[derive(Clone, Debug)]
struct Tree {
    splits: Vec<Lr4Split>,
    /// `allpasses[k]`: the allpasses band `k` passes through (crossovers above `k + 1`).
    allpasses: Vec<Vec<Lr4Allpass>>,
}

impl Tree {
    fn new(crossovers: &[f64], fs: f64) -> Self {
        let n = crossovers.len();
        Self {
            splits: crossovers.iter().map(|&f| Lr4Split::new(f, fs)).collect(),
            allpasses: (0..=n)
                .map(|k| {
                    crossovers
                        .iter()
                        .skip(k + 1)
                        .map(|&f| Lr4Allpass::new(f, fs))
                        .collect()
                })
                .collect(),
        }
    }

    /// Splits `x` into `out` (one frame per band).
    #[inline]
    fn tick(&mut self, x: Frame, out: &mut [Frame]) {
        let mut rest = x;
        let n = self.splits.len();
        for ((split, aps), o) in self
            .splits
            .iter_mut()
            .zip(self.allpasses.iter_mut())
            .zip(out.iter_mut())
        {
            let (lo, hi) = split.tick(rest);
            *o = aps.iter_mut().fold(lo, |v, ap| ap.tick(v));
            rest = hi;
        }
        out[n] = rest;
    }

    fn reset(&mut self) {
        self.splits.iter_mut().for_each(Lr4Split::reset);
        self.allpasses
            .iter_mut()
            .flatten()
            .for_each(Lr4Allpass::reset);
    }

    fn flush_denormals(&mut self) {
        self.splits.iter_mut().for_each(Lr4Split::flush_denormals);
        self.allpasses
            .iter_mut()
            .flatten()
            .for_each(Lr4Allpass::flush_denormals);
    }
}

pub struct Multiband {
    settings: MultibandSettings,
    tree: Tree,
    comps: Vec<Compressor>,
    /// Per band, per channel: the band signal of the current block.
    bufs: Vec<[Vec<f64>; 2]>,
    /// Scratch for one frame's band values.
    frame: Vec<Frame>,
}

impl Multiband {
    /// A multiband compressor (validate the settings first).
    pub fn new(settings: MultibandSettings) -> Self {
        let tree = Tree::new(&settings.crossovers_hz, 48000.0);
        let comps = settings
            .bands
            .iter()
            .map(|b| Compressor::new(b.compressor))
            .collect();
        let mut me = Self {
            frame: vec![[0.0; 2]; settings.bands.len()],
            settings,
            tree,
            comps,
            bufs: Vec::new(),
        };
        me.prepare(48000.0, 1024);
        me
    }

    /// Current gain change of each band, dB.
    pub fn gain_reduction_db(&self) -> Vec<f64> {
        self.comps.iter().map(|c| c.gain_reduction_db()).collect()
    }
}

impl Processor for Multiband {
    fn prepare(&mut self, sample_rate_hz: f64, max_block: usize) {
        let xs = &self.settings.crossovers_hz;
        self.tree = Tree::new(xs, sample_rate_hz);
        for c in &mut self.comps {
            c.prepare(sample_rate_hz, max_block);
        }
        let n = max_block.max(1);
        self.bufs = (0..self.settings.bands.len())
            .map(|_| [vec![0.0; n], vec![0.0; n]])
            .collect();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let len = block.len();
        let cap = self.bufs.first().map_or(0, |b| b[0].len());
        assert!(
            len <= cap,
            "block of {len} frames exceeds max_block {cap} given to prepare()"
        );
        for (i, (&l, &r)) in block.left.iter().zip(block.right.iter()).enumerate() {
            self.tree.tick([l, r], &mut self.frame);
            for (band, v) in self.bufs.iter_mut().zip(self.frame.iter()) {
                band[0][i] = v[0];
                band[1][i] = v[1];
            }
        }
        self.tree.flush_denormals();
        let any_solo = self.settings.bands.iter().any(|b| b.solo);
        block.left.fill(0.0);
        block.right.fill(0.0);
        for ((band, comp), s) in self
            .bufs
            .iter_mut()
            .zip(self.comps.iter_mut())
            .zip(&self.settings.bands)
        {
            let [bl, br] = band;
            if !s.bypass {
                comp.process(&mut StereoBlock {
                    left: &mut bl[..len],
                    right: &mut br[..len],
                });
            }
            if any_solo && !s.solo {
                continue;
            }
            for (o, v) in block.left.iter_mut().zip(&bl[..len]) {
                *o += v;
            }
            for (o, v) in block.right.iter_mut().zip(&br[..len]) {
                *o += v;
            }
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.tree.reset();
        for c in &mut self.comps {
            c.reset();
        }
    }
}

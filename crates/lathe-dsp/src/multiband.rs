//! Multiband compressor: 2–5 bands split by LR4 crossovers ([`crate::crossover`]) in a tree,
//! each lower band passed through the allpasses of the crossovers above it, so that the bands
//! sum to the product of the crossovers' allpasses (flat magnitude). Per band: a compressor,
//! bypass and solo. Band compressors run without lookahead so that all bands stay aligned.

use crate::compressor::{Compressor, CompressorSettings, CHUNK};
use crate::crossover_tree::CrossoverTree;
use crate::lanes::LaneProcessor;
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

pub struct Multiband {
    settings: MultibandSettings,
    /// One crossover tree per lane ([`LaneProcessor`]; one lane as a plain processor).
    trees: Vec<CrossoverTree>,
    comps: Vec<Compressor>,
    /// Per lane, per band, per channel: the band signal of the current block.
    bufs: Vec<Vec<[Vec<f64>; 2]>>,
}

impl Multiband {
    /// A multiband compressor (validate the settings first).
    pub fn new(settings: MultibandSettings) -> Self {
        let comps = settings
            .bands
            .iter()
            .map(|b| Compressor::new(b.compressor))
            .collect();
        let mut me = Self {
            settings,
            trees: Vec::new(),
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
        self.prepare_lanes(sample_rate_hz, max_block, 1);
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        self.process_lanes(std::slice::from_mut(block));
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        LaneProcessor::reset(self);
    }
}

/// Locked lanes: every lane is split by its own crossovers; each band's gain comes from lane
/// 0's band and applies to that band of every lane.
impl LaneProcessor for Multiband {
    fn prepare_lanes(&mut self, sample_rate_hz: f64, max_block: usize, lanes: usize) {
        let lanes = lanes.max(1);
        let xs = &self.settings.crossovers_hz;
        self.trees = (0..lanes)
            .map(|_| CrossoverTree::new(xs, sample_rate_hz))
            .collect();
        for c in &mut self.comps {
            c.prepare_lanes(sample_rate_hz, max_block, lanes);
        }
        let n = max_block.max(1);
        self.bufs = (0..lanes)
            .map(|_| {
                (0..self.settings.bands.len())
                    .map(|_| [vec![0.0; n], vec![0.0; n]])
                    .collect()
            })
            .collect();
    }

    fn process_lanes(&mut self, lanes: &mut [StereoBlock<'_>]) {
        let Some(len) = lanes.first().map(|b| b.len()) else {
            return;
        };
        let cap = self.bufs[0].first().map_or(0, |b| b[0].len());
        assert!(
            len <= cap,
            "block of {len} frames exceeds max_block {cap} given to prepare()"
        );
        assert!(lanes.len() <= self.trees.len(), "more lanes than prepared");
        let Self {
            settings,
            trees,
            comps,
            bufs,
        } = self;
        for ((block, tree), bands) in lanes.iter_mut().zip(trees.iter_mut()).zip(bufs.iter_mut()) {
            tree.process([&*block.left, &*block.right], bands, len);
            block.left.fill(0.0);
            block.right.fill(0.0);
        }
        let any_solo = settings.bands.iter().any(|b| b.solo);
        for (b, (comp, s)) in comps.iter_mut().zip(&settings.bands).enumerate() {
            if !s.bypass {
                let mut start = 0;
                while start < len {
                    let end = (start + CHUNK).min(len);
                    for (k, bands) in bufs.iter_mut().take(lanes.len()).enumerate() {
                        let [bl, br] = &mut bands[b];
                        let (l, r) = (&mut bl[start..end], &mut br[start..end]);
                        if k == 0 {
                            comp.lead_chunk(l, r);
                        } else {
                            comp.follow_chunk(k - 1, l, r);
                        }
                    }
                    start = end;
                }
            }
            if any_solo && !s.solo {
                continue;
            }
            for (block, bands) in lanes.iter_mut().zip(bufs.iter()) {
                let [bl, br] = &bands[b];
                for (o, v) in block.left.iter_mut().zip(&bl[..len]) {
                    *o += v;
                }
                for (o, v) in block.right.iter_mut().zip(&br[..len]) {
                    *o += v;
                }
            }
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.trees.iter_mut().for_each(CrossoverTree::reset);
        for c in &mut self.comps {
            Processor::reset(c);
        }
    }
}

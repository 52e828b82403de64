//! Band imager: stereo width per frequency band, over the multiband's LR4 crossover tree
//! ([`crate::crossover_tree`]).
//!
//! Each band's side signal `S = (L − R)/2` is scaled by the band's width (0 mono, 1 unchanged,
//! up to 2) and the bands are summed. The mid signal `M = (L + R)/2` is untouched in every band,
//! so mono playback (`L + R`) hears only the tree's allpass, whatever the widths: widening never
//! changes the mono fold-down's tone. With every width at 1 the magnitude response is flat (the
//! crossover tree sums to an allpass). No latency.

use crate::crossover_tree::{CrossoverTree, MAX_SPLITS};
use crate::processor::{Processor, StereoBlock};
use crate::stereo::{ms_decode, ms_encode};

/// Band imager settings (also the `imager` keys of a session file).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagerSettings {
    /// 1 to 4 increasing crossover frequencies, Hz.
    pub crossovers_hz: Vec<f64>,
    /// One width per band (crossovers + 1): 0 mono … 1 unchanged … 2.
    pub widths: Vec<f64>,
}

impl Default for ImagerSettings {
    fn default() -> Self {
        Self {
            crossovers_hz: vec![200.0, 4000.0],
            widths: vec![1.0; 3],
        }
    }
}

impl ImagerSettings {
    pub fn validate(&self) -> Result<(), String> {
        let n = self.crossovers_hz.len();
        if !(1..=MAX_SPLITS).contains(&n) {
            return Err(format!(
                "crossovers_hz: 1 to {MAX_SPLITS} frequencies, got {n}"
            ));
        }
        if let Some(f) = self
            .crossovers_hz
            .iter()
            .find(|f| !(f.is_finite() && (20.0..=20000.0).contains(*f)))
        {
            return Err(format!("crossovers_hz must be within 20…20000 Hz, got {f}"));
        }
        if self.crossovers_hz.windows(2).any(|w| w[1] <= w[0]) {
            return Err("crossovers_hz must increase".into());
        }
        if self.widths.len() != n + 1 {
            return Err(format!(
                "widths: one per band ({}), got {}",
                n + 1,
                self.widths.len()
            ));
        }
        if let Some(w) = self
            .widths
            .iter()
            .find(|w| !(w.is_finite() && (0.0..=2.0).contains(*w)))
        {
            return Err(format!("widths must be within 0…2, got {w}"));
        }
        Ok(())
    }
}

pub struct BandImager {
    s: ImagerSettings,
    tree: CrossoverTree,
    bands: Vec<[Vec<f64>; 2]>,
}

impl BandImager {
    /// A band imager (validate the settings first).
    pub fn new(settings: ImagerSettings) -> Self {
        let mut me = Self {
            tree: CrossoverTree::new(&settings.crossovers_hz, 48000.0),
            s: settings,
            bands: Vec::new(),
        };
        me.prepare(48000.0, 1024);
        me
    }
}

impl Processor for BandImager {
    fn prepare(&mut self, sample_rate_hz: f64, max_block: usize) {
        let top = 0.45 * sample_rate_hz;
        let xs: Vec<f64> = self.s.crossovers_hz.iter().map(|f| f.min(top)).collect();
        self.tree = CrossoverTree::new(&xs, sample_rate_hz);
        let n = max_block.max(1);
        self.bands = (0..self.tree.bands())
            .map(|_| [vec![0.0; n], vec![0.0; n]])
            .collect();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let len = block.len();
        assert!(
            len <= self.bands[0][0].len(),
            "block of {len} frames exceeds max_block given to prepare()"
        );
        self.tree
            .process([&*block.left, &*block.right], &mut self.bands, len);
        block.left.fill(0.0);
        block.right.fill(0.0);
        for ([bl, br], &w) in self.bands.iter().zip(&self.s.widths) {
            for i in 0..len {
                let (m, s) = ms_encode(bl[i], br[i]);
                let (l, r) = ms_decode(m, s * w);
                block.left[i] += l;
                block.right[i] += r;
            }
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.tree.reset();
    }
}

//! Stereo: mid/side encode and decode, width, mono below a frequency (bass mono on an LR4
//! crossover), balance.
//!
//! M = (L + R)/2, S = (L − R)/2; L = M + S, R = M − S. Width scales S. With `mono_below_hz`,
//! S keeps only its LR4 high band and M passes through the matching allpass, so that M and S
//! stay phase-aligned above the crossover. Balance `b ∈ [−1, 1]` attenuates one side linearly:
//! left × min(1, 1 − b), right × min(1, 1 + b).

use crate::crossover::Lr4Split;
use crate::processor::{Processor, StereoBlock};
use crate::smoothing::LinearSmoother;

/// Mid/side encoding of one frame.
#[inline]
pub fn ms_encode(l: f64, r: f64) -> (f64, f64) {
    ((l + r) * 0.5, (l - r) * 0.5)
}

/// Mid/side decoding of one frame.
#[inline]
pub fn ms_decode(m: f64, s: f64) -> (f64, f64) {
    (m + s, m - s)
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StereoSettings {
    /// Side gain: 0 = mono, 1 = unchanged, up to 2.
    pub width: f64,
    /// Make the side signal silent below this frequency, Hz (0 = off).
    pub mono_below_hz: f64,
    /// −1 (left only) … 0 … +1 (right only).
    pub balance: f64,
}

impl Default for StereoSettings {
    fn default() -> Self {
        Self {
            width: 1.0,
            mono_below_hz: 0.0,
            balance: 0.0,
        }
    }
}

impl StereoSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=2.0).contains(&self.width) {
            return Err(format!("width must be within 0…2, got {}", self.width));
        }
        if !(0.0..=500.0).contains(&self.mono_below_hz) {
            return Err(format!(
                "mono_below_hz must be within 0…500 Hz, got {}",
                self.mono_below_hz
            ));
        }
        if !(-1.0..=1.0).contains(&self.balance) {
            return Err(format!("balance must be within −1…1, got {}", self.balance));
        }
        Ok(())
    }
}

pub struct Stereo {
    s: StereoSettings,
    width: LinearSmoother,
    /// The crossover that keeps the side signal above the bass-mono frequency, run on
    /// (mid, side): the mid takes low + high, which is the crossover's allpass, so that both
    /// keep the same phase.
    bass: Option<Lr4Split>,
}

impl Stereo {
    pub fn new(settings: StereoSettings) -> Self {
        let mut me = Self {
            s: settings,
            width: LinearSmoother::new(settings.width, 20.0),
            bass: None,
        };
        me.prepare(48000.0, 0);
        me
    }

    /// Changes width and balance (smoothed for width); the crossover frequency applies at the
    /// next `prepare`.
    pub fn set(&mut self, settings: StereoSettings) {
        self.width.set_target(settings.width);
        self.s = StereoSettings {
            mono_below_hz: self.s.mono_below_hz,
            ..settings
        };
    }
}

impl Processor for Stereo {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        self.width.prepare(sample_rate_hz);
        self.bass = (self.s.mono_below_hz > 0.0)
            .then(|| Lr4Split::new(self.s.mono_below_hz, sample_rate_hz));
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let (gl, gr) = (
            (1.0 - self.s.balance).min(1.0),
            (1.0 + self.s.balance).min(1.0),
        );
        for (l, r) in block.left.iter_mut().zip(block.right.iter_mut()) {
            let (mut m, mut s) = ms_encode(*l, *r);
            if let Some(split) = &mut self.bass {
                let (lo, hi) = split.tick([m, s]);
                m = lo[0] + hi[0];
                s = hi[1];
            }
            s *= self.width.next_value();
            let (nl, nr) = ms_decode(m, s);
            *l = nl * gl;
            *r = nr * gr;
        }
        if let Some(split) = &mut self.bass {
            split.flush_denormals();
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.width.jump_to(self.width.target());
        if let Some(split) = &mut self.bass {
            split.reset();
        }
    }
}

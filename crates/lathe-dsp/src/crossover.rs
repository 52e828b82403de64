//! Linkwitz-Riley 4th-order (24 dB/oct) crossovers that sum to an allpass.
//!
//! LR4 = two cascaded 2nd-order Butterworth sections. The sections are bilinear transforms
//! (prewarped at the crossover frequency) of the analog prototypes, because the bilinear
//! transform is an algebraic substitution: the analog identity
//! `LP4(s) + HP4(s) = AP2(s) = (1 − √2·S + S²)/(1 + √2·S + S²)` then holds for the digital
//! filters too, to rounding. (The matched design of the EQ does not preserve it.)

use crate::biquad::{BiquadCoefficients, StereoBiquadState};
use std::f64::consts::{PI, SQRT_2};

/// Bilinear 2nd-order Butterworth low-pass, high-pass and the matching allpass at `freq_hz`.
pub fn lr4_sections(
    freq_hz: f64,
    sample_rate_hz: f64,
) -> (BiquadCoefficients, BiquadCoefficients, BiquadCoefficients) {
    let k = (PI * freq_hz / sample_rate_hz).tan();
    let k2 = k * k;
    let a0 = 1.0 + SQRT_2 * k + k2;
    let a1 = 2.0 * (k2 - 1.0) / a0;
    let a2 = (1.0 - SQRT_2 * k + k2) / a0;
    let lp = BiquadCoefficients {
        b0: k2 / a0,
        b1: 2.0 * k2 / a0,
        b2: k2 / a0,
        a1,
        a2,
    };
    let hp = BiquadCoefficients {
        b0: 1.0 / a0,
        b1: -2.0 / a0,
        b2: 1.0 / a0,
        a1,
        a2,
    };
    let ap = BiquadCoefficients {
        b0: a2,
        b1: a1,
        b2: 1.0,
        a1,
        a2,
    };
    (lp, hp, ap)
}

/// A stereo frame (left, right), or any pair of signals filtered alike.
pub type Frame = [f64; 2];

/// One LR4 split of a stereo pair into low and high bands.
#[derive(Clone, Debug)]
pub struct Lr4Split {
    lp: BiquadCoefficients,
    hp: BiquadCoefficients,
    state_lp: [StereoBiquadState; 2],
    state_hp: [StereoBiquadState; 2],
}

impl Lr4Split {
    pub fn new(freq_hz: f64, sample_rate_hz: f64) -> Self {
        let (lp, hp, _) = lr4_sections(freq_hz, sample_rate_hz);
        Self {
            lp,
            hp,
            state_lp: Default::default(),
            state_hp: Default::default(),
        }
    }

    /// Returns (low, high).
    #[inline]
    pub fn tick(&mut self, x: Frame) -> (Frame, Frame) {
        let lo1 = self.state_lp[0].tick(&self.lp, x);
        let lo = self.state_lp[1].tick(&self.lp, lo1);
        let hi1 = self.state_hp[0].tick(&self.hp, x);
        let hi = self.state_hp[1].tick(&self.hp, hi1);
        (lo, hi)
    }

    pub fn reset(&mut self) {
        self.state_lp = Default::default();
        self.state_hp = Default::default();
    }

    pub fn flush_denormals(&mut self) {
        for s in self.state_lp.iter_mut().chain(self.state_hp.iter_mut()) {
            s.flush_denormals();
        }
    }
}

/// The allpass an LR4 split at the same frequency sums to (phase compensation for other bands).
#[derive(Clone, Debug)]
pub struct Lr4Allpass {
    ap: BiquadCoefficients,
    state: StereoBiquadState,
}

impl Lr4Allpass {
    pub fn new(freq_hz: f64, sample_rate_hz: f64) -> Self {
        Self {
            ap: lr4_sections(freq_hz, sample_rate_hz).2,
            state: StereoBiquadState::default(),
        }
    }

    #[inline]
    pub fn tick(&mut self, x: Frame) -> Frame {
        self.state.tick(&self.ap, x)
    }

    pub fn reset(&mut self) {
        self.state.reset();
    }

    pub fn flush_denormals(&mut self) {
        self.state.flush_denormals();
    }
}

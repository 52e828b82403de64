//! Transient shaper: more or less attack, more or less sustain, whatever the level.
//!
//! Three peak followers of the louder channel's level (`|x|` through a mean square of
//! [`LEVEL_MS`]; a one-pole per direction in the linear domain, so each follows `a·x` as `a`
//! times what it follows of `x`):
//! - *quick* (attack [`FAST_MS`]) against *slow* (attack `attack_ms`), both releasing in
//!   [`QUICK_RELEASE_MS`]: at an onset the quick one leads by many dB for about `attack_ms`,
//!   and the lead is gone soon after (both release alike and quickly, so no gap outlives it);
//! - *held* (attack [`FAST_MS`], release `release_ms`) against *quick*: while a sound decays
//!   the held one, releasing slowly, stays above.
//!
//! Their ratios in dB are the attack and sustain measures; they do not depend on the level,
//! because every follower scales with it. The gain is
//! `attack_db · w(lead) + sustain_db · w(hold) · (1 − w(lead))` with
//! `w(d) = clamp((d − DEAD_ZONE_DB) / FULL_EFFECT_DB, 0, 1)`, so an onset gets the whole
//! `attack_db` while it leads by [`DEAD_ZONE_DB`] + [`FULL_EFFECT_DB`] or more, and no sustain
//! change.
//! No latency (no look-ahead: the first [`FAST_MS`] of an onset get part of the change).

use crate::fast_math;
use crate::processor::{Processor, StereoBlock};

/// Attack of the fast followers, ms.
pub const FAST_MS: f64 = 0.5;
/// Release of the quick-release follower, ms.
pub const QUICK_RELEASE_MS: f64 = 20.0;
/// How far (dB) the fast follower must lead for the whole attack change, and the held one
/// stay above for the whole sustain change.
pub const FULL_EFFECT_DB: f64 = 6.0;
/// Leads and holds smaller than this (dB) count as nothing: the level of a sustained noisy
/// sound (a cymbal, a snare's tail) wobbles by about this much, and is neither attack nor decay.
pub const DEAD_ZONE_DB: f64 = 2.0;
/// The followers listen to the level through a mean square of this time, ms (peaks of a noisy
/// sound otherwise re-trigger the fast follower all through its decay).
pub const LEVEL_MS: f64 = 1.0;
/// Followers never fall below this (about −200 dBFS), so that ratios stay finite in silence.
const FLOOR: f64 = 1e-10;

/// Transient shaper settings (also the `transient` keys of a session file).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransientSettings {
    /// Change of the attack, dB (positive: more punch).
    pub attack_db: f64,
    /// Change of the sustain, dB (negative: drier, tighter).
    pub sustain_db: f64,
    /// How long an onset counts as attack: the slow follower's attack, ms.
    pub attack_ms: f64,
    /// How long a decay counts as sustain: the held follower's release, ms.
    pub release_ms: f64,
}

impl Default for TransientSettings {
    fn default() -> Self {
        Self {
            attack_db: 0.0,
            sustain_db: 0.0,
            attack_ms: 20.0,
            release_ms: 250.0,
        }
    }
}

fn in_range(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), String> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!("{key} must be within {lo}…{hi}, got {v}"))
    }
}

impl TransientSettings {
    pub fn validate(&self) -> Result<(), String> {
        in_range("attack_db", self.attack_db, -24.0, 24.0)?;
        in_range("sustain_db", self.sustain_db, -24.0, 24.0)?;
        in_range("attack_ms", self.attack_ms, 2.0, 200.0)?;
        in_range("release_ms", self.release_ms, 30.0, 2000.0)
    }
}

/// A peak follower: attack and release one-pole coefficients.
#[derive(Clone, Copy, Debug, Default)]
struct Follower {
    attack: f64,
    release: f64,
}

impl Follower {
    fn new(attack_ms: f64, release_ms: f64, fs: f64) -> Self {
        let c = |ms: f64| (-1.0 / (ms * 1e-3 * fs)).exp();
        Self {
            attack: c(attack_ms),
            release: c(release_ms),
        }
    }

    #[inline(always)]
    fn tick(&self, env: f64, x: f64) -> f64 {
        let c = if x > env { self.attack } else { self.release };
        (x + c * (env - x)).max(FLOOR)
    }
}

pub struct TransientShaper {
    s: TransientSettings,
    quick: Follower,
    slow: Follower,
    held: Follower,
    /// quick, slow, held.
    env: [f64; 3],
    level_coef: f64,
    mean_square: f64,
}

impl TransientShaper {
    pub fn new(settings: TransientSettings) -> Self {
        let mut me = Self {
            s: settings,
            quick: Follower::default(),
            slow: Follower::default(),
            held: Follower::default(),
            env: [FLOOR; 3],
            level_coef: 0.0,
            mean_square: 0.0,
        };
        me.prepare(48000.0, 0);
        me
    }

    /// The gain change for the current follower values, dB.
    #[inline(always)]
    fn gain_db(&self) -> f64 {
        let db = |a: f64, b: f64| {
            20.0 / std::f64::consts::LN_10 * fast_math::ln_f32((a / b) as f32) as f64
        };
        let weight = |d: f64| ((d - DEAD_ZONE_DB) / FULL_EFFECT_DB).clamp(0.0, 1.0);
        let attack = weight(db(self.env[0], self.env[1]));
        // An onset is attack, not sustain (the quick follower dips between the peaks of a
        // noisy onset, which would otherwise read as a decay).
        let sustain = weight(db(self.env[2], self.env[0])) * (1.0 - attack);
        self.s.attack_db * attack + self.s.sustain_db * sustain
    }
}

impl Processor for TransientShaper {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        let (a, r) = (self.s.attack_ms, self.s.release_ms);
        self.quick = Follower::new(FAST_MS, QUICK_RELEASE_MS, sample_rate_hz);
        self.slow = Follower::new(a, QUICK_RELEASE_MS, sample_rate_hz);
        self.held = Follower::new(FAST_MS, r, sample_rate_hz);
        self.level_coef = (-1.0 / (LEVEL_MS * 1e-3 * sample_rate_hz)).exp();
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        if self.s.attack_db == 0.0 && self.s.sustain_db == 0.0 {
            return;
        }
        for (l, r) in block.left.iter_mut().zip(block.right.iter_mut()) {
            let peak = l.abs().max(r.abs());
            self.mean_square += (1.0 - self.level_coef) * (peak * peak - self.mean_square);
            let x = self.mean_square.sqrt();
            self.env[0] = self.quick.tick(self.env[0], x);
            self.env[1] = self.slow.tick(self.env[1], x);
            self.env[2] = self.held.tick(self.env[2], x);
            let g = self.gain_db();
            if g != 0.0 {
                let lin = fast_math::exp_f32((g * std::f64::consts::LN_10 / 20.0) as f32) as f64;
                *l *= lin;
                *r *= lin;
            }
        }
    }

    fn latency_samples(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.env = [FLOOR; 3];
        self.mean_square = 0.0;
    }
}

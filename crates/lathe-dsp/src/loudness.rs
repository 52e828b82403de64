//! Loudness per ITU-R BS.1770-5 and EBU R128 / Tech 3341 / Tech 3342.
//!
//! K-weighting (two biquads re-derived for any rate from the analog prototype that reproduces
//! the 48 kHz table of BS.1770, the same derivation libebur128 uses), channel weights
//! (1.0 for L, R, C; 1.41 for surrounds; LFE excluded), and three readings from one stream of
//! K-weighted energy summed over *steps* of 10 ms:
//!
//! - **integrated** (I): 400 ms gating blocks every 100 ms, absolute gate −70 LUFS, relative gate
//!   −10 LU, power mean of the blocks above both (strict `>`);
//! - **momentary / short-term maximum**: 400 ms and 3 s windows evaluated at every 10 ms step
//!   aligned to the file start (EBU Tech 3341 cases 13/14 need ≤ 20 ms steps);
//! - **loudness range** (LRA, Tech 3342): short-term values every 100 ms once 3 s have passed,
//!   absolute gate −70 LUFS, relative gate −20 LU, P95 − P10 by nearest rank.
//!
//! Memory is bounded at any length: the blocks that gating needs are kept in
//! [`BlockEnergies`] (exact up to 27 minutes, then a fixed histogram); everything else is fixed
//! once constructed.

use crate::biquad::BiquadCoefficients;
use crate::block_energies::BlockEnergies;
use crate::k_block::{KBlock, KSquares, KState};
use crate::simd;

pub use crate::lufs::{energy_to_lufs, lufs_to_energy, ABSOLUTE_GATE_LUFS};

/// The role of a channel, which sets its BS.1770 weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelRole {
    /// Left, right, centre (and mono): weight 1.0.
    Front,
    /// Surround / side / back channels: weight 1.41 (+1.5 dB).
    Surround,
    /// Low-frequency effects: excluded.
    Lfe,
}

impl ChannelRole {
    /// The BS.1770 weight G of this channel.
    pub fn weight(self) -> f64 {
        match self {
            ChannelRole::Front => 1.0,
            ChannelRole::Surround => 1.41,
            ChannelRole::Lfe => 0.0,
        }
    }

    /// Roles for the usual channel orders of files that carry no positions
    /// (WAV/SMPTE order: L R C LFE Ls Rs; a 5-channel file is L R C Ls Rs as in EBU Tech 3341
    /// case 6; 8 channels are L R C LFE Lb Rb Ls Rs).
    pub fn default_layout(channels: usize) -> Vec<ChannelRole> {
        use ChannelRole::*;
        match channels {
            0..=3 => vec![Front; channels],
            4 => vec![Front, Front, Surround, Surround],
            5 => vec![Front, Front, Front, Surround, Surround],
            6 => vec![Front, Front, Front, Lfe, Surround, Surround],
            7 => vec![Front, Front, Front, Lfe, Surround, Surround, Surround],
            n => {
                let mut v = vec![Front, Front, Front, Lfe];
                v.resize(n, Surround);
                v
            }
        }
    }
}

/// The two K-weighting stages (pre-filter shelf, RLB high-pass) at a given rate.
pub fn k_weighting(sample_rate_hz: f64) -> [BiquadCoefficients; 2] {
    use std::f64::consts::PI;
    // High-shelf stage ("head" model), analog prototype constants from libebur128.
    let f0 = 1681.974450955533;
    let g_db = 3.999843853973347;
    let q = 0.7071752369554196;
    let k = (PI * f0 / sample_rate_hz).tan();
    let vh = 10f64.powf(g_db / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = BiquadCoefficients {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    // RLB high-pass stage.
    let f0 = 38.13547087602444;
    let q = 0.5003270373238773;
    let k = (PI * f0 / sample_rate_hz).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = BiquadCoefficients {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, highpass]
}

/// A streaming BS.1770 / EBU R128 meter. Feed planar blocks of any length with
/// [`LoudnessMeter::process`]; read at any time.
#[derive(Clone, Debug)]
pub struct LoudnessMeter {
    /// BS.1770 channel weights G_i.
    weights: Vec<f64>,
    /// K-weighting (shelf, high-pass) in blocks of four, shared by all channels.
    k: KBlock,
    /// Per-channel filter state.
    state: Vec<KState>,
    /// Whether the filter kernel may use AVX2 + FMA ([`simd::wide_available`]).
    wide: bool,
    /// Frames in one step (10 ms where the rate allows, see [`LoudnessMeter::new`]).
    step_frames: usize,
    /// Steps in 100 ms.
    steps_per_100ms: usize,
    /// Frames already accumulated into the current step.
    frames_in_step: usize,
    /// Channel-weighted K-filtered energy (sum of squares) of the current step.
    step_energy_sum: f64,
    /// Energy sums of the last 30 × `steps_per_100ms` completed steps (3 s), a ring.
    ring: Vec<f64>,
    /// Next write position in `ring`.
    ring_pos: usize,
    /// Completed steps since the start.
    steps_done: u64,
    /// Mean-square energy of every complete 400 ms gating block (100 ms hop).
    gating_blocks: BlockEnergies,
    /// Mean-square energy of every complete 3 s window (100 ms hop), for LRA.
    short_term_blocks: BlockEnergies,
    /// Every tenth of those (1 s hop), for the LRA of older meters.
    short_term_1hz: BlockEnergies,
    /// Short-term windows completed so far.
    short_term_count: u64,
    /// Energy of the latest momentary (400 ms) window; windows before 400 ms are zero-padded.
    momentary_energy: f64,
    /// Energy of the latest short-term (3 s) window, zero-padded at the start.
    short_term_energy: f64,
    momentary_max_energy: f64,
    short_term_max_energy: f64,
}

impl LoudnessMeter {
    /// A meter for `roles.len()` channels at `sample_rate_hz`.
    ///
    /// The step is 10 ms when 100 ms is a whole number of samples divisible by 10 (every common
    /// rate); otherwise the largest of 20, 25, 50 or 100 ms that divides it. 100 ms is
    /// `round(fs / 10)` samples, as libebur128 does for rates not divisible by 10.
    pub fn new(sample_rate_hz: f64, roles: &[ChannelRole]) -> Self {
        let frames_100ms = (sample_rate_hz / 10.0).round().max(1.0) as usize;
        let steps_per_100ms = [10, 5, 4, 2, 1]
            .into_iter()
            .find(|k| frames_100ms.is_multiple_of(*k))
            .unwrap_or(1);
        let ring_len = 30 * steps_per_100ms;
        Self {
            weights: roles.iter().map(|r| r.weight()).collect(),
            k: KBlock::new(k_weighting(sample_rate_hz)),
            state: vec![[0.0; 4]; roles.len()],
            wide: simd::wide_available(),
            step_frames: frames_100ms / steps_per_100ms,
            steps_per_100ms,
            frames_in_step: 0,
            step_energy_sum: 0.0,
            ring: vec![0.0; ring_len],
            ring_pos: 0,
            steps_done: 0,
            gating_blocks: BlockEnergies::new(),
            short_term_blocks: BlockEnergies::new(),
            short_term_1hz: BlockEnergies::new(),
            short_term_count: 0,
            momentary_energy: 0.0,
            short_term_energy: 0.0,
            momentary_max_energy: 0.0,
            short_term_max_energy: 0.0,
        }
    }

    /// The same meter with its gating stores turning into histograms after `limit` blocks
    /// rather than [`EXACT_BLOCKS`](crate::block_energies::EXACT_BLOCKS) (tests use this to
    /// read the histograms on short signals).
    pub fn with_exact_blocks(mut self, limit: usize) -> Self {
        self.gating_blocks = BlockEnergies::with_exact_limit(limit);
        self.short_term_blocks = BlockEnergies::with_exact_limit(limit);
        self.short_term_1hz = BlockEnergies::with_exact_limit(limit);
        self
    }

    /// Number of channels the meter expects.
    pub fn channels(&self) -> usize {
        self.weights.len()
    }

    /// Duration of one step (the time resolution of the M and S maxima) in seconds, for a
    /// meter running at `sample_rate_hz`.
    pub fn step_frames(&self) -> usize {
        self.step_frames
    }

    /// Feeds one planar block: `channels[i]` holds the samples of channel `i`, all of equal length.
    pub fn process(&mut self, channels: &[&[f64]]) {
        assert_eq!(channels.len(), self.weights.len(), "channel count mismatch");
        let frames = channels.first().map_or(0, |c| c.len());
        let mut start = 0;
        while start < frames {
            let take = (self.step_frames - self.frames_in_step).min(frames - start);
            let end = start + take;
            if let ([left, right], [wl, wr], [sl, sr]) =
                (channels, self.weights.as_slice(), self.state.as_mut_slice())
            {
                // Stereo: both channels in one loop, so that their state chains overlap.
                let [sum_l, sum_r] = simd::run(
                    self.wide,
                    KSquares {
                        x: [&left[start..end], &right[start..end]],
                        k: &self.k,
                        state: [sl, sr],
                    },
                );
                self.step_energy_sum += wl * sum_l + wr * sum_r;
            } else {
                for ((samples, &weight), state) in
                    channels.iter().zip(&self.weights).zip(&mut self.state)
                {
                    if weight == 0.0 {
                        continue;
                    }
                    let [sum] = simd::run(
                        self.wide,
                        KSquares {
                            x: [&samples[start..end]],
                            k: &self.k,
                            state: [state],
                        },
                    );
                    self.step_energy_sum += weight * sum;
                }
            }
            self.frames_in_step += take;
            start = end;
            if self.frames_in_step == self.step_frames {
                self.complete_step();
            }
        }
    }

    fn complete_step(&mut self) {
        // Silence after a signal would otherwise leave the filters computing on denormals
        // (which can be 100x slower).
        for v in self.state.iter_mut().flatten() {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
        let n = self.ring.len();
        self.ring[self.ring_pos] = self.step_energy_sum;
        self.ring_pos = (self.ring_pos + 1) % n;
        self.steps_done += 1;
        self.step_energy_sum = 0.0;
        self.frames_in_step = 0;

        let m_steps = 4 * self.steps_per_100ms;
        let s_steps = 30 * self.steps_per_100ms;
        self.momentary_energy = self.window_sum(m_steps) / (m_steps * self.step_frames) as f64;
        self.short_term_energy = self.window_sum(s_steps) / (s_steps * self.step_frames) as f64;
        self.momentary_max_energy = self.momentary_max_energy.max(self.momentary_energy);
        self.short_term_max_energy = self.short_term_max_energy.max(self.short_term_energy);

        let on_100ms = self.steps_done.is_multiple_of(self.steps_per_100ms as u64);
        if on_100ms && self.steps_done >= m_steps as u64 {
            self.gating_blocks.push(self.momentary_energy);
        }
        if on_100ms && self.steps_done >= s_steps as u64 {
            self.short_term_blocks.push(self.short_term_energy);
            if self.short_term_count.is_multiple_of(10) {
                self.short_term_1hz.push(self.short_term_energy);
            }
            self.short_term_count += 1;
        }
    }

    /// Sum of the last `steps` completed step energies.
    fn window_sum(&self, steps: usize) -> f64 {
        // The last `steps` entries end just before `ring_pos`: at most two contiguous runs.
        let pos = self.ring_pos;
        if steps <= pos {
            self.ring[pos - steps..pos].iter().sum()
        } else {
            let wrap = steps - pos;
            let n = self.ring.len();
            self.ring[..pos].iter().sum::<f64>() + self.ring[n - wrap..].iter().sum::<f64>()
        }
    }

    /// Momentary loudness (400 ms) at the last completed step, LUFS.
    pub fn momentary_lufs(&self) -> f64 {
        energy_to_lufs(self.momentary_energy)
    }

    /// Short-term loudness (3 s) at the last completed step, LUFS.
    pub fn short_term_lufs(&self) -> f64 {
        energy_to_lufs(self.short_term_energy)
    }

    /// Highest momentary loudness seen at any step, LUFS (−∞ before the first step).
    pub fn momentary_max_lufs(&self) -> f64 {
        energy_to_lufs(self.momentary_max_energy)
    }

    /// Highest short-term loudness seen at any step, LUFS.
    pub fn short_term_max_lufs(&self) -> f64 {
        energy_to_lufs(self.short_term_max_energy)
    }

    /// Integrated (gated) loudness, LUFS; −∞ when no block passes the gates.
    pub fn integrated_lufs(&self) -> f64 {
        self.gating_blocks.integrated_lufs()
    }

    /// Loudness range (EBU Tech 3342:2016), LU, from short-term values every 100 ms (the
    /// standard asks for ≥ 10 Hz); 0 when fewer than two short-term values pass the gates.
    pub fn loudness_range_lu(&self) -> f64 {
        loudness_range(&self.short_term_blocks)
    }

    /// Loudness range from short-term values every 1 s (3 s windows overlapping by 2 s), as
    /// Tech 3342 before 2016 and libebur128 (≤ 1.2.6, hence pyebur128 and the `ebur128` crate)
    /// compute it. Kept for comparison with those meters; on music the two differ by a few
    /// tenths of an LU.
    pub fn loudness_range_1hz_lu(&self) -> f64 {
        loudness_range(&self.short_term_1hz)
    }

    /// The short-term loudness (100 ms steps) below which a fraction `p` (0…1) of the gated
    /// short-term values lie (gated as for LRA: −70 LUFS absolute, −20 LU relative), LUFS;
    /// −∞ when none passes.
    pub fn short_term_percentile_lufs(&self, p: f64) -> f64 {
        match self.short_term_blocks.lra_quantiles([p]) {
            Some((_, [energy])) => energy_to_lufs(energy),
            None => f64::NEG_INFINITY,
        }
    }

    /// Clears all state and readings.
    pub fn reset(&mut self) {
        self.state.fill([0.0; 4]);
        self.frames_in_step = 0;
        self.step_energy_sum = 0.0;
        self.ring.fill(0.0);
        self.ring_pos = 0;
        self.steps_done = 0;
        self.gating_blocks.clear();
        self.short_term_blocks.clear();
        self.short_term_1hz.clear();
        self.short_term_count = 0;
        self.momentary_energy = 0.0;
        self.short_term_energy = 0.0;
        self.momentary_max_energy = 0.0;
        self.short_term_max_energy = 0.0;
    }
}

/// LRA of a series of short-term energies: absolute gate −70 LUFS, relative gate −20 LU below
/// their power mean, then P95 − P10 by nearest rank (the Tech 3342 MATLAB reference and
/// libebur128 both index `round((n − 1)·p)`); 0 when fewer than two pass.
fn loudness_range(short_term: &BlockEnergies) -> f64 {
    match short_term.lra_quantiles([0.95, 0.10]) {
        Some((n, [high, low])) if n >= 2 => energy_to_lufs(high) - energy_to_lufs(low),
        _ => 0.0,
    }
}

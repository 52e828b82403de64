//! Feed-forward compressor (after Giannoulis, Massberg and Reiss, "Digital dynamic range
//! compressor design — a tutorial and analysis", JAES 2012).
//!
//! - **Detector**: peak (`|x|`) or RMS (mean square through a one-pole of [`RMS_TIME_MS`]) of
//!   the side chain, optionally high-passed (2nd-order Butterworth at `sidechain_hpf_hz`).
//!   Stereo link takes the louder channel for both; unlinked channels are independent. In
//!   mid/side mode the mid and side signals are compressed independently.
//! - **Gain computer** in dB with a quadratic soft knee of width `knee_db` (the paper's eq. 4).
//! - **Smoothing** of the gain in dB by a branching one-pole: attack when the gain falls,
//!   release when it rises. **Time constants**: `attack_ms`/`release_ms` is the time the gain
//!   reduction takes to cover 63.2 % (1 − 1/e) of a step change, in dB.
//! - **Lookahead** delays the audio (not the detector) by `lookahead_ms`; the latency is reported.
//!
//! Processing runs in chunks of [`CHUNK`] frames, one pass per step: detection (serial: the
//! side-chain filter and RMS average have state), level and static curve (vectorised, with the
//! branch-free logarithm of [`crate::fast_math`]), gain smoothing (serial), dB to linear
//! (vectorised), and the multiply. A chunk that needs no gain change and starts with none
//! is passed through untouched.

use crate::biquad::{BiquadCoefficients, BiquadState};
use crate::delay::DelayLine;
use crate::fast_math;
use crate::lanes::LaneProcessor;
use crate::matched::AnalogSection;
use crate::processor::{Processor, StereoBlock};
use crate::simd::{self, Kernel, Mac};

/// Frames per processing chunk.
pub const CHUNK: usize = 256;

/// A smoothed gain change closer to 0 dB than this is snapped to exactly 0 dB: the release
/// otherwise approaches 0 for ever, through denormal numbers, and never allows the pass-through.
const SNAP_DB: f64 = 1e-9;

/// dB per neper: 20 / ln 10.
const DB_PER_NEPER: f64 = 8.685_889_638_065_035;

/// Averaging time of the RMS detector, ms.
pub const RMS_TIME_MS: f64 = 10.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detection {
    #[default]
    Peak,
    Rms,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelMode {
    #[default]
    Stereo,
    MidSide,
}

/// Compressor settings (also the `compressor` keys of a session file; missing keys take the
/// defaults below).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompressorSettings {
    pub threshold_db: f64,
    /// Ratio above the threshold (≥ 1).
    pub ratio: f64,
    /// Width of the soft knee, dB (0 = hard knee).
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    pub makeup_db: f64,
    pub detection: Detection,
    /// Stereo mode only: one gain for both channels from the louder one.
    pub stereo_link: bool,
    /// High-pass the side chain at this frequency, Hz (0 = off).
    pub sidechain_hpf_hz: f64,
    pub mode: ChannelMode,
    pub lookahead_ms: f64,
}

impl Default for CompressorSettings {
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 120.0,
            makeup_db: 0.0,
            detection: Detection::Peak,
            stereo_link: true,
            sidechain_hpf_hz: 0.0,
            mode: ChannelMode::Stereo,
            lookahead_ms: 0.0,
        }
    }
}

impl CompressorSettings {
    /// Checks ranges; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, key: &str, v: f64, range: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("{key} must be {range}, got {v}"))
            }
        };
        check(
            (-80.0..=0.0).contains(&self.threshold_db),
            "threshold_db",
            self.threshold_db,
            "within −80…0 dB",
        )?;
        check(
            (1.0..=100.0).contains(&self.ratio),
            "ratio",
            self.ratio,
            "within 1…100",
        )?;
        check(
            (0.0..=24.0).contains(&self.knee_db),
            "knee_db",
            self.knee_db,
            "within 0…24 dB",
        )?;
        check(
            (0.01..=500.0).contains(&self.attack_ms),
            "attack_ms",
            self.attack_ms,
            "within 0.01…500 ms",
        )?;
        check(
            (1.0..=5000.0).contains(&self.release_ms),
            "release_ms",
            self.release_ms,
            "within 1…5000 ms",
        )?;
        check(
            (-24.0..=24.0).contains(&self.makeup_db),
            "makeup_db",
            self.makeup_db,
            "within ±24 dB",
        )?;
        check(
            (0.0..=500.0).contains(&self.sidechain_hpf_hz),
            "sidechain_hpf_hz",
            self.sidechain_hpf_hz,
            "within 0…500 Hz",
        )?;
        check(
            (0.0..=20.0).contains(&self.lookahead_ms),
            "lookahead_ms",
            self.lookahead_ms,
            "within 0…20 ms",
        )
    }

    /// The static curve: output level for an input level, dB.
    pub fn static_curve_db(&self, input_db: f64) -> f64 {
        let (t, r, w) = (self.threshold_db, self.ratio, self.knee_db);
        let over = input_db - t;
        if 2.0 * over < -w {
            input_db
        } else if 2.0 * over <= w && w > 0.0 {
            input_db + (1.0 / r - 1.0) * (over + w / 2.0).powi(2) / (2.0 * w)
        } else {
            t + over / r
        }
    }
}

/// The static curve as a gain change (output − input level, dB ≤ 0) of detector values, in
/// place: `v` holds |x| (peak) or the mean square (RMS) and receives the gain change.
struct GainChangeKernel<'a> {
    values: &'a mut [f64],
    /// ½ for mean squares (their dB value is 10·log10), 1 for peaks.
    power: f64,
    threshold_db: f64,
    knee_db: f64,
    /// 1/ratio − 1 (≤ 0).
    slope: f64,
}

impl Kernel for GainChangeKernel<'_> {
    type Output = ();
    const WIDE_512: bool = true;

    #[inline(always)]
    fn call<M: Mac>(self, _mac: M) {
        let (t, w, slope) = (self.threshold_db, self.knee_db, self.slope);
        let scale = self.power * DB_PER_NEPER;
        for v in self.values.iter_mut() {
            // The floor keeps the logarithm finite on silence (−240 dB, far under any threshold).
            // ln in f32: its relative error (~1e-7) is ~1e-6 dB here, and it is a third of
            // the f64 one's cost.
            let level = scale * fast_math::ln_f32(v.max(1e-24) as f32) as f64;
            let over = level - t;
            let knee = slope * (over + 0.5 * w) * (over + 0.5 * w) / (2.0 * w).max(1e-300);
            let above = slope * over;
            *v = if 2.0 * over < -w {
                0.0
            } else if 2.0 * over <= w && w > 0.0 {
                knee
            } else {
                above
            };
        }
    }
}

/// Linear gains from gain changes in dB, times `makeup`, in place.
struct DbToGainKernel<'a> {
    values: &'a mut [f64],
    makeup: f64,
}

impl Kernel for DbToGainKernel<'_> {
    type Output = ();
    const WIDE_512: bool = true;

    #[inline(always)]
    fn call<M: Mac>(self, _mac: M) {
        let makeup = self.makeup;
        for v in self.values.iter_mut() {
            // exp in f32: a relative error of ~1e-7 is ~1e-6 dB of gain; 0 dB gives exactly 1.
            *v = makeup * fast_math::exp_f32((*v / DB_PER_NEPER) as f32) as f64;
        }
    }
}

/// The attack/release smoother over a chunk of gain changes (dB), in place; returns the last
/// smoothed value and whether any differs from 0 dB.
struct SmoothKernel<'a> {
    values: &'a mut [f64],
    start_db: f64,
    attack_coef: f64,
    release_coef: f64,
}

impl Kernel for SmoothKernel<'_> {
    type Output = (f64, bool);

    #[inline(always)]
    fn call<M: Mac>(self, mac: M) -> (f64, bool) {
        let (ca, cr) = (self.attack_coef, self.release_coef);
        let mut g = self.start_db;
        let mut any = false;
        for v in self.values.iter_mut() {
            let t = *v;
            // Both candidates first, then the choice: the loop-carried dependency is one
            // multiply-add (fused where the CPU has it) and a select, not compare → select →
            // subtract → multiply → add. This recursion is the compressor's critical path.
            let attack = mac.mac((1.0 - ca) * t, ca, g);
            let release = mac.mac((1.0 - cr) * t, cr, g);
            g = if t < g { attack } else { release };
            any |= g != 0.0;
            *v = g;
        }
        (g, any)
    }
}

/// The per-channel detector and gain state.
#[derive(Clone, Debug, Default)]
struct Detector {
    hpf: [BiquadState; 1],
    mean_square: f64,
    /// Smoothed gain change, dB (≤ 0).
    gain_db: f64,
}

pub struct Compressor {
    s: CompressorSettings,
    hpf: Option<BiquadCoefficients>,
    rms_coef: f64,
    attack_coef: f64,
    release_coef: f64,
    makeup_lin: f64,
    det: [Detector; 2],
    delay: [DelayLine; 2],
    /// Per channel: detector values, then gain changes (dB), then linear gains of a chunk.
    work: Vec<[f64; CHUNK]>,
    /// Whether the last chunk's gains (in `work`) differ from 0 dB, per channel.
    changed: [bool; 2],
    /// Locked lanes after the first ([`LaneProcessor`]): their lookahead delays.
    followers: Vec<[DelayLine; 2]>,
    wide: bool,
}

impl Compressor {
    pub fn new(settings: CompressorSettings) -> Self {
        let mut me = Self {
            s: settings,
            hpf: None,
            rms_coef: 0.0,
            attack_coef: 0.0,
            release_coef: 0.0,
            makeup_lin: 1.0,
            det: Default::default(),
            delay: [DelayLine::new(0), DelayLine::new(0)],
            work: vec![[0.0; CHUNK]; 2],
            changed: [false; 2],
            followers: Vec::new(),
            wide: simd::wide_available(),
        };
        me.prepare(48000.0, 0);
        me
    }

    pub fn settings(&self) -> &CompressorSettings {
        &self.s
    }

    /// Current gain change of the first (or mid) channel, dB (for metering and tests).
    pub fn gain_reduction_db(&self) -> f64 {
        self.det[0].gain_db
    }

    /// Detector values of one channel's chunk: |x| (peak) or the running mean square (RMS) of
    /// the side-chain signal.
    fn detect(&self, input: &[f64], det: &mut Detector, out: &mut [f64]) {
        let mut filtered = |x: f64| match &self.hpf {
            Some(c) => det.hpf[0].tick(c, x),
            None => x,
        };
        match self.s.detection {
            Detection::Peak => {
                for (o, &x) in out.iter_mut().zip(input) {
                    *o = filtered(x).abs();
                }
            }
            Detection::Rms => {
                let mut ms = det.mean_square;
                for (o, &x) in out.iter_mut().zip(input) {
                    let sc = filtered(x);
                    ms += (sc * sc - ms) * self.rms_coef;
                    *o = ms;
                }
                det.mean_square = ms;
            }
        }
        det.hpf[0].flush_denormals();
    }

    /// Static-curve gain changes (dB) of detector values, in place.
    fn gain_changes(&self, values: &mut [f64]) {
        let s = &self.s;
        simd::run(
            self.wide,
            GainChangeKernel {
                values,
                power: if s.detection == Detection::Rms {
                    0.5
                } else {
                    1.0
                },
                threshold_db: s.threshold_db,
                knee_db: s.knee_db,
                slope: 1.0 / s.ratio - 1.0,
            },
        );
    }

    /// Smooths gain changes (dB) in place: attack while the gain falls, release while it rises.
    /// Returns whether any smoothed value differs from 0 dB.
    fn smooth(&self, det: &mut Detector, values: &mut [f64]) -> bool {
        let last_target = values.last().copied();
        let (g, any) = simd::run(
            self.wide,
            SmoothKernel {
                values,
                start_db: det.gain_db,
                attack_coef: self.attack_coef,
                release_coef: self.release_coef,
            },
        );
        // Snapped at the chunk's end only, off the loop's critical path: a release needs
        // millions of samples to go from 1e-9 dB into denormal numbers.
        det.gain_db = if last_target == Some(0.0) && g > -SNAP_DB {
            0.0
        } else {
            g
        };
        any
    }

    /// Linear gains (with makeup) from gain changes in dB, in place.
    fn to_gains(&self, values: &mut [f64]) {
        simd::run(
            self.wide,
            DbToGainKernel {
                values,
                makeup: self.makeup_lin,
            },
        );
    }

    /// Compresses one chunk of the (a, b) channel pair: left/right or mid/side.
    fn process_chunk(&mut self, a: &mut [f64], b: &mut [f64]) {
        let n = a.len();
        let linked = self.s.mode == ChannelMode::Stereo && self.s.stereo_link;
        let mut det = std::mem::take(&mut self.det);
        // Taken out for the chunk (an empty Vec does not allocate) so that `self` stays usable.
        let mut work = std::mem::take(&mut self.work);
        let (wa, wb) = work.split_at_mut(1);
        let (wa, wb) = (&mut wa[0][..n], &mut wb[0][..n]);
        self.detect(a, &mut det[0], wa);
        self.detect(b, &mut det[1], wb);
        let (changed_a, changed_b);
        if linked {
            // The louder channel decides; dB is monotonic, so one curve serves both.
            for (x, y) in wa.iter_mut().zip(wb.iter()) {
                *x = x.max(*y);
            }
            self.gain_changes(wa);
            changed_a = self.smooth(&mut det[0], wa);
            det[1].gain_db = det[0].gain_db;
            changed_b = changed_a;
            if changed_a {
                self.to_gains(wa);
                wb.copy_from_slice(wa);
            }
        } else {
            self.gain_changes(wa);
            self.gain_changes(wb);
            changed_a = self.smooth(&mut det[0], wa);
            changed_b = self.smooth(&mut det[1], wb);
            if changed_a {
                self.to_gains(wa);
            }
            if changed_b {
                self.to_gains(wb);
            }
        }
        self.det = det;
        self.work = work;
        self.changed = [changed_a, changed_b];
        let mut delay = std::mem::take(&mut self.delay);
        self.apply(&mut delay, a, b);
        self.delay = delay;
    }

    /// Delays the (a, b) pair through `delay` and applies the last chunk's gains to it.
    fn apply(&self, delay: &mut [DelayLine; 2], a: &mut [f64], b: &mut [f64]) {
        let makeup = self.makeup_lin;
        for (ch, x) in [a, b].into_iter().enumerate() {
            delay[ch].process(x);
            if self.changed[ch] {
                let gains = &self.work[ch][..x.len()];
                x.iter_mut().zip(gains).for_each(|(v, g)| *v *= g);
            } else if makeup != 1.0 {
                x.iter_mut().for_each(|v| *v *= makeup);
            }
        }
    }

    /// Compresses one chunk (at most [`CHUNK`] frames) of the leading lane, left/right, and
    /// keeps its gains for [`Compressor::follow_chunk`].
    pub(crate) fn lead_chunk(&mut self, l: &mut [f64], r: &mut [f64]) {
        let mid_side = self.s.mode == ChannelMode::MidSide;
        if mid_side {
            encode_mid_side(l, r);
        }
        self.process_chunk(l, r);
        if mid_side {
            decode_mid_side(l, r);
        }
    }

    /// Applies the gains of the last [`Compressor::lead_chunk`] to the same chunk of locked
    /// lane `1 + follower`.
    pub(crate) fn follow_chunk(&mut self, follower: usize, l: &mut [f64], r: &mut [f64]) {
        let mid_side = self.s.mode == ChannelMode::MidSide;
        if mid_side {
            encode_mid_side(l, r);
        }
        let mut delay = std::mem::take(&mut self.followers[follower]);
        self.apply(&mut delay, l, r);
        self.followers[follower] = delay;
        if mid_side {
            decode_mid_side(l, r);
        }
    }
}

fn encode_mid_side(l: &mut [f64], r: &mut [f64]) {
    for (x, y) in l.iter_mut().zip(r.iter_mut()) {
        (*x, *y) = ((*x + *y) * 0.5, (*x - *y) * 0.5);
    }
}

fn decode_mid_side(l: &mut [f64], r: &mut [f64]) {
    for (x, y) in l.iter_mut().zip(r.iter_mut()) {
        (*x, *y) = (*x + *y, *x - *y);
    }
}

impl Processor for Compressor {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        let s = self.s;
        let coef = |ms: f64| (-1.0 / (ms * 1e-3 * sample_rate_hz)).exp();
        self.attack_coef = coef(s.attack_ms);
        self.release_coef = coef(s.release_ms);
        self.rms_coef = 1.0 - coef(RMS_TIME_MS);
        self.makeup_lin = crate::db_to_lin(s.makeup_db);
        self.hpf = (s.sidechain_hpf_hz > 0.0).then(|| {
            let w = 2.0 * std::f64::consts::PI * s.sidechain_hpf_hz;
            AnalogSection {
                num: [1.0, 0.0, 0.0],
                den: [1.0, w * std::f64::consts::SQRT_2, w * w],
            }
            .to_digital(sample_rate_hz)
        });
        let d = (s.lookahead_ms * 1e-3 * sample_rate_hz).round() as usize;
        self.delay = [DelayLine::new(d), DelayLine::new(d)];
        self.followers.clear();
        Processor::reset(self);
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        for (l, r) in block
            .left
            .chunks_mut(CHUNK)
            .zip(block.right.chunks_mut(CHUNK))
        {
            self.lead_chunk(l, r);
        }
    }

    fn latency_samples(&self) -> usize {
        self.delay[0].delay_samples()
    }

    fn reset(&mut self) {
        self.det = Default::default();
        for d in self
            .delay
            .iter_mut()
            .chain(self.followers.iter_mut().flatten())
        {
            d.reset();
        }
    }
}

/// Locked lanes: lane 0's detector sets the gain, every lane gets it.
impl LaneProcessor for Compressor {
    fn prepare_lanes(&mut self, sample_rate_hz: f64, max_block: usize, lanes: usize) {
        self.prepare(sample_rate_hz, max_block);
        let d = self.delay[0].delay_samples();
        self.followers = (1..lanes.max(1))
            .map(|_| [DelayLine::new(d), DelayLine::new(d)])
            .collect();
    }

    fn process_lanes(&mut self, lanes: &mut [StereoBlock<'_>]) {
        let Some((lead, rest)) = lanes.split_first_mut() else {
            return;
        };
        assert!(
            rest.len() <= self.followers.len(),
            "more lanes than prepared"
        );
        let n = lead.len();
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            self.lead_chunk(&mut lead.left[start..end], &mut lead.right[start..end]);
            for (k, f) in rest.iter_mut().enumerate() {
                self.follow_chunk(k, &mut f.left[start..end], &mut f.right[start..end]);
            }
            start = end;
        }
    }

    fn latency_samples(&self) -> usize {
        Processor::latency_samples(self)
    }

    fn reset(&mut self) {
        Processor::reset(self)
    }
}

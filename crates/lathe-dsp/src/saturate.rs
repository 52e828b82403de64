//! Saturation (tape, tube, soft clip) and a hard clipper, both oversampled with the half-band
//! stages of [`crate::halfband`] (default 4x), with drive and dry/wet mix.
//!
//! Curves, with `u = g·x` and `g = 10^(drive_db/20)`, output scaled by `1/g` so that small
//! signals pass at unity gain:
//! - tape: `tanh(u)` (odd harmonics);
//! - tube: `tanh(u + b) − tanh(b)`, b = 0.25 (adds even harmonics), then a 5 Hz DC blocker;
//! - soft clip: `1.5u − 0.5u³` for |u| ≤ 1, `sign(u)` beyond (cubic, continuous slope).
//!
//! The oversampled section runs in f32 (its rounding sits near −140 dB, under a 24-bit output's
//! step; the aliasing test measures the result): twice the values per vector, which made the
//! saturator about twice as fast. The dry path, the DC blocker and the mix stay in f64.
//!
//! The clipper limits the oversampled signal to ±`ceiling` (`ceiling_db` dBFS). Because the
//! decimation filter runs after the clip, the output may exceed the ceiling by its ringing:
//! it is a tone control before the limiter, not a peak guarantee.

use crate::fast_math;
use crate::halfband::{StereoOversampler, CHUNK};
use crate::processor::{Processor, StereoBlock};
use crate::simd::{self, Kernel, Mac};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaturationKind {
    #[default]
    Tape,
    Tube,
    SoftClip,
}

/// Bias of the tube curve.
const TUBE_BIAS: f64 = 0.25;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SaturationSettings {
    pub kind: SaturationKind,
    pub drive_db: f64,
    /// 0 = dry only, 1 = wet only.
    pub mix: f64,
    /// 1, 2, 4 or 8.
    pub oversampling: usize,
}

impl Default for SaturationSettings {
    fn default() -> Self {
        Self {
            kind: SaturationKind::Tape,
            drive_db: 3.0,
            mix: 1.0,
            oversampling: 4,
        }
    }
}

impl SaturationSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=24.0).contains(&self.drive_db) {
            return Err(format!(
                "drive_db must be within 0…24 dB, got {}",
                self.drive_db
            ));
        }
        if !(0.0..=1.0).contains(&self.mix) {
            return Err(format!("mix must be within 0…1, got {}", self.mix));
        }
        if !matches!(self.oversampling, 1 | 2 | 4 | 8) {
            return Err(format!(
                "oversampling must be 1, 2, 4 or 8, got {}",
                self.oversampling
            ));
        }
        Ok(())
    }
}

/// A curve with its constants worked out once: the output scale is a multiplication (a
/// division per value, beside the one inside tanh, was a third of the saturation's cost).
#[derive(Clone, Copy)]
struct Curve {
    kind: SaturationKind,
    g: f32,
    /// 1 / (g · small-signal slope of the raw curve).
    scale: f32,
    tanh_bias: f32,
}

impl Curve {
    #[inline(always)]
    fn new(kind: SaturationKind, g: f64) -> Self {
        let tanh_bias = TUBE_BIAS.tanh();
        let scale = match kind {
            // The tube's slope 1 − tanh²(b) cancels in `apply`.
            SaturationKind::Tape | SaturationKind::Tube => 1.0 / g,
            SaturationKind::SoftClip => 1.0 / (1.5 * g),
        };
        Self {
            kind,
            g: g as f32,
            scale: scale as f32,
            tanh_bias: tanh_bias as f32,
        }
    }

    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        let u = self.g * x;
        let y = match self.kind {
            SaturationKind::Tape => fast_math::tanh_f32(u),
            // tanh(u + b) − tanh(b) = tanh(u)·(1 − tanh²b) / (1 + tanh(u)·tanh(b)), without the
            // cancellation of the difference for small u; divided by the slope 1 − tanh²b.
            SaturationKind::Tube => {
                let t = fast_math::tanh_f32(u);
                t / (1.0 + t * self.tanh_bias)
            }
            SaturationKind::SoftClip => {
                let c = u.clamp(-1.0, 1.0);
                1.5 * c - 0.5 * c * c * c
            }
        };
        y * self.scale
    }
}

/// Applies [`Curve`] to a slice of oversampled values.
struct CurveKernel<'a> {
    kind: SaturationKind,
    g: f64,
    values: &'a mut [f32],
}

impl Kernel for CurveKernel<'_> {
    type Output = ();
    const WIDE_512: bool = true;

    #[inline(always)]
    fn call<M: Mac>(self, _mac: M) {
        // One loop per curve, so that each is a straight vectorisable loop.
        let g = self.g;
        for kind in [
            SaturationKind::Tape,
            SaturationKind::Tube,
            SaturationKind::SoftClip,
        ] {
            if kind == self.kind {
                let c = Curve::new(kind, g);
                // A plain loop, not `for_each`: a closure call may stay outside the
                // target-feature function and lose its vector width.
                for v in self.values.iter_mut() {
                    *v = c.apply(*v);
                }
            }
        }
    }
}

pub struct Saturation {
    s: SaturationSettings,
    gain: f64,
    os: StereoOversampler<f32>,
    dry_delay: [crate::delay::DelayLine; 2],
    /// The dry input of the current chunk, per channel.
    dry: [[f64; CHUNK]; 2],
    /// DC blocker state (tube): previous input and output per channel.
    dc: [(f64, f64); 2],
    dc_coef: f64,
}

impl Saturation {
    pub fn new(settings: SaturationSettings) -> Self {
        let mut me = Self {
            s: settings,
            gain: 1.0,
            os: StereoOversampler::new(settings.oversampling),
            dry_delay: [
                crate::delay::DelayLine::new(0),
                crate::delay::DelayLine::new(0),
            ],
            dry: [[0.0; CHUNK]; 2],
            dc: [(0.0, 0.0); 2],
            dc_coef: 0.0,
        };
        me.prepare(48000.0, 0);
        me
    }
}

impl Processor for Saturation {
    fn prepare(&mut self, sample_rate_hz: f64, _max_block: usize) {
        self.gain = crate::db_to_lin(self.s.drive_db);
        self.os = StereoOversampler::new(self.s.oversampling);
        let d = self.os.latency_samples();
        self.dry_delay = [
            crate::delay::DelayLine::new(d),
            crate::delay::DelayLine::new(d),
        ];
        self.dc_coef = (-2.0 * std::f64::consts::PI * 5.0 / sample_rate_hz).exp();
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let (kind, g, mix) = (self.s.kind, self.gain, self.s.mix);
        let wide = self.os.wide();
        for (lc, rc) in block
            .left
            .chunks_mut(CHUNK)
            .zip(block.right.chunks_mut(CHUNK))
        {
            let n = lc.len();
            if mix < 1.0 {
                self.dry[0][..n].copy_from_slice(lc);
                self.dry[1][..n].copy_from_slice(rc);
            }
            self.os.process(lc, rc, |values| {
                simd::run(wide, CurveKernel { kind, g, values })
            });
            for (ch, wet) in [&mut *lc, &mut *rc].into_iter().enumerate() {
                if kind == SaturationKind::Tube {
                    let (mut px, mut py) = self.dc[ch];
                    for w in wet.iter_mut() {
                        let y = *w - px + self.dc_coef * py;
                        (px, py) = (*w, y);
                        *w = y;
                    }
                    self.dc[ch] = (px, py);
                }
                if mix < 1.0 {
                    for (w, x) in wet.iter_mut().zip(&self.dry[ch][..n]) {
                        let dry = self.dry_delay[ch].tick(*x);
                        *w = dry + (*w - dry) * mix;
                    }
                }
            }
        }
    }

    fn latency_samples(&self) -> usize {
        self.os.latency_samples()
    }

    fn reset(&mut self) {
        self.os.reset();
        for d in &mut self.dry_delay {
            d.reset();
        }
        self.dc = [(0.0, 0.0); 2];
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipperSettings {
    pub ceiling_db: f64,
    pub oversampling: usize,
}

impl Default for ClipperSettings {
    fn default() -> Self {
        Self {
            ceiling_db: -0.3,
            oversampling: 4,
        }
    }
}

/// Hard clipper on the oversampled signal.
pub struct Clipper {
    s: ClipperSettings,
    ceiling: f64,
    os: StereoOversampler<f32>,
}

impl Clipper {
    pub fn new(settings: ClipperSettings) -> Self {
        Self {
            s: settings,
            ceiling: crate::db_to_lin(settings.ceiling_db),
            os: StereoOversampler::new(settings.oversampling),
        }
    }
}

impl Processor for Clipper {
    fn prepare(&mut self, _sample_rate_hz: f64, _max_block: usize) {
        self.ceiling = crate::db_to_lin(self.s.ceiling_db);
        self.reset();
    }

    fn process(&mut self, block: &mut StereoBlock<'_>) {
        let c = self.ceiling as f32;
        self.os.process(block.left, block.right, |values| {
            values.iter_mut().for_each(|v| *v = v.clamp(-c, c))
        });
    }

    fn latency_samples(&self) -> usize {
        self.os.latency_samples()
    }

    fn reset(&mut self) {
        self.os.reset();
    }
}

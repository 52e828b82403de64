//! Sample-domain statistics: sample peak, DC offset, inter-channel correlation, clipping.

use crate::simd::{self, Kernel, Mac};

/// Full scale within one 16-bit LSB: a sample at or above this magnitude counts as clipped.
pub const CLIP_THRESHOLD: f64 = 32767.0 / 32768.0;

/// Streaming statistics for a multichannel signal.
#[derive(Clone, Debug)]
pub struct SignalStats {
    sample_peak: f64,
    sums: Vec<f64>,
    /// Σ x_0², Σ x_1², Σ x_0·x_1 over the first two channels (phase correlation).
    sum_ll: f64,
    sum_rr: f64,
    sum_lr: f64,
    clipped: u64,
    frames: u64,
    /// Whether the kernels may use AVX2 + FMA ([`simd::wide_available`]).
    wide: bool,
}

impl SignalStats {
    pub fn new(channels: usize) -> Self {
        Self {
            sample_peak: 0.0,
            sums: vec![0.0; channels],
            sum_ll: 0.0,
            sum_rr: 0.0,
            sum_lr: 0.0,
            clipped: 0,
            frames: 0,
            wide: simd::wide_available(),
        }
    }

    pub fn process(&mut self, channels: &[&[f64]]) {
        let wide = self.wide;
        for (ch, samples) in channels.iter().enumerate() {
            let (peak, sum, clipped) = simd::run(wide, Levels { x: samples });
            self.sample_peak = self.sample_peak.max(peak);
            self.sums[ch] += sum;
            self.clipped += clipped;
        }
        if let [l, r, ..] = channels {
            let [ll, rr, lr] = simd::run(wide, Products { l, r });
            self.sum_ll += ll;
            self.sum_rr += rr;
            self.sum_lr += lr;
        }
        self.frames += channels.first().map_or(0, |c| c.len()) as u64;
    }

    /// Highest |sample|, linear.
    pub fn sample_peak_lin(&self) -> f64 {
        self.sample_peak
    }

    /// DC offset: the channel mean with the largest magnitude (signed, linear full scale).
    pub fn dc_offset(&self) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        let means = self.sums.iter().map(|s| s / self.frames as f64);
        means.fold(
            0.0,
            |best: f64, m| if m.abs() > best.abs() { m } else { best },
        )
    }

    /// Phase correlation of the first two channels, Σlr / √(Σl²·Σr²), in −1…+1.
    /// 1 for a single channel (it is played identically on both sides); `None` when a channel
    /// is silent.
    pub fn correlation(&self) -> Option<f64> {
        if self.sums.len() < 2 {
            return Some(1.0);
        }
        let den = (self.sum_ll * self.sum_rr).sqrt();
        (den > 0.0).then(|| (self.sum_lr / den).clamp(-1.0, 1.0))
    }

    /// Samples (over all channels) at or above [`CLIP_THRESHOLD`].
    pub fn clipped_samples(&self) -> u64 {
        self.clipped
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }
}

/// Partial sums side by side, so that the loops are not one long chain of dependent
/// additions (and vectorise).
const PARTIALS: usize = 8;

/// One channel's peak |x|, sum, and samples at or above [`CLIP_THRESHOLD`].
struct Levels<'a> {
    x: &'a [f64],
}

impl Kernel for Levels<'_> {
    type Output = (f64, f64, u64);
    #[inline(always)]
    fn call<M: Mac>(self, _: M) -> (f64, f64, u64) {
        let (mut peak, mut sum, mut clipped) =
            ([0.0f64; PARTIALS], [0.0f64; PARTIALS], [0u64; PARTIALS]);
        let chunks = self.x.chunks_exact(PARTIALS);
        let rest = chunks.remainder();
        for q in chunks {
            for j in 0..PARTIALS {
                let a = q[j].abs();
                peak[j] = if a > peak[j] { a } else { peak[j] };
                sum[j] += q[j];
                clipped[j] += (a >= CLIP_THRESHOLD) as u64;
            }
        }
        for &x in rest {
            let a = x.abs();
            peak[0] = peak[0].max(a);
            sum[0] += x;
            clipped[0] += (a >= CLIP_THRESHOLD) as u64;
        }
        (
            peak.iter().fold(0.0, |m, &p| m.max(p)),
            sum.iter().sum(),
            clipped.iter().sum(),
        )
    }
}

/// `Σ l²`, `Σ r²`, `Σ l·r`.
struct Products<'a> {
    l: &'a [f64],
    r: &'a [f64],
}

impl Kernel for Products<'_> {
    type Output = [f64; 3];
    #[inline(always)]
    fn call<M: Mac>(self, m: M) -> [f64; 3] {
        let (mut ll, mut rr, mut lr) = ([0.0f64; PARTIALS], [0.0f64; PARTIALS], [0.0f64; PARTIALS]);
        let (lq, rq) = (self.l.chunks_exact(PARTIALS), self.r.chunks_exact(PARTIALS));
        let (lrest, rrest) = (lq.remainder(), rq.remainder());
        for (l, r) in lq.zip(rq) {
            for j in 0..PARTIALS {
                ll[j] = m.mac(ll[j], l[j], l[j]);
                rr[j] = m.mac(rr[j], r[j], r[j]);
                lr[j] = m.mac(lr[j], l[j], r[j]);
            }
        }
        for (&l, &r) in lrest.iter().zip(rrest) {
            ll[0] += l * l;
            rr[0] += r * r;
            lr[0] += l * r;
        }
        [ll.iter().sum(), rr.iter().sum(), lr.iter().sum()]
    }
}

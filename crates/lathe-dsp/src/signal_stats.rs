//! Sample-domain statistics: sample peak, DC offset, inter-channel correlation, clipping.

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
        }
    }

    pub fn process(&mut self, channels: &[&[f64]]) {
        for (ch, samples) in channels.iter().enumerate() {
            // Four independent partial sums, so the loop is not one long chain of dependent
            // additions (and vectorises).
            let (mut peak, mut sum, mut clipped) = ([0.0f64; 4], [0.0f64; 4], [0u64; 4]);
            let quads = samples.chunks_exact(4);
            let rest = quads.remainder();
            for q in quads {
                for j in 0..4 {
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
            self.sample_peak = peak.iter().fold(self.sample_peak, |m, &p| m.max(p));
            self.sums[ch] += (sum[0] + sum[1]) + (sum[2] + sum[3]);
            self.clipped += clipped.iter().sum::<u64>();
        }
        if channels.len() >= 2 {
            let (mut ll, mut rr, mut lr) = ([0.0f64; 4], [0.0f64; 4], [0.0f64; 4]);
            let (lq, rq) = (channels[0].chunks_exact(4), channels[1].chunks_exact(4));
            let (lrest, rrest) = (lq.remainder(), rq.remainder());
            for (l, r) in lq.zip(rq) {
                for j in 0..4 {
                    ll[j] += l[j] * l[j];
                    rr[j] += r[j] * r[j];
                    lr[j] += l[j] * r[j];
                }
            }
            for (&l, &r) in lrest.iter().zip(rrest) {
                ll[0] += l * l;
                rr[0] += r * r;
                lr[0] += l * r;
            }
            let total = |a: [f64; 4]| (a[0] + a[1]) + (a[2] + a[3]);
            self.sum_ll += total(ll);
            self.sum_rr += total(rr);
            self.sum_lr += total(lr);
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

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
            let mut peak = 0.0f64;
            let mut sum = 0.0;
            let mut clipped = 0u64;
            for &x in samples.iter() {
                let a = x.abs();
                peak = peak.max(a);
                sum += x;
                clipped += (a >= CLIP_THRESHOLD) as u64;
            }
            self.sample_peak = self.sample_peak.max(peak);
            self.sums[ch] += sum;
            self.clipped += clipped;
        }
        if channels.len() >= 2 {
            for (&l, &r) in channels[0].iter().zip(channels[1]) {
                self.sum_ll += l * l;
                self.sum_rr += r * r;
                self.sum_lr += l * r;
            }
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

//! What the stem assistant measures of each stem: one pass over the stem at the session rate,
//! two short-time spectra of its mid signal ((L + R)/2), and the figures every rule reads.
//!
//! - **Short frames** (about 85 ms, hop a quarter: about 21 ms): the power of each
//!   1/3-octave band per frame. Masking, sibilance, mud, harshness and the kick/bass rule
//!   compare these, frame by frame or over the frames where the stem plays.
//! - **Long frames** (four times longer, hop half): 1/12-octave bands from 100 Hz to 12 kHz, for
//!   resonances: each band's excess over the bands a quarter to half an octave either side,
//!   per frame (how often it stands out: a fixed resonance rings in most frames, a melody's
//!   notes come and go) and over the whole stem.
//! - A frame is *active* when its power is within [`ACTIVE_RANGE_DB`] of the stem's loudest
//!   frames and above [`SILENCE_DBFS`].

use lathe_dsp::fft_plans;

use crate::render::block::BLOCK;
use crate::render::source::{SourceError, StereoSource};
use crate::spec::stem::StemSpec;
use lathe_dsp::spectrum::BAND_NOMINAL_HZ;

/// Third-octave bands (20 Hz – 20 kHz).
pub const THIRDS: usize = 31;
/// Frames quieter than the loudest by more than this are not "playing", dB.
pub const ACTIVE_RANGE_DB: f64 = 40.0;
/// Frames under this mean power are silence whatever the stem's level, dBFS.
pub const SILENCE_DBFS: f64 = -70.0;
/// Short frame length, ms (rounded up to a power of two in samples).
pub const SHORT_FRAME_MS: f64 = 85.0;
/// Fine (1/12-octave) bands for resonances: from 100 Hz…
pub const FINE_LOW_HZ: f64 = 100.0;
/// …to 12 kHz.
pub const FINE_HIGH_HZ: f64 = 12_000.0;
/// A fine band counts as standing out in a frame when it is this far above its ring, dB.
pub const STANDS_OUT_DB: f64 = 3.0;

/// One 1/12-octave band of the long-term analysis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FineBand {
    pub freq_hz: f64,
    /// Long-term level over the mean of its ring (¼–½ octave either side), dB.
    pub excess_db: f64,
    /// Share of the active long frames in which it stood [`STANDS_OUT_DB`] above its ring.
    pub persistence: f64,
    /// Standard deviation of the ring's long-term levels, dB: small where the surroundings
    /// are smooth (noise, a broadband sound), large among a tonal sound's other partials.
    pub ring_roughness_db: f64,
}

/// Everything the assistant knows of one stem.
#[derive(Clone, Debug)]
pub struct StemFacts {
    pub rate_hz: u32,
    /// Seconds between short frames.
    pub hop_s: f64,
    /// Per short frame: the power of each third-octave band (mean square of the band's share
    /// of the mid signal).
    pub frames: Vec<[f32; THIRDS]>,
    /// Per short frame: whether the stem plays.
    pub active: Vec<bool>,
    /// Long-term level of each third-octave band over the active frames, dB (−200: none).
    pub thirds_db: [f64; THIRDS],
    pub fine: Vec<FineBand>,
    /// Sample peak of either channel, dBFS.
    pub peak_dbfs: f64,
    /// RMS of the mid signal over the active frames, dBFS.
    pub active_rms_dbfs: f64,
}

impl StemFacts {
    /// Frames in which the stem plays.
    pub fn active_frames(&self) -> usize {
        self.active.iter().filter(|a| **a).count()
    }

    /// Power of a range of third-octave bands in one frame.
    pub fn range_power(&self, frame: usize, bands: std::ops::Range<usize>) -> f64 {
        self.frames[frame][bands].iter().map(|&p| p as f64).sum()
    }
}

/// The index of the third-octave band whose nominal centre is nearest `freq_hz`.
pub fn third_index(freq_hz: f64) -> usize {
    BAND_NOMINAL_HZ
        .iter()
        .enumerate()
        .min_by(|a, b| {
            (a.1 / freq_hz)
                .log2()
                .abs()
                .total_cmp(&(b.1 / freq_hz).log2().abs())
        })
        .map_or(0, |(i, _)| i)
}

/// Power to dB (−200 for none).
pub fn db(p: f64) -> f64 {
    if p > 0.0 {
        10.0 * p.log10()
    } else {
        -200.0
    }
}

/// Rounded to 0.1 (what the report and the saved session show).
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Reads a stem's mid signal at the session rate, and its sample peak.
fn read_mid(stem: &StemSpec, rate_hz: u32) -> Result<(Vec<f32>, f64), SourceError> {
    let mut source = StereoSource::open(&stem.file, rate_hz, stem.non_finite)?;
    let (mut l, mut r) = (vec![0.0; BLOCK], vec![0.0; BLOCK]);
    let mut mid = Vec::new();
    let mut peak = 0.0f64;
    loop {
        let n = source.read(&mut l, &mut r)?;
        if n == 0 {
            break;
        }
        for (a, b) in l[..n].iter().zip(&r[..n]) {
            peak = peak.max(a.abs()).max(b.abs());
            mid.push((0.5 * (a + b)) as f32);
        }
    }
    Ok((mid, 20.0 * peak.max(1e-10).log10()))
}

/// Power spectra (one-sided, |X|² scaled to mean square) of Hann frames of `len` every `hop`.
fn frames_of(x: &[f32], len: usize, hop: usize, mut each: impl FnMut(&[f32])) {
    let fft = fft_plans::forward_f32(len);
    let window: Vec<f32> = (0..len)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos()) as f32)
        .collect();
    // Hann: mean of w² is 3/8; two-sided to one-sided doubles.
    let scale = 2.0 / (0.375 * len as f32 * len as f32);
    let mut t = vec![0.0f32; len];
    let mut s = fft.make_output_vec();
    let mut p = vec![0.0f32; len / 2 + 1];
    let mut start = 0;
    while start + len <= x.len().max(len) {
        for (i, v) in t.iter_mut().enumerate() {
            *v = x.get(start + i).copied().unwrap_or(0.0) * window[i];
        }
        fft.process(&mut t, &mut s)
            .expect("sizes come from the plan");
        for (o, c) in p.iter_mut().zip(&s) {
            *o = c.norm_sqr() * scale;
        }
        each(&p);
        start += hop;
    }
}

/// Maps FFT bins to bands with edges `edges_hz` (band i: `[edges[i], edges[i+1])`); a band
/// too narrow to hold a bin takes the nearest bin.
fn band_bins(edges_hz: &[f64], len: usize, rate_hz: f64) -> Vec<(usize, usize)> {
    let hz = rate_hz / len as f64;
    let top = len / 2;
    edges_hz
        .windows(2)
        .map(|e| {
            let a = ((e[0] / hz).ceil() as usize).min(top);
            let b = ((e[1] / hz).ceil() as usize).min(top + 1);
            if b > a {
                (a, b)
            } else {
                let c = (((e[0] * e[1]).sqrt() / hz).round() as usize).min(top);
                (c, c + 1)
            }
        })
        .collect()
}

/// Measures one stem at `rate_hz`.
pub fn measure_stem(stem: &StemSpec, rate_hz: u32) -> Result<StemFacts, SourceError> {
    let (mid, peak_dbfs) = read_mid(stem, rate_hz)?;
    let fs = rate_hz as f64;
    let short = ((SHORT_FRAME_MS * 1e-3 * fs).ceil() as usize).next_power_of_two();
    let hop = short / 4;
    let third_edges: Vec<f64> = std::iter::once(BAND_NOMINAL_HZ[0] * 2f64.powf(-1.0 / 6.0))
        .chain(BAND_NOMINAL_HZ.iter().map(|f| f * 2f64.powf(1.0 / 6.0)))
        .collect();
    let bins = band_bins(&third_edges, short, fs);
    let mut frames: Vec<[f32; THIRDS]> = Vec::new();
    frames_of(&mid, short, hop, |p| {
        let mut f = [0.0f32; THIRDS];
        for (o, &(a, b)) in f.iter_mut().zip(&bins) {
            *o = p[a..b].iter().sum();
        }
        frames.push(f);
    });
    let totals: Vec<f64> = frames
        .iter()
        .map(|f| f.iter().map(|&v| v as f64).sum())
        .collect();
    let loudest = totals.iter().copied().fold(0.0, f64::max);
    let floor =
        (loudest * 10f64.powf(-ACTIVE_RANGE_DB / 10.0)).max(10f64.powf(SILENCE_DBFS / 10.0));
    let active: Vec<bool> = totals.iter().map(|&t| t > floor && t > 0.0).collect();
    let n_active = active.iter().filter(|a| **a).count().max(1) as f64;
    let mut thirds_db = [0.0; THIRDS];
    for (b, o) in thirds_db.iter_mut().enumerate() {
        let sum: f64 = frames
            .iter()
            .zip(&active)
            .filter(|(_, a)| **a)
            .map(|(f, _)| f[b] as f64)
            .sum();
        *o = db(sum / n_active);
    }
    let active_power: f64 = totals
        .iter()
        .zip(&active)
        .filter(|(_, a)| **a)
        .map(|(t, _)| t)
        .sum::<f64>()
        / n_active;
    let fine = fine_bands(&mid, fs, 4 * short, loudest);
    Ok(StemFacts {
        rate_hz,
        hop_s: hop as f64 / fs,
        frames,
        active,
        thirds_db,
        fine,
        peak_dbfs,
        active_rms_dbfs: db(active_power),
    })
}

/// The long-frame analysis for resonances.
fn fine_bands(mid: &[f32], fs: f64, len: usize, loudest_short: f64) -> Vec<FineBand> {
    let top = FINE_HIGH_HZ.min(0.45 * fs);
    let k_lo = (12.0 * (FINE_LOW_HZ / 1000.0).log2()).ceil() as i32;
    let k_hi = (12.0 * (top / 1000.0).log2()).floor() as i32;
    let centres: Vec<f64> = (k_lo..=k_hi)
        .map(|k| 1000.0 * (k as f64 / 12.0).exp2())
        .collect();
    let edges: Vec<f64> = std::iter::once(centres[0] * 2f64.powf(-1.0 / 24.0))
        .chain(centres.iter().map(|f| f * 2f64.powf(1.0 / 24.0)))
        .collect();
    let bins = band_bins(&edges, len, fs);
    let n = centres.len();
    // The ring of band i: bands 3 to 6 away (¼ to ½ octave) on either side.
    let ring =
        |i: usize| (i.saturating_sub(6)..(i + 7).min(n)).filter(move |&j| j.abs_diff(i) >= 3);
    let mut sum = vec![0.0f64; n];
    let mut out_count = vec![0usize; n];
    let mut active = 0usize;
    let floor = loudest_short * 10f64.powf(-ACTIVE_RANGE_DB / 10.0);
    frames_of(mid, len, len / 2, |p| {
        let levels: Vec<f64> = bins
            .iter()
            .map(|&(a, b)| p[a..b].iter().map(|&v| v as f64).sum::<f64>())
            .collect();
        let total: f64 = p.iter().map(|&v| v as f64).sum();
        if !(total > floor && total > 10f64.powf(SILENCE_DBFS / 10.0)) {
            return;
        }
        active += 1;
        let ldb: Vec<f64> = levels.iter().map(|&v| db(v)).collect();
        for i in 0..n {
            sum[i] += levels[i];
            let r: Vec<f64> = ring(i).map(|j| ldb[j]).collect();
            if !r.is_empty() && ldb[i] - r.iter().sum::<f64>() / r.len() as f64 > STANDS_OUT_DB {
                out_count[i] += 1;
            }
        }
    });
    let ldb: Vec<f64> = sum.iter().map(|&v| db(v)).collect();
    (0..n)
        .map(|i| {
            let r: Vec<f64> = ring(i).map(|j| ldb[j]).collect();
            let env = r.iter().sum::<f64>() / r.len().max(1) as f64;
            let var = r.iter().map(|v| (v - env).powi(2)).sum::<f64>() / r.len().max(1) as f64;
            FineBand {
                ring_roughness_db: var.sqrt(),
                freq_hz: centres[i],
                excess_db: if r.is_empty() { 0.0 } else { ldb[i] - env },
                persistence: out_count[i] as f64 / active.max(1) as f64,
            }
        })
        .collect()
}

/// Measures every stem (in parallel).
pub fn measure_stems(stems: &[StemSpec], rate_hz: u32) -> Result<Vec<StemFacts>, SourceError> {
    use rayon::prelude::*;
    stems.par_iter().map(|s| measure_stem(s, rate_hz)).collect()
}

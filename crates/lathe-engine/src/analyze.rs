//! `lathe analyze`: stream a file once through every meter.
//!
//! The file is decoded in chunks of [`CHUNK_FRAMES`]; while one chunk is being decoded the
//! previous one is measured, and within a chunk the true-peak meters (the costly part, one per
//! channel) run in parallel with the loudness, spectrum and sample statistics. Memory is fixed
//! by the chunk size (plus the loudness meter's 16 bytes per 100 ms).
//!
//! A file measured while nothing else is (the `_alone` functions) gives every meter a thread
//! of its own instead, fed chunk by chunk through a bounded queue: no meter then waits for the
//! slowest one at every chunk, and both cores stay busy (1.6 cores were used the other way).
//! With several files at once that would be a handful of threads per file on two cores, so
//! the shared path stays the default.

use std::path::Path;
use std::sync::Arc;

use lathe_dsp::lin_to_db;
use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};
use lathe_dsp::mid_side_spectrum::{MidSideSpectrum, MidSideSpectrumMeter};
use lathe_dsp::signal_stats::SignalStats;
use lathe_dsp::spectrum::{ThirdOctaveSpectrum, BAND_NOMINAL_HZ};
use lathe_dsp::true_peak::TruePeakMeter;
use lathe_io::{DecodeError, Decoder, SpeakerRole};
use rayon::prelude::*;
use serde::Serialize;

/// Frames measured per parallel step.
pub const CHUNK_FRAMES: usize = 1 << 16;
/// Chunks a meter may fall behind the decoder before the decoder waits (a file measured
/// alone).
pub const CHUNKS_AHEAD: usize = 2;

/// Why a file could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Everything `lathe analyze` reports about one file. Levels that do not exist (the loudness of
/// silence, the correlation of a silent channel) are `None` (`null` in JSON).
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub file: String,
    pub codec: String,
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub frames: u64,
    pub duration_s: f64,
    pub integrated_lufs: Option<f64>,
    /// Loudness range per EBU Tech 3342:2016 (short-term values every 100 ms).
    pub lra_lu: f64,
    /// Loudness range from short-term values every 1 s, as libebur128 / pyebur128 / the
    /// `ebur128` crate compute it (Tech 3342 before 2016); for comparison with those tools.
    pub lra_1hz_lu: f64,
    pub short_term_max_lufs: Option<f64>,
    pub momentary_max_lufs: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub dc_offset: f64,
    pub correlation: Option<f64>,
    pub clipped_samples: u64,
    /// Samples that were NaN or infinite in the file; every meter read them as silence.
    pub non_finite_samples: u64,
    /// 1/3-octave levels in dB re a full-scale sine, one per `spectrum_bands_hz` entry.
    pub spectrum_db: Vec<Option<f64>>,
    pub spectrum_bands_hz: Vec<f64>,
    pub warnings: Vec<String>,
}

/// Rounds to `digits` decimals; maps −∞/NaN to `None`.
fn finite(v: f64, digits: i32) -> Option<f64> {
    let scale = 10f64.powi(digits);
    v.is_finite().then(|| (v * scale).round() / scale)
}

/// Files below this rate have their true peak measured after an exact upsampling (see
/// [`LowRatePeak`]).
const LOW_RATE_HZ: u32 = 44_100;

/// True peak of a low-rate file. The 8x meter's interpolation filter is flat to 0.45 of the
/// input rate, which at 44.1 kHz and up is above anything audible; at 8 kHz it is 3.6 kHz, and
/// full-band content above it reads up to 0.3 dB low (a master measured at −1.11 dBTP was
/// −0.83 by a 32x FFT interpolation). So such a file is first upsampled by a whole factor to at
/// least 44.1 kHz with the FFT resampler (its transition band within 0.4 % of Nyquist), and the
/// meter reads that.
struct LowRatePeak {
    resampler: lathe_io::StreamResampler,
    out: Vec<Vec<f64>>,
}

impl LowRatePeak {
    fn new(rate_hz: u32, channels: usize) -> Option<Self> {
        if rate_hz >= LOW_RATE_HZ {
            return None;
        }
        let factor = LOW_RATE_HZ.div_ceil(rate_hz);
        let resampler = lathe_io::StreamResampler::new(rate_hz, rate_hz * factor, channels).ok()?;
        Some(Self {
            resampler,
            out: vec![Vec::new(); channels],
        })
    }

    /// Upsamples `chunk` (or, with `None`, the resampler's tail) and feeds each channel's
    /// true-peak meter.
    fn feed(&mut self, chunk: Option<&[&[f64]]>, meters: &mut [TruePeakMeter]) {
        for o in &mut self.out {
            o.clear();
        }
        match chunk {
            Some(c) => self.resampler.process(c, &mut self.out),
            None => self.resampler.finish(&mut self.out),
        }
        for (m, c) in meters.iter_mut().zip(&self.out) {
            m.process(c);
        }
    }
}

/// All meters for one file.
struct Meters {
    loudness: LoudnessMeter,
    true_peak: Vec<TruePeakMeter>,
    /// Low-rate files: the true peak meters read an upsampled copy.
    low_rate_peak: Option<LowRatePeak>,
    /// Left out when only levels are asked for ([`measure_levels`]).
    spectrum: Option<ThirdOctaveSpectrum>,
    /// Stereo files, when asked for ([`analyze_for_matching`]).
    mid_side: Option<MidSideSpectrumMeter>,
    stats: SignalStats,
}

impl Meters {
    fn measure(&mut self, chunk: &[Vec<f64>]) {
        let planar: Vec<&[f64]> = chunk.iter().map(|c| c.as_slice()).collect();
        let Self {
            loudness,
            true_peak,
            low_rate_peak,
            spectrum,
            mid_side,
            stats,
        } = self;
        rayon::join(
            || match low_rate_peak {
                Some(up) if !true_peak.is_empty() => up.feed(Some(&planar), true_peak),
                _ => {
                    true_peak
                        .par_iter_mut()
                        .zip(planar.par_iter())
                        .for_each(|(m, c)| m.process(c));
                }
            },
            || {
                // The spectra are the largest part: on a task of their own, so that the two
                // cores share the work evenly.
                rayon::join(
                    || {
                        loudness.process(&planar);
                        stats.process(&planar);
                    },
                    || {
                        if let Some(s) = spectrum {
                            s.process(&planar);
                        }
                        if let (Some(m), [l, r]) = (mid_side, planar.as_slice()) {
                            m.process(l, r);
                        }
                    },
                )
            },
        );
    }
}

/// The channels of a chunk as slices.
fn planar(c: &[Vec<f64>]) -> Vec<&[f64]> {
    c.iter().map(|x| x.as_slice()).collect()
}

/// One chunk, shared by every meter's thread.
type Chunk = Arc<Vec<Vec<f64>>>;

/// A meter's work on one chunk, on its own thread.
type MeterTask<'a> = Box<dyn FnMut(&[Vec<f64>]) + Send + 'a>;

impl Meters {
    /// Decodes the whole file into the meters, each on a thread of its own (a file measured
    /// alone; see the module notes). `mono_as_stereo`: a mono file's one channel goes into
    /// the mid/side meter as both sides.
    fn measure_alone(
        &mut self,
        decoder: &mut Decoder,
        mono_as_stereo: bool,
    ) -> Result<(), DecodeError> {
        let channels = decoder.info().channels;
        let tasks = self.tasks(mono_as_stereo);
        std::thread::scope(|s| {
            let senders: Vec<_> = tasks
                .into_iter()
                .map(|mut task| {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(CHUNKS_AHEAD);
                    s.spawn(move || rx.iter().for_each(|chunk| task(&chunk)));
                    tx
                })
                .collect();
            // Chunks every meter has let go of are filled again (no allocation per chunk).
            let mut pool: Vec<Chunk> = Vec::new();
            loop {
                let mut chunk = match pool.iter().position(|c| Arc::strong_count(c) == 1) {
                    Some(i) => pool.swap_remove(i),
                    None => Arc::new(vec![Vec::with_capacity(2 * CHUNK_FRAMES); channels]),
                };
                let buffers = Arc::get_mut(&mut chunk).expect("no meter holds it");
                if !fill_chunk(decoder, buffers)? {
                    return Ok(());
                }
                for tx in &senders {
                    // A meter's thread ends only when its sender is dropped, or when it
                    // panicked, which the scope reports.
                    let _ = tx.send(chunk.clone());
                }
                pool.push(chunk);
            }
        })
    }

    /// The meters as tasks for [`Meters::measure_alone`], one thread each.
    fn tasks(&mut self, mono_as_stereo: bool) -> Vec<MeterTask<'_>> {
        let Self {
            loudness,
            true_peak,
            low_rate_peak,
            spectrum,
            mid_side,
            stats,
        } = self;
        let mut tasks: Vec<MeterTask<'_>> = Vec::new();
        match low_rate_peak {
            Some(up) if !true_peak.is_empty() => {
                tasks.push(Box::new(move |c| up.feed(Some(&planar(c)), true_peak)))
            }
            _ => {
                for (ch, m) in true_peak.iter_mut().enumerate() {
                    tasks.push(Box::new(move |c| m.process(&c[ch])));
                }
            }
        }
        tasks.push(Box::new(move |c| {
            let p = planar(c);
            loudness.process(&p);
            stats.process(&p);
        }));
        if spectrum.is_some() || mid_side.is_some() {
            tasks.push(Box::new(move |c| {
                if let Some(s) = spectrum {
                    s.process(&planar(c));
                }
                if let Some(m) = mid_side {
                    match c {
                        [l, r] => m.process(l, r),
                        [mono] if mono_as_stereo => m.process(mono, mono),
                        _ => {}
                    }
                }
            }));
        }
        tasks
    }
}

/// Decodes the whole file into the meters, measuring each chunk (the true-peak meters and the
/// rest in parallel) while the next is decoded.
fn measure_shared(
    decoder: &mut Decoder,
    meters: &mut Meters,
    mono_as_stereo: bool,
) -> Result<(), DecodeError> {
    let channels = decoder.info().channels;
    // Room for a chunk and the rest of the packet that completes it.
    let with_capacity = || vec![Vec::with_capacity(2 * CHUNK_FRAMES); channels];
    let (mut ready, mut next) = (with_capacity(), with_capacity());
    let mut have = fill_chunk(decoder, &mut ready)?;
    while have {
        // Measure `ready` while decoding into `next`.
        let mut decoded = Ok(false);
        rayon::scope(|s| {
            s.spawn(|_| {
                meters.measure(&ready);
                if let (true, Some(m)) = (mono_as_stereo, meters.mid_side.as_mut()) {
                    m.process(&ready[0], &ready[0]);
                }
            });
            decoded = fill_chunk(decoder, &mut next);
        });
        have = decoded?;
        std::mem::swap(&mut ready, &mut next);
    }

    Ok(())
}

/// Reads the next chunk into `chunk`: whole packets, decoded straight into it, until it
/// holds at least [`CHUNK_FRAMES`] (the meters stream, so a chunk's length does not change
/// what they measure). Returns false at the end of the file.
fn fill_chunk(decoder: &mut Decoder, chunk: &mut [Vec<f64>]) -> Result<bool, DecodeError> {
    for c in chunk.iter_mut() {
        c.clear();
    }
    while chunk[0].len() < CHUNK_FRAMES {
        if decoder.append_block(chunk)?.is_none() {
            break;
        }
    }
    Ok(!chunk[0].is_empty())
}

/// Which meters run besides loudness and the sample statistics.
#[derive(Clone, Copy)]
struct Parts {
    spectrum: bool,
    mid_side: bool,
    true_peak: bool,
    /// Nothing else is measured meanwhile: every meter gets a thread.
    alone: bool,
}

/// Analyses one file.
pub fn analyze_file(path: &Path) -> Result<Analysis, AnalyzeError> {
    analyze(path, everything(false)).map(|(a, _)| a)
}

/// [`analyze_file`] when no other file is measured at the same time (see the module notes).
pub fn analyze_file_alone(path: &Path) -> Result<Analysis, AnalyzeError> {
    analyze(path, everything(true)).map(|(a, _)| a)
}

fn everything(alone: bool) -> Parts {
    Parts {
        spectrum: true,
        mid_side: false,
        true_peak: true,
        alone,
    }
}

/// Measures the levels of one file (loudness, LRA, peaks, stats) without its spectrum, which
/// is what verifying a delivered file needs; `spectrum_db` is empty.
pub fn measure_levels(path: &Path) -> Result<Analysis, AnalyzeError> {
    analyze(path, levels(false)).map(|(a, _)| a)
}

/// [`measure_levels`] when no other file is measured at the same time (see the module notes).
pub fn measure_levels_alone(path: &Path) -> Result<Analysis, AnalyzeError> {
    analyze(path, levels(true)).map(|(a, _)| a)
}

fn levels(alone: bool) -> Parts {
    Parts {
        spectrum: false,
        mid_side: false,
        true_peak: true,
        alone,
    }
}

/// What reference matching needs of a file: its analysis, its long-term mid/side spectrum
/// (stereo files; a mono file is all mid) and the 10th percentile of its short-term
/// loudness (gated as for LRA), in one decode.
pub struct MatchAnalysis {
    pub analysis: Analysis,
    pub mid_side: MidSideSpectrum,
    pub short_term_p10_lufs: Option<f64>,
}

/// Analyses one file for reference matching (see [`MatchAnalysis`]). Mono files are measured
/// as the same signal on both channels. The 1/3-octave `spectrum_db` comes from the mid/side
/// spectra (the channels' mean power is `M² + S²`, over every frame). Without `true_peak`
/// (a reference needs none), `true_peak_dbtp` is `None`.
pub fn analyze_for_matching(path: &Path, true_peak: bool) -> Result<MatchAnalysis, AnalyzeError> {
    let parts = Parts {
        spectrum: false,
        mid_side: true,
        true_peak,
        alone: false,
    };
    let (analysis, extra) = analyze(path, parts)?;
    let (mid_side, p10) = extra.expect("asked for");
    Ok(MatchAnalysis {
        analysis,
        mid_side,
        short_term_p10_lufs: p10,
    })
}

type MatchExtras = (MidSideSpectrum, Option<f64>);

fn analyze(path: &Path, parts: Parts) -> Result<(Analysis, Option<MatchExtras>), AnalyzeError> {
    let (with_spectrum, for_matching) = (parts.spectrum, parts.mid_side);
    let mut decoder = Decoder::open(path)?;
    let info = decoder.info().clone();
    let fs = info.sample_rate_hz as f64;
    let roles: Vec<ChannelRole> = match &info.speaker_roles {
        Some(r) if r.len() == info.channels => r
            .iter()
            .map(|r| match r {
                SpeakerRole::Front => ChannelRole::Front,
                SpeakerRole::Surround => ChannelRole::Surround,
                SpeakerRole::Lfe => ChannelRole::Lfe,
            })
            .collect(),
        _ => ChannelRole::default_layout(info.channels),
    };
    let mut meters = Meters {
        loudness: LoudnessMeter::new(fs, &roles),
        true_peak: if parts.true_peak {
            (0..info.channels).map(|_| TruePeakMeter::new()).collect()
        } else {
            Vec::new()
        },
        low_rate_peak: LowRatePeak::new(info.sample_rate_hz, info.channels)
            .filter(|_| parts.true_peak),
        spectrum: with_spectrum.then(|| ThirdOctaveSpectrum::new(fs, info.channels)),
        mid_side: for_matching.then(|| MidSideSpectrumMeter::new(fs)),
        stats: SignalStats::new(info.channels),
    };
    // A mono file is matched as the same signal on both sides (all mid).
    let mono_as_stereo = for_matching && info.channels == 1;
    if parts.alone {
        meters.measure_alone(&mut decoder, mono_as_stereo)?;
    } else {
        measure_shared(&mut decoder, &mut meters, mono_as_stereo)?;
    }

    if let Some(up) = meters.low_rate_peak.as_mut() {
        up.feed(None, &mut meters.true_peak);
    }
    let true_peak = meters
        .true_peak
        .iter_mut()
        .map(|m| m.finish())
        .fold(0.0, f64::max);
    let frames = meters.stats.frames();
    let extras = meters.mid_side.as_mut().map(|m| {
        let p10 = meters.loudness.short_term_percentile_lufs(0.10);
        (m.finish(), p10.is_finite().then_some(p10))
    });
    let analysis = Analysis {
        file: path.display().to_string(),
        codec: info.codec.clone(),
        sample_rate_hz: info.sample_rate_hz,
        channels: info.channels,
        frames,
        duration_s: (frames as f64 / fs * 1000.0).round() / 1000.0,
        integrated_lufs: finite(meters.loudness.integrated_lufs(), 3),
        lra_lu: finite(meters.loudness.loudness_range_lu(), 3).unwrap_or(0.0),
        lra_1hz_lu: finite(meters.loudness.loudness_range_1hz_lu(), 3).unwrap_or(0.0),
        short_term_max_lufs: finite(meters.loudness.short_term_max_lufs(), 3),
        momentary_max_lufs: finite(meters.loudness.momentary_max_lufs(), 3),
        sample_peak_dbfs: finite(lin_to_db(meters.stats.sample_peak_lin()), 3),
        true_peak_dbtp: if parts.true_peak {
            finite(lin_to_db(true_peak), 3)
        } else {
            None
        },
        dc_offset: finite(meters.stats.dc_offset(), 6).unwrap_or(0.0),
        correlation: meters.stats.correlation().and_then(|c| finite(c, 4)),
        clipped_samples: meters.stats.clipped_samples(),
        non_finite_samples: decoder.non_finite_samples().0,
        spectrum_db: match (meters.spectrum.as_mut(), &extras) {
            (Some(s), _) => s.bands_db(),
            (None, Some((m, _))) => m.third_octave_all_frames_db(),
            (None, None) => Vec::new(),
        }
        .into_iter()
        .map(|v| v.and_then(|v| finite(v, 2)))
        .collect(),
        spectrum_bands_hz: if with_spectrum || for_matching {
            BAND_NOMINAL_HZ.to_vec()
        } else {
            Vec::new()
        },
        warnings: decoder.warnings(),
    };
    Ok((analysis, extras))
}

/// Short-term loudness over time (the 3-s window, read every `step_s` seconds) and the
/// 1/3-octave spectrum of a file: what the service plots before and after.
#[derive(Clone, Debug, Serialize)]
pub struct LoudnessCurve {
    pub step_s: f64,
    /// `None` where the window is silent.
    pub short_term_lufs: Vec<Option<f64>>,
    pub spectrum_bands_hz: Vec<f64>,
    pub spectrum_db: Vec<Option<f64>>,
}

/// Measures a [`LoudnessCurve`] of `path` (streaming; two passes over the file).
pub fn loudness_curve(path: &Path, step_s: f64) -> Result<LoudnessCurve, AnalyzeError> {
    let spectrum = analyze_file(path)?;
    let mut decoder = Decoder::open(path)?;
    let info = decoder.info().clone();
    let fs = info.sample_rate_hz as f64;
    let mut meter = LoudnessMeter::new(fs, &ChannelRole::default_layout(info.channels));
    let step = ((step_s * fs).round() as usize).max(1);
    let (mut since, mut curve) = (0usize, Vec::new());
    while let Some(block) = decoder.next_block()? {
        let n = block.first().map_or(0, |c| c.len());
        let mut pos = 0;
        while pos < n {
            let take = (step - since).min(n - pos);
            let part: Vec<&[f64]> = block.iter().map(|c| &c[pos..pos + take]).collect();
            meter.process(&part);
            since += take;
            pos += take;
            if since == step {
                let st = meter.short_term_lufs();
                curve.push(st.is_finite().then_some((st * 100.0).round() / 100.0));
                since = 0;
            }
        }
    }
    Ok(LoudnessCurve {
        step_s,
        short_term_lufs: curve,
        spectrum_bands_hz: spectrum.spectrum_bands_hz,
        spectrum_db: spectrum.spectrum_db,
    })
}

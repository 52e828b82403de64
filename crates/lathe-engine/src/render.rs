//! One render pass: source → chain → gain → limiter → sink, streaming, latency-compensated
//! (the output starts at the input's sample 0 and has its length), with the output metered.

use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_dsp::true_peak::TruePeakMeter;

use crate::chain::ProcessorSpec;
use crate::source::SourceError;
use crate::stems::{StemMix, StemSpec};

/// Frames per processing block.
pub const BLOCK: usize = 4096;

/// What a pass measured on its output.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PassResult {
    pub gain_db: f64,
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
    pub lra_lu: f64,
    pub frames: u64,
    /// Deepest gain reduction of the limiter, dB (0 without a limiter).
    pub limiter_max_reduction_db: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot write output: {0}")]
    Write(#[from] std::io::Error),
}

/// The stages of a master bus: `chain`, then the gain into the limiter, then `post_gain`
/// stages (a clipper that shaves what the gain pushed over), then the limiter.
#[derive(Clone, Debug, Default)]
pub struct Bus {
    pub chain: Vec<ProcessorSpec>,
    pub post_gain: Vec<ProcessorSpec>,
    pub limiter: Option<LimiterSettings>,
}

/// Renders the sum of `stems` at `rate_hz` through the bus with a static `gain_db`, calling
/// `sink` with each output block.
pub fn render_pass(
    stems: &[StemSpec],
    rate_hz: u32,
    bus: &Bus,
    gain_db: f64,
    mut sink: impl FnMut(&[f64], &[f64]) -> std::io::Result<()>,
) -> Result<PassResult, RenderError> {
    let fs = rate_hz as f64;
    let mut source = StemMix::open(stems, rate_hz)?;
    let mut procs: Vec<Box<dyn Processor>> = bus.chain.iter().map(|p| p.build()).collect();
    let mut post: Vec<Box<dyn Processor>> = bus.post_gain.iter().map(|p| p.build()).collect();
    let mut lim = bus.limiter.map(TruePeakLimiter::new);
    for p in procs.iter_mut().chain(post.iter_mut()) {
        p.prepare(fs, BLOCK);
    }
    if let Some(l) = &mut lim {
        l.prepare(fs, BLOCK);
    }
    let latency: usize = procs
        .iter()
        .chain(post.iter())
        .map(|p| p.latency_samples())
        .sum::<usize>()
        + lim.as_ref().map_or(0, |l| l.latency_samples());
    let gain = lathe_dsp::db_to_lin(gain_db);
    let mut meter = LoudnessMeter::new(fs, &ChannelRole::default_layout(2));
    let mut tp = [TruePeakMeter::new(), TruePeakMeter::new()];
    let (mut l, mut r) = (vec![0.0; BLOCK], vec![0.0; BLOCK]);
    let mut to_skip = latency;
    let mut input_frames = 0u64;
    let mut input_done = false;
    let mut emitted = 0u64;
    let mut flushed = 0usize;
    let mut min_gain = 1.0f64;
    loop {
        let n_in = if input_done {
            0
        } else {
            source.read(&mut l, &mut r)?
        };
        input_done |= n_in < BLOCK;
        input_frames += n_in as u64;
        // After the input: silence until the chain's latency is flushed out.
        let pad = if input_done {
            (BLOCK - n_in).min(latency - flushed)
        } else {
            0
        };
        l[n_in..n_in + pad].fill(0.0);
        r[n_in..n_in + pad].fill(0.0);
        flushed += pad;
        let n = n_in + pad;
        if n == 0 {
            break;
        }
        let mut block = StereoBlock {
            left: &mut l[..n],
            right: &mut r[..n],
        };
        for p in procs.iter_mut() {
            p.process(&mut block);
        }
        if gain != 1.0 {
            block
                .left
                .iter_mut()
                .chain(block.right.iter_mut())
                .for_each(|v| *v *= gain);
        }
        for p in post.iter_mut() {
            p.process(&mut block);
        }
        if let Some(lm) = &mut lim {
            lm.process(&mut block);
            min_gain = min_gain.min(lm.take_min_gain());
        }
        // Output frame i is input frame i: drop the first `latency` frames, stop at the
        // input's length.
        let skip = to_skip.min(n);
        to_skip -= skip;
        let take = ((n - skip) as u64).min(input_frames - emitted) as usize;
        if take > 0 {
            let (ol, or) = (&l[skip..skip + take], &r[skip..skip + take]);
            meter.process(&[ol, or]);
            tp[0].process(ol);
            tp[1].process(or);
            sink(ol, or)?;
            emitted += take as u64;
        }
        if input_done && flushed >= latency {
            break;
        }
    }
    let peak = tp[0].finish().max(tp[1].finish());
    Ok(PassResult {
        gain_db,
        integrated_lufs: meter.integrated_lufs(),
        true_peak_dbtp: lathe_dsp::lin_to_db(peak),
        lra_lu: meter.loudness_range_lu(),
        frames: emitted,
        limiter_max_reduction_db: -lathe_dsp::lin_to_db(min_gain),
    })
}

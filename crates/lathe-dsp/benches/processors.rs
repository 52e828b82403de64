//! Per-processor cost and the default master chain: one second of stereo 48 kHz noise per
//! iteration, processed in blocks of 512. Time / 48 000 = cost per stereo sample;
//! realtime factor = 1 s / time.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lathe_dsp::compressor::{Compressor, CompressorSettings};
use lathe_dsp::dither::{Dither, DitherKind};
use lathe_dsp::eq::{BandKind, Eq, EqBand};
use lathe_dsp::gain::{Gain, GainSettings};
use lathe_dsp::gain_curve::GainCurve;
use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::linear_phase_eq::LinearPhaseEq;
use lathe_dsp::multiband::{BandSettings, Multiband, MultibandSettings};
use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_dsp::saturate::{Clipper, ClipperSettings, Saturation, SaturationSettings};
use lathe_dsp::stereo::{Stereo, StereoSettings};
use std::hint::black_box;

const FS: usize = 48000;
const BLOCK: usize = 512;

fn noise(seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..FS)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.8
        })
        .collect()
}

fn four_band_eq() -> Eq {
    Eq::new(vec![
        EqBand {
            slope_db_oct: 12,
            ..EqBand::new(BandKind::HighPass, 25.0)
        },
        EqBand {
            gain_db: 1.0,
            ..EqBand::new(BandKind::LowShelf, 80.0)
        },
        EqBand {
            gain_db: -1.5,
            q: 1.2,
            ..EqBand::new(BandKind::Bell, 350.0)
        },
        EqBand {
            gain_db: 1.0,
            ..EqBand::new(BandKind::HighShelf, 10000.0)
        },
    ])
}

fn three_band_multiband() -> Multiband {
    let band = BandSettings {
        compressor: CompressorSettings {
            threshold_db: -20.0,
            ratio: 2.0,
            ..Default::default()
        },
        ..Default::default()
    };
    Multiband::new(MultibandSettings {
        crossovers_hz: vec![120.0, 2500.0],
        bands: vec![band; 3],
    })
}

/// The default master chain of the issue: 4-band EQ, 3-band multiband, 4x saturation,
/// 8x true-peak limiter.
pub struct Chain(Vec<Box<dyn Processor>>);

impl Processor for Chain {
    fn prepare(&mut self, fs: f64, max_block: usize) {
        self.0.iter_mut().for_each(|p| p.prepare(fs, max_block));
    }
    fn process(&mut self, block: &mut StereoBlock<'_>) {
        for p in &mut self.0 {
            p.process(block);
        }
    }
    fn latency_samples(&self) -> usize {
        self.0.iter().map(|p| p.latency_samples()).sum()
    }
    fn reset(&mut self) {
        self.0.iter_mut().for_each(|p| p.reset());
    }
}

/// A match EQ with a curve on 31 third-octave points per lane, as reference matching makes.
fn match_eq() -> LinearPhaseEq {
    let freqs: Vec<f64> = (0..31).map(|i| 20.0 * 2f64.powf(i as f64 / 3.0)).collect();
    let mid = freqs
        .iter()
        .map(|f| 6.0 * (f / 1000.0).log10().sin())
        .collect();
    let side = freqs.iter().map(|f| -3.0 + (f / 500.0).log2()).collect();
    LinearPhaseEq::mid_side(
        GainCurve::new(freqs.clone(), mid),
        GainCurve::new(freqs, side),
    )
}

fn bench_one(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut p: Box<dyn Processor>,
) {
    let (l0, r0) = (noise(1), noise(2));
    p.prepare(FS as f64, BLOCK);
    let (mut l, mut r) = (l0.clone(), r0.clone());
    c.bench_function(name, |b| {
        b.iter(|| {
            l.copy_from_slice(&l0);
            r.copy_from_slice(&r0);
            for (lc, rc) in l.chunks_mut(BLOCK).zip(r.chunks_mut(BLOCK)) {
                p.process(&mut StereoBlock {
                    left: lc,
                    right: rc,
                });
            }
            black_box(&l);
        })
    });
}

fn processors(c: &mut Criterion) {
    let mut g = c.benchmark_group("processors_1s_stereo_48k");
    g.throughput(Throughput::Elements(FS as u64));
    bench_one(
        &mut g,
        "gain",
        Box::new(Gain::new(GainSettings {
            gain_db: -1.0,
            ..Default::default()
        })),
    );
    bench_one(&mut g, "eq_4_bands", Box::new(four_band_eq()));
    bench_one(
        &mut g,
        "compressor",
        Box::new(Compressor::new(CompressorSettings::default())),
    );
    bench_one(
        &mut g,
        "multiband_3_bands",
        Box::new(three_band_multiband()),
    );
    bench_one(
        &mut g,
        "saturation_4x",
        Box::new(Saturation::new(SaturationSettings::default())),
    );
    bench_one(
        &mut g,
        "stereo_bass_mono",
        Box::new(Stereo::new(StereoSettings {
            width: 1.1,
            mono_below_hz: 120.0,
            balance: 0.0,
        })),
    );
    bench_one(
        &mut g,
        "clipper_4x",
        Box::new(Clipper::new(ClipperSettings::default())),
    );
    bench_one(
        &mut g,
        "limiter_8x_true_peak",
        Box::new(TruePeakLimiter::new(LimiterSettings::default())),
    );
    bench_one(
        &mut g,
        "dither_16_shaped",
        Box::new(Dither::new(16, DitherKind::TpdfShaped, 1)),
    );
    // The corrective tools, set as the stem assistant sets them (acting on the noise).
    bench_one(
        &mut g,
        "dynamic_eq_1_band",
        Box::new(lathe_dsp::dynamic_eq::DynamicEq::new(vec![
            lathe_dsp::dynamic_eq::DynamicBand {
                threshold_db: -30.0,
                ..Default::default()
            },
        ])),
    );
    bench_one(
        &mut g,
        "deesser",
        Box::new(lathe_dsp::deesser::DeEsser::new(Default::default())),
    );
    bench_one(
        &mut g,
        "transient_shaper",
        Box::new(lathe_dsp::transient_shaper::TransientShaper::new(
            lathe_dsp::transient_shaper::TransientSettings {
                attack_db: 3.0,
                sustain_db: -2.0,
                ..Default::default()
            },
        )),
    );
    bench_one(
        &mut g,
        "resonance_suppressor",
        Box::new(lathe_dsp::resonance::ResonanceSuppressor::new(
            Default::default(),
        )),
    );
    bench_one(
        &mut g,
        "band_imager_3_bands",
        Box::new(lathe_dsp::band_imager::BandImager::new(Default::default())),
    );
    {
        // Not a processor: the loudness-target search's one-pass prediction at three gains.
        let (l0, r0) = (noise(1), noise(2));
        let settings = LimiterSettings::default();
        g.bench_function("limited_loudness_estimate_3_gains", |b| {
            b.iter(|| {
                let mut e = lathe_dsp::limiter_estimate::LimitedLoudnessEstimator::new(
                    &settings,
                    FS as f64,
                    &[0.0, 1.0, 2.0],
                    None,
                );
                for (lc, rc) in l0.chunks(BLOCK).zip(r0.chunks(BLOCK)) {
                    e.process(lc, rc);
                }
                black_box(e.predictions());
            })
        });
    }
    bench_one(&mut g, "match_eq_mid_side", Box::new(match_eq()));
    {
        // Not per-sample work: designing the match EQ's two FIRs (once per render, before
        // the first block), at 44.1 kHz.
        g.bench_function("match_eq_prepare_44k1", |b| {
            b.iter(|| {
                let mut p = match_eq();
                p.prepare(44_100.0, BLOCK);
                black_box(p.latency_samples());
            })
        });
    }
    bench_one(
        &mut g,
        "default_master_chain",
        Box::new(Chain(vec![
            Box::new(four_band_eq()),
            Box::new(three_band_multiband()),
            Box::new(Saturation::new(SaturationSettings::default())),
            Box::new(TruePeakLimiter::new(LimiterSettings::default())),
        ])),
    );
    g.finish();
}

criterion_group!(benches, processors);
criterion_main!(benches);

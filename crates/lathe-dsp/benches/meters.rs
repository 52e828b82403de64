//! Per-meter cost: one second of stereo 48 kHz noise per iteration. Divide the time by 48 000
//! for the cost per stereo sample (criterion's throughput line says elements/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};
use lathe_dsp::signal_stats::SignalStats;
use lathe_dsp::spectrum::ThirdOctaveSpectrum;
use lathe_dsp::true_peak::TruePeakMeter;
use std::hint::black_box;

const FS: usize = 48000;

fn noise(seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..FS)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn meters(c: &mut Criterion) {
    let (l, r) = (noise(1), noise(2));
    let block: [&[f64]; 2] = [&l, &r];
    let mut g = c.benchmark_group("meters_1s_stereo_48k");
    g.throughput(Throughput::Elements(FS as u64));
    g.bench_function("loudness_bs1770", |b| {
        let mut m = LoudnessMeter::new(FS as f64, &ChannelRole::default_layout(2));
        b.iter(|| m.process(black_box(&block)))
    });
    g.bench_function("true_peak_8x_both_channels", |b| {
        let mut m = [TruePeakMeter::new(), TruePeakMeter::new()];
        b.iter(|| {
            m[0].process(black_box(&l));
            m[1].process(black_box(&r));
        })
    });
    g.bench_function("spectrum_third_octave", |b| {
        let mut m = ThirdOctaveSpectrum::new(FS as f64, 2);
        b.iter(|| m.process(black_box(&block)))
    });
    g.bench_function("signal_stats", |b| {
        let mut m = SignalStats::new(2);
        b.iter(|| m.process(black_box(&block)))
    });
    g.finish();
}

criterion_group!(benches, meters);
criterion_main!(benches);

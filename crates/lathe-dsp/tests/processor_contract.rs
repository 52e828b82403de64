//! The processor contract (`src/processor.rs`), checked for every processor by one shared macro:
//! bypass is bit-exact (latency-compensated), `reset()` restores the initial state, the latency
//! measured with an impulse equals `latency_samples()`, and `process()` does not allocate
//! (a counting global allocator, per thread, proves it).

mod test_rng;

use lathe_dsp::bypass::Bypass;
use lathe_dsp::processor::{Processor, StereoBlock};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use test_rng::Rng;

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(|a| a.get())
}

const FS: f64 = 48000.0;
const BLOCK: usize = 512;

fn noise(len: usize, seed: u64, level: f64) -> [Vec<f64>; 2] {
    let mut rng = Rng(seed);
    [
        (0..len).map(|_| level * rng.bipolar()).collect(),
        (0..len).map(|_| level * rng.bipolar()).collect(),
    ]
}

/// Runs `p` over `x` in blocks; returns the output.
fn run(p: &mut dyn Processor, x: &[Vec<f64>; 2]) -> [Vec<f64>; 2] {
    let mut l = x[0].clone();
    let mut r = x[1].clone();
    for (lc, rc) in l.chunks_mut(BLOCK).zip(r.chunks_mut(BLOCK)) {
        p.process(&mut StereoBlock {
            left: lc,
            right: rc,
        });
    }
    [l, r]
}

macro_rules! contract_tests {
    ($name:ident, $make:expr, linear_impulse_level: $imp:expr) => {
        mod $name {
            use super::*;

            fn make() -> Box<dyn Processor> {
                let mut p: Box<dyn Processor> = Box::new($make);
                p.prepare(FS, BLOCK);
                p
            }

            #[test]
            fn bypass_is_bit_exact_and_latency_compensated() {
                let mut p = Bypass::new($make);
                p.prepare(FS, BLOCK);
                p.set_bypassed(true);
                let d = p.latency_samples();
                let mut x = noise(5000 + d, 1, 0.9);
                x[0][17] = f64::MIN_POSITIVE / 4.0; // a denormal passes unchanged too
                x[1][18] = 1.0;
                let y = run(&mut p, &x);
                for ch in 0..2 {
                    assert!(y[ch][..d].iter().all(|&v| v == 0.0));
                    assert_eq!(&y[ch][d..], &x[ch][..x[ch].len() - d], "channel {ch}");
                }
            }

            #[test]
            fn reset_restores_the_initial_state() {
                let x = noise(20000 + 2 * make().latency_samples(), 2, 0.7);
                let mut fresh = make();
                let first = run(fresh.as_mut(), &x);
                let mut used = make();
                run(used.as_mut(), &noise(30000, 3, 1.5));
                used.reset();
                let again = run(used.as_mut(), &x);
                assert_eq!(first, again);
            }

            #[test]
            fn measured_latency_equals_the_reported_latency() {
                let mut p = make();
                let d = p.latency_samples();
                let mut x = [vec![0.0; 4096 + d], vec![0.0; 4096 + d]];
                x[0][1000] = $imp;
                x[1][1000] = $imp;
                let y = run(p.as_mut(), &x);
                let argmax = y[0]
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .unwrap()
                    .0;
                assert_eq!(
                    argmax,
                    1000 + d,
                    "impulse came out at {argmax}, reported latency {d}"
                );
            }

            #[test]
            fn process_does_not_allocate() {
                let mut p = make();
                let x = noise(BLOCK * 20, 4, 0.8);
                let mut l = x[0].clone();
                let mut r = x[1].clone();
                run(p.as_mut(), &x); // warm-up: lazy paths, if any
                let before = allocations();
                for (lc, rc) in l.chunks_mut(BLOCK).zip(r.chunks_mut(BLOCK)) {
                    p.process(&mut StereoBlock {
                        left: lc,
                        right: rc,
                    });
                }
                assert_eq!(allocations() - before, 0, "process() allocated");
            }
        }
    };
}

use lathe_dsp::compressor::{ChannelMode, Compressor, CompressorSettings, Detection};
use lathe_dsp::dither::{Dither, DitherKind};
use lathe_dsp::eq::{BandKind, Eq, EqBand};
use lathe_dsp::gain::{Gain, GainSettings};
use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::multiband::{BandSettings, Multiband, MultibandSettings};
use lathe_dsp::saturate::{
    Clipper, ClipperSettings, Saturation, SaturationKind, SaturationSettings,
};
use lathe_dsp::stereo::{Stereo, StereoSettings};

contract_tests!(gain, Gain::new(GainSettings { gain_db: -3.0, ..Default::default() }), linear_impulse_level: 0.5);
contract_tests!(
    eq,
    Eq::new(vec![
        EqBand { gain_db: 3.0, q: 1.0, ..EqBand::new(BandKind::Bell, 2000.0) },
        EqBand { slope_db_oct: 12, ..EqBand::new(BandKind::HighPass, 20.0) },
    ]),
    linear_impulse_level: 0.5
);
// A band the base-rate biquad cannot follow within 0.05 dB: this EQ runs at twice the rate,
// inside the half-band oversampler, and reports its latency.
contract_tests!(
    eq_oversampled,
    Eq::new(vec![EqBand { gain_db: -12.0, q: 0.5, ..EqBand::new(BandKind::Bell, 10000.0) }]),
    linear_impulse_level: 0.5
);
contract_tests!(
    eq_linear_phase,
    lathe_dsp::linear_phase_eq::LinearPhaseEq::new(vec![
        EqBand { gain_db: 3.0, q: 1.0, ..EqBand::new(BandKind::Bell, 2000.0) },
        EqBand { slope_db_oct: 12, ..EqBand::new(BandKind::HighPass, 20.0) },
    ]),
    linear_impulse_level: 0.5
);
contract_tests!(
    match_eq_mid_side,
    lathe_dsp::linear_phase_eq::LinearPhaseEq::mid_side(
        lathe_dsp::gain_curve::GainCurve::new(vec![100.0, 1000.0, 8000.0], vec![2.0, -1.0, 3.0]),
        lathe_dsp::gain_curve::GainCurve::new(vec![100.0, 1000.0, 8000.0], vec![-6.0, 0.0, 1.0]),
    ),
    linear_impulse_level: 0.5
);
contract_tests!(limiter, TruePeakLimiter::new(LimiterSettings::default()), linear_impulse_level: 0.5);
contract_tests!(
    compressor,
    Compressor::new(CompressorSettings { lookahead_ms: 5.0, sidechain_hpf_hz: 80.0, ..Default::default() }),
    linear_impulse_level: 0.05
);
contract_tests!(
    compressor_ms_rms,
    Compressor::new(CompressorSettings { mode: ChannelMode::MidSide, detection: Detection::Rms, ..Default::default() }),
    linear_impulse_level: 0.05
);
contract_tests!(
    multiband,
    Multiband::new(MultibandSettings { crossovers_hz: vec![120.0, 2500.0], bands: vec![BandSettings::default(); 3] }),
    linear_impulse_level: 0.05
);
contract_tests!(
    stereo,
    Stereo::new(StereoSettings { width: 1.2, mono_below_hz: 120.0, balance: 0.1 }),
    linear_impulse_level: 0.5
);
contract_tests!(dither, Dither::new(24, DitherKind::TpdfShaped, 9), linear_impulse_level: 0.5);
contract_tests!(dither_lipshitz, Dither::new(24, DitherKind::TpdfLipshitz, 9), linear_impulse_level: 0.5);
contract_tests!(saturation_tape, Saturation::new(SaturationSettings::default()), linear_impulse_level: 0.01);
contract_tests!(
    saturation_tube_2x,
    Saturation::new(SaturationSettings { kind: SaturationKind::Tube, oversampling: 2, mix: 0.5, ..Default::default() }),
    linear_impulse_level: 0.01
);
contract_tests!(clipper, Clipper::new(ClipperSettings::default()), linear_impulse_level: 0.5);
contract_tests!(
    transient_shaper,
    lathe_dsp::transient_shaper::TransientShaper::new(lathe_dsp::transient_shaper::TransientSettings {
        attack_db: 4.0,
        sustain_db: -3.0,
        ..Default::default()
    }),
    linear_impulse_level: 0.5
);
contract_tests!(
    resonance,
    lathe_dsp::resonance::ResonanceSuppressor::new(lathe_dsp::resonance::ResonanceSettings::default()),
    linear_impulse_level: 0.5
);
contract_tests!(
    band_imager,
    lathe_dsp::band_imager::BandImager::new(lathe_dsp::band_imager::ImagerSettings {
        crossovers_hz: vec![120.0, 2500.0],
        widths: vec![0.0, 1.2, 1.5],
    }),
    linear_impulse_level: 0.5
);
contract_tests!(
    deesser,
    lathe_dsp::deesser::DeEsser::new(lathe_dsp::deesser::DeEsserSettings::default()),
    linear_impulse_level: 0.5
);
contract_tests!(
    dynamic_eq,
    lathe_dsp::dynamic_eq::DynamicEq::new(vec![
        lathe_dsp::dynamic_eq::DynamicBand { threshold_db: -30.0, ..Default::default() },
        lathe_dsp::dynamic_eq::DynamicBand {
            shape: lathe_dsp::dynamic_eq::DynamicShape::LowShelf,
            freq_hz: 150.0,
            mode: lathe_dsp::dynamic_eq::DynamicMode::Below,
            ..Default::default()
        },
    ]),
    linear_impulse_level: 0.05
);

// ---------------------------------------------------------------------------------------------
// Locked lanes (lathe_dsp::lanes): the main master and its versions through one dynamics stage.
// The reference is arithmetic: with the gain shared, the stage is linear across lanes, so the
// main lane minus the two lanes that sum to it must vanish (to f64 rounding).

use lathe_dsp::lanes::LaneProcessor;

/// Runs `p` over the lanes in blocks; returns every lane's output.
fn run_lanes(p: &mut dyn LaneProcessor, lanes: &[[Vec<f64>; 2]]) -> Vec<[Vec<f64>; 2]> {
    let mut out: Vec<[Vec<f64>; 2]> = lanes.to_vec();
    let len = lanes[0][0].len();
    let mut start = 0;
    while start < len {
        let end = (start + BLOCK).min(len);
        let mut blocks: Vec<StereoBlock> = out
            .iter_mut()
            .map(|[l, r]| StereoBlock {
                left: &mut l[start..end],
                right: &mut r[start..end],
            })
            .collect();
        p.process_lanes(&mut blocks);
        start = end;
    }
    out
}

/// A main mix (lane 0) and the two parts it is the sum of: an "instrumental" of noise and a
/// "vocal" that comes and goes and, in its last third, cancels most of the instrumental (so
/// the instrumental alone peaks where the main does not).
fn main_and_parts(len: usize, level: f64) -> [[Vec<f64>; 2]; 3] {
    let inst = noise(len, 11, level);
    let mut voc = noise(len, 12, level * 0.5);
    for ch in 0..2 {
        for (i, v) in voc[ch].iter_mut().enumerate() {
            if i > 2 * len / 3 {
                *v = -0.97 * inst[ch][i];
            } else if (i / 4000) % 2 == 1 {
                *v *= 0.05;
            }
        }
    }
    let main = [0, 1].map(|ch| inst[ch].iter().zip(&voc[ch]).map(|(a, b)| a + b).collect());
    [main, inst, voc]
}

fn peak_of_difference(a: &[f64], b: &[f64], c: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(c)
        .fold(0.0f64, |m, ((x, y), z)| m.max((x - y - z).abs()))
}

macro_rules! locked_tests {
    ($name:ident, $make:expr, level: $level:expr, lead_is_plain: $plain:expr) => {
        mod $name {
            use super::*;

            fn make(lanes: usize) -> Box<dyn LaneProcessor> {
                let mut p: Box<dyn LaneProcessor> = Box::new($make);
                p.prepare_lanes(FS, BLOCK, lanes);
                p
            }

            #[test]
            fn main_minus_the_parts_vanishes() {
                let x = main_and_parts(60_000, $level);
                let y = run_lanes(make(3).as_mut(), &x);
                for ch in 0..2 {
                    let residual = peak_of_difference(&y[0][ch], &y[1][ch], &y[2][ch]);
                    let level = y[0][ch].iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    eprintln!(
                        "channel {ch}: residual {:.1} dB under the main's peak",
                        20.0 * (level / residual.max(1e-300)).log10()
                    );
                    assert!(residual <= level * 1e-12, "residual {residual:e}");
                }
            }

            #[test]
            fn the_leading_lane_is_what_the_plain_processor_makes() {
                let x = main_and_parts(60_000, $level);
                let y = run_lanes(make(3).as_mut(), &x);
                let alone = run_lanes(make(1).as_mut(), &x[..1]);
                let mut plain: Box<dyn Processor> = Box::new($make);
                plain.prepare(FS, BLOCK);
                assert_eq!(
                    alone[0],
                    run(plain.as_mut(), &x[0]),
                    "one lane = the plain processor"
                );
                if $plain {
                    assert_eq!(y[0], alone[0]);
                }
            }

            #[test]
            fn reset_restores_the_initial_state() {
                let x = main_and_parts(20_000, $level);
                let first = run_lanes(make(3).as_mut(), &x);
                let mut used = make(3);
                run_lanes(used.as_mut(), &main_and_parts(30_000, $level * 1.5));
                used.reset();
                assert_eq!(first, run_lanes(used.as_mut(), &x));
            }

            #[test]
            fn process_lanes_does_not_allocate() {
                let mut p = make(4);
                let mut bufs: Vec<[Vec<f64>; 2]> =
                    (0..4).map(|k| noise(BLOCK, 20 + k, $level)).collect();
                let warm = bufs.clone();
                run_lanes(p.as_mut(), &warm);
                let mut blocks: Vec<StereoBlock> = bufs
                    .iter_mut()
                    .map(|[l, r]| StereoBlock {
                        left: &mut l[..],
                        right: &mut r[..],
                    })
                    .collect();
                let before = allocations();
                for _ in 0..20 {
                    p.process_lanes(&mut blocks);
                }
                assert_eq!(allocations() - before, 0, "process_lanes() allocated");
            }
        }
    };
}

locked_tests!(
    locked_compressor,
    Compressor::new(CompressorSettings { threshold_db: -20.0, ratio: 4.0, lookahead_ms: 5.0, sidechain_hpf_hz: 80.0, ..Default::default() }),
    level: 0.5,
    lead_is_plain: true
);
locked_tests!(
    locked_compressor_ms_rms,
    Compressor::new(CompressorSettings { threshold_db: -20.0, ratio: 3.0, mode: ChannelMode::MidSide, detection: Detection::Rms, ..Default::default() }),
    level: 0.5,
    lead_is_plain: true
);
locked_tests!(
    locked_multiband,
    Multiband::new(MultibandSettings {
        crossovers_hz: vec![120.0, 2500.0],
        bands: vec![BandSettings { compressor: CompressorSettings { threshold_db: -25.0, ratio: 3.0, ..Default::default() }, ..Default::default() }; 3],
    }),
    level: 0.5,
    lead_is_plain: true
);
// The limiter's lanes share the most-reducing gain: the main lane gets more limiting where the
// instrumental alone peaks, so it is not the plain limiter's output there.
locked_tests!(
    locked_limiter,
    TruePeakLimiter::new(LimiterSettings::default()),
    level: 1.2,
    lead_is_plain: false
);

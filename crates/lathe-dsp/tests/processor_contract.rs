//! The processor contract (DESIGN.md §3), checked for every processor by one shared macro:
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

//! The limiter split into its detector and its gain stage (`TruePeakLimiter::into_parts`, what
//! a render runs on two threads) limits exactly as the whole limiter: the same samples bit for
//! bit, the same deepest gain and the same extra reduction of locked lanes, for blocks of any
//! length and any number of lanes.

use lathe_dsp::lanes::LaneProcessor;
use lathe_dsp::limiter::{LimiterSettings, TruePeakLimiter};
use lathe_dsp::processor::StereoBlock;
use std::f64::consts::PI;

/// Lane `k`, channel `c`: loud tones and clicks, well over the ceiling, a little different
/// per lane so that the shared gain is not lane 0's.
fn signal(k: usize, c: usize, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| {
            let t = n as f64 / 48_000.0;
            let tone = (2.0 * PI * (55.0 + 40.0 * k as f64) * t + c as f64).sin();
            let click = if n % (3_001 + 500 * k) < 20 { 0.9 } else { 0.0 };
            (0.8 + 0.3 * k as f64) * tone + click - 0.2 * (2.0 * PI * 9_000.0 * t).cos()
        })
        .collect()
}

fn blocks(lanes: &mut [[Vec<f64>; 2]], range: std::ops::Range<usize>) -> Vec<StereoBlock<'_>> {
    lanes
        .iter_mut()
        .map(|[l, r]| StereoBlock {
            left: &mut l[range.clone()],
            right: &mut r[range.clone()],
        })
        .collect()
}

#[test]
fn parts_apart_limit_as_the_whole_limiter() {
    let len = 40_000;
    // Block lengths below, at and above the limiter's internal chunk (1024), irregular.
    let sizes = [1, 700, 1024, 3000, 4096, 5000, 333];
    for n_lanes in [1, 3] {
        let settings = LimiterSettings::default();
        let input: Vec<[Vec<f64>; 2]> = (0..n_lanes)
            .map(|k| [signal(k, 0, len), signal(k, 1, len)])
            .collect();
        let mut whole = TruePeakLimiter::new(settings);
        whole.prepare_lanes(48_000.0, 4096, n_lanes);
        let mut split = TruePeakLimiter::new(settings);
        split.prepare_lanes(48_000.0, 4096, n_lanes);
        let (mut detector, mut shaper) = split.into_parts();
        let (mut a, mut b) = (input.clone(), input);
        let (mut peaks, mut lead) = (vec![0.0f32; 5000], vec![0.0f32; 5000]);
        let mut at = 0;
        for &size in sizes.iter().cycle() {
            if at == len {
                break;
            }
            let range = at..(at + size).min(len);
            whole.process_lanes(&mut blocks(&mut a, range.clone()));
            let m = range.len();
            for (k, [l, r]) in b.iter().enumerate() {
                detector.detect_lane(k, &l[range.clone()], &r[range.clone()], &mut peaks[..m]);
                if k == 0 {
                    lead[..m].copy_from_slice(&peaks[..m]);
                }
            }
            shaper.process_detected(
                &mut blocks(&mut b, 0..len),
                range.clone(),
                &peaks[..m],
                &lead[..m],
            );
            assert_eq!(whole.take_min_gain(), shaper.take_min_gain());
            assert_eq!(whole.take_extra_reduction(), shaper.take_extra_reduction());
            at = range.end;
        }
        assert_eq!(a, b, "{n_lanes} lanes");
        // Something was limited: the input peaks above 1.3, the output under the −1 dBTP ceiling.
        let peak = a[0][0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            peak < 0.9,
            "the limiter held the output under its ceiling: {peak}"
        );
    }
}

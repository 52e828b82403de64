//! The meters against EBU Tech 3341 (cases 1–6, 9–23) and Tech 3342 (cases 1–4), synthesised
//! from the specification at 44.1, 48 and 96 kHz. Tolerances are the standard's: ±0.1 LU for
//! loudness, ±1 LU for LRA, +0.2/−0.4 dB for true peak.

mod ebu_signals;

use ebu_signals::*;
use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};
use lathe_dsp::true_peak::TruePeakMeter;

fn stereo_meter(fs: f64) -> LoudnessMeter {
    LoudnessMeter::new(fs, &ChannelRole::default_layout(2))
}

fn assert_within(what: &str, got: f64, expected: f64, minus: f64, plus: f64) {
    assert!(
        got >= expected - minus && got <= expected + plus,
        "{what}: read {got:.4}, expected {expected} (+{plus}/−{minus})"
    );
}

/// Integrated loudness of a whole signal.
fn integrated(fs: f64, s: &Signal) -> f64 {
    let mut m = LoudnessMeter::new(fs, &ChannelRole::default_layout(s.channels.len()));
    m.process(&s.planar());
    m.integrated_lufs()
}

/// Feeds `s` in 10 ms chunks and calls `each(meter, seconds_elapsed)` after each chunk.
fn feed_live(fs: f64, s: &Signal, mut each: impl FnMut(&LoudnessMeter, f64)) -> LoudnessMeter {
    let mut m = stereo_meter(fs);
    let chunk = (fs / 100.0) as usize;
    let len = s.channels[0].len();
    let mut start = 0;
    while start < len {
        let end = (start + chunk).min(len);
        let block: Vec<&[f64]> = s.channels.iter().map(|c| &c[start..end]).collect();
        m.process(&block);
        start = end;
        each(&m, start as f64 / fs);
    }
    m
}

fn true_peak_dbtp(s: &Signal) -> f64 {
    s.channels
        .iter()
        .map(|c| {
            let mut tp = TruePeakMeter::new();
            tp.process(c);
            20.0 * tp.finish().log10()
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

macro_rules! ebu_suite {
    ($name:ident, $fs:expr) => {
        mod $name {
            use super::*;
            const FS: f64 = $fs;

            #[test]
            fn tech3341_case1_and_2_steady_tone() {
                for level in [-23.0, -33.0] {
                    let s = tone_segments(FS, &[(20.0, Some(level))]);
                    let m = feed_live(FS, &s, |_, _| {});
                    assert_within("M", m.momentary_lufs(), level, 0.1, 0.1);
                    assert_within("S", m.short_term_lufs(), level, 0.1, 0.1);
                    assert_within("I", m.integrated_lufs(), level, 0.1, 0.1);
                }
            }

            #[test]
            fn tech3341_case3_to_5_gating() {
                let cases: [&[(f64, Option<f64>)]; 3] = [
                    &[
                        (10.0, Some(-36.0)),
                        (60.0, Some(-23.0)),
                        (10.0, Some(-36.0)),
                    ],
                    &[
                        (10.0, Some(-72.0)),
                        (10.0, Some(-36.0)),
                        (60.0, Some(-23.0)),
                        (10.0, Some(-36.0)),
                        (10.0, Some(-72.0)),
                    ],
                    &[
                        (20.0, Some(-26.0)),
                        (20.1, Some(-20.0)),
                        (20.0, Some(-26.0)),
                    ],
                ];
                for (i, segs) in cases.iter().enumerate() {
                    let got = integrated(FS, &tone_segments(FS, segs));
                    assert_within(&format!("case {}", i + 3), got, -23.0, 0.1, 0.1);
                }
            }

            #[test]
            fn tech3341_case6_five_channels() {
                assert_within("case 6", integrated(FS, &case6(FS)), -23.0, 0.1, 0.1);
            }

            #[test]
            fn tech3341_case9_short_term_constant() {
                let seg: Vec<_> = (0..5)
                    .flat_map(|_| [(1.34, Some(-20.0)), (1.66, Some(-30.0))])
                    .collect();
                let s = tone_segments(FS, &seg);
                feed_live(FS, &s, |m, t| {
                    if t >= 3.0 {
                        assert_within(
                            &format!("S at {t:.2} s"),
                            m.short_term_lufs(),
                            -23.0,
                            0.1,
                            0.1,
                        );
                    }
                });
            }

            #[test]
            fn tech3341_case10_max_short_term_file() {
                for i in 0..20 {
                    let s = tone_segments(
                        FS,
                        &[(i as f64 * 0.15, None), (3.0, Some(-23.0)), (1.0, None)],
                    );
                    let mut m = stereo_meter(FS);
                    m.process(&s.planar());
                    assert_within(
                        &format!("file {i}"),
                        m.short_term_max_lufs(),
                        -23.0,
                        0.1,
                        0.1,
                    );
                }
            }

            #[test]
            fn tech3341_case11_max_short_term_live() {
                let mut segs = Vec::new();
                for i in 0..20 {
                    let i = i as f64;
                    segs.extend([
                        (i * 0.15, None),
                        (3.0, Some(-38.0 + i)),
                        (3.0 - i * 0.15, None),
                    ]);
                }
                let s = tone_segments(FS, &segs);
                let mut expected_by_end = Vec::new();
                feed_live(FS, &s, |m, t| {
                    // Each round lasts 6 s; read the running maximum at its end.
                    let round = (t / 6.0).round();
                    if (t - round * 6.0).abs() < 1e-6 && round >= 1.0 {
                        expected_by_end.push((round, m.short_term_max_lufs()));
                    }
                });
                assert_eq!(expected_by_end.len(), 20);
                for (round, max) in expected_by_end {
                    assert_within(&format!("round {round}"), max, -39.0 + round, 0.1, 0.1);
                }
            }

            #[test]
            fn tech3341_case12_momentary_constant() {
                let seg: Vec<_> = (0..25)
                    .flat_map(|_| [(0.18, Some(-20.0)), (0.22, Some(-30.0))])
                    .collect();
                let s = tone_segments(FS, &seg);
                feed_live(FS, &s, |m, t| {
                    if t >= 1.0 {
                        assert_within(
                            &format!("M at {t:.2} s"),
                            m.momentary_lufs(),
                            -23.0,
                            0.1,
                            0.1,
                        );
                    }
                });
            }

            #[test]
            fn tech3341_case13_max_momentary_file() {
                for i in 0..20 {
                    let s = tone_segments(
                        FS,
                        &[(i as f64 * 0.02, None), (0.4, Some(-23.0)), (1.0, None)],
                    );
                    let mut m = stereo_meter(FS);
                    m.process(&s.planar());
                    assert_within(
                        &format!("file {i}"),
                        m.momentary_max_lufs(),
                        -23.0,
                        0.1,
                        0.1,
                    );
                }
            }

            #[test]
            fn tech3341_case14_max_momentary_live() {
                let mut segs = Vec::new();
                for i in 0..20 {
                    let i = i as f64;
                    segs.extend([
                        (i * 0.02, None),
                        (0.4, Some(-38.0 + i)),
                        (0.4 - i * 0.02, None),
                    ]);
                }
                let s = tone_segments(FS, &segs);
                let mut reads = Vec::new();
                feed_live(FS, &s, |m, t| {
                    let round = (t / 0.8).round();
                    if (t - round * 0.8).abs() < 1e-6 && round >= 1.0 {
                        reads.push((round, m.momentary_max_lufs()));
                    }
                });
                assert_eq!(reads.len(), 20);
                for (round, max) in reads {
                    assert_within(&format!("round {round}"), max, -39.0 + round, 0.1, 0.1);
                }
            }

            #[test]
            fn tech3341_case15_to_19_true_peak_sines() {
                let cases = [
                    (15, FS / 4.0, 0.5, 0.0, -6.0),
                    (16, FS / 4.0, 0.5, 45.0, -6.0),
                    (17, FS / 6.0, 0.5, 60.0, -6.0),
                    (18, FS / 8.0, 0.5, 67.5, -6.0),
                    (19, FS / 4.0, 1.41, 45.0, 3.0),
                ];
                for (case, f, amp, phase, expected) in cases {
                    let tp = true_peak_dbtp(&tp_sine(FS, f, amp, phase));
                    assert_within(&format!("case {case}"), tp, expected, 0.4, 0.2);
                }
            }

            #[test]
            fn tech3341_case20_to_23_true_peak_burst() {
                for offset in 0..4 {
                    let tp = true_peak_dbtp(&tp_burst(FS, offset));
                    assert_within(&format!("case {}", 20 + offset), tp, 0.0, 0.4, 0.2);
                }
            }

            #[test]
            fn tech3342_case1_to_4_loudness_range() {
                let cases: [(&[f64], f64); 4] = [
                    (&[-20.0, -30.0], 10.0),
                    (&[-20.0, -15.0], 5.0),
                    (&[-40.0, -20.0], 20.0),
                    (&[-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
                ];
                for (i, (levels, expected)) in cases.iter().enumerate() {
                    let segs: Vec<_> = levels.iter().map(|&l| (20.0, Some(l))).collect();
                    let mut m = stereo_meter(FS);
                    m.process(&tone_segments(FS, &segs).planar());
                    assert_within(
                        &format!("3342 case {}", i + 1),
                        m.loudness_range_lu(),
                        *expected,
                        1.0,
                        1.0,
                    );
                }
            }
        }
    };
}

ebu_suite!(at_44100, 44100.0);
ebu_suite!(at_48000, 48000.0);
ebu_suite!(at_96000, 96000.0);

/// The K-weighting of BS.1770-5 is defined by its 48 kHz coefficient table. A stereo 1 kHz sine
/// of peak A reads −0.691 + 10·log10(2 · A²/2 · |H(1 kHz)|²) with H from that table; our meter,
/// whose coefficients are re-derived from an analog prototype, must agree within 0.01 LU.
#[test]
fn steady_tone_matches_the_bs1770_table_response_at_48k() {
    use lathe_dsp::biquad::BiquadCoefficients;
    let table = [
        BiquadCoefficients {
            b0: 1.53512485958697,
            b1: -2.69169618940638,
            b2: 1.19839281085285,
            a1: -1.69065929318241,
            a2: 0.73248077421585,
        },
        BiquadCoefficients {
            b0: 1.0,
            b1: -2.0,
            b2: 1.0,
            a1: -1.99004745483398,
            a2: 0.99007225036621,
        },
    ];
    for freq in [100.0, 1000.0, 5000.0] {
        let gain: f64 = table.iter().map(|c| c.response(freq, 48000.0).0).product();
        let amp = 10f64.powf(-23.0 / 20.0);
        let expected = -0.691 + 10.0 * (amp * amp * gain * gain).log10();
        let len = 20 * 48000;
        let x: Vec<f64> = (0..len)
            .map(|n| amp * (2.0 * std::f64::consts::PI * freq * n as f64 / 48000.0).sin())
            .collect();
        let mut m = stereo_meter(48000.0);
        m.process(&[&x, &x]);
        let got = m.integrated_lufs();
        assert!(
            (got - expected).abs() < 0.01,
            "{freq} Hz: {got} vs {expected}"
        );
    }
}

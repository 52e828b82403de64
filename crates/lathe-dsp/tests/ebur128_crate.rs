//! Differential test against an independent implementation: the `ebur128` crate (a port of
//! libebur128). On level-varying noise, our integrated loudness, 1 Hz LRA and momentary /
//! short-term maxima read on a 10 ms grid must equal its readings to rounding.

use ebur128::{EbuR128, Mode};
use lathe_dsp::loudness::{ChannelRole, LoudnessMeter};

/// Noise bursts whose level changes every 0.7 s (−50 … −10 dBFS), with a silent gap.
fn programme(fs: usize, channels: usize, seconds: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let len = fs * seconds;
    let seg = fs * 7 / 10;
    let mut levels = Vec::new();
    for _ in 0..=len / seg {
        levels.push(10f64.powf((-50.0 + 40.0 * rnd()) / 20.0));
    }
    (0..channels)
        .map(|_| {
            (0..len)
                .map(|n| {
                    let silent = (n / fs) == 5;
                    if silent {
                        0.0
                    } else {
                        levels[n / seg] * (2.0 * rnd() - 1.0)
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn readings_equal_the_ebur128_crate() {
    compare(usize::MAX, 1e-3, 1e-3);
}

/// Past [`EXACT_BLOCKS`](lathe_dsp::block_energies::EXACT_BLOCKS) (27 minutes) the meter keeps
/// its gating blocks in 0.01 LU bins. Turned on after 20 blocks here, so that almost all of
/// each programme is read from the bins: I stays within a few thousandths of an LU of the
/// exact meter's, LRA within two bins (one at each end).
#[test]
fn histogram_readings_stay_close_to_the_ebur128_crate() {
    compare(20, 5e-3, 0.02);
}

fn compare(exact_blocks: usize, tol_i: f64, tol_lra: f64) {
    for (fs, channels) in [
        (44100usize, 2usize),
        (48000, 1),
        (32000, 5),
        (96000, 6),
        (48000, 2),
    ] {
        let x = programme(fs, channels, 25, fs as u64 + channels as u64);
        let planar: Vec<&[f64]> = x.iter().map(|c| c.as_slice()).collect();
        let mut ours = LoudnessMeter::new(fs as f64, &ChannelRole::default_layout(channels))
            .with_exact_blocks(exact_blocks);
        ours.process(&planar);

        let mut theirs = EbuR128::new(
            channels as u32,
            fs as u32,
            Mode::I | Mode::LRA | Mode::M | Mode::S,
        )
        .unwrap();
        let (mut m_max, mut s_max) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let step = fs / 100;
        for start in (0..x[0].len()).step_by(step) {
            let block: Vec<&[f64]> = x.iter().map(|c| &c[start..start + step]).collect();
            theirs.add_frames_planar_f64(&block).unwrap();
            m_max = m_max.max(theirs.loudness_momentary().unwrap());
            s_max = s_max.max(theirs.loudness_shortterm().unwrap());
        }
        let case = format!("{fs} Hz, {channels} ch");
        let close = |what: &str, a: f64, b: f64, tol: f64| {
            assert!(
                (a - b).abs() <= tol,
                "{case}: {what}: ours {a:.5}, ebur128 {b:.5}"
            );
        };
        close(
            "I",
            ours.integrated_lufs(),
            theirs.loudness_global().unwrap(),
            tol_i,
        );
        close(
            "LRA (1 Hz)",
            ours.loudness_range_1hz_lu(),
            theirs.loudness_range().unwrap(),
            tol_lra,
        );
        close("M max", ours.momentary_max_lufs(), m_max, 1e-3);
        close("S max", ours.short_term_max_lufs(), s_max, 1e-3);
    }
}

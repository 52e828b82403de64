//! The transient shaper against its specification: on synthetic hits (decaying noise bursts
//! every 300 ms), the energy of each hit's first 10 ms changes by the set attack dB within
//! 0.5 dB, at −30 and −6 dBFS alike; the set sustain moves the tail (50–250 ms after each
//! onset) in its direction by at least half the set dB while the attack stays within 1 dB; a
//! shaper set to 0 dB passes the signal bit for bit.

mod test_rng;

use lathe_dsp::processor::{Processor, StereoBlock};
use lathe_dsp::transient_shaper::{TransientSettings, TransientShaper};
use test_rng::Rng;

const FS: f64 = 48000.0;
const PERIOD: usize = 14400; // 300 ms
const HITS: usize = 12;

/// Hits of peak level `level_db`: noise with a 60 ms exponential decay.
fn hits(level_db: f64) -> Vec<f64> {
    let amp = 10f64.powf(level_db / 20.0);
    let mut rng = Rng(3);
    (0..PERIOD * HITS)
        .map(|n| {
            let t = (n % PERIOD) as f64 / FS;
            amp * (-t / 0.06).exp() * rng.bipolar()
        })
        .collect()
}

fn run(s: TransientSettings, x: &[f64]) -> Vec<f64> {
    let mut p = TransientShaper::new(s);
    p.prepare(FS, 512);
    let (mut l, mut r) = (x.to_vec(), x.to_vec());
    for (lc, rc) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
        p.process(&mut StereoBlock {
            left: lc,
            right: rc,
        });
    }
    l
}

/// Energy change (dB) from `x` to `y` over [from, to) seconds after every onset but the first.
fn change_db(x: &[f64], y: &[f64], from_s: f64, to_s: f64) -> f64 {
    let (a, b) = ((from_s * FS) as usize, (to_s * FS) as usize);
    let energy = |v: &[f64]| -> f64 {
        (1..HITS)
            .map(|h| {
                v[h * PERIOD + a..h * PERIOD + b]
                    .iter()
                    .map(|s| s * s)
                    .sum::<f64>()
            })
            .sum()
    };
    10.0 * (energy(y) / energy(x)).log10()
}

#[test]
fn the_attack_changes_by_the_set_db_at_any_level() {
    for attack_db in [6.0, -6.0, 3.0] {
        for level_db in [-30.0, -6.0] {
            let x = hits(level_db);
            let s = TransientSettings {
                attack_db,
                ..Default::default()
            };
            let y = run(s, &x);
            let got = change_db(&x, &y, 0.0, 0.010);
            let tail = change_db(&x, &y, 0.05, 0.25);
            eprintln!("attack {attack_db:+} dB at {level_db} dBFS: first 10 ms {got:+.2} dB, tail {tail:+.2} dB");
            assert!(
                (got - attack_db).abs() <= 0.5,
                "attack {attack_db}: got {got:+.2} dB"
            );
            assert!(
                tail.abs() <= 0.25 * attack_db.abs(),
                "the tail moved {tail:+.2} dB"
            );
        }
    }
}

#[test]
fn the_sustain_moves_the_tail_and_leaves_the_attack() {
    for sustain_db in [-6.0, 6.0] {
        for level_db in [-30.0, -6.0] {
            let x = hits(level_db);
            let y = run(
                TransientSettings {
                    sustain_db,
                    ..Default::default()
                },
                &x,
            );
            let tail = change_db(&x, &y, 0.05, 0.25);
            let attack = change_db(&x, &y, 0.0, 0.005);
            eprintln!("sustain {sustain_db:+} dB at {level_db} dBFS: tail {tail:+.2} dB, attack {attack:+.2} dB");
            assert!(
                tail * sustain_db.signum() >= 0.5 * sustain_db.abs(),
                "tail {tail:+.2} dB"
            );
            assert!(attack.abs() <= 1.0, "attack {attack:+.2} dB");
        }
    }
}

#[test]
fn zero_settings_pass_bit_for_bit() {
    let x = hits(-6.0);
    assert_eq!(run(TransientSettings::default(), &x), x);
}

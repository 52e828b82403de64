//! What the vinyl preset adds to the default chain, and why. A lacquer is cut by a stylus
//! that moves sideways for the mid and up and down for the side: large out-of-phase bass
//! makes a groove too shallow or too deep (the stylus lifts out, or the cutter digs through),
//! and loud high frequencies mean accelerations the cutter head cannot follow (it heats up)
//! and that a playback stylus turns into distortion. Cutting engineers fix both with an
//! elliptic EQ and HF limiters; a premaster that has them in check is cut as mastered.

use lathe_dsp::compressor::Detection;
use lathe_dsp::deesser::DeEsserSettings;
use lathe_dsp::dynamic_eq::{DynamicBand, DynamicMode, DynamicShape};

use crate::spec::chain::{DynamicEqSpec, ProcessorSpec, StereoSpec};

/// The corner of the side's high-pass (an "elliptic EQ"; cutting rooms use 100–300 Hz).
/// Two 4th-order Linkwitz–Riley splits in a row make it 48 dB/octave: the side is 12 dB
/// down at 200 Hz, 25 dB at 150 Hz and 49 dB at 100 Hz, and within about 1 dB from 400 Hz
/// up, so the bass is mono below about 150 Hz and the width above it is kept. (One split
/// at 150 Hz left the side of the corpus mixes only 16–23 dB under the mid below 150 Hz.)
pub const MONO_CORNER_HZ: f64 = 200.0;

/// The vinyl stages after the default chain, for a mix of the given integrated loudness
/// (the chain runs before the gain to the target, so levels are relative to the mix's):
/// - the bass folded to mono (see [`MONO_CORNER_HZ`]; each split passes the mid through
///   the matching all-pass, so the sum stays flat);
/// - a gentle de-esser above 6 kHz (at most 4 dB, only where the 6 kHz+ band holds more than
///   a tenth of the power: sibilant syllables, not cymbals in general);
/// - a dynamic high shelf at 10 kHz that lowers the top octave by at most 4 dB while it is
///   louder than 16 dB under the mix's loudness (bright transients, not the air of the mix).
pub fn stages(input_integrated_lufs: f64) -> Vec<ProcessorSpec> {
    let mono = ProcessorSpec::Stereo(StereoSpec {
        mono_below_hz: MONO_CORNER_HZ,
        ..StereoSpec::default()
    });
    vec![
        mono.clone(),
        mono,
        ProcessorSpec::Deesser(DeEsserSettings {
            freq_hz: 6000.0,
            threshold_db: -10.0,
            depth_db: 4.0,
            attack_ms: 1.0,
            release_ms: 60.0,
        }),
        ProcessorSpec::DynamicEq(DynamicEqSpec {
            bands: vec![DynamicBand {
                shape: DynamicShape::HighShelf,
                freq_hz: 10_000.0,
                q: 0.7,
                threshold_db: (input_integrated_lufs - 16.0).clamp(-80.0, -10.0),
                ratio: 2.0,
                range_db: 4.0,
                attack_ms: 2.0,
                release_ms: 80.0,
                mode: DynamicMode::Above,
                detection: Detection::Rms,
            }],
            key: None,
        }),
    ]
}

//! lathe-dsp: processors and meters.
//!
//! Pure DSP: no files, no threads, no allocation once a meter or processor is prepared (but
//! for the loudness meters' gating blocks, which grow up to a fixed size).
//! One file per idea: [`biquad`] (coefficients apart from state), [`loudness`] (BS.1770 / EBU
//! R128), [`block_energies`] (its gating blocks in bounded memory), [`oversample`] (polyphase
//! windowed-sinc upsampler), [`true_peak`] (the ≥8x meter built on it), [`spectrum`]
//! (1/3-octave Welch average), [`signal_stats`] (sample peak, DC, correlation, clipping),
//! [`window`] (Kaiser and Hann windows).
// Audited `unsafe` calls: the AVX2/FMA dispatch in `simd` and `oversample::simd`.
#![deny(unsafe_code)]

pub mod band_imager;
pub mod biquad;
pub mod block_energies;
pub mod bypass;
pub mod compressor;
pub mod crossover;
pub mod crossover_tree;
pub mod deesser;
pub mod delay;
pub mod dither;
pub mod dynamic_eq;
pub mod eq;
pub mod fast_math;
pub mod fft_plans;
pub mod frame_ring;
pub mod gain;
pub mod gain_curve;
pub mod halfband;
pub mod k_block;
pub mod lanes;
pub mod limiter;
pub mod limiter_detector;
pub mod limiter_estimate;
pub mod limiter_gain;
pub mod linear_phase_eq;
pub mod loudness;
pub mod lufs;
pub mod matched;
pub mod mid_side_spectrum;
pub mod multiband;
pub mod oversample;
pub mod probe_loudness;
pub mod processor;
pub mod resonance;
pub mod saturate;
pub mod signal_stats;
pub mod simd;
pub mod smoothing;
pub mod spectrum;
pub mod stereo;
pub mod tonal_match;
pub mod transient_shaper;
pub mod true_peak;
pub mod window;

#[cfg(test)]
mod test_noise;

/// Converts a linear amplitude to decibels (−∞ for 0).
#[inline]
pub fn lin_to_db(lin: f64) -> f64 {
    20.0 * lin.log10()
}

/// Converts decibels to a linear amplitude.
#[inline]
pub fn db_to_lin(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

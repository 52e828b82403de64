//! From the first pass's predictions to the first gain, and the matching correction.

use lathe_dsp::mid_side_spectrum::MidSideSpectrum;

/// The limited output's spectrum at `gain_db`, interpolated (in dB, band by band) between the
/// two probed candidates nearest it.
pub(super) fn spectrum_at(
    probes: &[(f64, MidSideSpectrum)],
    gain_db: f64,
) -> Option<MidSideSpectrum> {
    let mut near: Vec<&(f64, MidSideSpectrum)> = probes.iter().collect();
    near.sort_by(|a, b| (a.0 - gain_db).abs().total_cmp(&(b.0 - gain_db).abs()));
    let (g0, s0) = near.first()?;
    let Some((g1, s1)) = near.get(1) else {
        return Some(s0.clone());
    };
    let t = ((gain_db - g0) / (g1 - g0)).clamp(-1.0, 2.0);
    Some(MidSideSpectrum::interpolate_db(s0, s1, t))
}

/// The slope d(loudness)/d(gain) of the estimator's predictions between the two predicted
/// gains nearest `gain_db`, held within 0.2…1.5 (as the secant steps are).
pub(super) fn slope_near(predictions: &[(f64, f64)], gain_db: f64) -> Option<f64> {
    let mut p: Vec<(f64, f64)> = predictions
        .iter()
        .copied()
        .filter(|(g, l)| g.is_finite() && l.is_finite())
        .collect();
    p.sort_by(|a, b| (a.0 - gain_db).abs().total_cmp(&(b.0 - gain_db).abs()));
    let [(g0, l0), (g1, l1), ..] = p.as_slice() else {
        return None;
    };
    (g1 != g0).then(|| ((l1 - l0) / (g1 - g0)).clamp(0.2, 1.5))
}

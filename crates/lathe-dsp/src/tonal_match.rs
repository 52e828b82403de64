//! The match EQ of reference matching: mid and side gain curves that give a mix the tonal
//! balance of a reference.
//!
//! 1. Both are compared in 1/3-octave bands (ISO 266, 20 Hz–20 kHz; [`MidSideSpectrum`]:
//!    long-term power over the loudest sections) — the log-frequency smoothing. Bands the
//!    input barely has ([`NOISE_FLOOR_DB`] below its loudest band) or that either file cannot
//!    hold (past its Nyquist) get no point; the curve is straight across them and flat
//!    beyond the last point, so nothing is boosted out of noise.
//! 2. The wanted change per band is `reference − input`, less one common offset (the median of
//!    the mid bands' differences: level is the loudness stage's job, not the EQ's).
//! 3. One curve point per band, on its nominal frequency. Since a band's power after the EQ is
//!    the input's power weighted by the whole curve across the band, the points are refined
//!    ([`REFINE_STEPS`] fixed-point steps on the input's 1/12-octave spectrum) until the
//!    predicted band powers land on the wanted ones.
//! 4. Amounts (DESIGN: `--match eq=…,width=…`): mid = `eq·M`, side = `eq·M + width·(S − M)`
//!    with M, S the full mid and side curves. So `width` moves only the side/mid balance of
//!    every band, `eq` the tonal balance of both, and 0.5 lands half way in dB. Last, every
//!    point is held within the boost and cut limits.

use crate::gain_curve::{GainCurve, MAX_CURVE_GAIN_DB};
use crate::mid_side_spectrum::{Lane, MidSideSpectrum};
use crate::spectrum::BAND_NOMINAL_HZ;

/// Bands of the input this far below its loudest band get no curve point, dB.
pub const NOISE_FLOOR_DB: f64 = 70.0;
/// Refinement steps of the curve points.
pub const REFINE_STEPS: usize = 8;

/// 1/3-octave levels (dB, one per [`BAND_NOMINAL_HZ`] entry, `None` where unknown) of mid
/// and side.
#[derive(Clone, Debug, PartialEq)]
pub struct ThirdOctaveLevels {
    pub mid_db: Vec<Option<f64>>,
    pub side_db: Vec<Option<f64>>,
}

impl ThirdOctaveLevels {
    pub fn of(s: &MidSideSpectrum) -> Self {
        Self {
            mid_db: s.third_octave_db(Lane::Mid),
            side_db: s.third_octave_db(Lane::Side),
        }
    }

    /// The weighted blend of several references' levels, each first offset by its own
    /// `level_db` (its loudness) so that only their tonal shapes are blended; a band missing
    /// from some references is the blend of those that have it.
    pub fn blend(refs: &[(ThirdOctaveLevels, f64, f64)]) -> Self {
        let lane = |pick: fn(&ThirdOctaveLevels) -> &Vec<Option<f64>>| {
            (0..BAND_NOMINAL_HZ.len())
                .map(|i| {
                    let (sum, w) = refs
                        .iter()
                        .filter_map(|(r, weight, level)| {
                            pick(r)[i].map(|v| ((v - level) * weight, *weight))
                        })
                        .fold((0.0, 0.0), |(s, w), (v, x)| (s + v, w + x));
                    (w > 0.0).then(|| sum / w)
                })
                .collect()
        };
        Self {
            mid_db: lane(|r| &r.mid_db),
            side_db: lane(|r| &r.side_db),
        }
    }
}

/// The full (amount 1, unlimited) curves and what they were made from.
#[derive(Clone, Debug)]
pub struct FullMatch {
    /// Curve point frequencies (nominal band centres), Hz.
    pub freqs_hz: Vec<f64>,
    /// Band index of every point.
    pub bands: Vec<usize>,
    /// Wanted change per point (reference − input − offset), mid and side, dB.
    pub wanted_mid_db: Vec<f64>,
    pub wanted_side_db: Vec<f64>,
    /// Refined curve points that realise the wanted change, dB.
    pub mid_db: Vec<f64>,
    pub side_db: Vec<f64>,
    /// The common offset removed (median mid difference), dB.
    pub offset_db: f64,
}

/// Limits on the final curves, dB (positive numbers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurveLimits {
    pub max_boost_db: f64,
    pub max_cut_db: f64,
}

impl FullMatch {
    /// Compares `input` with `reference` and refines the curve points.
    pub fn new(input: &MidSideSpectrum, reference: &ThirdOctaveLevels) -> Self {
        let here = ThirdOctaveLevels::of(input);
        let loudest = here
            .mid_db
            .iter()
            .chain(&here.side_db)
            .flatten()
            .fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        let usable = |v: Option<f64>| v.filter(|v| *v > loudest - NOISE_FLOOR_DB);
        // A point needs both lanes of both files (mid and side curves share the points).
        let bands: Vec<usize> = (0..BAND_NOMINAL_HZ.len())
            .filter(|&i| {
                usable(here.mid_db[i]).is_some()
                    && usable(here.side_db[i]).is_some()
                    && reference.mid_db[i].is_some()
                    && reference.side_db[i].is_some()
            })
            .collect();
        let diff = |a: &[Option<f64>], b: &[Option<f64>]| -> Vec<f64> {
            bands
                .iter()
                .map(|&i| a[i].expect("usable") - b[i].expect("usable"))
                .collect()
        };
        let mid = diff(&reference.mid_db, &here.mid_db);
        let side = diff(&reference.side_db, &here.side_db);
        let offset_db = median(&mid);
        let wanted_mid_db: Vec<f64> = mid.iter().map(|d| d - offset_db).collect();
        let wanted_side_db: Vec<f64> = side.iter().map(|d| d - offset_db).collect();
        let freqs_hz: Vec<f64> = bands.iter().map(|&i| BAND_NOMINAL_HZ[i]).collect();
        let mid_db = refine(input, Lane::Mid, &bands, &freqs_hz, &wanted_mid_db);
        let side_db = refine(input, Lane::Side, &bands, &freqs_hz, &wanted_side_db);
        Self {
            freqs_hz,
            bands,
            wanted_mid_db,
            wanted_side_db,
            mid_db,
            side_db,
            offset_db,
        }
    }

    /// The mid and side curves for the given amounts (0…1), held within `limits`.
    ///
    /// A common offset of both curves is only level, which the loudness stage takes back; so
    /// when the curves reach past a limit on one side only, they are first moved as a whole
    /// (by as little as needed) to fit, and only what still does not fit is clipped.
    pub fn curves(&self, eq: f64, width: f64, limits: CurveLimits) -> (GainCurve, GainCurve) {
        let mid: Vec<f64> = self.mid_db.iter().map(|m| eq * m).collect();
        let side: Vec<f64> = self
            .mid_db
            .iter()
            .zip(&self.side_db)
            .map(|(m, s)| eq * m + width * (s - m))
            .collect();
        let (lo, hi) = mid
            .iter()
            .chain(&side)
            .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        // Shifts c with every point within limits: hi − boost ≤ c ≤ lo + cut.
        let (c_min, c_max) = (hi - limits.max_boost_db, lo + limits.max_cut_db);
        let shift = if c_min <= c_max {
            0f64.clamp(c_min, c_max)
        } else {
            0.5 * (c_min + c_max)
        };
        let fit = |g: &f64| (g - shift).clamp(-limits.max_cut_db, limits.max_boost_db);
        let mid: Vec<f64> = mid.iter().map(fit).collect();
        let side: Vec<f64> = side.iter().map(fit).collect();
        (
            GainCurve::new(self.freqs_hz.clone(), mid),
            GainCurve::new(self.freqs_hz.clone(), side),
        )
    }
}

/// The change (dB) `curve` makes to the power of each of `bands` of `lane` of `input`.
pub fn predicted_change_db(
    input: &MidSideSpectrum,
    lane: Lane,
    bands: &[usize],
    curve: &GainCurve,
) -> Vec<f64> {
    let p = input.lane(lane);
    let centres = input.fine_centres_hz();
    bands
        .iter()
        .map(|&i| {
            let r = input.fine_range(i).expect("points are on usable bands");
            let (before, after) = r.fold((0.0, 0.0), |(b, a), k| {
                let m = curve.magnitude(centres[k]);
                (b + p[k], a + p[k] * m * m)
            });
            10.0 * (after / before).log10()
        })
        .collect()
}

/// Curve points whose predicted change per band is `wanted` (fixed-point refinement).
fn refine(
    input: &MidSideSpectrum,
    lane: Lane,
    bands: &[usize],
    freqs_hz: &[f64],
    wanted: &[f64],
) -> Vec<f64> {
    let mut gains = wanted.to_vec();
    for _ in 0..REFINE_STEPS {
        let curve = GainCurve::new(freqs_hz.to_vec(), gains.clone());
        let got = predicted_change_db(input, lane, bands, &curve);
        for ((g, w), p) in gains.iter_mut().zip(wanted).zip(got) {
            *g = (*g + w - p).clamp(-MAX_CURVE_GAIN_DB, MAX_CURVE_GAIN_DB);
        }
    }
    gains
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

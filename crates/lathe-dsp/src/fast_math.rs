//! Branch-free `exp`, `ln` and `tanh` for f64 that the compiler can vectorise.
//!
//! `f64::exp` and friends are calls into libm, which stop a loop from being vectorised. These
//! use only arithmetic, comparisons and bit operations: range reduction by powers of two and a
//! polynomial, accurate to a few ulps over the documented ranges (checked against libm in the
//! tests below). They are for audio-rate curves (saturation, gain computers), not for design code.

use std::f64::consts::{LN_2, LOG2_E, SQRT_2};

/// 1.5·2⁵²: adding it rounds a double of magnitude < 2⁵¹ to an integer held in the low
/// mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
/// ln 2 split so that `k·LN2_HI` is exact for |k| < 2¹¹.
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// e^x for any x; results below 2⁻¹⁰²¹ flush towards zero, above 2¹⁰²³ saturate.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    let t = x * LOG2_E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // e^r for |r| ≤ ln2/2 by its Taylor series to r¹² (remainder < 2e-17).
    const C: [f64; 13] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
    ];
    let mut p = C[12];
    for c in C[..12].iter().rev() {
        p = p * r + c;
    }
    let ki = (t.to_bits() as i64).wrapping_sub(ROUND_MAGIC.to_bits() as i64);
    p * f64::from_bits(((ki + 1023) << 52) as u64)
}

/// ln x for positive normal x (the caller keeps x away from 0, ∞ and NaN).
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    // Fold the mantissa into [√½, √2) so that the series argument stays small.
    let big = m > SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let exponent = exponent + big as i64;
    // ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.172: odd series to s¹⁹ (remainder < 2e-17).
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut p = 1.0 / 19.0;
    for d in [17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        p = p * s2 + 1.0 / d;
    }
    exponent as f64 * LN_2 + 2.0 * s * p
}

/// tanh x, odd by construction.
#[inline(always)]
pub fn tanh(x: f64) -> f64 {
    let a = x.abs().min(20.0);
    let e = exp(2.0 * a);
    (1.0 - 2.0 / (e + 1.0)).copysign(x)
}

/// e^x in f32 for any x; results under 2⁻¹²⁶ flush towards zero, above 2¹²⁷ saturate. A few
/// ulps (tested against libm).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let (scale, q) = exp_parts_f32(x);
    scale * q + scale
}

/// ln x in f32 for positive normal x (the caller keeps x away from 0, ∞ and NaN); a few ulps
/// away from 1, absolutely accurate near it (tested against libm).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let exponent = exponent + big as i32;
    // ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.172: odd series to s⁹ (remainder < 3e-9).
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = (((s2 * (1.0 / 9.0) + 1.0 / 7.0) * s2 + 1.0 / 5.0) * s2 + 1.0 / 3.0) * s2 + 1.0;
    exponent as f32 * std::f32::consts::LN_2 + 2.0 * s * p
}

/// tanh x in f32, without the cancellation of `1 − 2/(e^{2x} + 1)` near 0: it goes through
/// e^{2|x|} − 1 computed without subtracting 1 from a rounded exponential, so small arguments
/// keep their relative accuracy (a few ulps everywhere; tested against libm).
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs().min(9.0);
    let e = expm1_f32(2.0 * a);
    (e / (e + 2.0)).copysign(x)
}

/// e^x − 1 for 0 ≤ x ≤ 18 in f32, a few ulps: x = k·ln2 + r with |r| ≤ ln2/2, e^x − 1 =
/// 2^k·q(r) + (2^k − 1), q(r) = e^r − 1 by its Taylor series (no constant term, so no
/// cancellation when k = 0).
#[inline(always)]
fn expm1_f32(x: f32) -> f32 {
    let (scale, q) = exp_parts_f32(x);
    scale * q + (scale - 1.0)
}

/// e^x = 2^k·(1 + q) with |x − k·ln2| ≤ ln2/2: returns (2^k, q), q = e^r − 1 by its Taylor
/// series without the constant term (so e^x − 1 keeps its accuracy when k = 0).
#[inline(always)]
fn exp_parts_f32(x: f32) -> (f32, f32) {
    const ROUND_MAGIC_F32: f32 = 12_582_912.0; // 1.5·2²³
    const LN2_HI_F32: f32 = 0.693_359_4;
    const LN2_LO_F32: f32 = -2.121_944_4e-4;
    let t = x * std::f32::consts::LOG2_E + ROUND_MAGIC_F32;
    let k = t - ROUND_MAGIC_F32;
    let r = (x - k * LN2_HI_F32) - k * LN2_LO_F32;
    // q(r) = r + r²/2! + … + r⁸/8! (remainder < 2e-10 relative for |r| ≤ 0.35).
    const C: [f32; 8] = [
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
    ];
    let mut p = C[7];
    for c in C[..7].iter().rev() {
        p = p * r + c;
    }
    let q = p * r;
    let ki = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC_F32.to_bits() as i32);
    (f32::from_bits(((ki + 127) << 23) as u32), q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        ((a - b) / b.abs().max(f64::MIN_POSITIVE)).abs() / f64::EPSILON
    }

    fn sweep(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f64 / n as f64)
    }

    #[test]
    fn exp_is_within_4_ulps_of_libm() {
        for x in sweep(-700.0, 700.0, 200_003).chain(sweep(-1.0, 1.0, 10_007)) {
            let u = ulps(exp(x), x.exp());
            assert!(u <= 4.0, "exp({x}): {u} ulps");
        }
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn ln_is_within_4_ulps_of_libm_away_from_1() {
        for x in sweep(-300.0, 300.0, 100_003).map(|e| 10f64.powf(e)) {
            let want = x.ln();
            // Near x = 1 the result is tiny; compare absolutely there.
            let err = (ln(x) - want).abs();
            assert!(
                err <= 4.0 * f64::EPSILON * want.abs().max(1.0),
                "ln({x}) = {} vs {want}",
                ln(x)
            );
        }
        assert_eq!(ln(1.0), 0.0);
    }

    fn ulps_f32(got: f32, want: f64) -> f64 {
        (got as f64 - want).abs() / (want.abs() * f32::EPSILON as f64).max(1e-45)
    }

    #[test]
    fn exp_f32_is_within_4_ulps_of_libm() {
        for x in sweep(-87.0, 88.0, 200_003).chain(sweep(-1.0, 1.0, 10_007)) {
            let x = x as f32;
            let u = ulps_f32(exp_f32(x), (x as f64).exp());
            assert!(u <= 4.0, "exp_f32({x}): {u:.1} ulps");
        }
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn ln_f32_is_within_4_ulps_of_libm_away_from_1() {
        for x in sweep(-37.0, 38.0, 100_003).map(|e| 10f64.powf(e) as f32) {
            let want = (x as f64).ln();
            let err = (ln_f32(x) as f64 - want).abs();
            assert!(
                err <= 4.0 * f32::EPSILON as f64 * want.abs().max(1.0),
                "ln_f32({x}) = {} vs {want}",
                ln_f32(x)
            );
        }
        assert_eq!(ln_f32(1.0), 0.0);
    }

    #[test]
    fn tanh_f32_is_within_4_ulps_of_libm_and_odd() {
        for x in sweep(-25.0, 25.0, 200_001)
            .chain(sweep(-1e-3, 1e-3, 1001))
            .chain((0..60).map(|e| 2f64.powi(-e)))
        {
            let x = x as f32;
            let (t, want) = (tanh_f32(x), (x as f64).tanh());
            let err = (t as f64 - want).abs() / (want.abs() * f32::EPSILON as f64).max(1e-45);
            assert!(err <= 4.0, "tanh_f32({x}) = {t} vs {want}: {err:.1} ulps");
            assert_eq!(tanh_f32(-x), -t);
        }
    }

    #[test]
    fn tanh_is_within_1e_15_of_libm_and_odd() {
        for x in sweep(-25.0, 25.0, 100_001).chain(sweep(-1e-3, 1e-3, 1001)) {
            let (t, want) = (tanh(x), x.tanh());
            assert!((t - want).abs() <= 1e-15, "tanh({x}) = {t} vs {want}");
            assert_eq!(tanh(-x), -t);
        }
    }
}

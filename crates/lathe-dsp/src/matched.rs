//! Digital biquads whose magnitude matches an analog prototype up to near Nyquist, without the
//! bilinear transform's cramping: the *matched* design of M. Vicanek, "Matched Second Order
//! Digital Filters" (2016).
//!
//! - Poles: the analog poles mapped exactly, `z = e^{sT}` (impulse invariance of the poles).
//! - Zeros: chosen so that the digital magnitude equals the analog one at DC, at Nyquist and at
//!   one more frequency (the section's natural frequency, capped at 0.45·fs); the numerator is
//!   then minimum phase. First-order sections match at DC and Nyquist.
//!
//! A matched biquad still deviates from its prototype between the matching points (by up to
//! ~1 dB for broad bells and shelves near the top of the band at 44.1 kHz). [`AnalogSection::fit`]
//! therefore refines it: Levenberg–Marquardt on the five coefficients, minimising the error in
//! dB on a log-spaced grid from 10 Hz to 0.46·fs, keeping the poles inside the unit circle.
//!
//! Analog sections are written with `s` in rad/s: `H(s) = (n2 s² + n1 s + n0) / (d2 s² + d1 s + d0)`.

use crate::biquad::BiquadCoefficients;
use std::f64::consts::PI;

/// A first- or second-order analog section (`n2 = d2 = 0` for first order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalogSection {
    pub num: [f64; 3],
    pub den: [f64; 3],
}

/// Complex number helper (re, im).
type C = (f64, f64);

fn c_div(a: C, b: C) -> C {
    let d = b.0 * b.0 + b.1 * b.1;
    ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
}

impl AnalogSection {
    /// |H(j·2πf)|.
    pub fn magnitude(&self, freq_hz: f64) -> f64 {
        let w = 2.0 * PI * freq_hz;
        let [n2, n1, n0] = self.num;
        let [d2, d1, d0] = self.den;
        let num = (n0 - n2 * w * w, n1 * w);
        let den = (d0 - d2 * w * w, d1 * w);
        let h = c_div(num, den);
        (h.0 * h.0 + h.1 * h.1).sqrt()
    }

    /// Natural frequency of the denominator, Hz.
    pub fn pole_freq_hz(&self) -> f64 {
        let [d2, d1, d0] = self.den;
        if d2 != 0.0 {
            (d0 / d2).sqrt() / (2.0 * PI)
        } else {
            (d0 / d1) / (2.0 * PI)
        }
    }

    /// The matched digital section at `sample_rate_hz`.
    pub fn to_digital(&self, sample_rate_hz: f64) -> BiquadCoefficients {
        let t = 1.0 / sample_rate_hz;
        let [d2, d1, d0] = self.den;
        if d2 == 0.0 {
            // First order: pole s = −d0/d1.
            let p = (-(d0 / d1) * t).exp();
            let a1 = -p;
            let h_dc = self.magnitude(0.0);
            let h_ny = self.magnitude(sample_rate_hz / 2.0);
            // (b0 + b1) / (1 + a1) = H(DC), (b0 − b1) / (1 − a1) = |H(Nyquist)|.
            let sum = (1.0 + a1) * h_dc;
            let diff = (1.0 - a1) * h_ny;
            return BiquadCoefficients {
                b0: (sum + diff) / 2.0,
                b1: (sum - diff) / 2.0,
                b2: 0.0,
                a1,
                a2: 0.0,
            };
        }
        // Poles of s² + (d1/d2) s + d0/d2.
        let (b, c) = (d1 / d2, d0 / d2);
        let disc = b * b / 4.0 - c;
        let (a1, a2) = if disc < 0.0 {
            let (re, im) = (-b / 2.0, (-disc).sqrt());
            let r = (re * t).exp();
            (-2.0 * r * (im * t).cos(), r * r)
        } else {
            let (s1, s2) = (-b / 2.0 + disc.sqrt(), -b / 2.0 - disc.sqrt());
            let (z1, z2) = ((s1 * t).exp(), (s2 * t).exp());
            (-(z1 + z2), z1 * z2)
        };
        let den_mag2 = |w: f64| {
            let (s1, c1) = w.sin_cos();
            let (s2, c2) = (2.0 * w).sin_cos();
            let re = 1.0 + a1 * c1 + a2 * c2;
            let im = -(a1 * s1 + a2 * s2);
            re * re + im * im
        };
        let target2 = |f: f64| self.magnitude(f).powi(2);
        let b0_cap = target2(0.0) * den_mag2(0.0);
        let b1_cap = target2(sample_rate_hz / 2.0) * den_mag2(PI);
        let fm = self.pole_freq_hz().min(0.45 * sample_rate_hz);
        let wm = 2.0 * PI * fm * t;
        let phi1 = (wm / 2.0).sin().powi(2);
        let phi0 = 1.0 - phi1;
        let phi2 = 4.0 * phi0 * phi1;
        let b2_cap = (target2(fm) * den_mag2(wm) - b0_cap * phi0 - b1_cap * phi1) / phi2;
        if self.num[1] == 0.0 && self.num[2] == 0.0 {
            // A double zero at DC (a high-pass): keep it, numerator k·(1 − z⁻¹)², with k
            // matching the magnitude at fm. (The general three-point match would give only one
            // zero at DC and a wrong shape.)
            let num_unit2 = |w: f64| (2.0 - 2.0 * w.cos()).powi(2); // |1 − e^{−jw}|⁴
            let k = (target2(fm) * den_mag2(wm) / num_unit2(wm)).sqrt();
            return BiquadCoefficients {
                b0: k,
                b1: -2.0 * k,
                b2: k,
                a1,
                a2,
            };
        }
        let (r0, r1) = (b0_cap.sqrt(), b1_cap.sqrt());
        let w_sum = (r0 + r1) / 2.0;
        let root = (w_sum * w_sum + b2_cap).max(0.0).sqrt();
        let b0 = (w_sum + root) / 2.0;
        let b2 = w_sum - b0;
        let b1 = (r0 - r1) / 2.0;
        BiquadCoefficients { b0, b1, b2, a1, a2 }
    }
}

/// Error measure used by the fit: dB, with levels below −60 dB compressed 20:1 (a stop band
/// must stay a stop band, but its exact depth does not matter).
fn soft_db(db: f64) -> f64 {
    const KNEE: f64 = -30.0;
    if db > KNEE {
        db
    } else {
        KNEE + (db - KNEE) * 0.05
    }
}

fn response_db(p: &[f64; 5], f: f64, fs: f64) -> f64 {
    let c = BiquadCoefficients {
        b0: p[0],
        b1: p[1],
        b2: p[2],
        a1: p[3],
        a2: p[4],
    };
    20.0 * c.response(f, fs).0.max(1e-300).log10()
}

fn stable(p: &[f64; 5]) -> bool {
    p[4].abs() < 0.999_999 && p[3].abs() < 1.0 + p[4] - 1e-9
}

/// Solves the 5×5 (or smaller, `n`) system `m x = v` by Gaussian elimination with pivoting.
fn solve(mut m: [[f64; 5]; 5], mut v: [f64; 5], n: usize) -> Option<[f64; 5]> {
    for c in 0..n {
        let p = (c..n).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        if m[p][c].abs() < 1e-300 {
            return None;
        }
        m.swap(c, p);
        v.swap(c, p);
        for r in c + 1..n {
            let k = m[r][c] / m[c][c];
            let pivot_row = m[c];
            for (x, y) in m[r].iter_mut().zip(pivot_row).skip(c) {
                *x -= k * y;
            }
            v[r] -= k * v[c];
        }
    }
    let mut x = [0.0; 5];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|j| m[r][j] * x[j]).sum();
        x[r] = (v[r] - s) / m[r][r];
    }
    Some(x)
}

impl AnalogSection {
    /// The matched section refined by a least-squares fit of its magnitude in dB to the
    /// prototype's, from 10 Hz to 0.46·fs.
    pub fn fit(&self, sample_rate_hz: f64) -> BiquadCoefficients {
        self.fit_below(sample_rate_hz, 0.46 * sample_rate_hz)
    }

    /// As [`AnalogSection::fit`], fitting from 10 Hz to `top_hz` only (for a section that runs
    /// oversampled: only the band that reaches the output matters).
    pub fn fit_below(&self, sample_rate_hz: f64, top_hz: f64) -> BiquadCoefficients {
        let fs = sample_rate_hz;
        let init = self.to_digital(fs);
        let first_order = self.den[0] == 0.0;
        let double_dc_zero = !first_order && self.num[1] == 0.0 && self.num[2] == 0.0;
        // A single zero at DC (band-pass): b0 + b1 + b2 = 0 stays exact, so that the fit does
        // not spend itself on the skirt below the passband.
        let dc_zero = !first_order && !double_dc_zero && self.num[2] == 0.0;
        // Free parameters: b0 b1 b2 a1 a2; b0 b1 a1 for a first-order section; b0 a1 a2 for a
        // high-pass section, whose numerator stays b0·(1, −2, 1); b0 b1 a1 a2 with a zero at DC.
        let idx: &[usize] = if first_order {
            &[0, 1, 3]
        } else if double_dc_zero {
            &[0, 3, 4]
        } else if dc_zero {
            &[0, 1, 3, 4]
        } else {
            &[0, 1, 2, 3, 4]
        };
        let constrain = |p: &mut [f64; 5]| {
            if double_dc_zero {
                p[1] = -2.0 * p[0];
                p[2] = p[0];
            } else if dc_zero {
                p[2] = -(p[0] + p[1]);
            }
        };
        let n = idx.len();
        let grid: Vec<f64> = (0..160)
            .map(|i| 10.0 * (top_hz / 10.0f64).powf(i as f64 / 159.0))
            .collect();
        let target: Vec<f64> = grid
            .iter()
            .map(|&f| soft_db(20.0 * self.magnitude(f).max(1e-300).log10()))
            .collect();
        let residuals = |p: &[f64; 5]| -> Vec<f64> {
            grid.iter()
                .zip(&target)
                .map(|(&f, &t)| soft_db(response_db(p, f, fs)) - t)
                .collect()
        };
        // Sum of fourth powers: close to a minimax fit, which is what the 0.1 dB bound asks for.
        let cost = |r: &[f64]| r.iter().map(|x| x * x * x * x).sum::<f64>();
        let mut p = [init.b0, init.b1, init.b2, init.a1, init.a2];
        let mut r = residuals(&p);
        let mut c = cost(&r);
        let mut lambda = 1e-3;
        for _ in 0..200 {
            if r.iter().all(|x| x.abs() < 0.002) {
                break;
            }
            // Jacobian by central differences.
            let mut jac = vec![[0.0f64; 5]; grid.len()];
            for (k, &i) in idx.iter().enumerate() {
                let h = 1e-7 * p[i].abs().max(1e-3);
                let (mut up, mut dn) = (p, p);
                up[i] += h;
                dn[i] -= h;
                constrain(&mut up);
                constrain(&mut dn);
                let (ru, rd) = (residuals(&up), residuals(&dn));
                for (row, (a, b)) in jac.iter_mut().zip(ru.iter().zip(&rd)) {
                    row[k] = (a - b) / (2.0 * h);
                }
            }
            let mut jtj = [[0.0f64; 5]; 5];
            let mut jtr = [0.0f64; 5];
            // Iteratively reweighted: weights r² turn the least-squares step into one for Σr⁴.
            for (row, res) in jac.iter().zip(&r) {
                let w = (res * res).max(1e-6);
                for a in 0..n {
                    jtr[a] += w * row[a] * res;
                    for b in 0..n {
                        jtj[a][b] += w * row[a] * row[b];
                    }
                }
            }
            let mut improved = false;
            for _ in 0..10 {
                let mut m = jtj;
                for a in 0..n {
                    m[a][a] += lambda * jtj[a][a].max(1e-12);
                }
                let neg: [f64; 5] = std::array::from_fn(|a| -jtr[a]);
                let Some(step) = solve(m, neg, n) else { break };
                let mut q = p;
                for (k, &i) in idx.iter().enumerate() {
                    q[i] += step[k];
                }
                constrain(&mut q);
                if stable(&q) || first_order && q[3].abs() < 0.999_999 {
                    let rq = residuals(&q);
                    let cq = cost(&rq);
                    if cq < c {
                        p = q;
                        r = rq;
                        c = cq;
                        lambda = (lambda * 0.3).max(1e-12);
                        improved = true;
                        break;
                    }
                }
                lambda *= 10.0;
            }
            if !improved {
                break;
            }
        }
        // Keep whichever of the matched start and the fit has the smaller worst-case error.
        let worst = |r: &[f64]| r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let init_p = [init.b0, init.b1, init.b2, init.a1, init.a2];
        if worst(&residuals(&init_p)) <= worst(&r) {
            return init;
        }
        BiquadCoefficients {
            b0: p[0],
            b1: p[1],
            b2: p[2],
            a1: p[3],
            a2: p[4],
        }
    }
}

//! Window functions.

/// Zeroth-order modified Bessel function of the first kind, by its power series.
pub fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..200 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Kaiser window value at position `t ∈ [−1, 1]` (0 = centre) for shape `beta`.
pub fn kaiser(t: f64, beta: f64) -> f64 {
    Kaiser::new(beta).at(t)
}

/// A Kaiser window of one shape, for many positions: its normalisation I0(β) is computed once.
#[derive(Clone, Copy, Debug)]
pub struct Kaiser {
    beta: f64,
    i0_beta: f64,
}

impl Kaiser {
    pub fn new(beta: f64) -> Self {
        Self {
            beta,
            i0_beta: bessel_i0(beta),
        }
    }

    /// The value at position `t ∈ [−1, 1]` (0 = centre); 0 outside. Equal to [`kaiser`].
    pub fn at(&self, t: f64) -> f64 {
        if t.abs() > 1.0 {
            return 0.0;
        }
        bessel_i0(self.beta * (1.0 - t * t).sqrt()) / self.i0_beta
    }
}

/// Kaiser's formula for the `beta` that gives `attenuation_db` of stopband rejection.
pub fn kaiser_beta(attenuation_db: f64) -> f64 {
    let a = attenuation_db;
    if a > 50.0 {
        0.1102 * (a - 8.7)
    } else if a >= 21.0 {
        0.5842 * (a - 21.0).powf(0.4) + 0.07886 * (a - 21.0)
    } else {
        0.0
    }
}

/// Periodic Hann window of length `len` (for Welch averaging with 50 % overlap).
pub fn hann_periodic(len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / len as f64).cos())
        .collect()
}

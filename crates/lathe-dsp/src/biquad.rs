//! Second-order IIR sections: coefficients apart from state.
//!
//! Transposed direct form II in f64. Coefficients are normalised so that `a0 = 1`:
//! `y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] − a1 y[n-1] − a2 y[n-2]`.

/// Normalised biquad coefficients (`a0 = 1`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BiquadCoefficients {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

impl BiquadCoefficients {
    /// The identity filter.
    pub const IDENTITY: Self = Self {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    /// Complex frequency response `H(e^{jω})` at `freq_hz` for a filter running at
    /// `sample_rate_hz`, returned as (magnitude, phase in radians).
    pub fn response(&self, freq_hz: f64, sample_rate_hz: f64) -> (f64, f64) {
        let w = 2.0 * std::f64::consts::PI * freq_hz / sample_rate_hz;
        let (s1, c1) = w.sin_cos();
        let (s2, c2) = (2.0 * w).sin_cos();
        // e^{-jw} = c1 - j s1
        let num_re = self.b0 + self.b1 * c1 + self.b2 * c2;
        let num_im = -(self.b1 * s1 + self.b2 * s2);
        let den_re = 1.0 + self.a1 * c1 + self.a2 * c2;
        let den_im = -(self.a1 * s1 + self.a2 * s2);
        let den_mag2 = den_re * den_re + den_im * den_im;
        let re = (num_re * den_re + num_im * den_im) / den_mag2;
        let im = (num_im * den_re - num_re * den_im) / den_mag2;
        ((re * re + im * im).sqrt(), im.atan2(re))
    }
}

/// State of one biquad section (transposed direct form II).
#[derive(Clone, Copy, Debug, Default)]
pub struct BiquadState {
    pub(crate) s1: f64,
    pub(crate) s2: f64,
}

impl BiquadState {
    /// Filters one sample.
    #[inline(always)]
    pub fn tick(&mut self, c: &BiquadCoefficients, x: f64) -> f64 {
        let y = c.b0 * x + self.s1;
        self.s1 = c.b1 * x - c.a1 * y + self.s2;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }

    /// Clears the delay line.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

impl BiquadState {
    /// Sets state values too small to matter (< 1e-30) to zero, so that silence after a signal
    /// does not leave the filter computing on denormals (which can be 100x slower).
    #[inline]
    pub fn flush_denormals(&mut self) {
        if self.s1.abs() < 1e-30 {
            self.s1 = 0.0;
        }
        if self.s2.abs() < 1e-30 {
            self.s2 = 0.0;
        }
    }
}

/// State of one biquad section running on a stereo pair (two lanes, one coefficient set):
/// both channels advance in the same vector instructions.
#[derive(Clone, Copy, Debug, Default)]
pub struct StereoBiquadState {
    s1: [f64; 2],
    s2: [f64; 2],
}

impl StereoBiquadState {
    /// Filters one frame.
    #[inline(always)]
    pub fn tick(&mut self, c: &BiquadCoefficients, x: [f64; 2]) -> [f64; 2] {
        let mut y = [0.0; 2];
        for l in 0..2 {
            y[l] = c.b0 * x[l] + self.s1[l];
            self.s1[l] = c.b1 * x[l] - c.a1 * y[l] + self.s2[l];
            self.s2[l] = c.b2 * x[l] - c.a2 * y[l];
        }
        y
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// As [`BiquadState::flush_denormals`].
    #[inline]
    pub fn flush_denormals(&mut self) {
        for v in self.s1.iter_mut().chain(self.s2.iter_mut()) {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
    }
}

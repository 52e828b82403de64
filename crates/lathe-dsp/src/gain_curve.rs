//! A gain curve drawn through points: (frequency in Hz, gain in dB), joined by straight lines
//! in dB over log frequency, flat beyond the first and the last point. It is the response of
//! the match EQ ([`crate::linear_phase_eq::LinearPhaseEq::mid_side`]): a shape an engineer can
//! read and edit point by point, applied exactly (linear phase) rather than approximated by
//! a few filters.

/// Largest boost or cut a curve point may ask for, dB.
pub const MAX_CURVE_GAIN_DB: f64 = 48.0;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct GainCurve {
    /// Point frequencies, Hz, strictly increasing.
    pub freqs_hz: Vec<f64>,
    /// Gain at each point, dB.
    pub gains_db: Vec<f64>,
}

impl GainCurve {
    pub fn new(freqs_hz: Vec<f64>, gains_db: Vec<f64>) -> Self {
        Self { freqs_hz, gains_db }
    }

    /// A flat curve (0 dB everywhere) on the given points.
    pub fn flat(freqs_hz: &[f64]) -> Self {
        Self::new(freqs_hz.to_vec(), vec![0.0; freqs_hz.len()])
    }

    /// Checks the points; the error names what is wrong (the caller adds the key).
    pub fn validate(&self) -> Result<(), String> {
        if self.freqs_hz.len() != self.gains_db.len() {
            return Err(format!(
                "has {} frequencies but {} gains",
                self.freqs_hz.len(),
                self.gains_db.len()
            ));
        }
        if let Some(f) = self.freqs_hz.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
            return Err(format!("frequencies must be positive, got {f}"));
        }
        if self.freqs_hz.windows(2).any(|w| w[1] <= w[0]) {
            return Err("frequencies must increase".into());
        }
        if let Some(g) = self
            .gains_db
            .iter()
            .find(|g| !(g.is_finite() && g.abs() <= MAX_CURVE_GAIN_DB))
        {
            return Err(format!(
                "gains must be within −{MAX_CURVE_GAIN_DB}…{MAX_CURVE_GAIN_DB} dB, got {g}"
            ));
        }
        Ok(())
    }

    /// True when every point is 0 dB (the curve does nothing).
    pub fn is_flat(&self) -> bool {
        self.gains_db.iter().all(|g| *g == 0.0)
    }

    /// Gain at `freq_hz`, dB (0 for a curve without points).
    pub fn gain_db_at(&self, freq_hz: f64) -> f64 {
        let (f, g) = (&self.freqs_hz, &self.gains_db);
        match f.len() {
            0 => return 0.0,
            _ if freq_hz <= f[0] => return g[0],
            n if freq_hz >= f[n - 1] => return g[n - 1],
            _ => {}
        }
        // The segment holding freq_hz: f[i] ≤ freq_hz < f[i + 1].
        let i = f.partition_point(|&x| x <= freq_hz) - 1;
        let t = (freq_hz / f[i]).log2() / (f[i + 1] / f[i]).log2();
        g[i] + t * (g[i + 1] - g[i])
    }

    /// Linear magnitude at `freq_hz`.
    pub fn magnitude(&self, freq_hz: f64) -> f64 {
        crate::db_to_lin(self.gain_db_at(freq_hz))
    }

    /// Linear magnitudes at the `count` frequencies `0, step_hz, 2·step_hz, …`: [`Self::magnitude`]
    /// at each (bit for bit), found by walking the segments in order instead of searching
    /// for each one (a filter design samples tens of thousands of points).
    pub fn magnitudes_on_grid(&self, step_hz: f64, count: usize) -> Vec<f64> {
        let (f, g) = (&self.freqs_hz, &self.gains_db);
        let Some(&last) = f.last() else {
            return vec![1.0; count];
        };
        let mut i = 0;
        // log2 of the current segment's frequency ratio.
        let mut octaves = f.get(1).map_or(1.0, |f1| (f1 / f[0]).log2());
        (0..count)
            .map(|k| {
                let freq = k as f64 * step_hz;
                let db = if freq <= f[0] {
                    g[0]
                } else if freq >= last {
                    g[g.len() - 1]
                } else {
                    while f[i + 1] <= freq {
                        i += 1;
                        octaves = (f[i + 1] / f[i]).log2();
                    }
                    let t = (freq / f[i]).log2() / octaves;
                    g[i] + t * (g[i + 1] - g[i])
                };
                crate::db_to_lin(db)
            })
            .collect()
    }

    /// The curve with every gain multiplied by `amount` (0 = flat, 1 = unchanged).
    pub fn scaled(&self, amount: f64) -> Self {
        Self::new(
            self.freqs_hz.clone(),
            self.gains_db.iter().map(|g| g * amount).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grid walk gives what the point-by-point search gives, bit for bit, on either side
    /// of the points and between them.
    #[test]
    fn grid_magnitudes_equal_the_pointwise_ones() {
        let c = GainCurve::new(
            vec![31.5, 100.0, 400.0, 1600.0, 16_000.0],
            vec![-3.0, 0.0, 6.0, -6.0, 12.0],
        );
        let step = 44_100.0 / 4096.0;
        let grid = c.magnitudes_on_grid(step, 2049);
        for (k, m) in grid.iter().enumerate() {
            assert_eq!(*m, c.magnitude(k as f64 * step), "point {k}");
        }
        assert_eq!(GainCurve::default().magnitudes_on_grid(1.0, 3), [1.0; 3]);
        let one = GainCurve::new(vec![1000.0], vec![6.0]);
        assert_eq!(one.magnitudes_on_grid(700.0, 3), [one.magnitude(0.0); 3]);
    }

    #[test]
    fn points_are_met_and_joined_on_log_frequency() {
        let c = GainCurve::new(vec![100.0, 400.0, 1600.0], vec![0.0, 6.0, -6.0]);
        assert_eq!(c.gain_db_at(100.0), 0.0);
        assert_eq!(c.gain_db_at(400.0), 6.0);
        // 200 Hz is half way (one octave of two) from 100 to 400 Hz.
        assert!((c.gain_db_at(200.0) - 3.0).abs() < 1e-12);
        assert!((c.gain_db_at(800.0) - 0.0).abs() < 1e-12);
        assert_eq!(c.gain_db_at(10.0), 0.0);
        assert_eq!(c.gain_db_at(20000.0), -6.0);
    }

    #[test]
    fn bad_points_are_refused() {
        assert!(GainCurve::new(vec![100.0, 100.0], vec![0.0, 0.0])
            .validate()
            .is_err());
        assert!(GainCurve::new(vec![100.0], vec![0.0, 1.0])
            .validate()
            .is_err());
        assert!(GainCurve::new(vec![100.0], vec![60.0]).validate().is_err());
        assert!(GainCurve::new(vec![100.0, 200.0], vec![3.0, -3.0])
            .validate()
            .is_ok());
    }
}

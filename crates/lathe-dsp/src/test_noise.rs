//! A deterministic noise source for the unit tests (a 64-bit LCG), so that they need no RNG
//! crate and every run sees the same signal.

/// Uniform noise in [−0.5, 0.5) from a seed.
pub(crate) struct TestNoise(pub u64);

impl TestNoise {
    pub(crate) fn next_centred(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

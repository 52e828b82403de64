//! Loudness units and channel-weighted energy (BS.1770's −0.691 dB offset), and the absolute
//! gate: the scale that the meters and their gating blocks share.

/// The absolute gate of BS.1770 in LUFS.
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;

/// Converts a channel-weighted mean square to loudness in LUFS.
#[inline]
pub fn energy_to_lufs(energy: f64) -> f64 {
    -0.691 + 10.0 * energy.log10()
}

/// Converts loudness in LUFS back to a channel-weighted mean square.
#[inline]
pub fn lufs_to_energy(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

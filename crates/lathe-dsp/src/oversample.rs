//! Polyphase windowed-sinc upsampling by 8.
//!
//! The prototype is a Kaiser-windowed sinc at the 8x rate with its cutoff at the *input*
//! Nyquist frequency and [`TAPS_PER_PHASE`] taps per phase. Because the sinc's zeros fall on
//! multiples of 8, phase 0 is a pure delay: the original samples pass through unchanged and the
//! other seven phases are the interpolated points between them. With β chosen for 50 dB of
//! rejection the passband is flat within ±0.03 dB and images are ≤ −50 dB outside
//! 0.5 ± 0.047·fs (measured in this crate's tests).
//!
//! The coefficients are stored tap-major (`[tap][phase]`) so that one input sample times one
//! row updates all eight phases at once; the compiler turns that into SIMD multiply-adds.
//! Arithmetic is in `f32`: the interpolated values are used for peak detection, where a
//! relative error of 1e-7 is 1e-6 dB.

use crate::window::{kaiser, kaiser_beta};

/// Oversampling factor.
pub const FACTOR: usize = 8;
/// Taps per polyphase branch (the prototype has `FACTOR × TAPS_PER_PHASE` taps).
pub const TAPS_PER_PHASE: usize = 32;
/// Stopband rejection the Kaiser window is designed for, dB.
const REJECTION_DB: f64 = 50.0;

/// The polyphase coefficient table, `[tap][phase]`.
#[derive(Clone, Debug)]
pub struct UpsamplerCoefficients {
    rows: Vec<[f32; FACTOR]>,
    /// For two outputs at once (16 lanes): `pairs[m]` = [rows[m − 1], rows[m]], zero rows past
    /// either end, so that input sample x[i + 1 − m] feeds output i (first eight lanes) and
    /// output i + 1 (last eight) in one multiply-add.
    pairs: Vec<[f32; 2 * FACTOR]>,
    /// max over phases of Σ_k |h_p[k]|, slightly raised to cover `f32` rounding: no output
    /// exceeds this times the largest |input| among the taps that produced it.
    gain_bound: f32,
}

impl UpsamplerCoefficients {
    /// Designs the 8x Kaiser-windowed-sinc prototype and splits it into phases.
    pub fn new() -> Self {
        use std::f64::consts::PI;
        let len = FACTOR * TAPS_PER_PHASE;
        let centre = (len / 2) as f64;
        let beta = kaiser_beta(REJECTION_DB);
        let mut proto = vec![0.0f64; len];
        for (n, h) in proto.iter_mut().enumerate() {
            let t = (n as f64 - centre) / FACTOR as f64;
            let sinc = if n % FACTOR == (len / 2) % FACTOR {
                // On the original sample grid: exactly 1 at the centre and 0 elsewhere.
                if t == 0.0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                (PI * t).sin() / (PI * t)
            };
            *h = sinc * kaiser((n as f64 - centre) / centre, beta);
        }
        // Output phase p at input index m is sum_k proto[k*FACTOR + p] * x[m - k].
        let mut rows = vec![[0.0f32; FACTOR]; TAPS_PER_PHASE];
        for (k, row) in rows.iter_mut().enumerate() {
            for (p, c) in row.iter_mut().enumerate() {
                *c = proto[k * FACTOR + p] as f32;
            }
        }
        let l1 = (0..FACTOR)
            .map(|p| rows.iter().map(|r| r[p].abs() as f64).sum::<f64>())
            .fold(0.0, f64::max);
        // A 32-term f32 dot product is off by at most ~32·2⁻²⁴ of Σ|terms|; 1e-5 covers it.
        let gain_bound = (l1 * (1.0 + 1e-5)) as f32;
        let pairs = (0..=TAPS_PER_PHASE)
            .map(|m| {
                let mut pair = [0.0f32; 2 * FACTOR];
                if m > 0 {
                    pair[..FACTOR].copy_from_slice(&rows[m - 1]);
                }
                if m < TAPS_PER_PHASE {
                    pair[FACTOR..].copy_from_slice(&rows[m]);
                }
                pair
            })
            .collect();
        Self {
            rows,
            pairs,
            gain_bound,
        }
    }

    /// The bound on |output| / max |input over the taps| (the filter's L1 norm), ≈ 2.4.
    pub fn gain_bound(&self) -> f32 {
        self.gain_bound
    }

    /// Delay of the upsampler in input samples: output phase 0 at input index `m` equals the
    /// input sample `m − LATENCY`.
    pub const LATENCY: usize = TAPS_PER_PHASE / 2;
}

impl Default for UpsamplerCoefficients {
    fn default() -> Self {
        Self::new()
    }
}

/// Streaming 8x upsampler for one channel.
#[derive(Clone, Debug)]
pub struct Upsampler {
    coefs: UpsamplerCoefficients,
    /// Input history: the last `TAPS_PER_PHASE − 1` samples, followed by the current block.
    history: Vec<f32>,
    /// Whether this CPU has AVX2 and FMA (checked once, at construction).
    wide_simd: bool,
}

/// Input samples per internal block (the history buffer holds one block plus the filter span).
pub const BLOCK: usize = 1024;
/// Rows per chunk that [`Upsampler::process_block_above`] may skip. A chunk's rows read
/// `SKIP_CHUNK + TAPS_PER_PHASE − 1` samples, which two pieces of this length cover.
const SKIP_CHUNK: usize = 32;
const _: () = assert!(TAPS_PER_PHASE - 1 <= SKIP_CHUNK);
/// Pieces of [`SKIP_CHUNK`] samples in a block's span (history and block), and a spare one
/// past the end (0) so that the last chunk can read two.
const PIECES: usize = (TAPS_PER_PHASE - 1 + BLOCK).div_ceil(SKIP_CHUNK) + 1;

impl Upsampler {
    pub fn new() -> Self {
        Self {
            coefs: UpsamplerCoefficients::new(),
            history: vec![0.0; TAPS_PER_PHASE - 1 + BLOCK],
            wide_simd: simd::wide_simd_available(),
        }
    }

    /// Upsamples `input` (at most [`BLOCK`] samples): `out[i]` receives the eight output samples
    /// completed by `input[i]`, delayed by [`UpsamplerCoefficients::LATENCY`] input samples.
    pub fn process_block(&mut self, input: &[f64], out: &mut [[f32; FACTOR]]) {
        assert!(input.len() <= BLOCK && out.len() >= input.len());
        let keep = TAPS_PER_PHASE - 1;
        for (h, &x) in self.history[keep..].iter_mut().zip(input) {
            *h = x as f32;
        }
        let span = &self.history[..keep + input.len()];
        simd::upsample(self.wide_simd, &self.coefs, span, &mut out[..input.len()]);
        // Slide the last `keep` samples to the front for the next block.
        self.history.copy_within(input.len()..input.len() + keep, 0);
    }

    /// Like [`Upsampler::process_block`], but a chunk of rows whose values provably stay at or
    /// below `floor` is not computed: rows of such a chunk get the exact delayed input as
    /// phase 0 and an upper bound (≤ `floor`) of their |values| as the other phases, except
    /// the chunk's last row, which is computed. So every computed row has computed (or exact
    /// phase-0) neighbours, and a caller that only acts on values above `floor` (a limiter's
    /// gain computer, a peak meter) sees the same result as with every row computed — much
    /// faster when most of the signal sits a few dB under the threshold. Returns the number of
    /// rows computed.
    pub fn process_block_above(
        &mut self,
        input: &[f64],
        out: &mut [[f32; FACTOR]],
        floor: f32,
    ) -> usize {
        assert!(input.len() <= BLOCK && out.len() >= input.len());
        let keep = TAPS_PER_PHASE - 1;
        for (h, &x) in self.history[keep..].iter_mut().zip(input) {
            *h = x as f32;
        }
        let span = &self.history[..keep + input.len()];
        // Output row i depends on span[i ..= i + keep], so a chunk's rows on the two aligned
        // pieces of span from its start: each piece's largest |sample| is found once, not
        // once for every chunk that reads it.
        let mut piece_max = [0.0f32; PIECES];
        for (m, piece) in piece_max.iter_mut().zip(span.chunks(SKIP_CHUNK)) {
            *m = max_abs_piece(piece);
        }
        let mut computed = 0;
        let mut start = 0;
        while start < input.len() {
            let end = (start + SKIP_CHUNK).min(input.len());
            let piece = start / SKIP_CHUNK;
            let max_in = larger(piece_max[piece], piece_max[piece + 1]);
            let bound = max_in * self.coefs.gain_bound;
            if bound <= floor && end - start > 1 {
                for (i, row) in out[start..end - 1].iter_mut().enumerate() {
                    *row = [bound; FACTOR];
                    row[0] = span[start + i + keep - UpsamplerCoefficients::LATENCY];
                }
                let last = end - 1;
                simd::upsample(
                    self.wide_simd,
                    &self.coefs,
                    &span[last..last + 1 + keep],
                    &mut out[last..end],
                );
                computed += 1;
            } else {
                simd::upsample(
                    self.wide_simd,
                    &self.coefs,
                    &span[start..end + keep],
                    &mut out[start..end],
                );
                computed += end - start;
            }
            start = end;
        }
        self.history.copy_within(input.len()..input.len() + keep, 0);
        computed
    }

    /// Clears the history.
    pub fn reset(&mut self) {
        self.history.fill(0.0);
    }
}

impl Default for Upsampler {
    fn default() -> Self {
        Self::new()
    }
}

/// The largest |x| of `xs`, in independent lanes so that the loop vectorises (a single
/// running maximum is one long dependency chain): 32 while there are that many (four
/// vectors' maxima that do not wait on each other), then 8, then one by one.
pub fn max_abs(xs: &[f32]) -> f32 {
    let wide = xs.chunks_exact(32);
    let rest = wide.remainder();
    let mut lanes32 = [0.0f32; 32];
    for c in wide {
        larger_lanes(&mut lanes32, c);
    }
    let mut lanes = [0.0f32; 8];
    for c in lanes32.chunks_exact(8) {
        larger_lanes(&mut lanes, c);
    }
    let narrow = rest.chunks_exact(8);
    let rest = narrow.remainder();
    for c in narrow {
        larger_lanes(&mut lanes, c);
    }
    for v in rest {
        lanes[0] = lanes[0].max(v.abs());
    }
    lanes.iter().fold(0.0f32, |m, &v| m.max(v))
}

/// The largest |value| of at most [`SKIP_CHUNK`] values (a NaN value is ignored).
#[inline(always)]
fn max_abs_piece(xs: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let whole = xs.chunks_exact(8);
    for v in whole.remainder() {
        lanes[0] = larger(lanes[0], v.abs());
    }
    for c in whole {
        larger_lanes(&mut lanes, c);
    }
    tree_max(lanes)
}

/// Each lane's maximum of itself and |value| (a NaN value is ignored).
#[inline(always)]
fn larger_lanes<const N: usize>(lanes: &mut [f32; N], values: &[f32]) {
    for (m, v) in lanes.iter_mut().zip(values) {
        let a = v.abs();
        *m = if a > *m { a } else { *m };
    }
}

/// `x` when it is larger than `m`, else `m`: one max instruction, and a NaN `x` is ignored
/// (as `f32::max` ignores it).
#[inline(always)]
fn larger(m: f32, x: f32) -> f32 {
    if x > m {
        x
    } else {
        m
    }
}

/// The largest |value| of eight lanes, as a tree (three steps, not a chain of eight).
#[inline(always)]
fn tree_max(m: [f32; FACTOR]) -> f32 {
    let h = [
        larger(m[0], m[4]),
        larger(m[1], m[5]),
        larger(m[2], m[6]),
        larger(m[3], m[7]),
    ];
    larger(larger(h[0], h[2]), larger(h[1], h[3]))
}

/// The largest |value| of one upsampled row (0 for a row of NaNs).
#[inline(always)]
pub fn row_peak(a: &[f32; FACTOR]) -> f32 {
    tree_max(a.map(|x| larger(0.0, x.abs())))
}

/// The largest |value| of two rows (both channels' phases of one input frame): lane by lane,
/// then a tree, so that it vectorises; a running maximum over the sixteen values is a chain
/// of sixteen dependent steps. Equal to folding `f32::max` over them.
#[inline(always)]
pub fn stereo_row_peak(a: &[f32; FACTOR], b: &[f32; FACTOR]) -> f32 {
    let mut m = [0.0f32; FACTOR];
    for k in 0..FACTOR {
        m[k] = larger(larger(0.0, a[k].abs()), b[k].abs());
    }
    tree_max(m)
}

/// The polyphase dot products, with a faster path for CPUs with AVX2 and FMA.
#[allow(unsafe_code)]
mod simd {
    use super::{UpsamplerCoefficients, FACTOR, TAPS_PER_PHASE};

    pub fn wide_simd_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// `span` holds `TAPS_PER_PHASE − 1` samples of history followed by `out.len()` new samples.
    pub fn upsample(
        wide: bool,
        coefs: &UpsamplerCoefficients,
        span: &[f32],
        out: &mut [[f32; FACTOR]],
    ) {
        let rows = &coefs.rows[..];
        #[cfg(target_arch = "x86_64")]
        if wide && crate::simd::avx512_available() {
            // SAFETY: checked at run time just above.
            unsafe { upsample_avx512(&coefs.pairs, span, out) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` is true only when the CPU reported AVX2 and FMA at run time
            // (`wide_simd_available`), which is what `upsample_avx2_fma` is compiled for.
            unsafe { upsample_avx2_fma(rows, span, out) };
            return;
        }
        let _ = wide;
        upsample_portable(rows, span, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn upsample_avx2_fma(rows: &[[f32; FACTOR]], span: &[f32], out: &mut [[f32; FACTOR]]) {
        kernel(rows, span, out, |acc, c, x| c.mul_add(x, acc));
    }

    /// Outputs in pairs, 16 lanes per multiply-add (see `UpsamplerCoefficients::pairs`): 33
    /// multiply-adds of 16 lanes with one broadcast input per pair, instead of 64 of 8 lanes.
    /// Every output sums its taps in increasing order in one accumulator, wherever it sits in
    /// a pair, so an output's value does not depend on how a block is cut (the skipping in
    /// `process_block_above` relies on that); four pairs run side by side to hide the latency.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    fn upsample_avx512(pairs: &[[f32; 2 * FACTOR]], span: &[f32], out: &mut [[f32; FACTOR]]) {
        const Q: usize = 4;
        let n = out.len();
        let mut i = 0;
        // Pair starting at output i reads span[i + TAPS − m] for m = 0 … TAPS.
        while i + 2 * Q <= n {
            let mut acc = [[0.0f32; 2 * FACTOR]; Q];
            for (m, pair) in pairs.iter().enumerate() {
                for (q, a) in acc.iter_mut().enumerate() {
                    let x = span[i + 2 * q + TAPS_PER_PHASE - m];
                    for l in 0..2 * FACTOR {
                        a[l] = pair[l].mul_add(x, a[l]);
                    }
                }
            }
            for (q, a) in acc.iter().enumerate() {
                out[i + 2 * q].copy_from_slice(&a[..FACTOR]);
                out[i + 2 * q + 1].copy_from_slice(&a[FACTOR..]);
            }
            i += 2 * Q;
        }
        while i < n {
            // One output as the second of a pair whose first output is discarded: the input
            // before the window (index i − 1, which only the first output reads) is set to 0.
            let mut acc = [0.0f32; 2 * FACTOR];
            for (m, pair) in pairs.iter().enumerate() {
                let x = if m == TAPS_PER_PHASE {
                    0.0
                } else {
                    span[i + TAPS_PER_PHASE - 1 - m]
                };
                for l in 0..2 * FACTOR {
                    acc[l] = pair[l].mul_add(x, acc[l]);
                }
            }
            out[i].copy_from_slice(&acc[FACTOR..]);
            i += 1;
        }
    }

    fn upsample_portable(rows: &[[f32; FACTOR]], span: &[f32], out: &mut [[f32; FACTOR]]) {
        kernel(rows, span, out, |acc, c, x| acc + c * x);
    }

    /// Output phase p for input i is Σ_k rows[k][p] · x[i − k]. Four accumulator sets keep four
    /// independent dependency chains in flight.
    #[inline(always)]
    fn kernel(
        rows: &[[f32; FACTOR]],
        span: &[f32],
        out: &mut [[f32; FACTOR]],
        mac: impl Fn(f32, f32, f32) -> f32,
    ) {
        for (i, o) in out.iter_mut().enumerate() {
            let window = &span[i..i + TAPS_PER_PHASE]; // newest sample last
            let mut acc = [[0.0f32; FACTOR]; 4];
            for (rs, xs) in rows.chunks_exact(4).zip(window.rchunks_exact(4)) {
                for j in 0..4 {
                    let xv = xs[3 - j];
                    for p in 0..FACTOR {
                        acc[j][p] = mac(acc[j][p], rs[j][p], xv);
                    }
                }
            }
            for p in 0..FACTOR {
                o[p] = (acc[0][p] + acc[1][p]) + (acc[2][p] + acc[3][p]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lanes find the largest magnitude wherever it sits, for every length around the
    /// lane widths, and ignore NaN (as `f32::max` does).
    #[test]
    fn max_abs_is_the_largest_magnitude() {
        for len in 0..140 {
            let xs: Vec<f32> = (0..len)
                .map(|i| match i {
                    5 => f32::NAN,
                    _ => ((i * 7919) % 613) as f32 / 613.0 - 0.5,
                })
                .collect();
            for at in (0..len).step_by(3) {
                let mut ys = xs.clone();
                ys[at] = if at % 2 == 0 { -2.0 } else { 2.0 };
                let want = ys.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert_eq!(max_abs(&ys), want, "length {len}, peak at {at}");
            }
            let want = xs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert_eq!(max_abs(&xs), want, "length {len}");
        }
    }
    use proptest::prelude::*;

    /// Any value, NaN and infinities included, often.
    fn any_f32() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => -4.0f32..4.0,
            1 => Just(f32::NAN),
            1 => Just(f32::INFINITY),
            1 => Just(-0.0f32),
        ]
    }

    proptest! {
        /// The tree maxima equal folding `f32::max` over |values|, the plain definition
        /// (which ignores NaN), bit for bit.
        #[test]
        fn row_peaks_equal_the_folded_maximum(
            a in prop::array::uniform8(any_f32()),
            b in prop::array::uniform8(any_f32()),
        ) {
            let fold = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            prop_assert_eq!(row_peak(&a).to_bits(), fold(&a).to_bits());
            let both: Vec<f32> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(stereo_row_peak(&a, &b).to_bits(), fold(&both).to_bits());
        }
    }

    /// The AVX2/FMA path and the portable path compute the same sums (FMA rounds once instead
    /// of twice, so they may differ in the last bits only).
    #[test]
    fn wide_and_portable_paths_agree() {
        if !simd::wide_simd_available() {
            eprintln!("SKIPPED: this CPU has no AVX2/FMA; only the portable path exists here");
            return;
        }
        let coefs = UpsamplerCoefficients::new();
        let span: Vec<f32> = (0..TAPS_PER_PHASE - 1 + 500)
            .map(|n| ((n * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut a = vec![[0.0; FACTOR]; 500];
        let mut b = vec![[0.0; FACTOR]; 500];
        simd::upsample(true, &coefs, &span, &mut a);
        simd::upsample(false, &coefs, &span, &mut b);
        for (ra, rb) in a.iter().zip(&b) {
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
            }
        }
    }

    /// Skipping chunks changes nothing above the floor: computed rows equal the full
    /// computation, skipped rows carry an upper bound of the true values that stays ≤ floor
    /// and the exact phase 0.
    #[test]
    fn skipped_rows_bound_the_true_rows() {
        let x: Vec<f64> = (0..3000)
            .map(|n| {
                // Quiet passages with loud bursts.
                let loud = if (n / 300) % 3 == 0 { 0.9 } else { 0.05 };
                loud * ((n as f64 * 0.37).sin() + 0.5 * (n as f64 * 2.1).cos())
            })
            .collect();
        for floor in [0.0f32, 0.2, 0.5, 2.0] {
            let (mut full, mut fast) = (Upsampler::new(), Upsampler::new());
            let mut skipped_any = false;
            for block in x.chunks(BLOCK) {
                let mut a = vec![[0.0; FACTOR]; block.len()];
                let mut b = vec![[0.0; FACTOR]; block.len()];
                full.process_block(block, &mut a);
                let computed = fast.process_block_above(block, &mut b, floor);
                skipped_any |= computed < block.len();
                for (ra, rb) in a.iter().zip(&b) {
                    assert_eq!(ra[0], rb[0]);
                    if ra != rb {
                        for p in 1..FACTOR {
                            assert!(rb[p] >= ra[p].abs() && rb[p] <= floor, "{rb:?} {ra:?}");
                        }
                    }
                }
            }
            assert_eq!(skipped_any, floor >= 0.2, "floor {floor}");
        }
        assert!((2.0..3.0).contains(&UpsamplerCoefficients::new().gain_bound()));
    }

    /// Phase 0 passes the input through, delayed by LATENCY samples.
    #[test]
    fn phase_zero_is_the_delayed_input() {
        let mut up = Upsampler::new();
        let x: Vec<f64> = (0..200)
            .map(|n| ((n * 31) % 17) as f64 / 17.0 - 0.5)
            .collect();
        let mut out = vec![[0.0; FACTOR]; 200];
        up.process_block(&x, &mut out);
        for n in UpsamplerCoefficients::LATENCY..200 {
            assert_eq!(out[n][0], x[n - UpsamplerCoefficients::LATENCY] as f32);
        }
    }
}

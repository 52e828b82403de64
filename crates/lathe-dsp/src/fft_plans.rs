//! FFT plans shared by the whole process.
//!
//! Planning a transform computes its twiddle factors (one sine and cosine per point): about
//! 2.6 ms for a 65536-point forward and inverse pair on the machines measured, more than the
//! transforms themselves for a short signal. A master plans the same few sizes many times
//! (every linear-phase EQ designs two filters and convolves with a third size, every spectrum
//! meter plans its frame), often on the path every thread waits for, so plans are made once
//! per size and shared: a plan is immutable and thread-safe once made (`Arc<dyn …>`), and
//! each caller keeps its own scratch buffers.
//!
//! Real transforms come from realfft's planner; complex ones (the spectrum meters put two real
//! signals through one, as the real and imaginary parts) from rustfft's, which realfft itself
//! plans with.

use std::sync::{Arc, Mutex, OnceLock};

use realfft::{ComplexToReal, FftNum, RealFftPlanner, RealToComplex};

/// The process's planner for one sample type. `RealFftPlanner` keeps every plan it made, by
/// size and direction, and hands out clones of the same `Arc`.
fn planner<T: FftNum>(
    cell: &'static OnceLock<Mutex<RealFftPlanner<T>>>,
) -> &'static Mutex<RealFftPlanner<T>> {
    cell.get_or_init(|| Mutex::new(RealFftPlanner::new()))
}

static COMPLEX_F32: OnceLock<Mutex<rustfft::FftPlanner<f32>>> = OnceLock::new();

static F64: OnceLock<Mutex<RealFftPlanner<f64>>> = OnceLock::new();
static F32: OnceLock<Mutex<RealFftPlanner<f32>>> = OnceLock::new();

/// Runs `f` with the planner, even if a thread panicked while holding it: a planner is only
/// a cache of finished plans, so nothing in it can be half-made.
fn with<T: FftNum, R>(
    cell: &'static OnceLock<Mutex<RealFftPlanner<T>>>,
    f: impl FnOnce(&mut RealFftPlanner<T>) -> R,
) -> R {
    let mut p = planner(cell).lock().unwrap_or_else(|e| e.into_inner());
    f(&mut p)
}

/// The forward real transform of `len` points (f64).
pub fn forward_f64(len: usize) -> Arc<dyn RealToComplex<f64>> {
    with(&F64, |p| p.plan_fft_forward(len))
}

/// The inverse real transform of `len` points (f64).
pub fn inverse_f64(len: usize) -> Arc<dyn ComplexToReal<f64>> {
    with(&F64, |p| p.plan_fft_inverse(len))
}

/// The forward real transform of `len` points (f32).
pub fn forward_f32(len: usize) -> Arc<dyn RealToComplex<f32>> {
    with(&F32, |p| p.plan_fft_forward(len))
}

/// The forward complex transform of `len` points (f32).
pub fn forward_complex_f32(len: usize) -> Arc<dyn rustfft::Fft<f32>> {
    let cell = COMPLEX_F32.get_or_init(|| Mutex::new(rustfft::FftPlanner::new()));
    let mut p = cell.lock().unwrap_or_else(|e| e.into_inner());
    p.plan_fft_forward(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared plan is the same plan, and it transforms as a fresh one does.
    #[test]
    fn plans_are_shared_and_correct() {
        let a = forward_f64(4096);
        let b = forward_f64(4096);
        assert!(Arc::ptr_eq(&a, &b));
        let fresh = RealFftPlanner::<f64>::new().plan_fft_forward(4096);
        let mut x: Vec<f64> = (0..4096)
            .map(|i| ((i * 7919) % 101) as f64 - 50.0)
            .collect();
        let mut y = x.clone();
        let (mut sa, mut sb) = (a.make_output_vec(), fresh.make_output_vec());
        a.process(&mut x, &mut sa).unwrap();
        fresh.process(&mut y, &mut sb).unwrap();
        assert_eq!(sa, sb);
        let back = inverse_f64(4096);
        let mut t = vec![0.0; 4096];
        back.process(&mut sa, &mut t).unwrap();
        let orig: Vec<f64> = (0..4096)
            .map(|i| ((i * 7919) % 101) as f64 - 50.0)
            .collect();
        for (u, v) in t.iter().zip(&orig) {
            assert!((u / 4096.0 - v).abs() < 1e-9);
        }
        assert!(Arc::ptr_eq(&forward_f32(1024), &forward_f32(1024)));
    }
}

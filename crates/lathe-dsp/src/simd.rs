//! Run-time choice between a portable build of a kernel and one compiled for AVX2 + FMA.
//!
//! The release build targets baseline x86-64 (SSE2), so that lathe runs on every x86-64 CPU.
//! Hot loops are written once as `#[inline(always)]` kernels; [`run`] calls them through a
//! function compiled with AVX2 and FMA enabled when the CPU has them (checked at run time), so
//! the same source is vectorised four doubles wide there. Kernels that want a fused
//! multiply-add take it as a parameter ([`Mac`]): `mul_add` without FMA hardware is a slow
//! library call, so the portable build uses a separate multiply and add.

/// Whether this CPU has AVX2 and FMA, and the environment does not set
/// `LATHE_PORTABLE_SIMD` (which forces the portable kernels, for tests and comparisons).
pub fn wide_available() -> bool {
    if std::env::var_os("LATHE_PORTABLE_SIMD").is_some() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Multiply-add as a kernel sees it: `acc + a·b`, fused where the build has FMA.
pub trait Mac: Copy {
    fn mac(self, acc: f64, a: f64, b: f64) -> f64;
    fn mac32(self, acc: f32, a: f32, b: f32) -> f32;
}

/// Separate multiply and add (portable build).
#[derive(Clone, Copy)]
pub struct Plain;
impl Mac for Plain {
    #[inline(always)]
    fn mac(self, acc: f64, a: f64, b: f64) -> f64 {
        acc + a * b
    }
    #[inline(always)]
    fn mac32(self, acc: f32, a: f32, b: f32) -> f32 {
        acc + a * b
    }
}

/// Fused multiply-add (AVX2 + FMA build only).
#[derive(Clone, Copy)]
pub struct Fused;
impl Mac for Fused {
    #[inline(always)]
    fn mac(self, acc: f64, a: f64, b: f64) -> f64 {
        a.mul_add(b, acc)
    }
    #[inline(always)]
    fn mac32(self, acc: f32, a: f32, b: f32) -> f32 {
        a.mul_add(b, acc)
    }
}

/// A sample type kernels can be written over once: `f64`, or `f32` where the precision suffices
/// and twice the values per vector pay (the oversampled section of the saturator).
pub trait Sample:
    Copy
    + Default
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + Send
    + Sync
    + 'static
{
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// `acc + a·b`, fused where the build has FMA.
    fn mac<M: Mac>(m: M, acc: Self, a: Self, b: Self) -> Self;
}

impl Sample for f64 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn mac<M: Mac>(m: M, acc: Self, a: Self, b: Self) -> Self {
        m.mac(acc, a, b)
    }
}

impl Sample for f32 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn mac<M: Mac>(m: M, acc: Self, a: Self, b: Self) -> Self {
        m.mac32(acc, a, b)
    }
}

/// A hot loop, generic over how it multiplies and adds. Implementations mark `call`
/// `#[inline(always)]` so that it is compiled inside [`run`]'s AVX2 + FMA function.
pub trait Kernel {
    type Output;
    /// Whether this kernel runs faster with 512-bit vectors (where the CPU has them).
    const WIDE_512: bool = false;
    fn call<M: Mac>(self, mac: M) -> Self::Output;
}

/// Runs `kernel` compiled for AVX2 + FMA when `wide` (which must come from
/// [`wide_available`]), otherwise the portable build.
#[inline(always)]
pub fn run<K: Kernel>(wide: bool, kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    if wide {
        if K::WIDE_512 && avx512_available() {
            // SAFETY: checked at run time just above.
            #[allow(unsafe_code)]
            return unsafe { run_avx512(kernel) };
        }
        // SAFETY: `wide` is true only when the CPU reported AVX2 and FMA at run time.
        #[allow(unsafe_code)]
        return unsafe { run_fused(kernel) };
    }
    let _ = wide;
    kernel.call(Plain)
}

/// Whether the CPU has AVX-512 F/VL/DQ (and `LATHE_NO_AVX512` is not set), checked once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512_available() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = std::env::var_os("LATHE_NO_AVX512").is_none()
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512dq");
            STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512dq")]
fn run_avx512<K: Kernel>(kernel: K) -> K::Output {
    kernel.call(Fused)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_fused<K: Kernel>(kernel: K) -> K::Output {
    kernel.call(Fused)
}

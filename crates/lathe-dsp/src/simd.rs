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
}

/// Separate multiply and add (portable build).
#[derive(Clone, Copy)]
pub struct Plain;
impl Mac for Plain {
    #[inline(always)]
    fn mac(self, acc: f64, a: f64, b: f64) -> f64 {
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
}

/// A hot loop, generic over how it multiplies and adds. Implementations mark `call`
/// `#[inline(always)]` so that it is compiled inside [`run`]'s AVX2 + FMA function.
pub trait Kernel {
    type Output;
    fn call<M: Mac>(self, mac: M) -> Self::Output;
}

/// Runs `kernel` compiled for AVX2 + FMA when `wide` (which must come from
/// [`wide_available`]), otherwise the portable build.
#[inline(always)]
pub fn run<K: Kernel>(wide: bool, kernel: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is true only when the CPU reported AVX2 and FMA at run time.
        #[allow(unsafe_code)]
        return unsafe { run_fused(kernel) };
    }
    let _ = wide;
    kernel.call(Plain)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn run_fused<K: Kernel>(kernel: K) -> K::Output {
    kernel.call(Fused)
}

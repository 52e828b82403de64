//! Interleaved little-endian PCM packets converted straight to planar `f64`.
//!
//! symphonia demuxes the container (WAV and the others that store little-endian PCM) and its
//! PCM decoder reads a packet sample by sample through a byte reader into a buffer of the stored sample type,
//! which is then converted again: about 2.5 ns per sample, the largest part of reading a WAV
//! file (measured: 5–7 % of a whole matching job's CPU). The conversion itself is one fixed
//! formula per format, the one symphonia applies (`s / 2^(bits−1)` for signed integers, a
//! widening for `f32`), so for the common formats lathe applies it to the packet's bytes
//! directly, in one pass; every other codec, and any stored width other than the sample's
//! (a 20-bit value in 24 bits), still goes through symphonia's decoder. A packet's trailing
//! partial frame is dropped, as symphonia drops it.

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_PCM_F32LE, CODEC_ID_PCM_S16LE, CODEC_ID_PCM_S24LE, CODEC_ID_PCM_S32LE,
};
use symphonia::core::codecs::audio::AudioCodecParameters;

/// A stored sample format the direct path reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawPcm {
    S16,
    S24,
    S32,
    F32,
}

impl RawPcm {
    /// The direct path for a stream, when its codec is one of these and every stored bit is a
    /// sample bit (symphonia would otherwise shift the values).
    pub(crate) fn for_stream(params: &AudioCodecParameters) -> Option<Self> {
        let (format, width) = match params.codec {
            CODEC_ID_PCM_S16LE => (Self::S16, 16),
            CODEC_ID_PCM_S24LE => (Self::S24, 24),
            CODEC_ID_PCM_S32LE => (Self::S32, 32),
            CODEC_ID_PCM_F32LE => (Self::F32, 32),
            _ => return None,
        };
        let decoded = params.bits_per_sample.unwrap_or(width);
        let coded = params.bits_per_coded_sample.unwrap_or(decoded);
        let channels = params.channels.as_ref().map_or(0, |c| c.count());
        (decoded == width && coded == width && channels > 0).then_some(format)
    }

    /// Bytes per stored sample.
    pub(crate) fn bytes(self) -> usize {
        match self {
            Self::S16 => 2,
            Self::S24 => 3,
            Self::S32 | Self::F32 => 4,
        }
    }

    /// Whether the samples are floating point (and so may be NaN or infinite).
    pub(crate) fn is_float(self) -> bool {
        self == Self::F32
    }

    /// Converts the first `out[c].len()` whole frames of `data` (interleaved, `out.len()`
    /// channels) into `out`, channel by channel.
    pub(crate) fn convert(self, data: &[u8], out: &mut [&mut [f64]]) {
        match self {
            Self::S16 => convert::<2>(data, out, |b| i16::from_le_bytes(b) as f64 / 32_768.0),
            // Sign-extended by the arithmetic shift.
            Self::S24 => convert::<3>(data, out, |[a, b, c]| {
                (i32::from_le_bytes([0, a, b, c]) >> 8) as f64 / 8_388_608.0
            }),
            Self::S32 => convert::<4>(data, out, |b| {
                i32::from_le_bytes(b) as f64 / 2_147_483_648.0
            }),
            Self::F32 => convert::<4>(data, out, |b| f32::from_le_bytes(b) as f64),
        }
    }
}

/// One fixed-width read per sample; stereo (the common case) as one loop over both channels.
#[inline(always)]
fn convert<const W: usize>(data: &[u8], out: &mut [&mut [f64]], sample: impl Fn([u8; W]) -> f64) {
    let channels = out.len();
    let at = |frame: &[u8], c: usize| -> [u8; W] {
        frame[c * W..(c + 1) * W]
            .try_into()
            .expect("a frame holds every channel")
    };
    if let [l, r] = out {
        let frames = data.chunks_exact(2 * W);
        for ((f, l), r) in frames.zip(l.iter_mut()).zip(r.iter_mut()) {
            *l = sample(at(f, 0));
            *r = sample(at(f, 1));
        }
        return;
    }
    for (c, plane) in out.iter_mut().enumerate() {
        for (f, o) in data.chunks_exact(channels * W).zip(plane.iter_mut()) {
            *o = sample(at(f, c));
        }
    }
}

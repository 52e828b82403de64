//! Opus decoding for symphonia (which demuxes Ogg Opus but has no Opus decoder): libopus
//! through the `opus` crate, registered beside symphonia's own decoders in `decode.rs`.
//!
//! The identification header (the track's extra data) gives the channel count, the output
//! gain (applied, as RFC 7845 requires) and the mapping family; family 0 (mono, stereo) is
//! what music files use and what is read here. The Ogg reader turns pre-skip and the end
//! granule into per-packet trims, which this decoder applies.

use std::sync::Mutex;

use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, Channels, GenericAudioBufferRef,
    Position,
};
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::errors::{Error, Result};
use symphonia::core::packet::PacketRef;

/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_FRAMES: usize = 5760;
const RATE_HZ: u32 = 48_000;

pub struct OpusDecoder {
    params: AudioCodecParameters,
    /// In a mutex only because symphonia's decoders must be `Sync` and libopus's handle is
    /// not; it is never contended.
    decoder: Mutex<opus::Decoder>,
    channels: usize,
    /// Pre-skip frames still to drop: symphonia's Ogg reader records the pre-skip as the
    /// track's delay but trims only the end, so the decoder drops the start itself.
    skip: usize,
    interleaved: Vec<f32>,
    buf: AudioBuffer<f32>,
}

fn unsupported(what: &'static str) -> Error {
    Error::Unsupported(what)
}

impl OpusDecoder {
    fn try_new(params: &AudioCodecParameters) -> Result<Self> {
        let head = params
            .extra_data
            .as_deref()
            .ok_or(unsupported("opus: no identification header"))?;
        if head.len() < 19 || &head[..8] != b"OpusHead" {
            return Err(unsupported("opus: bad identification header"));
        }
        let channels = head[9] as usize;
        let pre_skip = u16::from_le_bytes([head[10], head[11]]) as usize;
        let gain_q8 = i16::from_le_bytes([head[16], head[17]]);
        if head[18] != 0 || !(1..=2).contains(&channels) {
            return Err(unsupported(
                "opus: only mono and stereo streams (mapping family 0)",
            ));
        }
        let layout = if channels == 1 {
            opus::Channels::Mono
        } else {
            opus::Channels::Stereo
        };
        let mut decoder = opus::Decoder::new(RATE_HZ, layout)
            .map_err(|_| unsupported("opus: libopus would not start"))?;
        decoder
            .set_gain(i32::from(gain_q8))
            .map_err(|_| unsupported("opus: bad output gain"))?;
        let positions = if channels == 1 {
            Position::FRONT_CENTER
        } else {
            Position::FRONT_LEFT | Position::FRONT_RIGHT
        };
        let spec = AudioSpec::new(RATE_HZ, Channels::Positioned(positions));
        Ok(OpusDecoder {
            params: params.clone(),
            decoder: Mutex::new(decoder),
            channels,
            skip: pre_skip,
            interleaved: vec![0.0; MAX_FRAMES * channels],
            buf: AudioBuffer::new(spec, MAX_FRAMES),
        })
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        let mut decoder = self.decoder.lock().unwrap_or_else(|p| p.into_inner());
        let frames = decoder
            .decode_float(packet.data, &mut self.interleaved, false)
            .map_err(|_| Error::DecodeError("opus: damaged packet"))?;
        self.buf.clear();
        self.buf.render_uninit(Some(frames));
        for ch in 0..self.channels {
            let plane = self
                .buf
                .plane_mut(ch)
                .ok_or(Error::DecodeError("opus: missing plane"))?;
            for (i, v) in plane.iter_mut().enumerate() {
                *v = self.interleaved[i * self.channels + ch];
            }
        }
        let reader_trims = packet.trim_start.get() as usize;
        if reader_trims > 0 {
            self.skip = 0;
        }
        let start = reader_trims + self.skip.min(frames.saturating_sub(reader_trims));
        self.skip -= start - reader_trims;
        self.buf
            .trim(start, (packet.trim_end.get() as usize).min(frames - start));
        Ok(())
    }
}

const SUPPORTED: &[SupportedAudioCodec] = &[SupportedAudioCodec {
    id: CODEC_ID_OPUS,
    info: CodecInfo {
        short_name: "opus",
        long_name: "Opus (libopus)",
        profiles: &[],
    },
}];

impl AudioDecoder for OpusDecoder {
    fn reset(&mut self) {
        if let Ok(mut d) = self.decoder.lock() {
            let _ = d.reset_state();
        }
    }

    fn codec_info(&self) -> &CodecInfo {
        &SUPPORTED[0].info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
        match self.decode_inner(packet) {
            Ok(()) => Ok(self.buf.as_generic_audio_buffer_ref()),
            Err(e) => {
                self.buf.clear();
                Err(e)
            }
        }
    }

    fn finalize(&mut self) -> FinalizeResult {
        Default::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        self.buf.as_generic_audio_buffer_ref()
    }
}

impl RegisterableAudioDecoder for OpusDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        _opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>> {
        Ok(Box::new(OpusDecoder::try_new(params)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        SUPPORTED
    }
}

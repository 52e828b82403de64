//! lathe-io: the file layer. Decoding ([`decode`], symphonia), resampling ([`resample`],
//! rubato). Knows files and formats, nothing about mastering.
// Unsafe code only in `fdk_aac.rs` (the AAC encoder's C interface), which allows it.
#![deny(unsafe_code)]

pub mod aac_writer;
mod background;
pub mod decode;
pub mod encoder;
mod encoder_trait;
mod fdk_aac;
pub mod flac_writer;
pub mod format;
mod libflac;
pub mod mp3_writer;
mod mp4_audio;
mod opus_decoder;
pub mod opus_writer;
mod raw_pcm;
pub mod resample;
mod wav_mask;
mod wav_sizes;
pub mod wav_tags;
pub mod wav_writer;

pub use decode::{AudioInfo, DecodeError, Decoder, SpeakerRole};
pub use encoder::{Encoder, EncoderSettings};
pub use format::Format;
pub use resample::{ResampleError, StreamResampler};

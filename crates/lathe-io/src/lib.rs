//! lathe-io: the file layer. Decoding ([`decode`], symphonia), resampling ([`resample`],
//! rubato). Knows files and formats, nothing about mastering.
#![forbid(unsafe_code)]

pub mod decode;
pub mod encoder;
pub mod flac_writer;
pub mod format;
pub mod mp3_writer;
pub mod resample;
mod wav_mask;
mod wav_sizes;
pub mod wav_writer;

pub use decode::{AudioInfo, DecodeError, Decoder, SpeakerRole};
pub use encoder::{Encoder, EncoderSettings};
pub use format::Format;
pub use resample::{ResampleError, StreamResampler};

//! Streaming decoding of any supported file into planar `f64` blocks.
//!
//! Formats (through symphonia 0.6): WAV (8/16/24/32-bit PCM, 32/64-bit float, EXTENSIBLE),
//! AIFF, CAF, FLAC, MP3 (with LAME/Xing encoder delay and padding removed), AAC and ALAC in MP4,
//! Ogg Vorbis, and Ogg Opus (mono and stereo, through libopus: `opus_decoder.rs`).
//!
//! Damaged files: a packet that fails to decode is skipped and counted; a file that ends before
//! its header says it should is decoded up to where it ends and [`Decoder::warnings`] reports
//! how many frames were lost. What no decoder can detect: a header that lies about the sample
//! rate (the audio then plays, and is measured, at the wrong speed).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use symphonia::core::audio::{Channels, GenericAudioBufferRef};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::opus_decoder::OpusDecoder;
use crate::raw_pcm::RawPcm;
use crate::wav_mask::{wav_channels, WavChannels};
use crate::wav_sizes::{zero_size_fields, PatchedFile};

/// The lowest sample rate lathe reads. Below it the loudness weighting's 1.7 kHz shelf lies
/// past the Nyquist frequency and BS.1770 has no meaning (such files used to read as silent).
pub const MIN_RATE_HZ: u32 = 8000;

/// The most channels lathe reads (7.1).
pub const MAX_CHANNELS: usize = 8;

/// Why a file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unsupported format: {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("{path}: not a readable audio file: {what}")]
    Malformed { path: PathBuf, what: String },
    #[error("{path}: read error: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a channel is for, where the file says so (it sets the BS.1770 weight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpeakerRole {
    Front,
    Surround,
    Lfe,
}

/// What the header says about the audio.
#[derive(Clone, Debug)]
pub struct AudioInfo {
    pub sample_rate_hz: u32,
    pub channels: usize,
    /// Speaker roles when the file names its channel positions.
    pub speaker_roles: Option<Vec<SpeakerRole>>,
    /// Frames the container announces, if it does.
    pub frames_announced: Option<u64>,
    /// Codec name, e.g. "pcm_s16le", "flac", "mp3".
    pub codec: String,
    pub bits_per_sample: Option<u32>,
}

/// A streaming decoder. Memory does not depend on the length of the file.
pub struct Decoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    info: AudioInfo,
    planar: Vec<Vec<f64>>,
    frames_decoded: u64,
    skipped_packets: u64,
    /// Samples that were NaN or infinite, replaced with 0.0 (see [`Decoder::non_finite_samples`]).
    non_finite: u64,
    /// The first frame that held one.
    first_non_finite_frame: Option<u64>,
    ended_early: Option<String>,
    finished: bool,
    /// The first block was decoded during `open` and not yet handed out.
    pending_first: bool,
    /// Whether the last packet decoded to floating-point samples.
    float: bool,
    /// PCM that lathe converts itself ([`RawPcm`]), and the last packet's bytes when it did.
    raw: Option<RawPcm>,
    raw_packet: Option<Box<[u8]>>,
}

fn malformed(path: &Path, what: impl Into<String>) -> DecodeError {
    DecodeError::Malformed {
        path: path.to_owned(),
        what: what.into(),
    }
}

impl Decoder {
    /// Opens and probes `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DecodeError> {
        let path = path.as_ref();
        let open_err = |source| DecodeError::Open {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(open_err)?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(malformed(path, "is a directory"));
        }
        let patches = zero_size_fields(&mut file).map_err(open_err)?;
        let stated = wav_channels(&mut file).map_err(open_err)?;
        let source: Box<dyn symphonia::core::io::MediaSource> = if patches.is_empty() {
            Box::new(file)
        } else {
            Box::new(PatchedFile::new(file, patches))
        };
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match e {
                SymError::Unsupported(_) => DecodeError::Unsupported {
                    path: path.to_owned(),
                    what: "no supported container found".into(),
                },
                SymError::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                    malformed(path, "file ends before its header is complete")
                }
                other => malformed(path, other.to_string()),
            })?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| malformed(path, "no audio track"))?;
        let track_id = track.id;
        let frames_announced = track.num_frames;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| malformed(path, "no audio codec parameters"))?
            .clone();
        let codecs = codecs();
        let decoder = codecs
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| {
                let codec = codec_name(&params.codec);
                DecodeError::Unsupported {
                    path: path.to_owned(),
                    what: format!("no decoder for codec {codec} ({e})"),
                }
            })?;
        let codec = decoder.codec_info().short_name.to_string();
        let sample_rate_hz = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| malformed(path, "no sample rate"))?;
        if !(MIN_RATE_HZ..=768_000).contains(&sample_rate_hz) {
            return Err(DecodeError::Unsupported {
                path: path.to_owned(),
                what: format!(
                    "sample rate {sample_rate_hz} Hz (lathe reads {MIN_RATE_HZ} Hz to 768 kHz)"
                ),
            });
        }
        let channels_desc = params.channels.clone();
        let channels = channels_desc.as_ref().map(|c| c.count()).unwrap_or(0);
        if channels == 0 && channels_desc.is_some() {
            return Err(malformed(path, "zero channels"));
        }
        let mut info = AudioInfo {
            sample_rate_hz,
            channels,
            // A WAV that does not state its speakers gets none from here (the decoder's
            // by-count guess would make a fifth-channel file's fourth channel an LFE).
            speaker_roles: if stated == WavChannels::Unstated {
                None
            } else {
                channels_desc.as_ref().and_then(speaker_roles)
            },
            frames_announced,
            codec,
            bits_per_sample: params.bits_per_sample,
        };
        if info.channels > MAX_CHANNELS {
            return Err(DecodeError::Unsupported {
                path: path.to_owned(),
                what: format!("{} channels (at most {MAX_CHANNELS})", info.channels),
            });
        }
        let mut me = Self {
            path: path.to_owned(),
            format,
            decoder,
            track_id,
            info: info.clone(),
            planar: Vec::new(),
            frames_decoded: 0,
            skipped_packets: 0,
            non_finite: 0,
            first_non_finite_frame: None,
            ended_early: None,
            finished: false,
            pending_first: false,
            float: false,
            raw: RawPcm::for_stream(&params),
            raw_packet: None,
        };
        // Some codecs (AAC, Vorbis) only know their channel count after the first packet.
        if info.channels == 0 {
            match me.next_block()? {
                Some(_) => {}
                None => return Err(malformed(path, "no audio in file")),
            }
            info.channels = me.planar.len();
            me.info.channels = info.channels;
            me.pending_first = true;
        }
        Ok(me)
    }

    /// Header information.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// Frames delivered so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    /// Decodes the next packet. Returns planar channel slices (all the same length, at least
    /// one frame), or `None` at the end of the stream.
    pub fn next_block(&mut self) -> Result<Option<Vec<&[f64]>>, DecodeError> {
        if std::mem::take(&mut self.pending_first) {
            return Ok(Some(self.planar.iter().map(|c| c.as_slice()).collect()));
        }
        let Some(frames) = self.decode_packet()? else {
            return Ok(None);
        };
        if let (Some(pcm), Some(data)) = (self.raw, self.raw_packet.as_deref()) {
            self.planar.resize_with(self.info.channels, Vec::new);
            for ch in &mut self.planar {
                ch.resize(frames, 0.0);
            }
            let mut planes: Vec<&mut [f64]> = self.planar.iter_mut().map(|c| &mut c[..]).collect();
            pcm.convert(data, &mut planes);
        } else {
            let buf = self.decoder.last_decoded();
            buf.copy_to_vecs_planar::<f64>(&mut self.planar);
            self.planar.truncate(buf.spec().channels().count());
            for ch in &mut self.planar {
                ch.truncate(frames);
            }
        }
        if self.info.channels != 0 && self.planar.len() != self.info.channels {
            return Err(malformed(&self.path, "channel count changes mid-stream"));
        }
        if self.float_samples() {
            let start = self.frames_decoded;
            let (count, first) = sanitise(&mut self.planar, 0, start);
            self.count_non_finite(count, first);
        }
        self.frames_decoded += frames as u64;
        Ok(Some(self.planar.iter().map(|c| c.as_slice()).collect()))
    }

    /// Decodes the next packet onto the end of `out` (one vector per channel, as many as the
    /// file has): what [`Decoder::next_block`] hands out, converted straight into the
    /// caller's buffers instead of through the decoder's own. Returns the frames appended, or
    /// `None` at the end of the stream.
    pub fn append_block(&mut self, out: &mut [Vec<f64>]) -> Result<Option<usize>, DecodeError> {
        assert_eq!(out.len(), self.info.channels, "one vector per channel");
        if std::mem::take(&mut self.pending_first) {
            for (o, p) in out.iter_mut().zip(&self.planar) {
                o.extend_from_slice(p);
            }
            return Ok(Some(self.planar.first().map_or(0, |p| p.len())));
        }
        let Some(frames) = self.decode_packet()? else {
            return Ok(None);
        };
        let raw = self.raw.zip(self.raw_packet.as_deref());
        if raw.is_none() && self.decoder.last_decoded().spec().channels().count() != out.len() {
            return Err(malformed(&self.path, "channel count changes mid-stream"));
        }
        let at = out[0].len();
        for o in out.iter_mut() {
            o.resize(at + frames, 0.0);
        }
        let mut tails: Vec<&mut [f64]> = out.iter_mut().map(|o| &mut o[at..]).collect();
        match raw {
            Some((pcm, data)) => pcm.convert(data, &mut tails),
            None => self
                .decoder
                .last_decoded()
                .copy_to_slice_planar::<f64, _>(&mut tails),
        }
        if self.float_samples() {
            let (count, first) = sanitise(out, at, self.frames_decoded);
            self.count_non_finite(count, first);
        }
        self.frames_decoded += frames as u64;
        Ok(Some(frames))
    }

    /// Reads packets until one of this track decodes to at least one frame (left in the
    /// decoder's buffer); returns its frames, or `None` at the end of the stream.
    fn decode_packet(&mut self) -> Result<Option<usize>, DecodeError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // The normal end of a stream whose length the header does not give (WAV
                    // sizes of 0 or 0xFFFFFFFF); a short file with a length is caught in
                    // `warnings()` by comparing with the announced frame count.
                    self.finished = true;
                    return Ok(None);
                }
                Err(SymError::ResetRequired) => {
                    // A chained stream (e.g. a second Ogg logical stream): lathe reads the first.
                    self.finished = true;
                    return Ok(None);
                }
                Err(SymError::IoError(source)) => {
                    return Err(DecodeError::Read {
                        path: self.path.clone(),
                        source,
                    })
                }
                Err(SymError::DecodeError(what)) => {
                    self.finished = true;
                    self.ended_early = Some(format!("container damaged: {what}"));
                    return Ok(None);
                }
                Err(e) => return Err(malformed(&self.path, e.to_string())),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            if let Some(pcm) = self.raw {
                // Whole frames only, as symphonia's PCM decoder reads them; a packet without
                // one decodes to nothing and the next is read.
                let frames = packet.data.len() / (pcm.bytes() * self.info.channels);
                if frames == 0 {
                    continue;
                }
                self.float = pcm.is_float();
                self.raw_packet = Some(packet.data);
                return Ok(Some(frames));
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    self.float = matches!(
                        buf,
                        GenericAudioBufferRef::F32(_) | GenericAudioBufferRef::F64(_)
                    );
                    if buf.frames() > 0 {
                        return Ok(Some(buf.frames()));
                    }
                }
                Err(SymError::DecodeError(_)) => self.skipped_packets += 1,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.skipped_packets += 1;
                }
                Err(e) => return Err(malformed(&self.path, e.to_string())),
            }
        }
    }

    /// Whether the last packet decoded to floating-point samples: only those can be NaN or
    /// infinite (integer samples need no check).
    fn float_samples(&self) -> bool {
        self.float
    }

    fn count_non_finite(&mut self, count: u64, first: Option<u64>) {
        self.non_finite += count;
        if let Some(frame) = first {
            self.first_non_finite_frame =
                Some(self.first_non_finite_frame.map_or(frame, |f| f.min(frame)));
        }
    }

    /// How many samples so far were NaN or infinite (each was handed out as 0.0), and the
    /// first frame that held one.
    pub fn non_finite_samples(&self) -> (u64, Option<u64>) {
        (self.non_finite, self.first_non_finite_frame)
    }

    /// Human-readable problems found while decoding (call after the last block).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.non_finite > 0 {
            w.push(format!(
                "{} samples are NaN or infinite (the first at frame {}); they were read as silence",
                self.non_finite,
                self.first_non_finite_frame.unwrap_or(0)
            ));
        }
        if let Some(announced) = self.info.frames_announced {
            if self.frames_decoded < announced {
                w.push(format!(
                    "truncated: the header announces {announced} frames, {} were decoded ({} lost)",
                    self.frames_decoded,
                    announced - self.frames_decoded
                ));
            }
        }
        if let Some(why) = &self.ended_early {
            w.push(format!(
                "decoding stopped early ({why}); {} frames decoded",
                self.frames_decoded
            ));
        }
        if self.skipped_packets > 0 {
            w.push(format!("{} damaged packets skipped", self.skipped_packets));
        }
        w
    }
}

/// symphonia's decoders and lathe's Opus decoder.
fn codecs() -> &'static CodecRegistry {
    static CODECS: OnceLock<CodecRegistry> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<OpusDecoder>();
        registry
    })
}

fn speaker_roles(channels: &Channels) -> Option<Vec<SpeakerRole>> {
    use symphonia::core::audio::Position;
    let Channels::Positioned(pos) = channels else {
        return None;
    };
    let surround = Position::REAR_LEFT
        | Position::REAR_RIGHT
        | Position::REAR_CENTER
        | Position::SIDE_LEFT
        | Position::SIDE_RIGHT;
    let lfe = Position::LFE1 | Position::LFE2;
    Some(
        (0..32)
            .map(|bit| Position::from_bits_truncate(1 << bit))
            .filter(|p| !p.is_empty() && pos.contains(*p))
            .map(|p| {
                if lfe.contains(p) {
                    SpeakerRole::Lfe
                } else if surround.contains(p) {
                    SpeakerRole::Surround
                } else {
                    SpeakerRole::Front
                }
            })
            .collect(),
    )
}

fn codec_name(id: &symphonia::core::codecs::audio::AudioCodecId) -> String {
    let name = format!("{id:?}");
    if name.contains("OPUS") || name.contains("Opus") {
        "Opus".into()
    } else {
        name
    }
}

/// Replaces NaN and infinite samples of a block just decoded (each channel from `from` on)
/// with 0.0.
/// Float files can hold them; no meter, filter or encoder downstream is defined on them
/// (one NaN poisons every recursive filter after it, and LAME aborts the process on one),
/// so nothing past the decoder ever sees one. Whether such a file may be used at all is
/// the caller's decision, from [`Decoder::non_finite_samples`]. Returns how many there were and the first one's frame, counting `channels[c][from]` as
/// frame `first_frame`.
fn sanitise(channels: &mut [Vec<f64>], from: usize, first_frame: u64) -> (u64, Option<u64>) {
    let (mut count, mut first) = (0, None::<u64>);
    for ch in channels {
        let ch = &mut ch[from..];
        // The common case, all finite, is one vectorised pass without writes.
        if ch.iter().all(|v| v.is_finite()) {
            continue;
        }
        for (i, v) in ch.iter_mut().enumerate() {
            if !v.is_finite() {
                *v = 0.0;
                count += 1;
                let frame = first_frame + i as u64;
                first = Some(first.map_or(frame, |f| f.min(frame)));
            }
        }
    }
    (count, first)
}

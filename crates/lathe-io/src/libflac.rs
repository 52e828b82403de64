//! A thin safe wrapper over libFLAC's stream encoder (crate `libflac-sys`, linked to the
//! system's libFLAC: Debian's `libflac-dev`). libFLAC writes the file itself (it seeks back at
//! the end to complete STREAMINFO: MD5 of the samples, total length, frame sizes).
//! This file and `fdk_aac.rs` hold every `unsafe` block of lathe's file layer.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use libflac_sys as sys;

/// What the encoder is set up with.
pub struct LibFlacSettings {
    pub sample_rate_hz: u32,
    pub channels: u32,
    pub bits: u32,
    /// libFLAC's presets 0–8 (`flac -5` is 5).
    pub compression_level: u32,
    /// Bytes of PADDING after the tags, room to edit them in place later.
    pub padding_bytes: u32,
    /// Vorbis comments (name, value), written as a VORBIS_COMMENT block after STREAMINFO.
    pub comments: Vec<(String, String)>,
}

/// A libFLAC stream encoder writing one file.
pub struct LibFlacEncoder {
    encoder: *mut sys::FLAC__StreamEncoder,
    /// The metadata blocks after STREAMINFO: the comments (when there are any), the padding.
    blocks: Vec<*mut sys::FLAC__StreamMetadata>,
    channels: usize,
}

// SAFETY: the encoder and its metadata blocks are owned by this value alone and libFLAC keeps
// no thread-local state; moving them to another thread between calls is fine.
unsafe impl Send for LibFlacEncoder {}

impl LibFlacEncoder {
    /// Creates the encoder and the file at `path`.
    pub fn create(path: &Path, s: &LibFlacSettings) -> Result<Self, String> {
        let name = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| format!("{}: a NUL byte in the path", path.display()))?;
        // SAFETY: every call gets the encoder `new` returned (checked non-null) while it is
        // in the state the call needs (set_* before init); `Drop` frees every object.
        unsafe {
            let encoder = sys::FLAC__stream_encoder_new();
            if encoder.is_null() {
                return Err("libFLAC: out of memory".into());
            }
            let mut me = Self {
                encoder,
                blocks: Vec::new(),
                channels: s.channels as usize,
            };
            if !s.comments.is_empty() {
                me.comment_block(&s.comments)?;
            }
            let padding = sys::FLAC__metadata_object_new(sys::FLAC__METADATA_TYPE_PADDING);
            if padding.is_null() {
                return Err("libFLAC: out of memory".into());
            }
            me.blocks.push(padding);
            (*padding).length = s.padding_bytes;
            let count = me.blocks.len() as u32;
            let ok = sys::FLAC__stream_encoder_set_channels(encoder, s.channels) != 0
                && sys::FLAC__stream_encoder_set_bits_per_sample(encoder, s.bits) != 0
                && sys::FLAC__stream_encoder_set_sample_rate(encoder, s.sample_rate_hz) != 0
                && sys::FLAC__stream_encoder_set_compression_level(encoder, s.compression_level)
                    != 0
                && sys::FLAC__stream_encoder_set_metadata(encoder, me.blocks.as_mut_ptr(), count)
                    != 0;
            if !ok {
                return Err(me.state());
            }
            let status =
                sys::FLAC__stream_encoder_init_file(encoder, name.as_ptr(), None, ptr::null_mut());
            if status != sys::FLAC__STREAM_ENCODER_INIT_STATUS_OK {
                let text = string_at(sys::FLAC__StreamEncoderInitStatusString.as_ptr(), status);
                return Err(format!("libFLAC: {} ({})", text, me.state()));
            }
            Ok(me)
        }
    }

    /// Adds a VORBIS_COMMENT block holding `comments` to `blocks` (freed by `Drop`).
    fn comment_block(&mut self, comments: &[(String, String)]) -> Result<(), String> {
        let c = |v: &str| CString::new(v).map_err(|_| format!("a NUL byte in the tag {v:?}"));
        // SAFETY: the block comes from libFLAC's constructor (checked non-null); each entry
        // is made by libFLAC from two valid C strings and handed over (copy = false), so
        // the block owns it.
        unsafe {
            let block = sys::FLAC__metadata_object_new(sys::FLAC__METADATA_TYPE_VORBIS_COMMENT);
            if block.is_null() {
                return Err("libFLAC: out of memory".into());
            }
            self.blocks.push(block);
            for (name, value) in comments {
                let (name, value) = (c(name)?, c(value)?);
                let mut entry: sys::FLAC__StreamMetadata_VorbisComment_Entry = std::mem::zeroed();
                let ok = sys::FLAC__metadata_object_vorbiscomment_entry_from_name_value_pair(
                    &mut entry,
                    name.as_ptr(),
                    value.as_ptr(),
                ) != 0
                    && sys::FLAC__metadata_object_vorbiscomment_append_comment(block, entry, 0)
                        != 0;
                if !ok {
                    return Err("libFLAC: cannot store a tag".into());
                }
            }
            Ok(())
        }
    }

    /// Encodes one block: one slice of integer samples per channel, all the same length.
    pub fn process(&mut self, channels: &[&[i32]]) -> Result<(), String> {
        assert_eq!(channels.len(), self.channels, "one slice per channel");
        let n = channels[0].len();
        assert!(channels.iter().all(|c| c.len() == n), "equal lengths");
        if n == 0 {
            return Ok(());
        }
        let mut ptrs = [ptr::null::<i32>(); 8];
        for (p, c) in ptrs.iter_mut().zip(channels) {
            *p = c.as_ptr();
        }
        let frames = u32::try_from(n).map_err(|_| "libFLAC: block too long".to_string())?;
        // SAFETY: `ptrs` holds one valid pointer per channel, each to `n` samples, alive for
        // the call; the encoder was initialised by `create`.
        let ok = unsafe { sys::FLAC__stream_encoder_process(self.encoder, ptrs.as_ptr(), frames) };
        if ok == 0 {
            return Err(self.state());
        }
        Ok(())
    }

    /// Encodes what is buffered and completes the file's STREAMINFO.
    pub fn finish(self) -> Result<(), String> {
        // SAFETY: the encoder was initialised by `create`; finishing twice (here, then in
        // `Drop`'s delete) is allowed by libFLAC (the second is a no-op).
        let ok = unsafe { sys::FLAC__stream_encoder_finish(self.encoder) };
        if ok == 0 {
            return Err(self.state());
        }
        Ok(())
    }

    /// The encoder's state, as libFLAC names it.
    fn state(&self) -> String {
        // SAFETY: the encoder is valid; the state indexes libFLAC's table of state names.
        unsafe {
            let state = sys::FLAC__stream_encoder_get_state(self.encoder);
            format!(
                "libFLAC: {}",
                string_at(sys::FLAC__StreamEncoderStateString.as_ptr(), state)
            )
        }
    }
}

/// Entry `index` of one of libFLAC's tables of names.
///
/// # Safety
/// `table` must be one of libFLAC's string tables and `index` a value of its enum.
unsafe fn string_at(table: *const *const std::os::raw::c_char, index: u32) -> String {
    // SAFETY: as the caller promises.
    unsafe { CStr::from_ptr(*table.add(index as usize)) }
        .to_string_lossy()
        .into_owned()
}

impl Drop for LibFlacEncoder {
    fn drop(&mut self) {
        // SAFETY: both pointers come from libFLAC's constructors and are freed once, the
        // encoder first (it refers to the metadata block until it is finished).
        unsafe {
            sys::FLAC__stream_encoder_delete(self.encoder);
            for &block in &self.blocks {
                sys::FLAC__metadata_object_delete(block);
            }
        }
    }
}

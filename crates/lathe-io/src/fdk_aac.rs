//! A thin safe wrapper over the Fraunhofer FDK AAC encoder (crate `fdk-aac-sys`, which builds
//! the library's bundled C++ sources). The crate's own safe wrapper (`fdk-aac`) leaves out two
//! things a mastering deliverable needs: the "afterburner" (analysis by synthesis; FDK's own
//! documentation recommends it wherever the processing time is affordable, and for a file
//! rendered once it is) and the end-of-stream flush that empties the encoder's delay line.
//! This file and `libflac.rs` hold every `unsafe` block of lathe's file layer.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_void};
use std::ptr;

use fdk_aac_sys as sys;

/// What the encoder is set up with.
pub struct FdkSettings {
    pub sample_rate_hz: u32,
    pub bitrate_bps: u32,
}

/// What the encoder tells once set up.
pub struct FdkInfo {
    /// Samples per channel in one access unit (1024 for AAC-LC).
    pub frame_len: u32,
    /// Samples per channel before the first input sample comes out.
    pub delay: u32,
    /// AudioSpecificConfig (ISO/IEC 14496-3) for the container.
    pub audio_specific_config: Vec<u8>,
    /// The largest access unit it can produce, bytes.
    pub max_out_bytes: usize,
}

/// An AAC-LC stereo encoder producing raw access units.
pub struct FdkEncoder {
    handle: sys::HANDLE_AACENCODER,
    info: FdkInfo,
}

// The handle is owned by this value alone; FDK keeps no thread-bound state.
unsafe impl Send for FdkEncoder {}

/// What one call of [`FdkEncoder::encode`] did.
pub struct Step {
    /// Interleaved input samples taken.
    pub consumed: usize,
    /// Bytes of one access unit written to the output (0: none this call).
    pub written: usize,
    /// The flush is complete (only after `input: None`).
    pub done: bool,
}

fn check(what: &str, code: sys::AACENC_ERROR) -> Result<(), String> {
    if code == sys::AACENC_ERROR_AACENC_OK {
        Ok(())
    } else {
        Err(format!("AAC encoder: {what} failed (FDK error {code:#x})"))
    }
}

impl FdkEncoder {
    /// Opens an AAC-LC stereo encoder, constant bitrate, raw access units, afterburner on.
    pub fn new(s: &FdkSettings) -> Result<Self, String> {
        let mut handle: sys::HANDLE_AACENCODER = ptr::null_mut();
        // SAFETY: FDK writes a new handle into `handle`; 0 modules = all, 2 channels.
        check("open", unsafe { sys::aacEncOpen(&mut handle, 0, 2) })?;
        let mut me = FdkEncoder {
            handle,
            info: FdkInfo {
                frame_len: 0,
                delay: 0,
                audio_specific_config: Vec::new(),
                max_out_bytes: 0,
            },
        };
        let params = [
            (
                "profile",
                sys::AACENC_PARAM_AACENC_AOT,
                sys::AUDIO_OBJECT_TYPE_AOT_AAC_LC as u32,
            ),
            (
                "rate",
                sys::AACENC_PARAM_AACENC_SAMPLERATE,
                s.sample_rate_hz,
            ),
            ("channels", sys::AACENC_PARAM_AACENC_CHANNELMODE, 2),
            ("bitrate mode", sys::AACENC_PARAM_AACENC_BITRATEMODE, 0),
            ("bitrate", sys::AACENC_PARAM_AACENC_BITRATE, s.bitrate_bps),
            ("transport", sys::AACENC_PARAM_AACENC_TRANSMUX, 0),
            ("afterburner", sys::AACENC_PARAM_AACENC_AFTERBURNER, 1),
        ];
        for (what, param, value) in params {
            // SAFETY: a valid handle, a parameter id from the library's own header.
            check(what, unsafe {
                sys::aacEncoder_SetParam(me.handle, param, value)
            })?;
        }
        // SAFETY: all-null arguments ask FDK to apply the parameters (its documented init).
        check("setup", unsafe {
            sys::aacEncEncode(
                me.handle,
                ptr::null(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
            )
        })?;
        let mut info = MaybeUninit::<sys::AACENC_InfoStruct>::uninit();
        // SAFETY: FDK fills the whole struct on success.
        check("info", unsafe {
            sys::aacEncInfo(me.handle, info.as_mut_ptr())
        })?;
        // SAFETY: initialised by the successful call above.
        let info = unsafe { info.assume_init() };
        let conf = (info.confSize as usize).min(info.confBuf.len());
        me.info = FdkInfo {
            frame_len: info.frameLength,
            delay: info.nDelay,
            audio_specific_config: info.confBuf[..conf].to_vec(),
            max_out_bytes: info.maxOutBufBytes as usize,
        };
        Ok(me)
    }

    pub fn info(&self) -> &FdkInfo {
        &self.info
    }

    /// Feeds interleaved 16-bit samples (`None`: end of stream, flush) and writes at most one
    /// access unit into `out` (at least [`FdkInfo::max_out_bytes`] long).
    pub fn encode(&mut self, input: Option<&[i16]>, out: &mut [u8]) -> Result<Step, String> {
        let samples = input.unwrap_or(&[]);
        let mut in_ptr = samples.as_ptr() as *mut c_void;
        let mut in_id: c_int = sys::AACENC_BufferIdentifier_IN_AUDIO_DATA as c_int;
        let mut in_size: c_int = (samples.len() * 2) as c_int;
        let mut in_el: c_int = 2;
        let in_desc = sys::AACENC_BufDesc {
            numBufs: 1,
            bufs: &mut in_ptr,
            bufferIdentifiers: &mut in_id,
            bufSizes: &mut in_size,
            bufElSizes: &mut in_el,
        };
        let mut out_ptr = out.as_mut_ptr() as *mut c_void;
        let mut out_id: c_int = sys::AACENC_BufferIdentifier_OUT_BITSTREAM_DATA as c_int;
        let mut out_size: c_int = out.len() as c_int;
        let mut out_el: c_int = 1;
        let out_desc = sys::AACENC_BufDesc {
            numBufs: 1,
            bufs: &mut out_ptr,
            bufferIdentifiers: &mut out_id,
            bufSizes: &mut out_size,
            bufElSizes: &mut out_el,
        };
        let in_args = sys::AACENC_InArgs {
            numInSamples: input.map_or(-1, |s| s.len() as c_int),
            numAncBytes: 0,
        };
        let mut out_args = MaybeUninit::<sys::AACENC_OutArgs>::zeroed();
        // SAFETY: the descriptors point at live buffers of the sizes given; FDK reads at most
        // `in_size` bytes of input and writes at most `out_size` bytes of output.
        let code = unsafe {
            sys::aacEncEncode(
                self.handle,
                &in_desc,
                &out_desc,
                &in_args,
                out_args.as_mut_ptr(),
            )
        };
        if code == sys::AACENC_ERROR_AACENC_ENCODE_EOF {
            return Ok(Step {
                consumed: 0,
                written: 0,
                done: true,
            });
        }
        check("encoding", code)?;
        // SAFETY: zero-initialised, then filled by the successful call.
        let out_args = unsafe { out_args.assume_init() };
        Ok(Step {
            consumed: out_args.numInSamples.max(0) as usize,
            written: out_args.numOutBytes.max(0) as usize,
            done: false,
        })
    }
}

impl Drop for FdkEncoder {
    fn drop(&mut self) {
        // SAFETY: the handle came from aacEncOpen and is closed once.
        unsafe {
            sys::aacEncClose(&mut self.handle);
        }
    }
}

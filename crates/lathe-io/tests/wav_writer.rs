//! A hand-written WAV writer for the decoder tests: it produces every header variant the
//! decoder must accept, byte by byte, so the expected samples are known exactly.

#![allow(dead_code)]

/// How the sample data is encoded.
#[derive(Clone, Copy, Debug)]
pub enum Encoding {
    /// Unsigned 8-bit.
    U8,
    Int16,
    Int24,
    Int32,
    Float32,
    Float64,
}

impl Encoding {
    pub fn bits(self) -> u16 {
        match self {
            Encoding::U8 => 8,
            Encoding::Int16 => 16,
            Encoding::Int24 => 24,
            Encoding::Int32 | Encoding::Float32 => 32,
            Encoding::Float64 => 64,
        }
    }
    fn is_float(self) -> bool {
        matches!(self, Encoding::Float32 | Encoding::Float64)
    }
    /// Encodes `x` and returns what a correct decoder must give back.
    pub fn encode(self, x: f64, out: &mut Vec<u8>) -> f64 {
        match self {
            Encoding::U8 => {
                let q = (x * 128.0).round().clamp(-128.0, 127.0);
                out.push((q + 128.0) as u8);
                q / 128.0
            }
            Encoding::Int16 => {
                let q = (x * 32768.0).round().clamp(-32768.0, 32767.0);
                out.extend_from_slice(&(q as i16).to_le_bytes());
                q / 32768.0
            }
            Encoding::Int24 => {
                let q = (x * 8388608.0).round().clamp(-8388608.0, 8388607.0);
                out.extend_from_slice(&(q as i32).to_le_bytes()[..3]);
                q / 8388608.0
            }
            Encoding::Int32 => {
                let q = (x * 2147483648.0)
                    .round()
                    .clamp(-2147483648.0, 2147483647.0);
                out.extend_from_slice(&(q as i32).to_le_bytes());
                q / 2147483648.0
            }
            Encoding::Float32 => {
                out.extend_from_slice(&(x as f32).to_le_bytes());
                x as f32 as f64
            }
            Encoding::Float64 => {
                out.extend_from_slice(&x.to_le_bytes());
                x
            }
        }
    }
}

/// Header options.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub extensible: bool,
    /// Add a LIST/INFO chunk holding an odd-length sub-chunk (with its pad byte) and an unknown
    /// 5-byte chunk (odd length, with its pad byte).
    pub extra_chunks: bool,
    /// Write this value in both the RIFF and data size fields instead of the real sizes.
    pub lying_size: Option<u32>,
}

fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// Builds a WAV file from planar `channels`; returns the bytes and the samples a correct decoder
/// yields.
pub fn build(
    rate: u32,
    channels: &[Vec<f64>],
    enc: Encoding,
    layout: &Layout,
) -> (Vec<u8>, Vec<Vec<f64>>) {
    let nch = channels.len() as u16;
    let frames = channels[0].len();
    let mut data = Vec::new();
    let mut expected = vec![Vec::with_capacity(frames); channels.len()];
    for n in 0..frames {
        for (c, ch) in channels.iter().enumerate() {
            expected[c].push(enc.encode(ch[n], &mut data));
        }
    }
    let block_align = nch * enc.bits() / 8;
    let format_tag: u16 = if layout.extensible {
        0xFFFE
    } else if enc.is_float() {
        3
    } else {
        1
    };
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&format_tag.to_le_bytes());
    fmt.extend_from_slice(&nch.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * block_align as u32).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&enc.bits().to_le_bytes());
    if layout.extensible {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&enc.bits().to_le_bytes()); // valid bits
        let mask: u32 = if nch == 2 { 0x3 } else { (1u32 << nch) - 1 };
        fmt.extend_from_slice(&mask.to_le_bytes());
        let sub: u16 = if enc.is_float() { 3 } else { 1 };
        fmt.extend_from_slice(&sub.to_le_bytes());
        fmt.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    let mut body = Vec::new();
    body.extend_from_slice(b"WAVE");
    chunk(&mut body, b"fmt ", &fmt);
    if layout.extra_chunks {
        // INFO list with an odd-length INAM sub-chunk and its pad byte.
        chunk(&mut body, b"LIST", b"INFOINAM\x05\x00\x00\x00song\x00\x00");
        chunk(&mut body, b"odd ", b"12345");
    }
    body.extend_from_slice(b"data");
    body.extend_from_slice(&layout.lying_size.unwrap_or(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&data);
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&layout.lying_size.unwrap_or(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    (out, expected)
}

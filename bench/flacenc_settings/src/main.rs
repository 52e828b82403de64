//! Times flacenc 0.5.1's frame API (the one lathe's FLAC writer uses, 4096-sample blocks) on
//! a 24-bit stereo WAV under several settings, and the MD5 of the samples that the writer
//! computes beside it. Prints seconds and encoded megabytes per setting.

use flacenc::bitsink::MemSink;
use flacenc::component::{BitRepr, StreamInfo};
use flacenc::config::Encoder;
use flacenc::error::Verify;
use flacenc::source::{Fill, FrameBuf};
use md5::{Digest, Md5};
use std::time::Instant;

const BLOCK: usize = 4096;

fn encode(name: &str, config: Encoder, samples: &[i32], rate_hz: usize) {
    let config = config.into_verified().map_err(|(_, e)| e).expect("valid");
    let mut info = StreamInfo::new(rate_hz, 2, 24).expect("stream info");
    info.set_block_sizes(BLOCK, BLOCK).expect("block sizes");
    let mut frame_buf = FrameBuf::with_size(2, BLOCK).expect("frame buffer");
    let started = Instant::now();
    let mut bytes = 0;
    for (n, block) in samples.chunks_exact(2 * BLOCK).enumerate() {
        frame_buf.fill_interleaved(block).expect("fill");
        let frame = flacenc::encode_fixed_size_frame(&config, &frame_buf, n, &info).expect("frame");
        let mut sink = MemSink::<u8>::with_capacity(frame.count_bits());
        frame.write(&mut sink).expect("write");
        bytes += sink.as_slice().len();
    }
    let s = started.elapsed().as_secs_f64();
    println!("{name:44} {s:6.2} s {:7.1} MB", bytes as f64 / 1e6);
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: flacenc-settings FILE.wav (24-bit stereo)");
    let wav = hound::WavReader::open(&path).expect("a WAV file");
    assert_eq!(
        (wav.spec().channels, wav.spec().bits_per_sample),
        (2, 24),
        "24-bit stereo"
    );
    let rate_hz = wav.spec().sample_rate as usize;
    let samples: Vec<i32> = wav
        .into_samples::<i32>()
        .map(|v| v.expect("sample"))
        .collect();

    let started = Instant::now();
    let mut md5 = Md5::new();
    for v in &samples {
        md5.update(&v.to_le_bytes()[..3]);
    }
    let _ = md5.finalize();
    println!(
        "{:44} {:6.2} s",
        "MD5, one update per sample (as lathe)",
        started.elapsed().as_secs_f64()
    );

    encode(
        "flacenc default (lathe today)",
        Encoder::default(),
        &samples,
        rate_hz,
    );
    let mut c = Encoder::default();
    c.stereo_coding.use_leftside = false;
    c.stereo_coding.use_rightside = false;
    encode("mid/side and left/right only", c.clone(), &samples, rate_hz);
    c.subframe_coding.qlpc.lpc_order = 8;
    encode(
        "  and LPC order 8 (as flac -5)",
        c.clone(),
        &samples,
        rate_hz,
    );
    c.subframe_coding.use_fixed = false;
    encode("  and no fixed predictors", c, &samples, rate_hz);
}

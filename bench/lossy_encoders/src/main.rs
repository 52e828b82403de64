//! Encodes a float stereo WAV with one of lathe's lossy writers (the `Encoder` trait the
//! engine uses, fed 4096-frame blocks of f64 as the engine feeds it) and prints the seconds
//! spent in the encoder alone (the file is read into memory first).
//! Usage: lossy-encoders FORMAT KBPS IN.wav OUT

use lathe_io::encoder::{self, EncoderSettings};
use lathe_io::Format;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, format, kbps, input, output] = &args[..] else {
        panic!("usage: lossy-encoders FORMAT KBPS IN.wav OUT");
    };
    let format = Format::parse(format).expect("a format");
    let mut wav = hound::WavReader::open(input).expect("a WAV file");
    let rate = wav.spec().sample_rate;
    let samples: Vec<f32> = wav.samples::<f32>().map(Result::unwrap).collect();
    let l: Vec<f64> = samples.iter().step_by(2).map(|&v| v as f64).collect();
    let r: Vec<f64> = samples.iter().skip(1).step_by(2).map(|&v| v as f64).collect();
    let settings = EncoderSettings {
        format,
        sample_rate_hz: rate,
        bits: 0,
        bitrate_kbps: Some(kbps.parse().expect("kbps")),
    };
    let started = Instant::now();
    let mut e = encoder::open(output.as_ref(), settings).expect("encoder");
    for (a, b) in l.chunks(4096).zip(r.chunks(4096)) {
        e.write_float(a, b).expect("write");
    }
    e.finish().expect("finish");
    println!("{:.2}", started.elapsed().as_secs_f64());
}

//! The DDP reader (`lathe ddp verify`) on an image made of fuzzed files: the input is split
//! at the byte 0xFF 0x00 0xFF into DDPID, DDPMS, PQDESCR, CDTEXT.BIN, IMAGE.DAT and
//! CHECKSUM.MD5, in that order. An error or a report, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = [
    "DDPID",
    "DDPMS",
    "PQDESCR",
    "CDTEXT.BIN",
    "IMAGE.DAT",
    "CHECKSUM.MD5",
];

fuzz_target!(|data: &[u8]| {
    let root = std::env::temp_dir().join(format!("lathe-fuzz-ddp-{}", std::process::id()));
    let image = root.join("image");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&image).unwrap();
    let mut rest = data;
    for name in NAMES {
        let end = rest
            .windows(3)
            .position(|w| w == [0xFF, 0x00, 0xFF])
            .unwrap_or(rest.len());
        std::fs::write(image.join(name), &rest[..end]).unwrap();
        rest = rest.get(end + 3..).unwrap_or(&[]);
    }
    let _ = lathe_engine::album::ddp::verify_ddp(&image, Some(&root.join("tracks")));
    let _ = std::fs::remove_dir_all(&root);
});

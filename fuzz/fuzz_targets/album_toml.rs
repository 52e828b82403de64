//! Album files: any text parses to an album or an error; checks never panic.
#![no_main]

use lathe_engine::album::AlbumSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = toml::from_str::<AlbumSpec>(text) {
        let _ = a.validate();
    }
});

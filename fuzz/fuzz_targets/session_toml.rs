//! Session files: any text parses to a session or an error naming the key; a session that
//! passes its checks serialises and parses back to itself.
#![no_main]

use lathe_engine::spec::session::Session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(s) = toml::from_str::<Session>(text) else {
        return;
    };
    if s.validate().is_ok() {
        let _ = s.deliver_specs();
        let _ = s.bus();
        let again: Session = toml::from_str(&s.to_toml()).expect("a valid session round-trips");
        assert_eq!(again.to_toml(), s.to_toml());
        // Every chain builds (ranges were checked).
        for stem in &s.stems {
            for p in &stem.chain {
                let _ = p.build();
            }
        }
        for p in &s.master.chain {
            let _ = p.build();
        }
    }
});

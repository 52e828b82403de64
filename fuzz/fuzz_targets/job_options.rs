//! The service's job options (the `options` part of an upload) and the command-line specs
//! inside them: any bytes are options or an error; options that pass their checks are
//! accepted by the parsers the worker uses.
#![no_main]

use lathe_engine::spec::deliver::DeliverSpec;
use lathe_engine::spec::version::VersionSpec;
use lathe_server::worker::JobOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // The specs on their own, as `--deliver` and `--version` take them.
        let _ = DeliverSpec::parse(text);
        let _ = VersionSpec::parse(text);
    }
    let Ok(o) = serde_json::from_slice::<JobOptions>(data) else {
        return;
    };
    if o.check().is_ok() {
        for d in &o.deliver {
            let spec = DeliverSpec::parse(d).expect("validated");
            if let Some(r) = spec.sample_rate_hz {
                assert!(lathe_engine::spec::deliver::RATE_RANGE_HZ.contains(&r));
            }
        }
        for v in &o.versions {
            VersionSpec::parse(v).expect("validated");
        }
    }
});

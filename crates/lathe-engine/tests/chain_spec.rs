//! Processor chains from session TOML (the README's processor keys): the documented examples parse and build;
//! unknown keys and out-of-range values are errors that name the key.

use lathe_engine::spec::chain::{validate_chain, ProcessorSpec};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    chain: Vec<ProcessorSpec>,
}

fn parse(toml_text: &str) -> Result<Vec<ProcessorSpec>, String> {
    let doc: Doc = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    validate_chain(&doc.chain)?;
    Ok(doc.chain)
}

#[test]
fn design_examples_parse_and_build() {
    let stem = r#"
chain = [
  { eq = { bands = [ { kind = "highpass", freq_hz = 30, slope_db_oct = 24 },
                     { kind = "bell", freq_hz = 350, gain_db = -2.0, q = 1.2 } ] } },
  { compressor = { threshold_db = -18, ratio = 2.0, attack_ms = 10, release_ms = 120 } },
]"#;
    let master = r#"
chain = [
  { eq = { bands = [ { kind = "low_shelf", freq_hz = 80, gain_db = 1.0 } ] } },
  { multiband = { crossovers_hz = [120, 2500], bands = [ { threshold_db = -20, ratio = 2.0 }, {}, {} ] } },
  { saturate = { drive_db = 3.0, kind = "tape" } },
  { stereo = { width = 1.1, mono_below_hz = 120 } },
  { limiter = { ceiling_dbtp = -1.0, release_ms = 80 } },
]"#;
    // Engineers write "highpass" as often as "high_pass": both spellings are accepted.
    let stem_snake = stem.replace("\"highpass\"", "\"high_pass\"");
    assert_eq!(parse(stem).unwrap(), parse(&stem_snake).unwrap());
    for text in [stem, master] {
        let chain = parse(text).unwrap_or_else(|e| panic!("{e}"));
        for p in &chain {
            let mut built = p.build();
            built.prepare(48000.0, 512);
        }
    }
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let err = parse("chain = [\n  { compressor = { treshold_db = -18 } },\n]").unwrap_err();
    assert!(
        err.contains("treshold_db") && err.contains("line 2"),
        "{err}"
    );
    let err = parse("chain = [ { reverb = { size = 1 } } ]").unwrap_err();
    assert!(err.contains("reverb"), "{err}");
    let err = parse(
        "chain = [ { multiband = { crossovers_hz = [200], bands = [ { ratoi = 2 }, {} ] } } ]",
    )
    .unwrap_err();
    assert!(err.contains("ratoi"), "{err}");
}

#[test]
fn out_of_range_values_are_named_by_their_path() {
    let cases = [
        (
            "chain = [ { gain = {} }, { compressor = { ratio = 0.5 } } ]",
            "chain[1].compressor.ratio",
        ),
        (
            "chain = [ { eq = { bands = [ {}, { kind = \"bell\", freq_hz = -5 } ] } } ]",
            "chain[0].eq.bands[1].freq_hz",
        ),
        (
            "chain = [ { limiter = { ceiling_dbtp = 3 } } ]",
            "chain[0].limiter.ceiling_dbtp",
        ),
        (
            "chain = [ { saturate = { oversampling = 3 } } ]",
            "chain[0].saturate.oversampling",
        ),
        (
            "chain = [ { multiband = { crossovers_hz = [2000, 100] } } ]",
            "chain[0].multiband.crossovers_hz",
        ),
        (
            "chain = [ { eq = { bands = [ { kind = \"high_pass\", slope_db_oct = 10 } ] } } ]",
            "chain[0].eq.bands[0].slope_db_oct",
        ),
    ];
    for (text, path) in cases {
        let err = parse(text).unwrap_err();
        assert!(
            err.starts_with(path),
            "expected an error at {path}, got: {err}"
        );
    }
}

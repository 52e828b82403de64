//! What a stem is, for the assistant: from the session's `role`, else from the stem's name
//! (`lead_vocal.wav` is a vocal, `kick` drums, `bass_di` bass; `synth_lead` is not a vocal).

use crate::spec::stem::StemSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Vocal,
    Drums,
    Bass,
    Other,
}

const VOCAL: &[&str] = &[
    "vocal",
    "vocals",
    "vox",
    "voice",
    "voc",
    "vocalist",
    "singer",
    "leadvocal",
    "leadvox",
    "speech",
    "dialog",
    "dialogue",
    "narration",
    "rap",
];
const DRUMS: &[&str] = &[
    "drum",
    "drums",
    "kick",
    "snare",
    "perc",
    "percussion",
    "beat",
    "beats",
    "kit",
    "bd",
    "sd",
    "hihat",
    "hats",
    "toms",
    "overheads",
    "oh",
];
const BASS: &[&str] = &["bass", "sub", "subbass", "808", "bassline", "di"];
/// Instruments that make a "lead" something other than a singer.
const INSTRUMENTS: &[&str] = &[
    "synth",
    "guitar",
    "guitars",
    "gtr",
    "keys",
    "piano",
    "organ",
    "lead_synth",
    "pad",
    "strings",
    "brass",
    "sax",
    "flute",
];

fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The role of a stem: its `role` text if it names one, else its name's words.
pub fn role_of(stem: &StemSpec) -> Role {
    let from = |text: &str| {
        let t = tokens(text);
        let has = |set: &[&str]| t.iter().any(|w| set.contains(&w.as_str()));
        if has(VOCAL) || (t.iter().any(|w| w == "lead") && !has(INSTRUMENTS)) {
            Some(Role::Vocal)
        } else if has(DRUMS) {
            Some(Role::Drums)
        } else if has(BASS) {
            Some(Role::Bass)
        } else {
            None
        }
    };
    stem.role
        .as_deref()
        .and_then(from)
        .or_else(|| from(&stem.name))
        .unwrap_or(Role::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> StemSpec {
        let mut s = StemSpec::plain(format!("{n}.wav").into());
        s.name = n.into();
        s
    }

    #[test]
    fn names_give_roles() {
        for (n, r) in [
            ("lead_vocal", Role::Vocal),
            ("Lead", Role::Vocal),
            ("BV-vox", Role::Vocal),
            ("synth_lead", Role::Other),
            ("synth_leads", Role::Other),
            ("Kick In", Role::Drums),
            ("drums", Role::Drums),
            ("bass_di", Role::Bass),
            ("guitars", Role::Other),
            ("choir_fx", Role::Other),
        ] {
            assert_eq!(role_of(&named(n)), r, "{n}");
        }
        let mut s = named("track 3");
        s.role = Some("vocal".into());
        assert_eq!(role_of(&s), Role::Vocal);
    }
}

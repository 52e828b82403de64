//! The stem assistant (`--assist` with stems, or on a stereo mix as a stem of one): from each
//! stem's measurements ([`super::stem_facts`]) and how the stems sit together, a corrective
//! chain per stem, written as ordinary processors, with one choice per move (the stem, what
//! was measured, what was done). It corrects; it does not rebalance: a stem whose cuts would
//! lower it by more than [`MAX_OVERALL_DB`] gets a trim that brings it back to that.
//!
//! The rules (figures from mastering practice, gentle on purpose; see docs/ASSISTANT.md):
//! - **Resonance** (any stem): a 1/12-octave band ≥ [`RES_EXCESS_DB`] over its surroundings in
//!   the long-term spectrum, standing out in ≥ [`RES_PERSISTENCE`] of the frames (a fixed
//!   resonance rings on; a melody's notes come and go), among smooth surroundings (not among
//!   a tonal sound's other partials) and with no partner of a harmonic series (a held note)
//!   → a resonance suppressor confined to ±¼ octave around it, as deep as the excess plus
//!   3 dB (at most 12 dB).
//! - **Sibilance** (vocal stems): the top (5–12.5 kHz) of the sibilant frames against the
//!   level of the vowels; more than [`SIB_LIMIT_DB`] → a de-esser deep enough to bring it to
//!   [`SIB_AIM_DB`] (3–10 dB).
//! - **Masking** (every other stem against the lead vocal): where, while the vocal sings, a
//!   stem's 1–5 kHz band is within [`MASK_MARGIN_DB`] of the vocal's → a dynamic EQ bell on
//!   that stem keyed by the vocal, cutting up to 6 dB (9 dB for a stem more than 6 dB over
//!   the vocal there) only while the vocal sings.
//! - **Kick and bass**: where the drums' low peak (40–100 Hz) hits and the bass is about as
//!   strong there (within ±6 dB) → a dynamic bell on the bass keyed by the drums, at most 3 dB.
//! - **Mud and harshness** (judged on the sum, corrected on a stem): the sum's 200–500 Hz or
//!   2–5 kHz standing more than [`super::stem_tonal::TONAL_EXCESS_DB`] over a straight line fitted to its
//!   spectrum (dB over log frequency, 50 Hz–10 kHz) → a bell on the non-bass stem whose own
//!   sound is most concentrated there (among those holding a tenth of the range in the sum),
//!   just deep enough to bring the sum back were the range all its (1–6 dB).
//! - **Rumble** (not on bass or drums): content under 40 Hz within 25 dB of the stem's level
//!   → a 12 dB/octave high-pass below the stem's lowest musical band.
//! - **Dynamics**: a vocal whose frame levels spread over more than [`SPREAD_LIMIT_DB`] → a
//!   2.5:1 compressor; drums with a crest factor under [`CREST_FLOOR_DB`] (squashed) → a
//!   transient shaper giving 3 dB of attack back.

use lathe_dsp::compressor::Detection;
use lathe_dsp::deesser::DeEsserSettings;
use lathe_dsp::dynamic_eq::{DynamicBand, DynamicMode, DynamicShape};
use lathe_dsp::eq::{BandKind, EqBand, PassFamily};
use lathe_dsp::resonance::ResonanceSettings;
use lathe_dsp::spectrum::BAND_NOMINAL_HZ;
use lathe_dsp::transient_shaper::TransientSettings;

use super::assistant::Choice;
use super::roles::{role_of, Role};
use super::stem_facts::{db, round1, third_index, FineBand, StemFacts, THIRDS};
use crate::spec::chain::{
    CompressorSpec, DynamicEqSpec, EqBandSpec, EqSpec, GainSpec, ProcessorSpec,
};
use crate::spec::stem::StemSpec;

pub const RES_EXCESS_DB: f64 = 6.0;
pub const RES_PERSISTENCE: f64 = 0.8;
/// Surroundings rougher than this (dB of standard deviation) are a tonal sound's partials.
pub const RES_ROUGHNESS_DB: f64 = 4.0;
/// A partner peak of a harmonic series stands at least this far out, dB.
pub const PARTIAL_EXCESS_DB: f64 = 3.0;
/// Sibilants whose top comes within this of the vowels' level are harsh, dB.
pub const SIB_LIMIT_DB: f64 = -8.0;
/// Where the de-esser brings them: the middle of speech's usual range, dB.
pub const SIB_AIM_DB: f64 = -12.0;
pub const MASK_MARGIN_DB: f64 = 3.0;
pub const SPREAD_LIMIT_DB: f64 = 24.0;
pub const CREST_FLOOR_DB: f64 = 9.0;
pub const MAX_OVERALL_DB: f64 = 1.0;

/// Each stem's chain (in session order) and every choice.
#[derive(Clone, Debug, Default)]
pub struct StemPlan {
    pub chains: Vec<Vec<ProcessorSpec>>,
    pub choices: Vec<Choice>,
}

/// Plans every stem's chain.
pub fn assist_stems(stems: &[StemSpec], facts: &[StemFacts]) -> StemPlan {
    let roles: Vec<Role> = stems.iter().map(role_of).collect();
    let mut plan = StemPlan {
        chains: vec![Vec::new(); stems.len()],
        choices: Vec::new(),
    };
    let mut add = |i: usize, p: ProcessorSpec, c: Choice| {
        plan.chains[i].push(p);
        plan.choices.push(c);
    };
    for (i, (s, f)) in stems.iter().zip(facts).enumerate() {
        if roles[i] != Role::Bass && roles[i] != Role::Drums {
            if let Some((p, c)) = rumble(&s.name, f) {
                add(i, p, c);
            }
        }
        for (p, c) in resonance(&s.name, f) {
            add(i, p, c);
        }
        if roles[i] == Role::Vocal {
            if let Some((p, c)) = sibilance(&s.name, f) {
                add(i, p, c);
            }
        }
    }
    for (i, p, c) in super::stem_tonal::tonal(stems, facts, &roles) {
        add(i, p, c);
    }
    if let Some(v) = roles.iter().position(|r| *r == Role::Vocal) {
        for i in (0..stems.len()).filter(|&i| i != v && roles[i] != Role::Vocal) {
            if let Some((p, c)) = masking(&stems[i].name, &facts[i], &stems[v].name, &facts[v]) {
                add(i, p, c);
            }
        }
    }
    if let (Some(d), Some(b)) = (
        roles.iter().position(|r| *r == Role::Drums),
        roles.iter().position(|r| *r == Role::Bass),
    ) {
        if let Some((p, c)) = kick_bass(&stems[b].name, &facts[b], &stems[d].name, &facts[d]) {
            add(b, p, c);
        }
    }
    for (i, (s, f)) in stems.iter().zip(facts).enumerate() {
        if let Some((p, c)) = dynamics(&s.name, f, roles[i]) {
            add(i, p, c);
        }
    }
    for (i, (s, f)) in stems.iter().zip(facts).enumerate() {
        if let Some((p, c)) = keep_level(&s.name, f, &plan.chains[i]) {
            plan.chains[i].push(p);
            plan.choices.push(c);
        }
    }
    for (i, s) in stems.iter().enumerate() {
        if plan.chains[i].is_empty() {
            plan.choices.push(Choice {
                stem: Some(s.name.clone()),
                processor: "nothing".into(),
                measured: None,
                reason: "no resonance, sibilance, masking, mud, harshness, rumble or dynamics problem found".into(),
            });
        }
    }
    plan
}

fn rumble(name: &str, f: &StemFacts) -> Option<(ProcessorSpec, Choice)> {
    let total: f64 = f.thirds_db.iter().map(|&l| 10f64.powf(l / 10.0)).sum();
    let sub: f64 = f.thirds_db[..3].iter().map(|&l| 10f64.powf(l / 10.0)).sum();
    let rel = db(sub) - db(total);
    if rel < -25.0 {
        return None;
    }
    // The lowest band from 50 Hz up within 30 dB of the stem's strongest band.
    let top = f.thirds_db.iter().copied().fold(-200.0, f64::max);
    let lowest = (4..THIRDS).find(|&b| f.thirds_db[b] > top - 30.0)?;
    let corner = (BAND_NOMINAL_HZ[lowest] / 2.0).clamp(25.0, 80.0).round();
    let spec = ProcessorSpec::Eq(EqSpec {
        bands: vec![EqBandSpec {
            kind: BandKind::HighPass,
            freq_hz: corner,
            slope_db_oct: 12,
            family: PassFamily::Butterworth,
            ..Default::default()
        }],
        ..Default::default()
    });
    Some((
        spec,
        Choice::on(
            name,
            format!("eq: high-pass {corner} Hz, 12 dB/oct"),
            format!("content under 40 Hz {rel:.1} dB relative to the stem"),
            "rumble under the stem's lowest musical band",
        ),
    ))
}

/// Fine bands that are resonances: (Hz, excess dB, persistence), strongest first.
pub fn find_resonances(f: &StemFacts) -> Vec<(f64, f64, f64)> {
    let b = &f.fine;
    let mut found: Vec<(f64, f64, f64)> = (1..b.len().saturating_sub(1))
        .filter(|&i| {
            b[i].excess_db >= RES_EXCESS_DB
                && b[i].persistence >= RES_PERSISTENCE
                && b[i].ring_roughness_db <= RES_ROUGHNESS_DB
                && b[i].excess_db >= b[i - 1].excess_db
                && b[i].excess_db >= b[i + 1].excess_db
                && !is_partial(b, b[i].freq_hz)
        })
        .map(|i| (b[i].freq_hz, b[i].excess_db, b[i].persistence))
        .collect();
    found.sort_by(|x, y| y.1.total_cmp(&x.1));
    let mut kept: Vec<(f64, f64, f64)> = Vec::new();
    for r in found {
        if kept.len() < 2 && kept.iter().all(|k| (r.0 / k.0).log2().abs() >= 1.0 / 3.0) {
            kept.push(r);
        }
    }
    kept
}

/// Whether a peak at `freq_hz` belongs to a harmonic series: another lasting peak stands at
/// a half, a third, two thirds, three halves, twice or three times its frequency (a held note
/// and its partials; a resonance of the body or the room has no such partners).
fn is_partial(b: &[FineBand], freq_hz: f64) -> bool {
    [0.5, 1.0 / 3.0, 2.0 / 3.0, 1.5, 2.0, 3.0].iter().any(|r| {
        b.iter().any(|x| {
            (x.freq_hz / (freq_hz * r)).log2().abs() < 1.0 / 24.0
                && x.excess_db >= PARTIAL_EXCESS_DB
                && x.persistence >= RES_PERSISTENCE / 2.0
        })
    })
}

fn resonance(name: &str, f: &StemFacts) -> Vec<(ProcessorSpec, Choice)> {
    find_resonances(f)
        .into_iter()
        .map(|(hz, excess, persistence)| {
            let depth = round1((excess + 3.0).min(12.0));
            // Confined to a confirmed resonance, the suppressor may act from a smaller excess
            // than its default (full flattening from 4 dB instead of 6).
            let s = ResonanceSettings {
                depth_db: depth,
                threshold_db: 2.0,
                low_hz: round1(hz * (-0.25f64).exp2()),
                high_hz: round1(hz * 0.25f64.exp2()),
                ..Default::default()
            };
            (
                ProcessorSpec::Resonance(s),
                Choice::on(
                    name,
                    format!("resonance suppressor: {:.0}–{:.0} Hz, depth {depth} dB", s.low_hz, s.high_hz),
                    format!(
                        "{hz:.0} Hz stands {excess:.1} dB above its surroundings, in {:.0} % of the time",
                        100.0 * persistence
                    ),
                    "a resonance that rings on whatever is played",
                ),
            )
        })
        .collect()
}

/// (the sibilants' top over the vowels' level dB, sibilant frames, voiced frames). The voice's
/// active frames are ranked by the share of their power at 5–12.5 kHz: the top fifth are the
/// sibilants, the bottom half the vowels (a ranking, so that a brighter or duller voice keeps
/// the same frames in each set); the measure is the sibilants' 5–12.5 kHz level against the
/// vowels' whole level.
pub fn sibilance_measure(f: &StemFacts) -> Option<(f64, usize, usize)> {
    let (hi_lo, hi_hi) = (third_index(5000.0), third_index(12500.0) + 1);
    let mut frames: Vec<(f64, f64, f64)> = (0..f.frames.len())
        .filter(|&k| f.active[k])
        .map(|k| {
            let total = f.range_power(k, 0..THIRDS);
            let hf = f.range_power(k, hi_lo..hi_hi);
            (db(hf) - db(total), hf, total)
        })
        .collect();
    if frames.len() < 50 {
        return None;
    }
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = frames.len();
    let vowels = &frames[..n / 2];
    let sibilants = &frames[n - n / 5..];
    let mean = |v: &[(f64, f64, f64)], pick: fn(&(f64, f64, f64)) -> f64| {
        v.iter().map(pick).sum::<f64>() / v.len() as f64
    };
    let x = db(mean(sibilants, |t| t.1)) - db(mean(vowels, |t| t.2));
    Some((x, sibilants.len(), vowels.len()))
}

fn sibilance(name: &str, f: &StemFacts) -> Option<(ProcessorSpec, Choice)> {
    let (x, sib_n, voiced_n) = sibilance_measure(f)?;
    if std::env::var("LATHE_DEBUG").is_ok() {
        eprintln!("{name}: sibilance {x:.1} dB ({sib_n} sibilant, {voiced_n} voiced frames)");
    }
    if x <= SIB_LIMIT_DB {
        return None;
    }
    let depth = round1((x - SIB_AIM_DB).clamp(3.0, 10.0));
    let s = DeEsserSettings {
        depth_db: depth,
        ..Default::default()
    };
    Some((
        ProcessorSpec::Deesser(s),
        Choice::on(
            name,
            format!("de-esser: above {} Hz, depth {depth} dB", s.freq_hz),
            format!(
                "the sibilants' top (5–12.5 kHz) is {x:.1} dB against the vowels ({sib_n} sibilant frames)"
            ),
            "harsh sibilance: louder than the voice's vowels allow",
        ),
    ))
}

/// The vocal's level in the frames it sings, and those frames.
fn singing(v: &StemFacts) -> Vec<usize> {
    let (lo, hi) = (third_index(1000.0), third_index(5000.0) + 1);
    let levels: Vec<(usize, f64)> = (0..v.frames.len())
        .filter(|&k| v.active[k])
        .map(|k| (k, db(v.range_power(k, lo..hi))))
        .collect();
    let top = levels.iter().map(|l| l.1).fold(-200.0, f64::max);
    levels
        .into_iter()
        .filter(|l| l.1 > top - 25.0)
        .map(|l| l.0)
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return -200.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn masking(
    name: &str,
    s: &StemFacts,
    vocal: &str,
    v: &StemFacts,
) -> Option<(ProcessorSpec, Choice)> {
    let frames: Vec<usize> = singing(v)
        .into_iter()
        .filter(|&k| k < s.frames.len())
        .collect();
    if frames.len() < 10 {
        return None;
    }
    // Per third band from 1 to 5 kHz: the stem's level over the vocal's, median over the
    // frames the vocal sings.
    let (lo, hi) = (third_index(1000.0), third_index(5000.0));
    let over: Vec<f64> = (lo..=hi)
        .map(|c| {
            median(
                frames
                    .iter()
                    .map(|&k| db(s.frames[k][c] as f64) - db(v.frames[k][c] as f64))
                    .collect(),
            )
        })
        .collect();
    let worst = over.iter().copied().fold(-200.0, f64::max);
    if worst < -MASK_MARGIN_DB {
        return None;
    }
    // The bell covers the run of masking bands around the worst (at least an octave): its
    // centre in the middle of the run, its width the run's.
    let peak = over.iter().position(|&o| o == worst).unwrap_or(0);
    let (mut a, mut b) = (peak, peak);
    while a > 0 && over[a - 1] >= -MASK_MARGIN_DB {
        a -= 1;
    }
    while b + 1 < over.len() && over[b + 1] >= -MASK_MARGIN_DB {
        b += 1;
    }
    let (a, b) = (lo + a, lo + b);
    let centre = (BAND_NOMINAL_HZ[a] * BAND_NOMINAL_HZ[b]).sqrt();
    let width_oct = ((b - a + 1) as f64 / 3.0).max(1.0);
    // Q of a bell whose half-gain points are `width_oct` apart.
    let q =
        round1((1.0 / (2.0 * (std::f64::consts::LN_2 / 2.0 * width_oct).sinh())).clamp(0.5, 2.0));
    let freq = centre.round();
    // Up to 6 dB (practice); a stem that stands more than 6 dB over the vocal in the vocal's
    // own range covers it outright and may give way up to 9 dB.
    let most = if worst > 6.0 { 9.0 } else { 6.0 };
    let cut = round1((worst + MASK_MARGIN_DB).clamp(2.0, most));
    // Engaged whenever the vocal sings: 10 dB under its median level in the bell's range.
    let key_level = median(
        frames
            .iter()
            .map(|&k| db(v.range_power(k, a..b + 1)))
            .collect(),
    );
    let threshold = round1((key_level - 10.0).clamp(-90.0, -1.0));
    let band = DynamicBand {
        shape: DynamicShape::Bell,
        freq_hz: freq,
        q,
        threshold_db: threshold,
        ratio: 10.0,
        range_db: cut,
        attack_ms: 10.0,
        release_ms: 150.0,
        mode: DynamicMode::Above,
        detection: Detection::Rms,
    };
    Some((
        ProcessorSpec::DynamicEq(DynamicEqSpec {
            bands: vec![band],
            key: Some(vocal.to_string()),
        }),
        Choice::on(
            name,
            format!("dynamic EQ keyed by {vocal}: bell {freq} Hz, Q {q}, up to −{cut} dB while {vocal} sings"),
            format!(
                "while {vocal} sings, this stem is up to {worst:+.1} dB against it at {:.0}–{:.0} Hz (median of {} frames)",
                BAND_NOMINAL_HZ[a],
                BAND_NOMINAL_HZ[b],
                frames.len()
            ),
            "masking: it covers the lead vocal's intelligibility range",
        ),
    ))
}

fn kick_bass(
    bass: &str,
    b: &StemFacts,
    drums: &str,
    d: &StemFacts,
) -> Option<(ProcessorSpec, Choice)> {
    let (lo, hi) = (third_index(40.0), third_index(100.0));
    let at = (lo..=hi).max_by(|&x, &y| d.thirds_db[x].total_cmp(&d.thirds_db[y]))?;
    let n = d.frames.len().min(b.frames.len());
    let dl: Vec<f64> = (0..n).map(|k| db(d.frames[k][at] as f64)).collect();
    let typical = median((0..n).filter(|&k| d.active[k]).map(|k| dl[k]).collect());
    let hits: Vec<usize> = (0..n)
        .filter(|&k| d.active[k] && dl[k] > typical + 6.0)
        .collect();
    if hits.len() < 8 {
        return None;
    }
    let gap = median(
        hits.iter()
            .map(|&k| db(b.frames[k][at] as f64) - dl[k])
            .collect(),
    );
    // A conflict when both are about as strong there: a bass far under the kick does not
    // cover it, and a kick far under the bass is not what makes that band.
    if gap.abs() > 6.0 {
        return None;
    }
    let freq = BAND_NOMINAL_HZ[at];
    let threshold = round1((typical + 3.0).clamp(-90.0, -1.0));
    let band = DynamicBand {
        freq_hz: freq,
        q: 1.4,
        threshold_db: threshold,
        ratio: 8.0,
        range_db: 3.0,
        attack_ms: 2.0,
        release_ms: 80.0,
        ..Default::default()
    };
    Some((
        ProcessorSpec::DynamicEq(DynamicEqSpec {
            bands: vec![band],
            key: Some(drums.to_string()),
        }),
        Choice::on(
            bass,
            format!("dynamic EQ keyed by {drums}: bell {freq} Hz, Q 1.4, up to −3 dB on each hit"),
            format!(
                "on {} kick hits the bass is {gap:+.1} dB against {drums} at {freq} Hz",
                hits.len()
            ),
            "low-end conflict: the bass gives way to the kick",
        ),
    ))
}

fn dynamics(name: &str, f: &StemFacts, role: Role) -> Option<(ProcessorSpec, Choice)> {
    let levels: Vec<f64> = (0..f.frames.len())
        .filter(|&k| f.active[k])
        .map(|k| db(f.range_power(k, 0..THIRDS)))
        .collect();
    if levels.len() < 20 {
        return None;
    }
    let mut sorted = levels.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    match role {
        Role::Vocal => {
            let spread = pct(0.95) - pct(0.10);
            if spread <= SPREAD_LIMIT_DB {
                return None;
            }
            let threshold = round1(pct(0.70).clamp(-60.0, -1.0));
            let c = CompressorSpec {
                threshold_db: threshold,
                ratio: 2.5,
                knee_db: 6.0,
                attack_ms: 10.0,
                release_ms: 120.0,
                detection: Detection::Rms,
                ..Default::default()
            };
            Some((
                ProcessorSpec::Compressor(c),
                Choice::on(
                    name,
                    format!("compressor: 2.5:1 RMS, threshold {threshold} dB, attack 10 ms, release 120 ms"),
                    format!("the voice's level spreads over {spread:.1} dB (10th to 95th percentile)"),
                    "over-dynamic: quiet words would drown in the mix",
                ),
            ))
        }
        Role::Drums => {
            let crest = f.peak_dbfs - f.active_rms_dbfs;
            if crest >= CREST_FLOOR_DB {
                return None;
            }
            let t = TransientSettings {
                attack_db: 3.0,
                ..Default::default()
            };
            Some((
                ProcessorSpec::Transient(t),
                Choice::on(
                    name,
                    "transient shaper: attack +3 dB".into(),
                    format!("crest factor {crest:.1} dB"),
                    "over-compressed drums: the hits get their attack back",
                ),
            ))
        }
        Role::Bass | Role::Other => None,
    }
}

/// A trim when the chain's static cuts would lower the stem by more than [`MAX_OVERALL_DB`].
fn keep_level(
    name: &str,
    f: &StemFacts,
    chain: &[ProcessorSpec],
) -> Option<(ProcessorSpec, Choice)> {
    let bands: Vec<EqBand> = chain
        .iter()
        .filter_map(|p| match p {
            ProcessorSpec::Eq(e) => Some(e.bands.iter()),
            _ => None,
        })
        .flatten()
        .map(|b| EqBand {
            kind: b.kind,
            freq_hz: b.freq_hz,
            gain_db: b.gain_db,
            q: b.q,
            slope_db_oct: b.slope_db_oct,
            family: b.family,
        })
        .collect();
    if bands.is_empty() {
        return None;
    }
    let (mut before, mut after) = (0.0, 0.0);
    for (b, l) in BAND_NOMINAL_HZ.iter().zip(&f.thirds_db) {
        let p = 10f64.powf(l / 10.0);
        let g: f64 = bands.iter().map(|e| e.analog_magnitude(*b)).product();
        before += p;
        after += p * g * g;
    }
    let change = db(after) - db(before);
    if change >= -MAX_OVERALL_DB {
        return None;
    }
    let trim = round1(-change - MAX_OVERALL_DB);
    Some((
        ProcessorSpec::Trim(GainSpec {
            gain_db: trim,
            ..Default::default()
        }),
        Choice::on(
            name,
            format!("trim +{trim} dB"),
            format!("the cuts above lower the stem by {:.1} dB", -change),
            "the assistant corrects, it does not rebalance: the stem stays within 1 dB of its level",
        ),
    ))
}

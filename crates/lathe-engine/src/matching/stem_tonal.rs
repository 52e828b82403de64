//! Mud and harshness for the stem assistant: judged on the stems' sum against a straight line
//! fitted to its spectrum, corrected on the stem whose own sound is most concentrated in the
//! offending range (docs/ASSISTANT.md).

use lathe_dsp::eq::BandKind;
use lathe_dsp::spectrum::BAND_NOMINAL_HZ;

use super::assistant::Choice;
use super::roles::Role;
use super::stem_facts::{db, round1, third_index, StemFacts, THIRDS};
use crate::spec::chain::{EqBandSpec, EqSpec, ProcessorSpec};
use crate::spec::stem::StemSpec;

/// The sum's range this far over its overall slope is mud (200–500 Hz) or harshness
/// (2–5 kHz), dB.
pub const TONAL_EXCESS_DB: f64 = 2.0;

/// A straight-line fit of the sum's third-octave levels, 50 Hz – 10 kHz: the excess of the
/// mean of bands `lo..=hi` over it.
fn sum_excess(sum_db: &[f64; THIRDS], lo: usize, hi: usize) -> f64 {
    let pts: Vec<(f64, f64)> = (third_index(50.0)..=third_index(10000.0))
        .filter(|&b| sum_db[b] > -150.0)
        .map(|b| (BAND_NOMINAL_HZ[b].log2(), sum_db[b]))
        .collect();
    if pts.len() < 8 {
        return 0.0;
    }
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let line = |b: usize| my + sxy / sxx * (BAND_NOMINAL_HZ[b].log2() - mx);
    (lo..=hi).map(|b| sum_db[b] - line(b)).sum::<f64>() / (hi - lo + 1) as f64
}

pub(super) fn tonal(
    stems: &[StemSpec],
    facts: &[StemFacts],
    roles: &[Role],
) -> Vec<(usize, ProcessorSpec, Choice)> {
    let mut sum = [0.0f64; THIRDS];
    for f in facts {
        for (s, l) in sum.iter_mut().zip(&f.thirds_db) {
            *s += 10f64.powf(l / 10.0);
        }
    }
    let sum_db = sum.map(db);
    let mut out = Vec::new();
    for (what, lo_hz, hi_hz, q) in [
        ("mud", 200.0, 500.0, 1.0),
        ("harshness", 2000.0, 5000.0, 1.4),
    ] {
        let (lo, hi) = (third_index(lo_hz), third_index(hi_hz));
        let excess = sum_excess(&sum_db, lo, hi);
        if excess <= TONAL_EXCESS_DB {
            continue;
        }
        let share = |f: &StemFacts| {
            (lo..=hi)
                .map(|b| 10f64.powf(f.thirds_db[b] / 10.0))
                .sum::<f64>()
        };
        let all = |f: &StemFacts| {
            f.thirds_db
                .iter()
                .map(|l| 10f64.powf(l / 10.0))
                .sum::<f64>()
        };
        let region: f64 = (lo..=hi).map(|b| sum[b]).sum();
        // The stem whose own sound is most concentrated in the range, among those holding at
        // least a tenth of it in the sum.
        let Some(i) = (0..stems.len())
            .filter(|&i| roles[i] != Role::Bass && (what != "harshness" || roles[i] != Role::Vocal))
            .filter(|&i| share(&facts[i]) >= 0.1 * region)
            .max_by(|&a, &b| {
                (share(&facts[a]) / all(&facts[a])).total_cmp(&(share(&facts[b]) / all(&facts[b])))
            })
        else {
            continue;
        };
        if std::env::var("LATHE_DEBUG").is_ok() {
            for (k, f) in facts.iter().enumerate() {
                let all: f64 = f.thirds_db.iter().map(|l| 10f64.powf(l / 10.0)).sum();
                eprintln!(
                    "{what} {excess:.1}: {} share {:.2} concentration {:.2}",
                    stems[k].name,
                    share(f) / region,
                    share(f) / all
                );
            }
        }
        let own = share(&facts[i]);
        // The cut that brings the sum's range back to the limit, were it all this stem's.
        let want = region * (1.0 - 10f64.powf(-(excess - TONAL_EXCESS_DB) / 10.0));
        let cut = if want >= own {
            6.0
        } else {
            -db(1.0 - want / own)
        };
        let cut = round1(cut.clamp(1.0, 6.0));
        let at = (lo..=hi)
            .max_by(|&a, &b| facts[i].thirds_db[a].total_cmp(&facts[i].thirds_db[b]))
            .unwrap_or(lo);
        let freq = BAND_NOMINAL_HZ[at];
        let spec = ProcessorSpec::Eq(EqSpec {
            bands: vec![EqBandSpec {
                kind: BandKind::Bell,
                freq_hz: freq,
                gain_db: -cut,
                q,
                ..Default::default()
            }],
            ..Default::default()
        });
        out.push((
            i,
            spec,
            Choice::on(
                &stems[i].name,
                format!("eq: bell {freq} Hz, −{cut} dB, Q {q}"),
                format!(
                    "the stems' sum stands {excess:.1} dB above its overall slope at {lo_hz:.0}–{hi_hz:.0} Hz; this stem holds {:.0} % of it",
                    100.0 * own / region
                ),
                if what == "mud" {
                    "mud, cut on the stem that carries most of it"
                } else {
                    "harshness, cut on the stem that carries most of it"
                },
            ),
        ));
    }
    out
}

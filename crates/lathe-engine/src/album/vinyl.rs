//! The sides of a vinyl record (`[vinyl]` in an album file): which tracks go on which side,
//! how long each side runs, and a refusal before any rendering when a side is longer than a
//! side holds. The time a side holds is a trade of length against level and bass: a 12" at
//! 33⅓ rpm holds about 22 minutes at a good level (the default); past about 18 minutes the
//! cutting engineer must narrow the grooves, so the record plays quieter and with less bass
//! (a warning). A 12" at 45 rpm holds about 15 minutes, a 7" at 45 about 7.

use serde::{Deserialize, Serialize};

/// `[vinyl]`: what one side holds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VinylSpec {
    #[serde(default = "default_side_minutes")]
    pub side_minutes: f64,
}

fn default_side_minutes() -> f64 {
    22.0
}

/// The band between two tracks on a side (the lead-in groove between them), s.
pub const BAND_S: f64 = 2.0;
/// Past this share of what a side holds, the report warns about level and bass.
const LONG_SIDE_SHARE: f64 = 18.0 / 22.0;

/// One side as planned.
#[derive(Clone, Debug, Serialize)]
pub struct SideReport {
    pub side: String,
    /// Track numbers (1-based) in playing order.
    pub tracks: Vec<usize>,
    pub duration_s: f64,
    /// `m:ss`.
    pub duration: String,
}

impl VinylSpec {
    pub fn validate(&self) -> Result<(), String> {
        if !(3.0..=40.0).contains(&self.side_minutes) {
            return Err(format!(
                "vinyl.side_minutes must be within 3…40, got {}",
                self.side_minutes
            ));
        }
        Ok(())
    }
}

/// Plans the sides from each track's side (all given, or none: then the album is split in
/// two, in order, where the longer side is shortest) and length in seconds. Errors when a
/// side runs longer than it holds; warns when it runs long.
pub fn plan_sides(
    spec: &VinylSpec,
    tracks: &[(Option<&str>, f64)],
) -> Result<(Vec<SideReport>, Vec<String>), String> {
    let given = tracks.iter().filter(|t| t.0.is_some()).count();
    let labels: Vec<String> = if given == tracks.len() {
        tracks
            .iter()
            .map(|t| t.0.unwrap_or_default().to_string())
            .collect()
    } else if given == 0 {
        let k = split_point(&tracks.iter().map(|t| t.1).collect::<Vec<_>>());
        (0..tracks.len())
            .map(|i| if i < k { "A" } else { "B" }.to_string())
            .collect()
    } else {
        return Err(
            "vinyl: give every track a side, or none (then the album is split in two)".into(),
        );
    };
    let mut sides: Vec<SideReport> = Vec::new();
    for (i, (label, (_, secs))) in labels.iter().zip(tracks).enumerate() {
        let side = match sides.iter_mut().find(|s| &s.side == label) {
            Some(s) => s,
            None => {
                sides.push(SideReport {
                    side: label.clone(),
                    tracks: Vec::new(),
                    duration_s: -BAND_S,
                    duration: String::new(),
                });
                sides.last_mut().expect("pushed")
            }
        };
        side.tracks.push(i + 1);
        side.duration_s += secs + BAND_S;
    }
    let holds = spec.side_minutes * 60.0;
    let mut warnings = Vec::new();
    for s in &mut sides {
        s.duration = clock(s.duration_s);
        if s.duration_s > holds {
            return Err(format!(
                "vinyl: side {} runs {} (tracks {:?}); a side holds {} here (vinyl.side_minutes): move a track to another side",
                s.side,
                s.duration,
                s.tracks,
                clock(holds)
            ));
        }
        if s.duration_s > LONG_SIDE_SHARE * holds {
            warnings.push(format!(
                "vinyl: side {} runs {}, past {} of the {} a side holds: it must be cut quieter and with less bass",
                s.side,
                s.duration,
                clock(LONG_SIDE_SHARE * holds),
                clock(holds)
            ));
        }
    }
    Ok((sides, warnings))
}

/// Where to end side A: the split that makes the longer side shortest.
fn split_point(secs: &[f64]) -> usize {
    let total: f64 = secs.iter().sum();
    let mut best = (f64::INFINITY, secs.len());
    let mut a = 0.0;
    for k in 1..secs.len() {
        a += secs[k - 1];
        let longer = a.max(total - a);
        if longer < best.0 {
            best = (longer, k);
        }
    }
    best.1
}

fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_album_is_split_where_the_longer_side_is_shortest() {
        let spec = VinylSpec { side_minutes: 22.0 };
        let t = [(None, 300.0), (None, 240.0), (None, 200.0), (None, 260.0)];
        let (sides, warnings) = plan_sides(&spec, &t).unwrap();
        assert_eq!(sides.len(), 2);
        assert_eq!(
            (sides[0].tracks.clone(), sides[1].tracks.clone()),
            (vec![1, 2], vec![3, 4])
        );
        // 300 + 2 + 240 = 542 s.
        assert_eq!(sides[0].duration, "9:02");
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_side_too_long_is_refused_and_a_long_one_warned() {
        let spec = VinylSpec { side_minutes: 22.0 };
        let long = [(Some("A"), 19.0 * 60.0), (Some("B"), 60.0)];
        let (_, w) = plan_sides(&spec, &long).unwrap();
        assert!(w[0].contains("side A runs 19:00"), "{w:?}");
        let too_long = [
            (Some("A"), 20.0 * 60.0),
            (Some("A"), 150.0),
            (Some("B"), 60.0),
        ];
        let e = plan_sides(&spec, &too_long).unwrap_err();
        assert!(e.contains("side A runs 22:32"), "{e}");
        let mixed = [(Some("A"), 60.0), (None, 60.0)];
        assert!(plan_sides(&spec, &mixed)
            .unwrap_err()
            .contains("every track a side"));
    }
}

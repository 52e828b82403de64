//! Stem masters (`--stem-masters`, `[master] stem_masters = true`): every stem delivered
//! through the master's chain with the master's gain moves, for sync, remixes and immersive
//! mixes. Each stem is one more locked lane of the render (`render/lanes.rs`): the stems'
//! own chains run once, the master bus's dynamics stages apply lane 0's gains to every lane,
//! and the limiter's gain is the one every lane needs, so the stem masters sum to the master
//! as far as the bus is linear in its input once its gains are fixed. A clipper or saturation
//! is not (it bends each lane's waveform on its own), so their sum is measured and reported.

use std::path::Path;

use super::report::{Report, StemSumReport, VersionReport};
use super::{usage, MasterError};
use crate::spec::bus::Bus;
use crate::spec::chain::ProcessorSpec;
use crate::spec::session::Session;
use crate::spec::version::{VersionDynamics, VersionSpec};
use lathe_io::Decoder;

/// The session with one locked `[[version]]` per stem added (named after the stem), or an
/// error before any work when stem masters cannot be made.
pub(super) fn expand(session: &Session) -> Result<Session, MasterError> {
    if session.stems.len() < 2 {
        return Err(usage(
            "stem masters need stems: give two or more files with --stems (or a session with [[stem]]s)",
        ));
    }
    let mut out = session.clone();
    for stem in &session.stems {
        let clash = stem.name == "master" || session.versions.iter().any(|v| v.name == stem.name);
        if clash {
            return Err(usage(format!(
                "stem masters: stem '{}' has the name of the master or of a version; rename one",
                stem.name
            )));
        }
        out.versions.push(VersionSpec {
            name: stem.name.clone(),
            only: vec![stem.name.clone()],
            dynamics: VersionDynamics::Locked,
            stem_master: true,
            ..Default::default()
        });
    }
    Ok(out)
}

/// Moves the stem masters out of the report's versions into its own list, and measures how
/// far their sum lies from the master.
pub(super) fn finish_report(session: &Session, bus: &Bus, report: &mut Report) {
    let names: Vec<&str> = (session.versions.iter())
        .filter(|v| v.stem_master)
        .map(|v| v.name.as_str())
        .collect();
    let (stems, others): (Vec<VersionReport>, Vec<VersionReport>) =
        std::mem::take(&mut report.versions)
            .into_iter()
            .partition(|v| names.contains(&v.name.as_str()));
    report.versions = others;
    let Some(i) = report
        .deliverables
        .iter()
        .position(|d| d.bitrate_kbps.is_none())
    else {
        return;
    };
    let master = report.deliverables[i].path.clone();
    let parts: Vec<String> = stems
        .iter()
        .map(|s| s.deliverables[i].path.clone())
        .collect();
    report.stem_masters = stems;
    let residual = match residual_peak(Path::new(&master), &parts) {
        Ok(r) => r,
        Err(e) => {
            report
                .warnings
                .push(format!("stem masters: their sum could not be checked: {e}"));
            return;
        }
    };
    let residual_peak_dbfs = (residual > 0.0).then(|| 20.0 * residual.log10());
    let why = nonlinear_stage(bus).map(|stage| {
        format!(
            "the master bus has a {stage}, which bends each stem's waveform on its own: the stem masters carry the master's gain moves but not the {stage}'s distortion of the sum (clipping and saturation of the sum are not the sum of those of its parts)"
        )
    });
    if let (Some(db), Some(why)) = (residual_peak_dbfs, &why) {
        if db > -90.0 {
            report.warnings.push(format!(
                "stem masters sum to the master within {db:.1} dBFS (peak), not exactly: {why}"
            ));
        }
    }
    report.stem_sum = Some(StemSumReport {
        master,
        residual_peak_dbfs,
        why,
    });
}

/// The first stage of the bus that is not linear once its gains are fixed.
fn nonlinear_stage(bus: &Bus) -> Option<&'static str> {
    bus.chain
        .iter()
        .chain(&bus.post_gain)
        .find_map(|p| match p {
            ProcessorSpec::Clipper(_) => Some("clipper"),
            ProcessorSpec::Saturate(_) => Some("saturation stage"),
            _ => None,
        })
}

/// The largest |Σ parts − master| over every sample, reading the files in lockstep.
fn residual_peak(master: &Path, parts: &[String]) -> Result<f64, String> {
    let mut readers: Vec<Frames> = std::iter::once(master.to_path_buf())
        .chain(parts.iter().map(Into::into))
        .map(|p| Frames::open(&p))
        .collect::<Result<_, _>>()?;
    let mut peak = 0.0f64;
    let mut sum = [Vec::new(), Vec::new()];
    loop {
        let n = readers[0].fill()?;
        for r in &mut readers[1..] {
            if r.fill()? != n {
                return Err("the stem masters and the master differ in length".into());
            }
        }
        if n == 0 {
            return Ok(peak);
        }
        for (ch, s) in sum.iter_mut().enumerate() {
            s.clear();
            s.resize(n, 0.0);
            for r in &readers[1..] {
                for (acc, v) in s.iter_mut().zip(&r.buf[ch][..n]) {
                    *acc += v;
                }
            }
            for (acc, m) in s.iter().zip(&readers[0].buf[ch][..n]) {
                peak = peak.max((acc - m).abs());
            }
        }
        for r in &mut readers {
            r.consume(n);
        }
    }
}

/// A decoder read in chunks of a fixed size, whatever its packets' sizes.
struct Frames {
    decoder: Decoder,
    buf: [Vec<f64>; 2],
    ended: bool,
}

const CHUNK: usize = 8192;

impl Frames {
    fn open(path: &Path) -> Result<Self, String> {
        let decoder = Decoder::open(path).map_err(|e| e.to_string())?;
        Ok(Frames {
            decoder,
            buf: [Vec::new(), Vec::new()],
            ended: false,
        })
    }

    /// Buffers up to [`CHUNK`] frames; returns how many are buffered.
    fn fill(&mut self) -> Result<usize, String> {
        while !self.ended && self.buf[0].len() < CHUNK {
            match self.decoder.next_block().map_err(|e| e.to_string())? {
                Some(block) => {
                    let right = block.get(1).unwrap_or(&block[0]);
                    self.buf[0].extend_from_slice(block[0]);
                    self.buf[1].extend_from_slice(right);
                }
                None => self.ended = true,
            }
        }
        Ok(self.buf[0].len().min(CHUNK))
    }

    fn consume(&mut self, n: usize) {
        for ch in &mut self.buf {
            ch.drain(..n);
        }
    }
}

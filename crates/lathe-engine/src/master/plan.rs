//! What a render of the main master and its locked versions will write, decided and checked
//! before any audio work: the lanes, every lane's deliverables, the float bus copies that the
//! lossy encoders read, and the refusals (an output that exists, or that is an input).

use std::path::{Path, PathBuf};

use super::inputs::{longest_input_s, session_rate};
use super::{usage, MasterError};
use crate::deliver::same_file::same_file;
use crate::spec::deliver::DeliverSpec;
use crate::spec::session::Session;
use crate::spec::version::{main_stem_gains, VersionDynamics, VersionSpec};
use lathe_io::Format;

/// The lanes of one render and the files each writes.
pub(super) struct LanePlan<'a> {
    /// Lane 0 is the main master (or the own version rendered alone); each locked version is
    /// one more lane.
    pub labels: Vec<&'a str>,
    /// The locked versions, in lane order from lane 1.
    pub locked: Vec<&'a VersionSpec>,
    /// Per lane: each stem's gain (0 for a stem the lane does not play).
    pub gains: Vec<Vec<f64>>,
    pub deliver: Vec<DeliverSpec>,
    /// The processing rate, decided once here.
    pub rate_hz: u32,
    /// The session's output name (file names start with it).
    pub name: String,
    /// Per lane, per deliverable: the final path.
    pub outputs: Vec<Vec<PathBuf>>,
    /// The rates of the lossy deliverables encoded after the render; each lane gets a float
    /// copy of its bus at each of them.
    pub lossy_rates: Vec<u32>,
    /// Whether lossy formats with a codec headroom are encoded during the render itself.
    pub inline_lossy: bool,
    /// Per lane: what is written while rendering (lossless deliverables, then bus copies).
    pub direct: Vec<Vec<(DeliverSpec, PathBuf)>>,
    pub report_path: PathBuf,
    pub plot_path: PathBuf,
    out_dir: PathBuf,
}

impl<'a> LanePlan<'a> {
    /// Plans the render of `session` into `out_dir` (created if missing); `own_version` names
    /// lane 0 after that version.
    pub fn new(
        session: &'a Session,
        out_dir: &Path,
        own_version: Option<&'a str>,
    ) -> Result<Self, MasterError> {
        let locked: Vec<&VersionSpec> = session
            .versions
            .iter()
            .filter(|v| v.dynamics == VersionDynamics::Locked)
            .collect();
        let labels: Vec<&str> = std::iter::once(own_version.unwrap_or("master"))
            .chain(locked.iter().map(|v| v.name.as_str()))
            .collect();
        let gains: Vec<Vec<f64>> = std::iter::once(main_stem_gains(&session.stems))
            .chain(locked.iter().map(|v| v.stem_gains(&session.stems)))
            .collect();
        let deliver = session.deliver_specs().map_err(usage)?;
        let rate_hz = session_rate(session)?;
        let at = |d: &DeliverSpec| d.sample_rate_hz.unwrap_or(rate_hz);
        if let Some(d) = deliver.iter().find(|d| !d.format.carries_rate(at(d))) {
            let rates: Vec<String> = (d.format.rates_hz().unwrap_or_default().iter())
                .map(u32::to_string)
                .collect();
            return Err(usage(format!(
                "{} is encoded at {} Hz; this one would be at {} Hz (add @RATE to its --deliver)",
                d.format.name().to_uppercase(),
                rates.join(", "),
                at(d)
            )));
        }
        refuse_long_wav(session, &deliver, at)?;
        std::fs::create_dir_all(out_dir).map_err(|e| MasterError::io(out_dir, e))?;
        let name = session.output_name();
        let outputs: Vec<Vec<PathBuf>> = labels
            .iter()
            .map(|v| {
                deliver
                    .iter()
                    .map(|d| out_dir.join(d.version_file_name(&name, v, at(d))))
                    .collect()
            })
            .collect();
        let mut plan = LanePlan {
            labels,
            locked,
            gains,
            deliver,
            rate_hz,
            report_path: out_dir.join("report.json"),
            plot_path: out_dir.join(format!("{name}_match.svg")),
            name,
            outputs,
            lossy_rates: Vec::new(),
            inline_lossy: false,
            direct: Vec::new(),
            out_dir: out_dir.to_path_buf(),
        };
        plan.set_inline_lossy(false);
        Ok(plan)
    }

    /// Encodes the lossy deliverables that have a codec headroom during the render (`true`),
    /// or every lossy one afterwards from the bus copies (`false`). Inline encoding pays when
    /// the first render is expected to be the accepted one: an encoder in a render that the
    /// search then discards is wasted time (and it slows that render to its own speed).
    pub fn set_inline_lossy(&mut self, inline: bool) {
        self.inline_lossy = inline;
        let mut rates: Vec<u32> = (self.deliver.iter())
            .filter(|d| d.is_lossy() && !self.is_inline(d))
            .map(|d| self.rate_of(d))
            .collect();
        rates.sort_unstable();
        rates.dedup();
        self.lossy_rates = rates;
        self.direct = self.direct_files();
    }

    /// Whether deliverable `d` is encoded during the render.
    pub fn is_inline(&self, d: &DeliverSpec) -> bool {
        self.inline_lossy && d.codec_headroom_db().is_some()
    }

    /// Lossless files are written while rendering, and so are inline lossy ones; the other
    /// lossy ones are encoded afterwards from a temporary 32-bit float copy of the master bus
    /// at their rate (converted, with the true-peak safety stage, like any deliverable at
    /// another rate), so that they can be encoded again (codec-safe). One copy per rate.
    fn direct_files(&self) -> Vec<Vec<(DeliverSpec, PathBuf)>> {
        self.outputs
            .iter()
            .enumerate()
            .map(|(lane, outputs)| {
                self.deliver
                    .iter()
                    .cloned()
                    .zip(outputs.iter().cloned())
                    .filter(|(d, _)| !d.is_lossy() || self.is_inline(d))
                    .chain(self.lossy_rates.iter().map(|&r| self.bus_copy(lane, r)))
                    .collect()
            })
            .collect()
    }

    pub fn lanes(&self) -> usize {
        self.labels.len()
    }

    /// The rate a deliverable is written at.
    pub fn rate_of(&self, d: &DeliverSpec) -> u32 {
        d.sample_rate_hz.unwrap_or(self.rate_hz)
    }

    /// The float copy of `lane`'s bus at `rate` that lossy encoders read.
    pub fn bus_copy(&self, lane: usize, rate: u32) -> (DeliverSpec, PathBuf) {
        (
            DeliverSpec::parse(&format!("wav:32@{rate}")).expect("valid"),
            self.out_dir.join(format!(
                ".{}_{}.bus{rate}.f32.wav",
                self.name, self.labels[lane]
            )),
        )
    }

    /// Every lane's bus copy at every lossy rate.
    pub fn bus_copies(&self) -> Vec<PathBuf> {
        (0..self.lanes())
            .flat_map(|k| self.lossy_rates.iter().map(move |&r| (k, r)))
            .map(|(k, r)| self.bus_copy(k, r).1)
            .collect()
    }

    /// Where each lane's chain output before the gain is cached.
    pub fn cache_paths(&self) -> Vec<PathBuf> {
        self.labels
            .iter()
            .map(|l| self.out_dir.join(format!(".{}_{l}.prebus.f32", self.name)))
            .collect()
    }

    /// Refuses, before any work, an output that would overwrite an input, or that exists
    /// without `force`. `plot` and `report`: whether this render writes them.
    pub fn refuse_clashes(
        &self,
        session: &Session,
        force: bool,
        plot: bool,
        report: bool,
    ) -> Result<(), MasterError> {
        let extra = [(report, &self.report_path), (plot, &self.plot_path)];
        let inputs = session.input_files();
        for p in self
            .outputs
            .iter()
            .flatten()
            .chain(extra.iter().filter(|(on, _)| *on).map(|(_, p)| *p))
        {
            if inputs.iter().any(|i| same_file(p, i)) {
                return Err(usage(format!(
                    "{}: output would overwrite the input",
                    p.display()
                )));
            }
            if p.exists() && !force {
                return Err(usage(format!(
                    "{}: exists (use --force to replace it)",
                    p.display()
                )));
            }
        }
        Ok(())
    }
}

/// Refuses a WAV deliverable that the input is too long for (RIFF's 4 GiB), before the render
/// that would fail at the limit after most of its work.
fn refuse_long_wav(
    session: &Session,
    deliver: &[DeliverSpec],
    rate_of: impl Fn(&DeliverSpec) -> u32,
) -> Result<(), MasterError> {
    let wavs: Vec<&DeliverSpec> = deliver.iter().filter(|d| d.format == Format::Wav).collect();
    if wavs.is_empty() {
        return Ok(());
    }
    let Some(seconds) = longest_input_s(session)? else {
        return Ok(());
    };
    for d in wavs {
        let max_s = lathe_io::wav_writer::max_stereo_frames(d.bits) as f64 / f64::from(rate_of(d));
        if seconds > max_s {
            return Err(usage(format!(
                "the input is {} long, and a {}-bit WAV at {} Hz holds at most {} (4 GiB); \
                 deliver FLAC for longer masters",
                hours_minutes(seconds),
                d.bits,
                rate_of(d),
                hours_minutes(max_s)
            )));
        }
    }
    Ok(())
}

/// `6 h 02 min` (seconds rounded down to the minute).
fn hours_minutes(seconds: f64) -> String {
    let minutes = (seconds / 60.0) as u64;
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

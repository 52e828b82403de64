//! Album mastering (`lathe album ALBUM.toml`): tracks that sit together, each mastered by the
//! engine, with the album's loudness relations, and the CD: one Red Book image with its CUE
//! sheet ([`crate::album::cd`]) and a DDP 2.0 image ([`crate::album::ddp`]).
//!
//! ```toml
//! title = "Night Drive"
//! artist = "The Examples"
//! upc = "4006381333931"
//! mode = "album"                       # or "track"
//! target = { integrated_lufs = -14.0, true_peak_dbtp = -1.0 }
//! [[track]]
//! file = "01-intro.wav"                # or session = "02.toml"
//! title = "Intro"
//! isrc = "USXXX2600001"
//! preset = "streaming"                 # the chain; the album sets the target
//! [[track]]
//! session = "ballad/session.toml"
//! title = "Ballad"
//! offset_lu = -3.0                     # album mode: 3 LU under the loudest track
//! ```
//!
//! **Loudness.** `mode = "track"`: every track reaches the target. `mode = "album"` (AES
//! TD1008, Spotify's album normalisation): the loudest track reaches the target and every other
//! keeps its distance to it, as measured on the mixes (integrated loudness of the unprocessed
//! file or stem sum) or as set with `offset_lu`.

pub mod cd;
pub mod ddp;
pub mod vinyl;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::analyze_file;
use crate::master::{
    input_loudness, render_session_with, session_from_preset, DeliverableReport, Known,
    MasterError, Report,
};
use crate::progress::{Progress, Silent};
use crate::spec::deliver::DeliverSpec;
use crate::spec::preset::{Preset, Target};
use crate::spec::session::{check_isrc, DeliverEntry, Session};
use cd::{CdLayout, TrackPlan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlbumMode {
    Track,
    #[default]
    Album,
}

/// One `[[track]]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackSpec {
    pub file: Option<PathBuf>,
    pub session: Option<PathBuf>,
    pub preset: Option<String>,
    pub title: String,
    pub performer: Option<String>,
    pub isrc: Option<String>,
    /// Silence before the track, s (default 2 before track 1, 0 after).
    pub pregap_s: Option<f64>,
    /// Album mode: this track's loudness relative to the loudest, LU (≤ 0).
    pub offset_lu: Option<f64>,
    /// Crossfade into the next track, s (equal power, whole CD frames; the next track then has
    /// no pregap).
    pub crossfade_s: Option<f64>,
    /// The vinyl side it is cut on (`[vinyl]` albums; all tracks or none).
    pub side: Option<String>,
}

/// An album file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbumSpec {
    pub title: String,
    pub artist: Option<String>,
    pub upc: Option<String>,
    #[serde(default)]
    pub mode: AlbumMode,
    pub target: Target,
    /// Deliverables of every track (default WAV 24-bit at the track's rate); the CD files are
    /// always made.
    #[serde(rename = "deliver", default)]
    pub deliver: Vec<DeliverEntry>,
    #[serde(rename = "track")]
    pub tracks: Vec<TrackSpec>,
    /// A vinyl record too: its sides are planned and checked before rendering.
    pub vinyl: Option<vinyl::VinylSpec>,
}

impl AlbumSpec {
    /// Reads and checks an album file; paths are resolved against its folder. Errors name the
    /// file and the key.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut a: AlbumSpec = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for t in &mut a.tracks {
            for p in [&mut t.file, &mut t.session].into_iter().flatten() {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        a.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(a)
    }

    /// Checks keys and syntax (the Red Book timing rules need the audio: [`render_album`]).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(upc) = &self.upc {
            cd::check_upc(upc)?;
        }
        let t = self.target;
        if !(-40.0..=0.0).contains(&t.integrated_lufs) {
            return Err(format!(
                "target.integrated_lufs must be within −40…0, got {}",
                t.integrated_lufs
            ));
        }
        if !(-12.0..=0.0).contains(&t.true_peak_dbtp) {
            return Err(format!(
                "target.true_peak_dbtp must be within −12…0, got {}",
                t.true_peak_dbtp
            ));
        }
        if let Some(v) = &self.vinyl {
            v.validate()?;
        }
        if self.tracks.is_empty() {
            return Err("an album needs at least one [[track]]".into());
        }
        if self.tracks.len() > cd::MAX_TRACKS {
            return Err(format!(
                "Red Book allows at most {} tracks; this album has {}",
                cd::MAX_TRACKS,
                self.tracks.len()
            ));
        }
        for (i, tr) in self.tracks.iter().enumerate() {
            let at = format!("track[{i}] ('{}')", tr.title);
            match (&tr.file, &tr.session) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => return Err(format!("{at}: give exactly one of file and session")),
            }
            if tr.session.is_some() && tr.preset.is_some() {
                return Err(format!("{at}.preset: a session track has its own chain"));
            }
            if let Some(p) = &tr.preset {
                Preset::parse(p).map_err(|e| format!("{at}.preset: {e}"))?;
            }
            if tr.title.trim().is_empty() {
                return Err(format!("track[{i}].title is empty"));
            }
            if let Some(isrc) = &tr.isrc {
                check_isrc(isrc).map_err(|e| format!("{at}.isrc: {e}"))?;
            }
            if let Some(g) = tr.pregap_s {
                if !(0.0..=10.0).contains(&g) {
                    return Err(format!("{at}.pregap_s must be within 0…10, got {g}"));
                }
            }
            if let Some(o) = tr.offset_lu {
                if self.mode == AlbumMode::Track {
                    return Err(format!("{at}.offset_lu applies to mode = \"album\" only"));
                }
                if !(-20.0..=0.0).contains(&o) {
                    return Err(format!("{at}.offset_lu must be within −20…0, got {o}"));
                }
            }
            if let Some(c) = tr.crossfade_s {
                if !(0.0..=10.0).contains(&c) {
                    return Err(format!("{at}.crossfade_s must be within 0…10, got {c}"));
                }
            }
        }
        Ok(())
    }
}

/// One track as mastered.
#[derive(Clone, Debug, Serialize)]
pub struct AlbumTrackReport {
    pub number: usize,
    pub title: String,
    pub folder: String,
    /// Integrated loudness of the mix (unprocessed), LUFS.
    pub input_lufs: Option<f64>,
    /// Loudness relative to the album target, LU (album mode: measured or `offset_lu`).
    pub offset_lu: f64,
    pub target: Target,
    pub deliverables: Vec<DeliverableReport>,
    /// The track's file cut from the CD image.
    pub cd_file: String,
    pub cd_index00: String,
    pub cd_index01: String,
    pub pass: bool,
}

/// The CD image.
#[derive(Clone, Debug, Serialize)]
pub struct CdReport {
    pub image: String,
    pub cue: String,
    pub ddp: String,
    pub total: String,
    pub dither: lathe_dsp::dither::DitherKind,
    pub layout: CdLayout,
}

#[derive(Clone, Debug, Serialize)]
pub struct AlbumReport {
    pub title: String,
    pub mode: AlbumMode,
    pub target: Target,
    pub tracks: Vec<AlbumTrackReport>,
    pub cd: CdReport,
    /// The vinyl sides (`[vinyl]` albums).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vinyl_sides: Vec<vinyl::SideReport>,
    pub warnings: Vec<String>,
}

impl AlbumReport {
    pub fn all_pass(&self) -> bool {
        self.tracks.iter().all(|t| t.pass)
    }
}

fn usage(msg: impl Into<String>) -> MasterError {
    MasterError::Usage(msg.into())
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A track's session, ready to render but for its loudness target.
struct Prepared {
    session: Session,
    known: Option<Known>,
    input_lufs: Option<f64>,
    /// Samples at 44.1 kHz (estimated from the inputs before rendering).
    cd_samples: u64,
}

/// Frames of the longest stem at `rate_hz`, from the analyses (or the headers).
fn samples_at(files: &[PathBuf], rate_hz: u32) -> Result<u64, MasterError> {
    let mut longest = 0u64;
    for f in files {
        let a = analyze_file(f)?;
        let at = (a.frames as u128 * rate_hz as u128).div_ceil(a.sample_rate_hz.max(1) as u128);
        longest = longest.max(at as u64);
    }
    Ok(longest)
}

fn prepare(
    spec: &AlbumSpec,
    tr: &TrackSpec,
    deliver: &[DeliverSpec],
) -> Result<Prepared, MasterError> {
    let (mut session, known, input_lufs) = match (&tr.file, &tr.session) {
        (Some(file), _) => {
            let preset =
                Preset::parse(tr.preset.as_deref().unwrap_or("streaming")).map_err(usage)?;
            let (s, k) = session_from_preset(
                std::slice::from_ref(file),
                preset,
                Some(spec.target.integrated_lufs),
                Some(spec.target.true_peak_dbtp),
                deliver,
                None,
                false,
            )?;
            let lufs = k.sum_lufs;
            (s, Some(k), lufs)
        }
        (None, Some(path)) => {
            let s = Session::load(path).map_err(usage)?;
            let lufs = input_loudness(&s)?;
            (s, None, lufs)
        }
        (None, None) => unreachable!("validated"),
    };
    session.title = Some(tr.title.clone());
    session.artist = tr.performer.clone().or_else(|| spec.artist.clone());
    session.isrc = tr.isrc.clone();
    let cd_samples = match known.as_ref().map(|k| k.analyses.as_slice()) {
        Some([a]) => (a.frames as u128 * cd::CD_RATE_HZ as u128)
            .div_ceil(a.sample_rate_hz.max(1) as u128) as u64,
        _ => {
            let stems: Vec<PathBuf> = session.stems.iter().map(|s| s.file.clone()).collect();
            samples_at(&stems, cd::CD_RATE_HZ)?
        }
    };
    Ok(Prepared {
        session,
        known,
        input_lufs,
        cd_samples,
    })
}

/// A track ready to render: its session with the album's target for it, where it goes, and
/// the CD feed it writes.
struct TrackJob {
    session: Session,
    known: Option<Known>,
    folder: PathBuf,
    feed: PathBuf,
    /// Whether the deliverables asked include the CD feed (else lathe added it).
    feed_requested: bool,
    input_lufs: Option<f64>,
    offset: f64,
    target: Target,
}

/// Track `i`'s job: the album's target moved by its offset, the album's deliverables and the
/// CD feed. Refused (before any render) when the target falls below −40 LUFS.
fn track_job(
    spec: &AlbumSpec,
    deliver: &[DeliverSpec],
    out_dir: &Path,
    i: usize,
    tr: &TrackSpec,
    p: Prepared,
    offset: f64,
) -> Result<TrackJob, MasterError> {
    let target = Target {
        integrated_lufs: ((spec.target.integrated_lufs + offset) * 1000.0).round() / 1000.0,
        true_peak_dbtp: spec.target.true_peak_dbtp,
    };
    if target.integrated_lufs < -40.0 {
        return Err(usage(format!(
            "track '{}' would be mastered to {} LUFS (its offset {offset:.1} LU): below −40",
            tr.title, target.integrated_lufs
        )));
    }
    let mut session = p.session;
    session.master.target = Some(target);
    session.deliver = deliver.iter().map(DeliverEntry::from_spec).collect();
    let feed_requested = deliver
        .iter()
        .any(|d| !d.is_lossy() && d.bits == 32 && d.sample_rate_hz == Some(cd::CD_RATE_HZ));
    if !feed_requested {
        session.deliver.push(cd_feed());
    }
    session.validate().map_err(usage)?;
    let folder = out_dir.join(format!("{:02}_{}", i + 1, safe(&tr.title)));
    let feed = folder.join(
        DeliverSpec::parse("wav:32@44100")
            .expect("valid")
            .file_name(&session.output_name(), cd::CD_RATE_HZ),
    );
    Ok(TrackJob {
        session,
        known: p.known,
        folder,
        feed,
        feed_requested,
        input_lufs: p.input_lufs,
        offset,
        target,
    })
}

/// The 32-bit float 44.1 kHz master the CD image is made from.
fn cd_feed() -> DeliverEntry {
    DeliverEntry {
        format: lathe_io::Format::Wav.name().into(),
        bits: Some(32),
        sample_rate_hz: Some(cd::CD_RATE_HZ),
        dither: None,
        bitrate_kbps: None,
    }
}

/// Masters every track of the album into its own folder of `out_dir` (`NN_title/`), then
/// builds the CD image, its CUE sheet, each track's CD file and the DDP image. Everything that
/// can be refused (syntax, Red Book rules, existing outputs) is refused before any rendering.
pub fn render_album(
    spec: &AlbumSpec,
    out_dir: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<AlbumReport, MasterError> {
    spec.validate().map_err(usage)?;
    let deliver: Vec<DeliverSpec> = if spec.deliver.is_empty() {
        vec![DeliverSpec::parse("wav:24").expect("valid")]
    } else {
        let probe = Session {
            deliver: spec.deliver.clone(),
            ..Default::default()
        };
        probe.deliver_specs().map_err(usage)?
    };
    let name = safe(&spec.title);
    let image = out_dir.join(format!("{name}_cd.wav"));
    let cue = out_dir.join(format!("{name}_cd.cue"));
    let ddp_dir = out_dir.join(format!("{name}_ddp"));
    for p in [&image, &cue, &ddp_dir] {
        if p.exists() && !force {
            return Err(usage(format!(
                "{}: exists (use --force to replace it)",
                p.display()
            )));
        }
    }
    progress.stage("analysing the tracks", None);
    // Tracks are independent until the disc is assembled: they are analysed and rendered
    // side by side (rayon's pool, one worker per core), each still using both cores where
    // it can. In order, so that the first error reported is the first track's.
    let prepared: Vec<Prepared> = spec
        .tracks
        .par_iter()
        .map(|tr| prepare(spec, tr, &deliver))
        .collect::<Result<_, _>>()?;
    // The Red Book rules, from the inputs' lengths, before any rendering.
    let plans: Vec<TrackPlan> = spec
        .tracks
        .iter()
        .zip(&prepared)
        .enumerate()
        .map(|(i, (tr, p))| TrackPlan {
            title: tr.title.clone(),
            performer: tr.performer.clone(),
            isrc: tr.isrc.clone(),
            pregap_s: tr.pregap_s.unwrap_or(if i == 0 { 2.0 } else { 0.0 }),
            crossfade_s: tr.crossfade_s.unwrap_or(0.0),
            samples: p.cd_samples,
        })
        .collect();
    cd::layout(&plans).map_err(usage)?;
    let mut warnings = Vec::new();
    let vinyl_sides = match &spec.vinyl {
        Some(v) => {
            let lengths: Vec<(Option<&str>, f64)> = (spec.tracks.iter().zip(&prepared))
                .map(|(t, p)| (t.side.as_deref(), p.cd_samples as f64 / 44_100.0))
                .collect();
            let (sides, w) = vinyl::plan_sides(v, &lengths).map_err(usage)?;
            warnings.extend(w);
            sides
        }
        None => Vec::new(),
    };
    // Loudness: each track's target.
    let loudest = prepared
        .iter()
        .filter_map(|p| p.input_lufs)
        .fold(f64::NEG_INFINITY, f64::max);
    let offsets: Vec<f64> = spec
        .tracks
        .iter()
        .zip(&prepared)
        .map(|(tr, p)| match spec.mode {
            AlbumMode::Track => Ok(0.0),
            AlbumMode::Album => match (tr.offset_lu, p.input_lufs) {
                (Some(o), _) => Ok(o),
                (None, Some(l)) => Ok(l - loudest),
                (None, None) => Err(usage(format!("track '{}' is silent", tr.title))),
            },
        })
        .collect::<Result<_, _>>()?;
    let jobs: Vec<TrackJob> = spec
        .tracks
        .iter()
        .zip(prepared)
        .zip(&offsets)
        .enumerate()
        .map(|(i, ((tr, p), &offset))| track_job(spec, &deliver, out_dir, i, tr, p, offset))
        .collect::<Result<_, _>>()?;
    progress.stage(
        &format!("rendering {} tracks, side by side", jobs.len()),
        None,
    );
    let reports: Vec<Report> = jobs
        .par_iter()
        .map(|j| render_session_with(&j.session, &j.folder, force, j.known.clone(), &Silent))
        .collect::<Result<_, _>>()?;
    let mut tracks = Vec::new();
    let mut feeds = Vec::new();
    for (i, (j, report)) in jobs.iter().zip(reports).enumerate() {
        let mut deliverables = report.deliverables.clone();
        if !j.feed_requested {
            deliverables.retain(|d| Path::new(&d.path) != j.feed);
        }
        warnings.extend(
            report
                .warnings
                .iter()
                .map(|w| format!("track {}: {w}", i + 1)),
        );
        feeds.push((j.feed.clone(), !j.feed_requested));
        let tr = &spec.tracks[i];
        tracks.push(AlbumTrackReport {
            number: i + 1,
            title: tr.title.clone(),
            folder: j.folder.display().to_string(),
            input_lufs: j.input_lufs,
            offset_lu: j.offset,
            target: j.target,
            pass: report.all_pass(),
            deliverables,
            cd_file: String::new(),
            cd_index00: String::new(),
            cd_index01: String::new(),
        });
    }
    let cd = write_disc(
        spec,
        plans,
        &feeds,
        &mut tracks,
        [&image, &cue, &ddp_dir],
        progress,
    )?;
    let report = AlbumReport {
        title: spec.title.clone(),
        mode: spec.mode,
        target: spec.target,
        tracks,
        cd,
        vinyl_sides,
        warnings,
    };
    progress.done();
    let io = |e: std::io::Error| MasterError::Render(crate::render::RenderError::Write(e));
    let path = out_dir.join("album_report.json");
    let part = path.with_extension("json.part");
    let text = serde_json::to_string_pretty(&report).expect("report serialises");
    std::fs::write(&part, text + "\n")
        .and_then(|_| std::fs::rename(&part, &path))
        .map_err(io)?;
    Ok(report)
}

/// The CD, from the 44.1 kHz float masters as delivered (their real lengths): the image, each
/// track's CD file, the CUE sheet and the DDP; `paths` are the image, the sheet and the DDP
/// folder. The feeds lathe added for it are removed.
fn write_disc(
    spec: &AlbumSpec,
    plans: Vec<TrackPlan>,
    feeds: &[(PathBuf, bool)],
    tracks: &mut [AlbumTrackReport],
    paths: [&PathBuf; 3],
    progress: &dyn Progress,
) -> Result<CdReport, MasterError> {
    let [image, cue, ddp_dir] = paths;
    // The CD, from the 44.1 kHz float masters as delivered (their real lengths).
    progress.stage("CD image, CUE sheet and DDP", None);
    let mut plans = plans;
    for (plan, (feed, _)) in plans.iter_mut().zip(feeds) {
        plan.samples = hound::WavReader::open(feed)
            .map_err(|e| usage(format!("{}: {e}", feed.display())))?
            .duration() as u64;
    }
    let layout = cd::layout(&plans).map_err(usage)?;
    let dither = lathe_dsp::dither::DitherKind::TpdfShaped;
    let io = |e: std::io::Error| MasterError::Render(crate::render::RenderError::Write(e));
    cd::write_image(
        image,
        &layout,
        dither,
        crate::deliver::DITHER_SEED,
        |k, sink| {
            let mut r = hound::WavReader::open(&feeds[k].0).map_err(std::io::Error::other)?;
            let mut buf = Vec::with_capacity(8192);
            let mut samples = r.samples::<f32>();
            loop {
                buf.clear();
                for s in samples.by_ref().take(8192) {
                    buf.push(s.map_err(std::io::Error::other)?);
                }
                if buf.is_empty() {
                    return Ok(());
                }
                sink(&buf)?;
            }
        },
    )
    .map_err(io)?;
    let cd_files: Vec<PathBuf> = tracks
        .iter()
        .map(|t| Path::new(&t.folder).join(format!("{}_cd_44k1_16b.wav", safe(&t.title))))
        .collect();
    cd::cut_tracks(image, &layout, &cd_files).map_err(io)?;
    let image_name = image
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned();
    let sheet = cd::cue_sheet(
        &layout,
        &image_name,
        &spec.title,
        spec.artist.as_deref(),
        spec.upc.as_deref(),
    );
    let part = cue.with_extension("cue.part");
    std::fs::write(&part, sheet)
        .and_then(|_| std::fs::rename(&part, cue))
        .map_err(io)?;
    crate::album::ddp::write_ddp(
        ddp_dir,
        image,
        &layout,
        &spec.title,
        spec.artist.as_deref(),
        spec.upc.as_deref(),
    )
    .map_err(io)?;
    for (feed, remove) in feeds {
        if *remove {
            let _ = std::fs::remove_file(feed);
        }
    }
    for ((t, f), l) in tracks.iter_mut().zip(&cd_files).zip(&layout.tracks) {
        t.cd_file = f.display().to_string();
        t.cd_index00 = cd::msf(l.index00_frames);
        t.cd_index01 = cd::msf(l.index01_frames);
    }
    Ok(CdReport {
        image: image.display().to_string(),
        cue: cue.display().to_string(),
        ddp: ddp_dir.display().to_string(),
        total: cd::msf(layout.total_frames),
        dither,
        layout,
    })
}

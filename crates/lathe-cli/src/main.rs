//! The `lathe` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use lathe_engine::master::{MasterRequest, Prepared};

mod album_cmd;
mod analyze_cmd;
mod progress;
mod serve_admin;

use album_cmd::{album_cmd, ddp_verify};
use analyze_cmd::analyze;
use progress::{shown_progress, StageTimes, TermProgress};

use clap::{Parser, Subcommand};
use lathe_engine::{analyze_file, Analysis};
use rayon::prelude::*;

#[derive(Parser)]
#[command(
    name = "lathe",
    version,
    about = "Audio mastering: measure, master, deliver.",
    after_help = "Exit codes: 0 every deliverable met its target; 1 a deliverable missed its target \
(the files are written, the report says which); 2 bad input or usage (a flag, a key, a file \
that cannot be decoded, an output that exists); 3 an I/O, encoder or internal failure (a full \
disk, a file that cannot be written)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the `master` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Measure files: loudness (BS.1770 / EBU R128), true peak, LRA, DC, correlation, clipping,
    /// 1/3-octave spectrum.
    Analyze {
        /// Audio files (WAV, AIFF, FLAC, MP3, AAC/M4A, ALAC, Ogg Vorbis).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON array on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Master a stereo mix (or a set of stems) to a loudness target and a true-peak ceiling,
    /// deliver it, decode the delivered files back and verify them (report.json beside them).
    Master {
        /// The mix (any supported format, mono or stereo).
        #[arg(required_unless_present = "stems", conflicts_with = "stems")]
        mix: Option<PathBuf>,
        /// Stems to sum (each named after its file), instead of a mix.
        #[arg(long, num_args = 1..)]
        stems: Vec<PathBuf>,
        /// Output folder.
        #[arg(short = 'o', long = "out", default_value = ".")]
        out: PathBuf,
        /// streaming (−14 LUFS, −1 dBTP), apple (−16, −1), loud (−9, −1), club (−7, −0.3),
        /// cd (−10, −0.3, 16-bit 44.1 kHz), broadcast (−23, −1), vinyl (−14, −0.5, bass mono
        /// below ~150 Hz, sibilance and top octave in check), none (no processing).
        /// Default: streaming (with --reference: streaming's ceiling and deliverables, the
        /// reference's loudness).
        #[arg(long)]
        preset: Option<String>,
        /// Match this reference (repeatable: several references blend): tonal balance of mid
        /// and side, width per band, density, loudness. The choices go into the chain (see
        /// --save-session) and the report, with a plot beside it.
        #[arg(long)]
        reference: Vec<PathBuf>,
        /// Weights of the references, in order (default: equal), e.g. 0.7,0.3.
        #[arg(long, value_delimiter = ',', requires = "reference")]
        reference_weights: Vec<f64>,
        /// How much of the reference to match, 0…1 (EQ, width and dynamics; loudness is
        /// matched fully unless --match says otherwise).
        #[arg(long, requires = "reference")]
        amount: Option<f64>,
        /// Amounts per aspect, e.g. eq=0.7,width=0.5,loudness=1,dynamics=0.5.
        #[arg(long = "match", requires = "reference")]
        match_amounts: Option<String>,
        /// Let the assistant choose a gentle chain from the mix (resonance and mud cuts, glue
        /// compression from the crest factor); with --reference, only its corrective cuts.
        /// Each choice is explained in the report; --save-session keeps it editable.
        #[arg(long)]
        assist: bool,
        /// Largest boost of the match EQ, dB (default 12, a musically safe move; up to 48).
        #[arg(long, requires = "reference")]
        max_boost_db: Option<f64>,
        /// Largest cut of the match EQ, dB (default 24; up to 48).
        #[arg(long, requires = "reference")]
        max_cut_db: Option<f64>,
        /// Integrated loudness target, LUFS (overrides the preset's).
        #[arg(long, allow_hyphen_values = true)]
        target_lufs: Option<f64>,
        /// True-peak ceiling, dBTP (overrides the preset's).
        #[arg(long, allow_hyphen_values = true)]
        ceiling_dbtp: Option<f64>,
        /// FORMAT[:BITS][@RATE], repeatable: wav:24, wav:16@44100, wav:32 (float).
        #[arg(long)]
        deliver: Vec<String>,
        /// An alternate version, repeatable: NAME[:mute=STEM,...][:only=STEM,...]
        /// [:gain=STEM=DB,...][:dynamics=locked|own], e.g. instrumental:mute=vocals.
        /// Locked (the default) versions carry the main master's gain moves sample for sample.
        #[arg(long = "version", value_name = "SPEC")]
        versions: Vec<String>,
        /// With --stems: deliver every stem through the master's chain with the master's gain
        /// moves as well (TITLE_STEM_RATE_BITS); they sum to the master.
        #[arg(long)]
        stem_masters: bool,
        /// A platform bundle, e.g. spotify,apple,youtube,tidal,soundcloud,cd,vinyl,broadcast:
        /// each platform's loudness, ceiling and files from one analysis (platforms with the
        /// same loudness share a master, TITLE_MASTER_RATE_BITS), each file verified, a row
        /// per platform in the report. Instead of --preset, --target-lufs, --ceiling-dbtp
        /// and --deliver.
        #[arg(long = "for", value_delimiter = ',', value_name = "PLATFORMS")]
        platforms: Vec<String>,
        /// Write the session that was used (TOML) to this path, to reproduce or edit it.
        #[arg(long)]
        save_session: Option<PathBuf>,
        /// Title: tagged into every file, and names the output files.
        #[arg(long)]
        title: Option<String>,
        /// Artist, tagged into every file.
        #[arg(long)]
        artist: Option<String>,
        /// ISRC (e.g. GBAYE0601498), tagged into every file.
        #[arg(long)]
        isrc: Option<String>,
        /// Inputs with NaN or infinite samples: refuse them (default) or read those samples
        /// as silence (reported).
        #[arg(long, value_enum, default_value_t = NonFiniteArg::Refuse)]
        non_finite: NonFiniteArg,
        /// Replace existing output files.
        #[arg(long)]
        force: bool,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Master an album file: every track (album or track loudness), the CD image with its CUE
    /// sheet, each track's CD file, and a DDP 2.0 image.
    Album {
        album: PathBuf,
        #[arg(short = 'o', long = "out", default_value = ".")]
        out: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Run the mastering web service: upload page, JSON API, job queue.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Jobs and their files live here (and, without --db, the queue and the accounts).
        #[arg(long, default_value = "lathe-data", global = true)]
        data: PathBuf,
        /// The records (queue, revisions, accounts) in PostgreSQL instead of the data folder:
        /// postgres://USER:PASSWORD@HOST:PORT/DATABASE. Also read from LATHE_DB_URL, which
        /// keeps the password out of the process list.
        #[arg(long, value_name = "URL", global = true)]
        db: Option<String>,
        /// The job files in an S3-compatible bucket, s3://BUCKET[/prefix], instead of the data
        /// folder (which becomes each process's working copy). Credentials, region and
        /// endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL
        /// (plain http only when the endpoint says http://).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
        /// What this process does: web (pages, API, files), worker (renders jobs) or all.
        /// Web and worker processes scale apart when they share --db and --store (or the
        /// data folder).
        #[arg(long, default_value = "all", value_parser = ["web", "worker", "all"])]
        role: String,
        /// With --db: how long a worker's claim on a job lasts without a heartbeat, seconds
        /// (a killed worker's job is taken up again this long after).
        #[arg(long, default_value_t = 30)]
        lease_s: u64,
        /// Accounts (without one: start the service).
        #[command(subcommand)]
        admin: Option<serve_admin::ServeAdmin>,
        /// Jobs mastered at once (the rest wait in the queue).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Largest upload (all files of a job together), MB.
        #[arg(long, default_value_t = 2000)]
        max_upload_mb: u64,
        /// Finished jobs are deleted after this many days.
        #[arg(long, default_value_t = 7.0)]
        retention_days: f64,
        /// Memory limit of each job's process, MB (its address space; 0: none).
        #[arg(long, default_value_t = 8192)]
        job_memory_mb: u64,
        /// Time limit of each job, seconds; a job past it is stopped and fails.
        #[arg(long, default_value_t = 3600)]
        job_timeout_s: u64,
        /// The most stems one job may upload.
        #[arg(long, default_value_t = 64)]
        max_stems: usize,
        /// A host name the service answers to (repeatable; e.g. behind a reverse proxy).
        /// On a loopback address only loopback names are accepted otherwise.
        #[arg(long = "allow-host", value_name = "NAME")]
        allow_hosts: Vec<String>,
    },
    /// Renders one job of a service's data folder (`DATA ID`), or checks one upload
    /// (`DATA --probe FILE`); lathe serve starts it in a child process for each.
    #[command(hide = true)]
    ServeJob {
        /// Handed to the job runner as they are.
        #[arg(num_args = 2..=3, allow_hyphen_values = true, required = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// DDP images.
    Ddp {
        #[command(subcommand)]
        command: DdpCommand,
    },
    /// Render a session file (README: Stems and session files): stems, chains, master chain,
    /// target, deliverables.
    Render {
        session: PathBuf,
        #[arg(short = 'o', long = "out", default_value = ".")]
        out: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum NonFiniteArg {
    Refuse,
    Silence,
}

impl From<NonFiniteArg> for lathe_engine::spec::stem::NonFinite {
    fn from(a: NonFiniteArg) -> Self {
        match a {
            NonFiniteArg::Refuse => Self::Refuse,
            NonFiniteArg::Silence => Self::Silence,
        }
    }
}

#[derive(Subcommand)]
enum DdpCommand {
    /// Read a DDP image back: track list with start times, lengths, ISRCs and CD-Text; check
    /// its checksums (exit 1 on a mismatch); `--extract DIR` writes each track as WAV.
    Verify {
        dir: PathBuf,
        #[arg(long)]
        extract: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

// Exit codes, by category (README: Exit codes): 0 every target met, 1 a deliverable missed
// its target, 2 bad input or usage, 3 an I/O, encoder or internal failure.
use lathe_engine::error::{EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_MISSED_TARGET};

/// Prints an engine error and exits with its category's code.
fn fail(e: &lathe_engine::error::MasterError) -> ExitCode {
    eprintln!("lathe: {e}");
    ExitCode::from(e.exit_code())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Analyze { files, json } => analyze(&files, json),
        Command::Master {
            mix,
            stems,
            out,
            preset,
            reference,
            reference_weights,
            amount,
            match_amounts,
            max_boost_db,
            max_cut_db,
            assist,
            target_lufs,
            ceiling_dbtp,
            deliver,
            versions,
            stem_masters,
            platforms,
            save_session,
            title,
            artist,
            isrc,
            non_finite,
            force,
            json,
        } => {
            let request = MasterRequest {
                files: mix.map_or(stems, |m| vec![m]),
                references: reference,
                preset,
                target_lufs,
                ceiling_dbtp,
                deliver,
                versions,
                reference_weights,
                amount,
                match_amounts,
                max_boost_db,
                max_cut_db,
                assist,
                stem_masters,
                title,
                artist,
                isrc,
                non_finite: Some(non_finite.into()),
                notes: None,
                needs: Vec::new(),
                platforms,
            };
            master(&request, &out, save_session.as_deref(), force, json)
        }
        Command::Album {
            album,
            out,
            force,
            json,
        } => album_cmd(&album, &out, force, json),
        Command::Serve {
            admin: Some(admin),
            data,
            db,
            ..
        } => serve_admin::run(&admin, &data, db_url(db).as_deref()),
        Command::Serve {
            admin: None,
            addr,
            data,
            db,
            store,
            role,
            lease_s,
            workers,
            max_upload_mb,
            retention_days,
            job_memory_mb,
            job_timeout_s,
            max_stems,
            allow_hosts,
        } => {
            let exe = match std::env::current_exe() {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("lathe: cannot find this program to start jobs with: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mut config = lathe_server::Config::new(
                addr,
                data,
                vec![exe.into_os_string(), "serve-job".into()],
            );
            config.workers = workers;
            config.max_upload_bytes = max_upload_mb * 1_000_000;
            config.retention_days = retention_days;
            config.job_memory_mb = job_memory_mb;
            config.job_timeout_s = job_timeout_s;
            config.max_stems = max_stems;
            config.allowed_hosts = allow_hosts;
            config.db_url = db_url(db);
            config.lease_s = lease_s;
            config.store_url = store;
            config.role = match lathe_server::Role::parse(&role) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("lathe: {e}");
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            };
            serve_cmd(config)
        }
        Command::ServeJob { args } => {
            let code = lathe_server::worker::job_main(&args);
            ExitCode::from(code.clamp(0, 255) as u8)
        }
        Command::Ddp {
            command: DdpCommand::Verify { dir, extract, json },
        } => ddp_verify(&dir, extract.as_deref(), json),
        Command::Render {
            session,
            out,
            force,
            json,
        } => match lathe_engine::spec::session::Session::load(&session) {
            Ok(s) => render(&s, None, &out, force, json, None),
            Err(e) => {
                eprintln!("lathe: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
    }
}

/// `--db`, or else `LATHE_DB_URL`.
fn db_url(flag: Option<String>) -> Option<String> {
    flag.or_else(|| std::env::var(lathe_server::records::DB_URL_ENV).ok())
        .filter(|u| !u.is_empty())
}

fn serve_cmd(config: lathe_server::Config) -> ExitCode {
    match lathe_server::serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lathe: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// `lathe master`: prepares the request (checks, measures, builds the session), refuses a
/// `--save-session` path that is an input, and renders.
fn master(
    request: &MasterRequest,
    out: &std::path::Path,
    save_session: Option<&std::path::Path>,
    force: bool,
    json: bool,
) -> ExitCode {
    use lathe_engine::deliver::same_file::same_file;
    let bad = |msg: String| {
        eprintln!("lathe: {msg}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let spinner = TermProgress::new(json);
    let times = StageTimes::from_env();
    let shown: Option<&dyn lathe_engine::progress::Progress> = match (&times, &spinner) {
        (Some(t), _) => Some(t),
        (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    if let Some(p) = shown {
        p.stage("analysing the inputs", None);
    }
    let prepared = request.prepare();
    if let Some(p) = shown {
        p.done();
    }
    let Prepared { session, known } = match prepared {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Some(path) = save_session {
        // Never an input, whatever --force says (inputs are never modified).
        let inputs = request.files.iter().chain(&request.references).cloned();
        if let Some(input) = inputs
            .chain(session.input_files())
            .find(|i| same_file(path, i))
        {
            return bad(format!(
                "--save-session {}: that is the input {}; choose another path",
                path.display(),
                input.display()
            ));
        }
        if path.exists() && !force {
            return bad(format!(
                "{}: exists (use --force to replace it)",
                path.display()
            ));
        }
    }
    render(&session, Some(known), out, force, json, save_session)
}

/// Renders `session`; with `save_session`, writes the session as rendered (everything chosen
/// automatically written in) there afterwards.
fn render(
    session: &lathe_engine::spec::session::Session,
    known: Option<lathe_engine::master::Known>,
    out: &std::path::Path,
    force: bool,
    json: bool,
    save_session: Option<&std::path::Path>,
) -> ExitCode {
    let (progress, times) = (TermProgress::new(json), StageTimes::from_env());
    let shown = shown_progress(&times, &progress);
    let report = match lathe_engine::master::render_session_with(session, out, force, known, shown)
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let Some(path) = save_session {
        let part = path.with_extension("toml.part");
        if let Err(e) = std::fs::write(&part, report.session.to_toml())
            .and_then(|_| std::fs::rename(&part, path))
        {
            eprintln!("lathe: {}: cannot write the session: {e}", path.display());
            return ExitCode::from(EXIT_FAILURE);
        }
    }
    for w in &report.warnings {
        eprintln!("lathe: warning: {w}");
    }
    for c in report.assistant.iter().flat_map(|a| &a.choices) {
        let measured = c
            .measured
            .as_deref()
            .map_or(String::new(), |m| format!(" ({m})"));
        eprintln!(
            "assist: {}: {}: {}{measured}",
            c.stem.as_deref().unwrap_or("master"),
            c.processor,
            c.reason
        );
    }
    eprintln!(
        "input {} LUFS, {} dBTP",
        fmt_opt(report.input.integrated_lufs, 2),
        fmt_opt(report.input.true_peak_dbtp, 2)
    );
    for d in &report.deliverables {
        let verdict = if d.pass { "ok" } else { "MISSED TARGET" };
        let target = d.target.map_or(String::new(), |t| {
            format!(
                " (target {} LUFS, ≤ {} dBTP)",
                t.integrated_lufs, t.true_peak_dbtp
            )
        });
        eprintln!(
            "{}: {} LUFS, {} dBTP{target}: {verdict}",
            d.path,
            fmt_opt(d.measured.integrated_lufs, 2),
            fmt_opt(d.measured.true_peak_dbtp, 2)
        );
    }
    for v in report.versions.iter().chain(&report.stem_masters) {
        for d in &v.deliverables {
            let verdict = if d.pass { "ok" } else { "MISSED TARGET" };
            let limit = match (d.target, d.ceiling_dbtp) {
                (Some(t), _) => format!(
                    " (target {} LUFS, ≤ {} dBTP)",
                    t.integrated_lufs, t.true_peak_dbtp
                ),
                (None, Some(c)) => format!(" (locked to the master, ≤ {c} dBTP)"),
                (None, None) => String::new(),
            };
            eprintln!(
                "{}: {} LUFS, {} dBTP{limit}: {verdict}",
                d.path,
                fmt_opt(d.measured.integrated_lufs, 2),
                fmt_opt(d.measured.true_peak_dbtp, 2)
            );
        }
    }
    if let Some(e) = report
        .limiter
        .as_ref()
        .and_then(|l| l.locked_extra_reduction)
    {
        eprintln!(
            "locked versions cost the master {:.2} dB of extra limiting at most ({:.2} s affected)",
            e.max_db, e.duration_s
        );
    }
    for p in &report.platforms {
        eprintln!(
            "{}: {} LUFS, ≤ {} dBTP: {} ({})",
            p.platform,
            p.target.integrated_lufs,
            p.target.true_peak_dbtp,
            p.files.join(", "),
            if p.pass { "ok" } else { "MISSED TARGET" }
        );
    }
    if let Some(sum) = &report.stem_sum {
        eprintln!(
            "the stem masters sum to {} within {} dBFS (peak of the difference)",
            sum.master,
            fmt_opt(sum.residual_peak_dbfs, 1)
        );
    }
    if json {
        print_json(&report);
    }
    exit_for(report.all_pass())
}

/// Prints a report as one JSON document on stdout (`--json`).
fn print_json(report: &impl serde::Serialize) {
    let mut o = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut o, report)
        .map_err(std::io::Error::from)
        .and_then(|_| writeln!(o));
}

/// Exit 0 when everything met its target, else 1 (2 is kept for refused input).
fn exit_for(all_pass: bool) -> ExitCode {
    if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_MISSED_TARGET)
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-inf".to_string(), |v| format!("{v:.digits$}"))
}

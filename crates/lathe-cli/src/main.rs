//! The `lathe` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lathe_engine::{analyze_file, Analysis};
use rayon::prelude::*;

#[derive(Parser)]
#[command(
    name = "lathe",
    version,
    about = "Audio mastering: measure, master, deliver."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

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
}

/// Exit code for bad input or usage (DESIGN.md §6).
const EXIT_BAD_INPUT: u8 = 2;

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
    }
}

fn analyze(files: &[PathBuf], json: bool) -> ExitCode {
    let results: Vec<_> = files.par_iter().map(|f| analyze_file(f)).collect();
    let mut ok = Vec::new();
    let mut failed = false;
    for r in results {
        match r {
            Ok(a) => {
                for w in &a.warnings {
                    eprintln!("lathe: warning: {}: {w}", a.file);
                }
                ok.push(a);
            }
            Err(e) => {
                eprintln!("lathe: {e}");
                failed = true;
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &ok)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        print_table(&mut out, &ok)
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("lathe: cannot write output: {e}");
        }
    }
    if failed {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-inf".to_string(), |v| format!("{v:.digits$}"))
}

fn print_table(out: &mut impl Write, rows: &[Analysis]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<40} {:>6} {:>2} {:>8} {:>7} {:>5} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6} {:>7}",
        "file",
        "Hz",
        "ch",
        "dur s",
        "I LUFS",
        "LRA",
        "M max",
        "S max",
        "SP dBFS",
        "TP dBTP",
        "DC",
        "corr",
        "clipped"
    )?;
    for a in rows {
        let name = std::path::Path::new(&a.file)
            .file_name()
            .map_or(a.file.clone(), |n| n.to_string_lossy().into_owned());
        writeln!(
            out,
            "{:<40} {:>6} {:>2} {:>8.2} {:>7} {:>5.1} {:>7} {:>7} {:>7} {:>7} {:>8.5} {:>6} {:>7}",
            name,
            a.sample_rate_hz,
            a.channels,
            a.duration_s,
            fmt_opt(a.integrated_lufs, 2),
            a.lra_lu,
            fmt_opt(a.momentary_max_lufs, 2),
            fmt_opt(a.short_term_max_lufs, 2),
            fmt_opt(a.sample_peak_dbfs, 2),
            fmt_opt(a.true_peak_dbtp, 2),
            a.dc_offset,
            a.correlation.map_or("-".into(), |c| format!("{c:.3}")),
            a.clipped_samples
        )?;
    }
    Ok(())
}

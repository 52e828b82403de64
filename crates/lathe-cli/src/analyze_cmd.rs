//! `lathe analyze`: the table or the JSON of every file's measurements.

use super::*;

pub(crate) fn analyze(files: &[PathBuf], json: bool) -> ExitCode {
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

pub(crate) fn print_table(out: &mut impl Write, rows: &[Analysis]) -> std::io::Result<()> {
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

//! `lathe album` and `lathe ddp verify`.

use super::*;

pub(crate) fn album_cmd(
    path: &std::path::Path,
    out: &std::path::Path,
    force: bool,
    json: bool,
) -> ExitCode {
    let spec = match lathe_engine::album::AlbumSpec::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lathe: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let (progress, times) = (TermProgress::new(json), StageTimes::from_env());
    let shown = shown_progress(&times, &progress);
    let report = match lathe_engine::album::render_album(&spec, out, force, shown) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    for w in &report.warnings {
        eprintln!("lathe: warning: {w}");
    }
    for t in &report.tracks {
        let d = t.deliverables.first();
        eprintln!(
            "{:02} {:<30} input {} LUFS, offset {:+.2} LU → {} LUFS, {} dBTP (target {} LUFS): {}; CD {}",
            t.number,
            t.title,
            fmt_opt(t.input_lufs, 2),
            t.offset_lu,
            fmt_opt(d.and_then(|d| d.measured.integrated_lufs), 2),
            fmt_opt(d.and_then(|d| d.measured.true_peak_dbtp), 2),
            t.target.integrated_lufs,
            if t.pass { "ok" } else { "MISSED TARGET" },
            t.cd_index01
        );
    }
    eprintln!(
        "CD: {} ({}), {}, DDP {}",
        report.cd.image, report.cd.total, report.cd.cue, report.cd.ddp
    );
    for side in &report.vinyl_sides {
        eprintln!(
            "vinyl side {}: {} (tracks {:?})",
            side.side, side.duration, side.tracks
        );
    }
    if json {
        print_json(&report);
    }
    exit_for(report.all_pass())
}

pub(crate) fn ddp_verify(
    dir: &std::path::Path,
    extract: Option<&std::path::Path>,
    json: bool,
) -> ExitCode {
    let report = match lathe_engine::album::ddp::verify_ddp(dir, extract) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lathe: {}: {e}", dir.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if !json {
        println!(
            "{} {} — {} ({}), UPC {}",
            report.level,
            report.title.as_deref().unwrap_or("?"),
            report.performer.as_deref().unwrap_or("?"),
            report.total,
            report.upc.as_deref().unwrap_or("-")
        );
        println!(
            "{:>3} {:>9} {:>9} {:>7} {:<12} title / performer",
            "trk", "start", "length", "pregap", "ISRC"
        );
        for t in &report.tracks {
            println!(
                "{:>3} {:>9} {:>9} {:>7} {:<12} {} / {}",
                t.number,
                t.start,
                t.length,
                lathe_engine::album::cd::msf(t.pregap_frames),
                t.isrc.as_deref().unwrap_or("-"),
                t.title.as_deref().unwrap_or("-"),
                t.performer.as_deref().unwrap_or("-")
            );
        }
    }
    for (file, ok) in &report.checksums {
        if !ok {
            eprintln!("lathe: {file}: checksum MISMATCH");
        }
    }
    if json {
        print_json(&report);
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("lathe: the DDP image does not match its checksums");
        ExitCode::from(EXIT_MISSED_TARGET)
    }
}

//! Renders one job of a `lathe serve` data folder: `lathe-job DATA ID`. The service starts it
//! (as `lathe serve-job`) in a child process per job; it exists as its own binary so that the
//! server's tests can start it too.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(lathe_server::worker::job_main(&args));
}

//! Each job renders in a child process, so that nothing a job does can take the service down.
//!
//! A render that panics is caught anywhere; one that aborts (a C library's assertion, an
//! allocation that fails) or is killed by the kernel cannot be caught inside the process that
//! suffers it. So the worker thread starts the job runner (`lathe serve-job DATA ID`, or the
//! `lathe-job` binary in tests) with an address-space limit (`RLIMIT_AS`: an allocation past
//! it fails in the child, which aborts, instead of the machine swapping), no core files, and a
//! wall-clock limit after which the child is killed. The parent only waits and reads the
//! child's last words on stderr.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How job children are started and bounded.
#[derive(Clone, Debug)]
pub struct ChildLimits {
    /// The runner: program and leading arguments; the data folder and the job id follow.
    pub command: Vec<OsString>,
    /// Address-space limit of the child, bytes (0: none).
    pub memory_bytes: u64,
    /// Wall-clock limit of one attempt.
    pub timeout: Duration,
    /// Environment the child gets besides the server's (the database URL).
    pub env: Vec<(String, String)>,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The master was made.
    Done,
    /// The job itself failed (bad input, a missed write): the child said why, with exit 1.
    Failed(String),
    /// The child died: killed by a signal, or an exit code the runner never uses. Worth another
    /// attempt (the machine may have been short of memory), up to a limit.
    Crashed(String),
    /// It ran past the time limit and was killed. Not retried: it would again.
    TimedOut(Duration),
    /// The attempt lost its claim on the job (its lease ran out, and the job went back to the
    /// queue): the child was stopped, and the attempt records nothing.
    Lost,
}

/// The exit code with which the runner reports the job's own failure (its message is the last
/// line on stderr).
pub const EXIT_JOB_FAILED: i32 = 1;

/// Runs one attempt of job `id` and waits for it; `stop` makes the wait give up on nothing (a
/// running job always finishes), it is only polled so that the caller stays responsive.
pub fn run(limits: &ChildLimits, data_dir: &Path, id: &str) -> Outcome {
    run_while(limits, data_dir, id, &mut || true)
}

/// [`run`], asking `keep` while the child runs (about every 50 ms): false stops the child
/// ([`Outcome::Lost`]). The worker renews its claim on the job there.
pub fn run_while(
    limits: &ChildLimits,
    data_dir: &Path,
    id: &str,
    keep: &mut dyn FnMut() -> bool,
) -> Outcome {
    run_with(
        limits,
        &[data_dir.as_os_str(), std::ffi::OsStr::new(id)],
        keep,
    )
}

/// Runs the runner with `extra` arguments after its own (see [`run_while`]).
pub fn run_with(
    limits: &ChildLimits,
    extra: &[&std::ffi::OsStr],
    keep: &mut dyn FnMut() -> bool,
) -> Outcome {
    let Some((program, args)) = limits.command.split_first() else {
        return Outcome::Crashed("no job runner is configured".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .args(extra)
        .envs(limits.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Its own process group, so that a kill reaches whatever it started too.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let memory = limits.memory_bytes;
    // SAFETY: the closure runs in the forked child before exec and calls only prctl and
    // setrlimit, which are async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            // A child outliving a killed server would go on writing into a job that the next
            // server starts again: it dies with the thread that started it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if memory > 0 {
                let lim = libc::rlimit {
                    rlim_cur: memory as libc::rlim_t,
                    rlim_max: memory as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Crashed(format!("cannot start the job runner: {e}")),
    };
    // stderr is read on its own thread so that a chatty child never blocks on a full pipe;
    // only its tail is kept.
    let mut err_pipe = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 16 * 1024 {
                tail.drain(..tail.len() - 8 * 1024);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > limits.timeout => {
                kill_group(&mut child);
                break None;
            }
            Ok(None) if !keep() => {
                kill_group(&mut child);
                let _ = reader.join();
                return Outcome::Lost;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                kill_group(&mut child);
                return Outcome::Crashed(format!("lost the job runner: {e}"));
            }
        }
    };
    let stderr = reader.join().unwrap_or_default();
    let last = last_line(&stderr);
    let Some(status) = status else {
        return Outcome::TimedOut(limits.timeout);
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Outcome::Done,
        (Some(EXIT_JOB_FAILED), _) if !last.is_empty() => Outcome::Failed(last),
        (_, Some(sig)) => {
            Outcome::Crashed(with_last(&format!("killed by {}", signal_name(sig)), &last))
        }
        (code, _) => Outcome::Crashed(with_last(
            &format!("the job runner exited with {}", code.unwrap_or(-1)),
            &last,
        )),
    }
}

/// Kills the child's whole process group and reaps the child.
fn kill_group(child: &mut std::process::Child) {
    // SAFETY: a plain system call; the group id is the child's pid (`process_group(0)`).
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn with_last(what: &str, last: &str) -> String {
    if last.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {last}")
    }
}

/// The last non-empty line, at most 300 characters.
fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.chars().take(300).collect()
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGABRT => "SIGABRT (aborted)",
        libc::SIGKILL => "SIGKILL (out of memory, or killed)",
        libc::SIGSEGV => "SIGSEGV (invalid memory access)",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_s: f64) -> Outcome {
        // `sh -c SCRIPT DATA ID`: the script sees the folder and the id as $0 and $1.
        let limits = ChildLimits {
            command: vec!["sh".into(), "-c".into(), script.into()],
            memory_bytes: 0,
            timeout: Duration::from_secs_f64(timeout_s),
            env: vec![("LATHE_TEST_VAR".into(), "seen".into())],
        };
        run(&limits, Path::new("/data"), "abc")
    }

    #[test]
    fn outcomes_follow_the_childs_exit() {
        assert_eq!(sh("test \"$0/$1\" = /data/abc", 10.0), Outcome::Done);
        assert_eq!(sh("test \"$LATHE_TEST_VAR\" = seen", 10.0), Outcome::Done);
        assert_eq!(
            sh("echo progress >&2; echo 'bad input: x' >&2; exit 1", 10.0),
            Outcome::Failed("bad input: x".into())
        );
        match sh(
            "echo 'psymodel.c: Assertion failed' >&2; kill -ABRT $$",
            10.0,
        ) {
            Outcome::Crashed(why) => {
                assert!(why.contains("SIGABRT"), "{why}");
                assert!(why.contains("Assertion failed"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(sh("exit 7", 10.0), Outcome::Crashed(_)));
        // exit 1 without a word is a crash, not a failure with an empty reason.
        assert!(matches!(sh("exit 1", 10.0), Outcome::Crashed(_)));
    }

    #[test]
    fn a_child_whose_claim_is_lost_is_stopped() {
        let limits = ChildLimits {
            command: vec!["sh".into(), "-c".into(), "sleep 30".into()],
            memory_bytes: 0,
            timeout: Duration::from_secs(60),
            env: Vec::new(),
        };
        let started = Instant::now();
        let mut asked = 0;
        let mut keep = || {
            asked += 1;
            asked < 5
        };
        assert_eq!(
            run_while(&limits, Path::new("/d"), "x", &mut keep),
            Outcome::Lost
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_child_past_its_time_is_killed() {
        let started = Instant::now();
        assert!(matches!(sh("sleep 30", 0.3), Outcome::TimedOut(_)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn the_memory_limit_holds_in_the_child() {
        // A child asking for 2 GiB under a 512 MiB limit fails its allocation (python's
        // MemoryError: exit 1) instead of getting the memory.
        let limits = ChildLimits {
            command: vec![
                "python3".into(),
                "-c".into(),
                "import sys\ntry:\n    b = bytearray(2 << 30)\nexcept MemoryError:\n    print('no memory', file=sys.stderr); sys.exit(1)\n".into(),
            ],
            memory_bytes: 512 << 20,
            timeout: Duration::from_secs(30),
            env: Vec::new(),
        };
        assert_eq!(
            run(&limits, Path::new("/d"), "x"),
            Outcome::Failed("no memory".into())
        );
    }
}

//! Faults around a render: the disk fills up during delivery, the output folder is read-only,
//! the process is killed halfway. Each ends with a clear error and nothing half-written under
//! a final name; the next run into the folder succeeds. The first two need a small tmpfs
//! (`mount`, as root); without it they print SKIPPED.

mod common;

use common::*;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `seconds` of a stereo test mix (float, 44.1 kHz).
fn write_mix(path: &Path, seconds: usize) {
    write_stereo_f32(
        path,
        44_100,
        (0..seconds * 44_100).map(|n| {
            let t = n as f64 / 44_100.0;
            let v = (0.3 * (2.0 * PI * 220.0 * t).sin() * (0.6 + 0.4 * (t * 2.0).sin())) as f32;
            [v, v * 0.8]
        }),
    );
}

/// A tmpfs of `size` mounted at a fresh folder (with `options`, e.g. "ro"), or `None` with a
/// SKIPPED line when this machine does not allow mounting.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(test: &str, size: &str, options: &str) -> Option<(tempfile::TempDir, Tmpfs)> {
        let holder = tempfile::tempdir().unwrap();
        let at = holder.path().join("mnt");
        std::fs::create_dir(&at).unwrap();
        let mut opts = format!("size={size}");
        if !options.is_empty() {
            opts += &format!(",{options}");
        }
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(&at)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED {test}: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
            return None;
        }
        Some((holder, Tmpfs(at)))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn a_full_disk_during_delivery_is_a_clear_error_and_leaves_nothing() {
    let Some((_holder, fs)) = Tmpfs::mount("full_disk", "3m", "") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_mix(&mix, 30); // 30 s: a 24-bit WAV of 7.9 MB, more than the 3 MB there is
    let out = fs.0.join("out");
    let res = lathe()
        .args([
            "master",
            "--deliver",
            "wav:24",
            "--deliver",
            "flac:16",
            "-o",
        ])
        .arg(&out)
        .arg(&mix)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    // A full disk is a failure of the machine (3), not bad input (2).
    assert_eq!(res.status.code(), Some(3), "{err}");
    assert!(err.to_lowercase().contains("no space left"), "{err}");
    assert_eq!(names_in(&out), Vec::<String>::new(), "{err}");
}

#[test]
fn a_read_only_output_folder_is_refused_before_any_work() {
    let Some((_holder, fs)) = Tmpfs::mount("read_only", "1m", "ro") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_mix(&mix, 5);
    let res = lathe()
        .args(["master", "--deliver", "wav:24", "-o"])
        .arg(&fs.0)
        .arg(&mix)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(3), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
}

#[test]
fn a_render_killed_halfway_leaves_no_deliverable_and_the_next_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_mix(&mix, 240);
    let out = dir.path().join("out");
    let mut child = lathe()
        .args([
            "master",
            "--deliver",
            "wav:24",
            "--deliver",
            "flac:24",
            "-o",
        ])
        .arg(&out)
        .arg(&mix)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has started writing (its bus cache or a deliverable exists).
    let started = std::time::Instant::now();
    while names_in(&out).is_empty() && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let _ = child.kill();
    let status = child.wait().unwrap();
    if status.success() {
        eprintln!("SKIPPED the kill: the render finished first");
    } else {
        let left = names_in(&out);
        for final_name in [
            "song_master_44k1_24b.wav",
            "song_master_44k1_24b.flac",
            "report.json",
        ] {
            assert!(
                !left.iter().any(|n| n == final_name),
                "{final_name} in {left:?}"
            );
        }
    }
    // The next run takes the folder over (its stale lock and temporary files) and succeeds.
    let res = lathe()
        .args([
            "master",
            "--force",
            "--deliver",
            "wav:24",
            "--deliver",
            "flac:24",
            "-o",
        ])
        .arg(&out)
        .arg(&mix)
        .output()
        .unwrap();
    assert_exit_ok(&res);
    assert_eq!(
        names_in(&out),
        vec![
            "report.json".to_string(),
            "song_master_44k1_24b.flac".to_string(),
            "song_master_44k1_24b.wav".to_string()
        ]
    );
}

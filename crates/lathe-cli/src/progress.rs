//! What `lathe` shows while it works: progress bars on a terminal, or each stage's time
//! (`LATHE_STAGE_TIMES`).

/// Progress bars on stderr, only when it is a terminal and the output is not JSON: one bar per
/// stage, and under it one per stem while the stems are decoded and processed.
pub(crate) struct TermProgress {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<TermBars>,
}

pub(crate) struct TermBars {
    stage: indicatif::ProgressBar,
    stage_total: Option<u64>,
    stems: Vec<indicatif::ProgressBar>,
}

impl TermProgress {
    pub(crate) fn new(json: bool) -> Option<Self> {
        use std::io::IsTerminal;
        (!json && std::io::stderr().is_terminal()).then(|| Self {
            multi: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            bars: std::sync::Mutex::new(TermBars {
                stage: indicatif::ProgressBar::hidden(),
                stage_total: None,
                stems: Vec::new(),
            }),
        })
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, TermBars> {
        self.bars.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bar(&self, name: &str, total: Option<u64>, indent: &str) -> indicatif::ProgressBar {
        use indicatif::{ProgressBar, ProgressStyle};
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(&format!(
                    "{indent}{{msg:{}}} [{{bar:40}}] {{percent:>3}}%  {{elapsed}}",
                    32 - indent.len()
                ))
                .expect("valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template(&format!(
                    "{indent}{{msg:{}}} {{spinner}}  {{elapsed}}",
                    32 - indent.len()
                ))
                .expect("valid template"),
            ),
        };
        let bar = self.multi.add(bar);
        bar.set_message(name.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    }

    fn clear(bars: &mut TermBars) {
        bars.stage.finish_and_clear();
        for b in bars.stems.drain(..) {
            b.finish_and_clear();
        }
    }
}

impl lathe_engine::progress::Progress for TermProgress {
    fn stage(&self, name: &str, total_frames: Option<u64>) {
        let mut bars = self.bars();
        Self::clear(&mut bars);
        bars.stage = self.bar(name, total_frames, "");
        bars.stage_total = total_frames;
    }

    fn advance(&self, frames: u64) {
        self.bars().stage.inc(frames);
    }

    fn stems(&self, names: &[String], total_frames: Option<u64>) {
        let mut bars = self.bars();
        let total = total_frames.or(bars.stage_total);
        let new: Vec<_> = names.iter().map(|n| self.bar(n, total, "  ")).collect();
        for b in std::mem::replace(&mut bars.stems, new) {
            b.finish_and_clear();
        }
    }

    fn stem_advance(&self, index: usize, frames: u64) {
        if let Some(b) = self.bars().stems.get(index) {
            b.inc(frames);
        }
    }

    fn done(&self) {
        Self::clear(&mut self.bars());
    }
}

/// With `LATHE_STAGE_TIMES` set: each stage's wall time on stderr when the next one begins
/// (for profiling the engine's passes; no bars).
pub(crate) struct StageTimes {
    current: std::sync::Mutex<Option<(String, std::time::Instant, f64)>>,
}

/// CPU seconds this process has used (every thread, user and system), so that a stage's
/// line shows how busy it kept the cores, not only how long it took.
fn cpu_s() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    #[allow(unsafe_code)]
    let u = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) != 0 {
            return 0.0;
        }
        u.assume_init()
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

impl StageTimes {
    pub(crate) fn from_env() -> Option<Self> {
        std::env::var_os("LATHE_STAGE_TIMES").map(|_| Self {
            current: std::sync::Mutex::new(None),
        })
    }

    fn switch(&self, next: Option<&str>) {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let cpu = cpu_s();
        if let Some((name, t0, cpu0)) = cur.take() {
            eprintln!(
                "stage {name}: {:.3} s (cpu {:.3} s)",
                t0.elapsed().as_secs_f64(),
                cpu - cpu0
            );
        }
        *cur = next.map(|n| (n.to_string(), std::time::Instant::now(), cpu));
    }
}

impl lathe_engine::progress::Progress for StageTimes {
    fn stage(&self, name: &str, _: Option<u64>) {
        self.switch(Some(name));
    }
    fn advance(&self, _: u64) {}
    fn done(&self) {
        self.switch(None);
    }
}

/// What shows a render's progress: stage times (`LATHE_STAGE_TIMES=1`), else the bars on a
/// terminal, else nothing.
pub(crate) fn shown_progress<'a>(
    times: &'a Option<StageTimes>,
    bars: &'a Option<TermProgress>,
) -> &'a dyn lathe_engine::progress::Progress {
    match (times, bars) {
        (Some(t), _) => t,
        (None, Some(p)) => p,
        (None, None) => &lathe_engine::progress::Silent,
    }
}

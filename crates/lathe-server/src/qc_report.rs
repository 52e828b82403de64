//! The printable QC report of one revision (`GET /api/jobs/{id}/revisions/{n}/report.html`):
//! what was asked (target, ceiling), the input's and every deliverable's measured loudness,
//! true peak and LRA with the verification's verdict, the corrections the assistant chose,
//! the warnings, and the loudness-over-time and spectrum plots, drawn here as inline SVG from
//! the revision's `report.json` and `levels.json`. No script: it prints as it shows.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use crate::access::visible;
use crate::auth::Caller;
use crate::storage::Store;
use crate::{error, AppState};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: &Value, digits: usize) -> String {
    v.as_f64().map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// A line plot of `(xs, ys)` series (grey, then blue) in an SVG of 760 × 200.
fn svg_plot(series: &[(Vec<f64>, Vec<Option<f64>>)], log_x: bool, unit: &str) -> String {
    let fx = |x: f64| if log_x { x.max(1e-9).log10() } else { x };
    let pts: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(xs, ys)| {
            xs.iter()
                .zip(ys)
                .filter_map(|(x, y)| y.map(|y| (fx(*x), y)))
        })
        .filter(|(_, y)| y.is_finite() && *y > -120.0)
        .collect();
    if pts.is_empty() {
        return "<p>(no data)</p>".into();
    }
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
    let (w, h, left) = (760.0, 200.0, 40.0);
    let x = |v: f64| left + (fx(v) - x0) / (x1 - x0).max(1e-9) * (w - left - 5.0);
    let y = |v: f64| 5.0 + (y1 - v) / (y1 - y0).max(1e-9) * (h - 25.0);
    let mut out = format!(
        r#"<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><line x1="{left}" y1="{}" x2="{w}" y2="{}" stroke="gray"/><text x="0" y="12" font-size="11">{y1:.0} {unit}</text><text x="0" y="{}" font-size="11">{y0:.0}</text>"#,
        h - 20.0,
        h - 20.0,
        h - 20.0
    );
    for ((xs, ys), colour) in series.iter().zip(["#888", "#06c"]) {
        let mut d = String::new();
        let mut pen = 'M';
        for (xv, yv) in xs.iter().zip(ys) {
            match yv.filter(|v| v.is_finite() && *v > -120.0) {
                Some(v) => {
                    d += &format!("{pen}{:.1},{:.1} ", x(*xv), y(v));
                    pen = 'L';
                }
                None => pen = 'M',
            }
        }
        out += &format!(r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.5"/>"#);
    }
    out + "</svg>"
}

fn series(
    levels: &Value,
    key: &str,
    xs_of: impl Fn(&Value) -> Vec<f64>,
    ys: &str,
) -> Option<(Vec<f64>, Vec<Option<f64>>)> {
    let c = levels.get(key).filter(|c| c.is_object())?;
    let ys: Vec<Option<f64>> = c[ys].as_array()?.iter().map(Value::as_f64).collect();
    Some((xs_of(c), ys))
}

fn plots(levels: &Value) -> String {
    let loud_xs = |c: &Value| {
        let step = c["step_s"].as_f64().unwrap_or(1.0);
        let n = c["short_term_lufs"].as_array().map_or(0, Vec::len);
        (1..=n).map(|i| i as f64 * step).collect()
    };
    let spec_xs = |c: &Value| {
        c["spectrum_bands_hz"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let loud: Vec<_> = ["input", "master"]
        .iter()
        .filter_map(|k| series(levels, k, loud_xs, "short_term_lufs"))
        .collect();
    let spec: Vec<_> = ["input", "master"]
        .iter()
        .filter_map(|k| series(levels, k, spec_xs, "spectrum_db"))
        .collect();
    format!(
        "<h2>Loudness over time (short-term, LUFS)</h2>{}<h2>Spectrum, 1/3 octave (dB)</h2>{}<p><span style=\"color:#888\">■ original</span> <span style=\"color:#06c\">■ master</span></p>",
        svg_plot(&loud, false, "LUFS"),
        svg_plot(&spec, true, "dB")
    )
}

/// The report's HTML from a revision's `report.json` and `levels.json`.
pub fn render(id: &str, rev: &crate::queue::Revision, report: &Value, levels: &Value) -> String {
    let mut rows = String::new();
    let file = |d: &Value| {
        esc(d["path"]
            .as_str()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or(""))
    };
    for d in report["deliverables"].as_array().into_iter().flatten() {
        let m = &d["measured"];
        let verdict = if d["pass"].as_bool() == Some(true) {
            "pass"
        } else {
            "MISSED"
        };
        rows += &format!(
            "<tr><td>{}</td><td>{} {}</td><td class=\"lufs\">{}</td><td>{}</td><td>{}</td><td>{} LUFS, ≤ {} dBTP</td><td class=\"verdict\">{verdict}</td></tr>",
            file(d),
            esc(d["format"].as_str().unwrap_or("")),
            d["bits"].as_u64().map(|b| format!("{b}-bit")).or(d["bitrate_kbps"].as_u64().map(|k| format!("{k} kbps"))).unwrap_or_default(),
            num(&m["integrated_lufs"], 2),
            num(&m["true_peak_dbtp"], 2),
            num(&m["lra_lu"], 1),
            num(&d["target"]["integrated_lufs"], 1),
            num(&d["target"]["true_peak_dbtp"], 1),
        );
    }
    let mut choices = String::new();
    for c in report["assistant"]["choices"]
        .as_array()
        .into_iter()
        .flatten()
    {
        choices += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(c["stem"].as_str().unwrap_or("master")),
            esc(c["processor"].as_str().unwrap_or("")),
            esc(c["measured"].as_str().unwrap_or("")),
            esc(c["reason"].as_str().unwrap_or(""))
        );
    }
    if !choices.is_empty() {
        choices = format!("<h2>Corrections and why</h2><table><tr><th>stem</th><th>what was done</th><th>measured</th><th>why</th></tr>{choices}</table>");
    }
    let warnings: String = report["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|w| format!("<li>{}</li>", esc(w)))
        .collect();
    let i = &report["input"];
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>QC report: job {id}, revision {n}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 50rem; margin: 1.5rem auto; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2rem .5rem; border-bottom: 1px solid #ccc; text-align: left; }}
@media print {{ body {{ margin: 0; }} }}</style></head><body>
<h1>Mastering QC report</h1>
<p>Job {id}, revision {n}{author}: {note}</p>
<h2>Target</h2><p>{target} LUFS integrated, true peak ≤ {ceiling} dBTP</p>
<h2>Input</h2><table><tr><th>LUFS</th><th>dBTP</th><th>LRA LU</th><th>duration s</th></tr>
<tr><td>{il}</td><td>{ip}</td><td>{ir}</td><td>{id_s}</td></tr></table>
<h2>Deliverables, each decoded and measured after it was written</h2>
<table id="deliverables"><tr><th>file</th><th>format</th><th>LUFS</th><th>dBTP</th><th>LRA LU</th><th>target</th><th>verdict</th></tr>{rows}</table>
{choices}
{warnings}
{plots}
</body></html>"#,
        n = rev.n,
        author = rev
            .author
            .as_deref()
            .map(|a| format!(" by {}", esc(a)))
            .unwrap_or_default(),
        note = esc(&rev.note),
        target = num(&report["target"]["integrated_lufs"], 1),
        ceiling = num(&report["target"]["true_peak_dbtp"], 1),
        il = num(&i["integrated_lufs"], 2),
        ip = num(&i["true_peak_dbtp"], 2),
        ir = num(&i["lra_lu"], 1),
        id_s = num(&i["duration_s"], 1),
        warnings = if warnings.is_empty() {
            String::new()
        } else {
            format!("<h2>Warnings</h2><ul>{warnings}</ul>")
        },
        plots = plots(levels),
    )
}

/// `GET /api/jobs/{id}/revisions/{n}/report.html`.
pub(crate) async fn qc_report(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath((id, n)): UrlPath<(String, u32)>,
) -> Response {
    let job = match visible(&st, &caller, &id) {
        Ok(j) => j,
        Err(r) => return r.into_response(),
    };
    let revs = crate::revisions::revisions_of(&st, &job).unwrap_or_default();
    let Some(rev) = revs
        .iter()
        .find(|r| r.n == n && r.state == Some(crate::queue::State::Done))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "no rendered revision with this number",
        );
    };
    let Ok(dir) = st.store.outputs(&id, n, false) else {
        return error(StatusCode::NOT_FOUND, "no such revision");
    };
    let read = |name: &str| -> Value {
        std::fs::read(dir.join(name))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    };
    Html(render(&id, rev, &read("report.json"), &read("levels.json"))).into_response()
}

//! The results table: rows, and how figures are formatted (times, rates, sizes,
//! percentiles).

use super::*;

// ---------------------------------------------------------------------------------------
// The run

/// One line of the table.
pub(crate) struct Row {
    pub(crate) figure: String,
    pub(crate) ours: String,
    pub(crate) target: String,
    pub(crate) baseline: String,
    /// `Some(true)` met, `Some(false)` missed, `None` no target.
    pub(crate) met: Option<bool>,
}

pub(crate) fn row(
    figure: &str,
    ours: String,
    target: &str,
    baseline: String,
    met: Option<bool>,
) -> Row {
    Row {
        figure: figure.to_string(),
        ours,
        target: target.to_string(),
        baseline,
        met,
    }
}

/// Seconds as milliseconds, e.g. `1.280 ms`.
pub(crate) fn secs_ms(seconds: f64) -> String {
    format!("{:.3} ms", seconds * 1000.0)
}

/// Requests per second, and any connections left unanswered.
pub(crate) fn rps(r: &LoadResult) -> String {
    match r.starved {
        0 => format!("{:.0}", r.rps),
        n => format!("{:.0} ({n} connections unanswered)", r.rps),
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub(crate) fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

pub(crate) fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub(crate) fn print_table(rows: &[Row]) {
    let headers = ["figure", "taartenfabriek", "target", "baseline", "met"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.clone(),
                r.ours.clone(),
                r.target.clone(),
                r.baseline.clone(),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "".into(),
                },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::from("|");
        for (w, v) in widths.iter().zip(c) {
            s.push_str(&format!(" {v:<w$} |"));
        }
        s
    };
    println!("{}", line(&headers.map(String::from)));
    println!(
        "|{}",
        widths
            .iter()
            .map(|w| format!("{}|", "-".repeat(w + 2)))
            .collect::<String>()
    );
    for c in &cells {
        println!("{}", line(c));
    }
}

//! From batches to figures: medians per operation, and the table with the
//! issue's goals.

use crate::measure::Batch;

/// One function's figures: medians over its measured batches.
#[derive(Clone, Debug)]
pub struct Figures {
    pub name: String,
    /// Wall time per operation (round trip, or message), in ns.
    pub wall_ns: f64,
    /// CPU time of both processes per operation, in ns.
    pub cpu_ns: f64,
    /// Bytes per second (throughput groups).
    pub bytes_per_s: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

impl Figures {
    /// The medians of the last `samples` batches (criterion's warm-up
    /// batches come first and are left out); `None` if none ran.
    pub fn of(name: &str, batches: &[Batch], samples: usize, bytes: usize) -> Option<Figures> {
        let measured = &batches[batches.len().saturating_sub(samples)..];
        if measured.is_empty() {
            return None;
        }
        let per = |f: &dyn Fn(&Batch) -> f64| {
            median(
                measured
                    .iter()
                    .map(|b| f(b) / b.iters.max(1) as f64)
                    .collect(),
            )
        };
        let wall_ns = per(&|b| b.wall.as_nanos() as f64);
        Some(Figures {
            name: name.to_string(),
            wall_ns,
            cpu_ns: per(&|b| (b.cpu_parent + b.cpu_child).as_nanos() as f64),
            bytes_per_s: bytes as f64 / wall_ns * 1e9,
        })
    }
}

/// A goal: `ours` against `theirs`, met when `ours`'s figure is at most
/// (`lower_is_better`) or at least `factor` times theirs.
pub struct Goal {
    pub ours: &'static str,
    pub theirs: &'static str,
    pub factor: f64,
    pub lower_is_better: bool,
}

pub fn print_table(group: &str, figures: &[Figures], goals: &[Goal]) {
    println!();
    println!("{group}: per operation, medians of the measured batches");
    println!(
        "  {:<20} {:>12} {:>12} {:>10} {:>12}",
        "function", "wall ns", "CPU ns", "CPU/wall", "GB/s"
    );
    for f in figures {
        println!(
            "  {:<20} {:>12.1} {:>12.1} {:>10.2} {:>12.2}",
            f.name,
            f.wall_ns,
            f.cpu_ns,
            f.cpu_ns / f.wall_ns,
            f.bytes_per_s / 1e9
        );
    }
    let find = |name: &str| figures.iter().find(|f| f.name == name);
    for goal in goals {
        let (Some(ours), Some(theirs)) = (find(goal.ours), find(goal.theirs)) else {
            continue;
        };
        let (ratio, met, text) = if goal.lower_is_better {
            let r = ours.wall_ns / theirs.wall_ns;
            (r, r <= goal.factor, format!("<= {}x", goal.factor))
        } else {
            let r = ours.bytes_per_s / theirs.bytes_per_s;
            (r, r >= goal.factor, format!(">= {}x", goal.factor))
        };
        let verdict = if met { "met" } else { "MISSED" };
        println!(
            "  {:<32} {ratio:>9.3}   (goal {text}: {verdict})",
            format!("{} / {}", goal.ours, goal.theirs)
        );
    }
    println!();
}

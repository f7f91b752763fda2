//! The report: timed batches turned into per-round-trip medians, the
//! ratios the issue sets goals for, the printed tables, and (in [`json`])
//! the file `pingpong_cpu.json`.
//!
//! The figures of every group run so far in this process are kept here, so
//! that each group's table can compare with `pingpong`'s floor and the JSON
//! file holds them all.

mod json;

pub use json::write_json;

use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;

/// One timed batch of round trips.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    /// Round trips in the batch.
    pub iters: u64,
    /// Wall time of the batch, from the common start until both sides are
    /// done.
    pub wall: Duration,
    /// CPU time the parent spent on the batch.
    pub cpu_parent: Duration,
    /// CPU time the child spent on the batch.
    pub cpu_child: Duration,
}

/// Per-round-trip figures of one function: medians over its measured
/// batches. Serialized as the function's entry in the JSON file (the name
/// is its key there).
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// The criterion function's name.
    #[serde(skip)]
    pub name: String,
    /// Wall time, in ns.
    #[serde(
        rename = "wall_ns_per_round_trip",
        serialize_with = "json::one_decimal"
    )]
    pub wall_ns: f64,
    /// CPU time, parent and child together, in ns.
    #[serde(rename = "cpu_ns_per_round_trip", serialize_with = "json::one_decimal")]
    pub cpu_ns: f64,
    /// The parent's CPU time, in ns.
    #[serde(
        rename = "cpu_parent_ns_per_round_trip",
        serialize_with = "json::one_decimal"
    )]
    pub cpu_parent_ns: f64,
    /// The child's CPU time, in ns.
    #[serde(
        rename = "cpu_child_ns_per_round_trip",
        serialize_with = "json::one_decimal"
    )]
    pub cpu_child_ns: f64,
    /// `cpu_ns / wall_ns`: about 2 when both sides spin, below 1 when they
    /// sleep.
    #[serde(serialize_with = "json::three_decimals")]
    pub cpu_per_wall: f64,
    /// Measured batches the medians are taken over.
    pub batches: usize,
    /// Round trips in those batches.
    pub round_trips: u64,
}

/// The median of `xs`; NaN if there are none.
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

impl Figures {
    /// Medians over the last `samples` batches: criterion runs its measured
    /// samples after the warm-up, one batch each. `None` if there are none.
    pub fn of(name: &str, batches: &[Batch], samples: usize) -> Option<Figures> {
        let measured = &batches[batches.len().saturating_sub(samples)..];
        if measured.is_empty() {
            return None;
        }
        let per = |f: &dyn Fn(&Batch) -> Duration| {
            median(
                measured
                    .iter()
                    .map(|b| f(b).as_nanos() as f64 / b.iters.max(1) as f64)
                    .collect(),
            )
        };
        let wall_ns = per(&|b| b.wall);
        let cpu_ns = per(&|b| b.cpu_parent + b.cpu_child);
        Some(Figures {
            name: name.to_owned(),
            wall_ns,
            cpu_ns,
            cpu_parent_ns: per(&|b| b.cpu_parent),
            cpu_child_ns: per(&|b| b.cpu_child),
            cpu_per_wall: cpu_ns / wall_ns,
            batches: measured.len(),
            round_trips: measured.iter().map(|b| b.iters).sum(),
        })
    }
}

/// The figures of one pingpong group.
#[derive(Clone, Debug)]
pub struct GroupFigures {
    /// The criterion group's name.
    pub group: &'static str,
    /// The spin bound the group ran with.
    pub spin: Duration,
    /// The functions the command line let run, in the order they ran.
    pub functions: Vec<Figures>,
}

impl GroupFigures {
    fn get(&self, name: &str) -> Option<&Figures> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Whether this is the group with the default spin, whose `spin` and
    /// `pipe` are the floor the other groups are compared with and whose
    /// ratios the goals apply to.
    fn is_floor(&self) -> bool {
        self.group == "pingpong"
    }
}

/// Every pingpong group run so far in this process, in the order they ran.
static GROUPS: Mutex<Vec<GroupFigures>> = Mutex::new(Vec::new());

/// Keeps `figures` for the JSON file (in place of an earlier run of the
/// same group) and returns the floor group, if it ran.
pub fn record_group(figures: GroupFigures) -> Option<GroupFigures> {
    let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    groups.retain(|g| g.group != figures.group);
    groups.push(figures);
    groups.iter().find(|g| g.is_floor()).cloned()
}

/// One ratio of wall times between two functions.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// `a/b`, naming the functions.
    #[serde(skip)]
    pub label: String,
    /// The ratio of wall times.
    #[serde(serialize_with = "json::three_decimals")]
    pub ratio: f64,
    /// The goal the issue sets, as text (`"<= 3"`).
    pub goal: &'static str,
    /// Whether the ratio meets the goal.
    pub met: bool,
}

/// `a / b` of the wall figures, if both functions ran.
fn ratio(a: Option<&Figures>, b: Option<&Figures>) -> Option<f64> {
    Some(a?.wall_ns / b?.wall_ns)
}

/// The ratios the issue sets goals for: the group's shmsync round trips
/// against `spin` and `pipe` of `floor` (the group with the default spin).
/// The goals apply to the floor group only; for other groups the ratios
/// are for comparison.
pub fn ratios(group: &GroupFigures, floor: &GroupFigures) -> Vec<Ratio> {
    let mut out = Vec::new();
    for ours in ["shmsync_event", "shmsync_condition"] {
        if let Some(r) = ratio(group.get(ours), floor.get("spin")) {
            out.push(Ratio {
                label: format!("{ours}/spin"),
                ratio: r,
                goal: "<= 3",
                met: r <= 3.0,
            });
        }
    }
    for ours in ["shmsync_event", "shmsync_condition"] {
        if let Some(r) = ratio(floor.get("pipe"), group.get(ours)) {
            out.push(Ratio {
                label: format!("pipe/{ours}"),
                ratio: r,
                goal: ">= 20",
                met: r >= 20.0,
            });
        }
    }
    out
}

/// Prints `group`'s figures per round trip, and its ratios to `floor`.
pub fn print_table(group: &GroupFigures, floor: Option<&GroupFigures>) {
    println!();
    println!(
        "{}: per round trip, medians of the measured batches (spin before sleeping: {:?})",
        group.group, group.spin
    );
    println!(
        "  {:<18} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "function", "wall ns", "CPU ns", "parent ns", "child ns", "CPU/wall"
    );
    for f in &group.functions {
        println!(
            "  {:<18} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>9.2}",
            f.name, f.wall_ns, f.cpu_ns, f.cpu_parent_ns, f.cpu_child_ns, f.cpu_per_wall
        );
    }
    if let Some(floor) = floor {
        for r in ratios(group, floor) {
            let label = &r.label;
            let ratio = r.ratio;
            if group.is_floor() {
                let verdict = if r.met { "met" } else { "MISSED" };
                println!("  {label:<32} {ratio:>9.2}   (goal {}: {verdict})", r.goal);
            } else {
                println!("  {label:<32} {ratio:>9.2}   (spin and pipe from `pingpong`)");
            }
        }
    }
    println!();
}

/// One row of the spin-bound probe: per round trip with a slow answerer.
/// Serialized as a row of `spin_bound` in the JSON file.
#[derive(Clone, Debug, Serialize)]
pub struct BoundRow {
    /// `shmsync_event` or `shmsync_condition`.
    pub function: &'static str,
    /// The spin bound the row ran with.
    #[serde(rename = "spin_duration_ns", serialize_with = "json::nanos")]
    pub spin: Duration,
    /// Wall time, in ns.
    #[serde(
        rename = "wall_ns_per_round_trip",
        serialize_with = "json::one_decimal"
    )]
    pub wall_ns: f64,
    /// The waiting parent's CPU time, in ns.
    #[serde(
        rename = "waiter_cpu_ns_per_round_trip",
        serialize_with = "json::one_decimal"
    )]
    pub waiter_cpu_ns: f64,
    /// The sleeping, then answering, child's CPU time, in ns.
    #[serde(
        rename = "answerer_cpu_ns_per_round_trip",
        serialize_with = "json::one_decimal"
    )]
    pub answerer_cpu_ns: f64,
}

/// The spin-bound probe's rows, and how long its child slept before each
/// answer, for the JSON file.
static SPIN_BOUND: Mutex<Option<(Duration, Vec<BoundRow>)>> = Mutex::new(None);

/// Keeps the spin-bound probe's `rows` (its child slept `answer_delay`
/// before each answer) for the JSON file.
pub fn record_spin_bound(answer_delay: Duration, rows: Vec<BoundRow>) {
    *SPIN_BOUND.lock().unwrap_or_else(|e| e.into_inner()) = Some((answer_delay, rows));
}

/// Prints the spin-bound probe's rows.
pub fn print_spin_bound(answer_delay: Duration, rounds: u64, rows: &[BoundRow]) {
    println!();
    println!(
        "spin bound: the child answers {answer_delay:?} after each ping (asleep), \
         {rounds} round trips per row; per round trip:"
    );
    println!(
        "  {:<18} {:>8} {:>12} {:>16} {:>18}",
        "function", "spin", "wall µs", "waiter CPU µs", "answerer CPU µs"
    );
    for row in rows {
        println!(
            "  {:<18} {:>8} {:>12.1} {:>16.1} {:>18.1}",
            row.function,
            format!("{:?}", row.spin),
            row.wall_ns / 1e3,
            row.waiter_cpu_ns / 1e3,
            row.answerer_cpu_ns / 1e3
        );
    }
    println!();
}

/// Prints `semaphore_uncontended`'s ratio: medians per acquire + release of
/// shmsync's semaphore (`ours`) and the POSIX one (`theirs`), in ns.
pub fn print_semaphore_ratio(ours: f64, theirs: f64) {
    if !(ours.is_finite() && theirs.is_finite()) {
        return;
    }
    let r = ours / theirs;
    let verdict = if r <= 1.0 { "met" } else { "MISSED" };
    println!();
    println!("semaphore_uncontended: per acquire+release, medians of the measured batches");
    println!("  shmsync {ours:.2} ns, posix_sem {theirs:.2} ns");
    println!("  shmsync/posix_sem {r:>24.3}   (goal <= 1.0: {verdict})");
    println!();
}

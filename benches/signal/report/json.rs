//! `pingpong_cpu.json`: the latest run's figures, written with serde.
//!
//! The shape, objects keeping the order in which things ran:
//!
//! ```text
//! { "unit": "...",
//!   "groups": { "<group>": { "spin_duration_ns": N,
//!                            "functions": { "<function>": { <Figures> }, ... },
//!                            "goals": { "<a/b>": { "ratio": R, "goal": "<= 3", "met": B }, ... }
//!                              (the floor group `pingpong`; the others have
//!                               "ratios_to_pingpong_spin_and_pipe": { "<a/b>": R, ... }) },
//!               ... },
//!   "spin_bound": { "answer_delay_ns": N, "rows": [ { <BoundRow> }, ... ] } }
//! ```
//!
//! Times are rounded to 0.1 ns and ratios to 0.001 as they are written; a
//! ratio that is not a number is written as `null`.

use super::{ratios, BoundRow, Figures, GroupFigures, Ratio, GROUPS, SPIN_BOUND};
use serde::{Serialize, Serializer};
use std::path::PathBuf;
use std::time::Duration;

/// The whole file.
#[derive(Serialize)]
struct Document<'a> {
    unit: &'static str,
    groups: InOrder<&'a str, Group<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spin_bound: Option<SpinBound<'a>>,
}

/// One group: its figures, and its ratios to the floor if the floor ran.
#[derive(Serialize)]
struct Group<'a> {
    #[serde(rename = "spin_duration_ns", serialize_with = "nanos")]
    spin: Duration,
    functions: InOrder<&'a str, &'a Figures>,
    /// The floor group's ratios, with their goals.
    #[serde(skip_serializing_if = "Option::is_none")]
    goals: Option<InOrder<String, Ratio>>,
    /// The other groups' ratios, for comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    ratios_to_pingpong_spin_and_pipe: Option<InOrder<String, Rounded>>,
}

impl<'a> Group<'a> {
    fn new(group: &'a GroupFigures, floor: Option<&GroupFigures>) -> Group<'a> {
        let ratios = floor.map(|floor| ratios(group, floor));
        let (goals, others) = match ratios {
            Some(rs) if group.is_floor() => (Some(rs), None),
            Some(rs) => (None, Some(rs)),
            None => (None, None),
        };
        Group {
            spin: group.spin,
            functions: InOrder(
                group
                    .functions
                    .iter()
                    .map(|f| (f.name.as_str(), f))
                    .collect(),
            ),
            goals: goals.map(|rs| InOrder(rs.into_iter().map(|r| (r.label.clone(), r)).collect())),
            ratios_to_pingpong_spin_and_pipe: others.map(|rs| {
                InOrder(
                    rs.into_iter()
                        .map(|r| (r.label, Rounded(r.ratio)))
                        .collect(),
                )
            }),
        }
    }
}

/// The spin-bound probe.
#[derive(Serialize)]
struct SpinBound<'a> {
    #[serde(serialize_with = "nanos")]
    answer_delay_ns: Duration,
    rows: &'a [BoundRow],
}

/// Key-value pairs written as a JSON object in their order (a map type
/// would sort them).
struct InOrder<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for InOrder<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// A ratio written with three decimals.
struct Rounded(f64);

impl Serialize for Rounded {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        three_decimals(&self.0, s)
    }
}

/// `x` rounded to `decimals` places; NaN and infinities stay as they are
/// (serde_json writes them as `null`).
fn rounded(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// Writes a time in ns rounded to 0.1 ns.
pub fn one_decimal<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(rounded(*x, 1))
}

/// Writes a ratio rounded to 0.001.
pub fn three_decimals<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(rounded(*x, 3))
}

/// Writes a duration as whole nanoseconds.
pub fn nanos<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_nanos())
}

/// Where criterion writes its results, as criterion itself decides it
/// (short of asking `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from("target/criterion")
    }
}

/// Writes every pingpong group run so far, and the spin-bound probe if it
/// ran, to `pingpong_cpu.json` in criterion's directory; a failure to write
/// is a note on stderr, not a failed bench.
pub fn write_json() {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let bound = SPIN_BOUND.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if groups.is_empty() && bound.is_none() {
        return;
    }
    let floor = groups.iter().find(|g| g.is_floor());
    let document = Document {
        unit: "nanoseconds per round trip, medians of the measured batches",
        groups: InOrder(
            groups
                .iter()
                .map(|g| (g.group, Group::new(g, floor)))
                .collect(),
        ),
        spin_bound: bound.as_ref().map(|(delay, rows)| SpinBound {
            answer_delay_ns: *delay,
            rows,
        }),
    };
    let mut out = match serde_json::to_string_pretty(&document) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: could not write pingpong_cpu.json: {e}");
            return;
        }
    };
    out.push('\n');
    let dir = criterion_dir();
    let path = dir.join("pingpong_cpu.json");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, out)) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("note: could not write {}: {e}", path.display()),
    }
}

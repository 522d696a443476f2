//! Per-field accuracy for the evaluation runners (tests/eval.rs, tests/eval_mail.rs).

use passerelle::core::geo::{Geography, Place};
use std::collections::BTreeMap;

/// Per field: (right, counted), and the failures as text.
#[derive(Default)]
pub struct Score {
    pub fields: BTreeMap<String, (usize, usize)>,
    pub failures: Vec<String>,
}

impl Score {
    pub fn count(&mut self, field: &str, right: bool) {
        let entry = self.fields.entry(field.to_string()).or_default();
        entry.1 += 1;
        if right {
            entry.0 += 1;
        }
    }

    /// Counts one comparison; a miss is kept with what was read (`what`: a line, a file).
    pub fn compare<T: PartialEq + std::fmt::Debug>(
        &mut self,
        field: &str,
        what: &str,
        have: T,
        want: T,
    ) {
        let right = have == want;
        self.count(field, right);
        if !right {
            self.failures
                .push(format!("{field} {what}: got {have:?}, want {want:?}"));
        }
    }

    pub fn accuracy(&self, field: &str) -> f64 {
        self.fields
            .get(field)
            .map_or(1.0, |(r, n)| *r as f64 / (*n).max(1) as f64)
    }

    /// Prints each field's accuracy, and the failures when `failures` (never for a held-out
    /// set: nobody may tune on them).
    pub fn print(&self, title: &str, failures: bool) {
        println!("== {title}");
        for (field, (right, n)) in &self.fields {
            println!(
                "{field:>16}: {right:>4}/{n:<4} {:5.1} %",
                100.0 * *right as f64 / (*n).max(1) as f64
            );
        }
        if failures {
            for failure in &self.failures {
                println!("  FAIL {failure}");
            }
        }
    }

    /// The fields below their level, as "field 93.1 % < 95 %".
    pub fn below(&self, levels: &[(&str, f64)]) -> Vec<String> {
        levels
            .iter()
            .filter(|(f, level)| self.accuracy(f) < *level)
            .map(|(f, level)| {
                format!(
                    "{f} {:.1} % < {:.0} %",
                    100.0 * self.accuracy(f),
                    100.0 * level
                )
            })
            .collect()
    }

    /// Fails on a field below its floor (a regression).
    pub fn assert_floors(&self, floors: &[(&str, f64)]) {
        let low = self.below(floors);
        assert!(low.is_empty(), "below the floor: {}", low.join(", "));
    }
}

/// A place as the evaluation files write it.
pub fn place_code(geography: &Geography, place: Place) -> String {
    match place {
        Place::Region(i) => format!("region:{}", geography.region(i).code),
        Place::Department(i) => format!("department:{}", geography.department(i).code),
        Place::Commune(i) => format!("commune:{}", geography.commune(i).code),
    }
}

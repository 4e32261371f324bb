//! How long the window took to start, as the window measured it. The UI marks the steps of its
//! start (`agent-inbox:script`, `:session`, `:state`, `:inbox`: performance marks, in ms after
//! the page's navigation start) and reports them once, when the inbox first shows; the shell
//! writes them to its log, so a slow start can be told apart from a slow service in the field.
//! The cold-start benchmark (bench/app-vs-chromium.mjs, issue 5 P6) reads the same line.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ErrorBody, ErrorCode};
use serde::Deserialize;

/// At most this many marks are taken from one report.
pub const MAX_MARKS: usize = 16;
/// A mark's name is at most this long.
pub const MAX_NAME_LEN: usize = 64;
/// Later than a day after navigation is not a start-up.
const MAX_MARK_MS: f64 = 86_400_000.0;

/// What the window reports: its navigation start (`performance.timeOrigin`, ms since the Unix
/// epoch) and its marks (ms after that).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupReport {
    pub time_origin: f64,
    pub marks: BTreeMap<String, f64>,
}

impl StartupReport {
    /// Refuses what no window can have measured (times that are not finite, negative or absurd;
    /// too many marks; names that are empty, too long or not printable).
    pub fn check(&self) -> Result<(), ErrorBody> {
        let bad = |message: String| Err(ErrorBody::new(ErrorCode::InvalidField, message));
        if !self.time_origin.is_finite() || self.time_origin <= 0.0 {
            return bad(format!(
                "timeOrigin must be a time in ms since 1970, not {}",
                self.time_origin
            ));
        }
        if self.marks.len() > MAX_MARKS {
            return bad(format!(
                "at most {MAX_MARKS} marks, not {}",
                self.marks.len()
            ));
        }
        for (name, &ms) in &self.marks {
            if name.is_empty()
                || name.len() > MAX_NAME_LEN
                || !name.chars().all(|c| c.is_ascii_graphic())
            {
                return bad(format!(
                    "a mark's name is 1 to {MAX_NAME_LEN} printable ASCII characters, not {name:?}"
                ));
            }
            if !ms.is_finite() || !(0.0..=MAX_MARK_MS).contains(&ms) {
                return bad(format!(
                    "mark {name} must be ms after navigation start, not {ms}"
                ));
            }
        }
        Ok(())
    }

    /// Checks the report and writes its [`summary`](Self::summary) to the log (info): what the
    /// `report_startup` command does, in the app and in the web bridge.
    pub fn log(&self, main_started: Option<SystemTime>) -> Result<(), ErrorBody> {
        self.check()?;
        tracing::info!("{}", self.summary(main_started));
        Ok(())
    }

    /// The steps given also as instants (ms since the epoch), with the mark each one is.
    fn steps(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        [
            ("inbox", "agent-inbox:inbox"),
            ("painted", "agent-inbox:painted"),
        ]
        .into_iter()
        .filter_map(|(step, name)| self.marks.get(name).map(|ms| (step, self.time_origin + ms)))
    }

    /// One line: the marks after navigation, when navigation began and the inbox was mounted and
    /// painted (ms since the epoch), and, given when the shell's `main` began, how long after it.
    pub fn summary(&self, main_started: Option<SystemTime>) -> String {
        let marks: Vec<String> = self
            .marks
            .iter()
            .map(|(name, ms)| {
                let short = name.strip_prefix("agent-inbox:").unwrap_or(name);
                format!("{short} {ms:.0}")
            })
            .collect();
        let mut line = format!("window started: ms after navigation: {}", marks.join(", "));
        if let Some(start) = main_started.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            let start_ms = start.as_secs_f64() * 1000.0;
            line.push_str(&format!(
                "; navigation {:.0} ms after main started",
                self.time_origin - start_ms
            ));
            for (step, at) in self.steps() {
                line.push_str(&format!(", {step} {:.0} ms", at - start_ms));
            }
        }
        // The same instants as ms since the epoch, for scripts that compare them with their own
        // clock (the cold-start benchmark).
        line.push_str(&format!(" (navigation_at_ms={:.1}", self.time_origin));
        for (step, at) in self.steps() {
            line.push_str(&format!(" {step}_at_ms={at:.1}"));
        }
        line.push(')');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(marks: &[(&str, f64)]) -> StartupReport {
        StartupReport {
            time_origin: 1_800_000_000_000.0,
            marks: marks.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn a_window_report_is_summed_up_in_one_line() {
        let r = report(&[
            ("agent-inbox:script", 27.4),
            ("agent-inbox:inbox", 128.6),
            ("agent-inbox:painted", 141.0),
        ]);
        r.check().expect("a window's report");
        let start = UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_000 - 240);
        assert_eq!(
            r.summary(Some(start)),
            "window started: ms after navigation: inbox 129, painted 141, script 27; navigation \
             240 ms after main started, inbox 369 ms, painted 381 ms (navigation_at_ms=1800000000000.0 \
             inbox_at_ms=1800000000128.6 painted_at_ms=1800000000141.0)"
        );
        assert_eq!(
            report(&[("x", 1.0)]).summary(None),
            "window started: ms after navigation: x 1 (navigation_at_ms=1800000000000.0)"
        );
    }

    #[test]
    fn what_no_window_measured_is_refused_by_name() {
        let mut r = report(&[("agent-inbox:inbox", 10.0)]);
        r.time_origin = f64::NAN;
        assert!(r.check().expect_err("NaN").message.contains("timeOrigin"));
        for (name, ms, says) in [
            ("agent-inbox:inbox", -1.0, "agent-inbox:inbox must be ms"),
            ("agent-inbox:inbox", f64::INFINITY, "must be ms"),
            ("agent-inbox:inbox", 1e12, "must be ms"),
            ("", 1.0, "name"),
            ("has space", 1.0, "name"),
            ("<script>", 1.0, ""),
        ] {
            let r = report(&[(name, ms)]);
            match r.check() {
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::InvalidField);
                    assert!(e.message.contains(says), "{name:?} {ms}: {}", e.message);
                }
                // A name of printable ASCII is data, whatever it says; it is only logged.
                Ok(()) => assert_eq!(name, "<script>"),
            }
        }
        let long = "m".repeat(MAX_NAME_LEN + 1);
        assert!(report(&[(&long, 1.0)]).check().is_err());
        let many: Vec<(String, f64)> = (0..=MAX_MARKS).map(|i| (format!("m{i}"), 1.0)).collect();
        let r = StartupReport {
            time_origin: 1.0,
            marks: many.into_iter().collect(),
        };
        assert!(r.check().expect_err("too many").message.contains("at most"));
    }
}

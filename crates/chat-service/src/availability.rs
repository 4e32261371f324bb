//! R1: an agent's effective availability from their weekly schedule and manual toggle, and the
//! validation of agent settings.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use protocol::{
    AgentSettings, Availability, AvailabilitySource, AvailabilityStatus, TimeBlock, Weekday,
};

use crate::error::{Error, Result};

/// Minutes since local midnight for `HH:MM`; `24:00` is allowed when `allow_end_of_day`.
pub fn parse_hhmm(s: &str, allow_end_of_day: bool) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m >= 60 {
        return None;
    }
    match (h, m) {
        (24, 0) if allow_end_of_day => Some(24 * 60),
        (0..=23, _) => Some(h * 60 + m),
        _ => None,
    }
}

pub fn weekday_of(d: chrono::Weekday) -> Weekday {
    match d {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

/// The agent's time zone; settings are validated on write, so an unknown name means UTC.
pub fn time_zone(settings: &AgentSettings) -> Tz {
    settings.time_zone.parse().unwrap_or(Tz::UTC)
}

/// Checks a list of blocks: valid times, start before end, no overlaps on a day.
pub fn validate_blocks(field: &str, blocks: &[TimeBlock]) -> Result<()> {
    let mut parsed: Vec<(Weekday, u32, u32)> = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let start = parse_hhmm(&b.start, false).ok_or_else(|| {
            Error::invalid(format!(
                "{field}[{i}].start: {:?} is not a time HH:MM",
                b.start
            ))
        })?;
        let end = parse_hhmm(&b.end, true).ok_or_else(|| {
            Error::invalid(format!(
                "{field}[{i}].end: {:?} is not a time HH:MM (24:00 allowed)",
                b.end
            ))
        })?;
        if end <= start {
            return Err(Error::invalid(format!(
                "{field}[{i}]: ends ({}) before it starts ({})",
                b.end, b.start
            )));
        }
        if let Some((j, _)) = parsed
            .iter()
            .enumerate()
            .find(|(_, (d, s, e))| *d == b.day && start < *e && *s < end)
        {
            return Err(Error::invalid(format!(
                "{field}[{i}] overlaps {field}[{j}] on {:?}",
                b.day
            )));
        }
        parsed.push((b.day, start, end));
    }
    Ok(())
}

/// Validates everything an agent can set (R1, R7).
pub fn validate_settings(s: &AgentSettings) -> Result<()> {
    if s.time_zone.parse::<Tz>().is_err() {
        return Err(Error::invalid(format!(
            "time_zone: unknown time zone {:?} (use an IANA name such as Europe/Berlin)",
            s.time_zone
        )));
    }
    if s.schedule.len() > 100 || s.calendar.working_hours.len() > 100 {
        return Err(Error::invalid("schedule: at most 100 blocks"));
    }
    validate_blocks("schedule", &s.schedule)?;
    validate_blocks("calendar.working_hours", &s.calendar.working_hours)?;
    if s.calendar.meeting_minutes <= 0 {
        return Err(Error::invalid("calendar.meeting_minutes must be positive"));
    }
    if s.calendar.meeting_minutes > 8 * 60 {
        return Err(Error::invalid(
            "calendar.meeting_minutes must be at most 480",
        ));
    }
    if s.calendar.buffer_minutes < 0 {
        return Err(Error::invalid(
            "calendar.buffer_minutes must not be negative",
        ));
    }
    if s.calendar.buffer_minutes > 4 * 60 {
        return Err(Error::invalid(
            "calendar.buffer_minutes must be at most 240",
        ));
    }
    Ok(())
}

/// A local date and minute-of-day as an instant; in a DST gap, the first valid instant after.
pub fn local_instant(tz: Tz, date: NaiveDate, minutes: u32) -> Option<DateTime<Utc>> {
    let (date, minutes) = if minutes >= 24 * 60 {
        (date.succ_opt()?, 0)
    } else {
        (date, minutes)
    };
    let time = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)?;
    let ndt = date.and_time(time);
    match tz.from_local_datetime(&ndt) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            let later = ndt + Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

/// Whether the schedule has the agent on duty at `now`.
pub fn scheduled_at(settings: &AgentSettings, now: DateTime<Utc>) -> AvailabilityStatus {
    let tz = time_zone(settings);
    let local = now.with_timezone(&tz);
    let day = weekday_of(local.weekday());
    let minute = local.time().hour_minute();
    let on = settings.schedule.iter().any(|b| {
        b.day == day
            && parse_hhmm(&b.start, false).is_some_and(|s| s <= minute)
            && parse_hhmm(&b.end, true).is_some_and(|e| minute < e)
    });
    if on {
        AvailabilityStatus::Available
    } else {
        AvailabilityStatus::Unavailable
    }
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl HourMinute for NaiveTime {
    fn hour_minute(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

/// Every block start and end in the next eight days, after `now`, sorted.
fn boundaries_after(settings: &AgentSettings, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let tz = time_zone(settings);
    let today = now.with_timezone(&tz).date_naive();
    let mut out = Vec::new();
    for offset in -1..=8 {
        let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
            continue;
        };
        let day = weekday_of(date.weekday());
        for b in settings.schedule.iter().filter(|b| b.day == day) {
            for (t, end) in [(&b.start, false), (&b.end, true)] {
                if let Some(at) = parse_hhmm(t, end).and_then(|m| local_instant(tz, date, m))
                    && at > now
                {
                    out.push(at);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The next local midnight after `now`.
pub fn next_midnight(settings: &AgentSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = time_zone(settings);
    let today = now.with_timezone(&tz).date_naive();
    today
        .succ_opt()
        .and_then(|d| local_instant(tz, d, 0))
        .unwrap_or(now + Duration::days(1))
}

/// When a manual toggle made at `now` lapses: the next block boundary or midnight (R1).
pub fn override_until(settings: &AgentSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = next_midnight(settings, now);
    boundaries_after(settings, now)
        .first()
        .copied()
        .map_or(midnight, |b| b.min(midnight))
}

/// When the schedule alone next changes the status, within eight days.
fn next_schedule_change(settings: &AgentSettings, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let current = scheduled_at(settings, now);
    boundaries_after(settings, now)
        .into_iter()
        .find(|b| scheduled_at(settings, *b) != current)
}

/// The effective availability at `now`.
pub fn compute(
    settings: &AgentSettings,
    override_status: Option<AvailabilityStatus>,
    override_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Availability {
    let scheduled = scheduled_at(settings, now);
    let in_force = match (override_status, override_until) {
        (Some(status), Some(until)) if until > now => Some((status, until)),
        _ => None,
    };
    match in_force {
        Some((status, until)) => Availability {
            effective: status,
            source: AvailabilitySource::Override,
            scheduled,
            override_status: Some(status),
            override_until: Some(until),
            next_change: Some(until),
        },
        None => Availability {
            effective: scheduled,
            source: AvailabilitySource::Schedule,
            scheduled,
            override_status: None,
            override_until: None,
            next_change: next_schedule_change(settings, now),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::CalendarSettings;

    fn settings(tz: &str, schedule: Vec<TimeBlock>) -> AgentSettings {
        AgentSettings {
            time_zone: tz.into(),
            schedule,
            calendar: CalendarSettings {
                working_hours: vec![],
                meeting_minutes: 30,
                buffer_minutes: 10,
            },
        }
    }

    fn block(day: Weekday, start: &str, end: &str) -> TimeBlock {
        TimeBlock {
            day,
            start: start.into(),
            end: end.into(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("valid instant")
    }

    #[test]
    fn schedule_in_the_agents_time_zone() {
        // 2026-11-25 is a Wednesday. 09:00-17:00 in Berlin is 08:00-16:00 UTC in winter.
        let s = settings("Europe/Berlin", vec![block(Weekday::Wed, "09:00", "17:00")]);
        assert_eq!(
            scheduled_at(&s, at("2026-11-25T07:59:00Z")),
            AvailabilityStatus::Unavailable
        );
        assert_eq!(
            scheduled_at(&s, at("2026-11-25T08:00:00Z")),
            AvailabilityStatus::Available
        );
        assert_eq!(
            scheduled_at(&s, at("2026-11-25T15:59:00Z")),
            AvailabilityStatus::Available
        );
        assert_eq!(
            scheduled_at(&s, at("2026-11-25T16:00:00Z")),
            AvailabilityStatus::Unavailable
        );
        let a = compute(&s, None, None, at("2026-11-25T10:00:00Z"));
        assert_eq!(a.next_change, Some(at("2026-11-25T16:00:00Z")));
    }

    #[test]
    fn override_lasts_until_next_boundary_or_midnight() {
        let s = settings("Europe/Berlin", vec![block(Weekday::Wed, "09:00", "17:00")]);
        // Toggled at 10:00 UTC (11:00 local): the block ends at 16:00 UTC, before midnight.
        assert_eq!(
            override_until(&s, at("2026-11-25T10:00:00Z")),
            at("2026-11-25T16:00:00Z")
        );
        // Toggled at 18:00 UTC: next boundary is Thursday... none; midnight Berlin = 23:00 UTC.
        assert_eq!(
            override_until(&s, at("2026-11-25T18:00:00Z")),
            at("2026-11-25T23:00:00Z")
        );
        // No schedule, no zone: midnight UTC.
        let none = settings("UTC", vec![]);
        assert_eq!(
            override_until(&none, at("2026-11-25T18:00:00Z")),
            at("2026-11-26T00:00:00Z")
        );
    }

    #[test]
    fn override_wins_until_it_lapses() {
        let s = settings("UTC", vec![]);
        let until = at("2026-11-26T00:00:00Z");
        let a = compute(
            &s,
            Some(AvailabilityStatus::Available),
            Some(until),
            at("2026-11-25T12:00:00Z"),
        );
        assert_eq!(a.effective, AvailabilityStatus::Available);
        assert_eq!(a.source, AvailabilitySource::Override);
        let later = compute(&s, Some(AvailabilityStatus::Available), Some(until), until);
        assert_eq!(later.effective, AvailabilityStatus::Unavailable);
        assert_eq!(later.source, AvailabilitySource::Schedule);
    }

    #[test]
    fn adjacent_blocks_do_not_flip() {
        let s = settings(
            "UTC",
            vec![
                block(Weekday::Wed, "00:00", "24:00"),
                block(Weekday::Thu, "00:00", "12:00"),
            ],
        );
        let a = compute(&s, None, None, at("2026-11-25T12:00:00Z"));
        assert_eq!(a.next_change, Some(at("2026-11-26T12:00:00Z")));
    }

    #[test]
    fn settings_validation_names_the_problem() {
        let mut s = settings("Mars/Olympus", vec![]);
        let e = validate_settings(&s).expect_err("unknown zone");
        assert!(e.body().message.contains("time_zone"));
        s.time_zone = "UTC".into();
        s.schedule = vec![
            block(Weekday::Mon, "09:00", "12:00"),
            block(Weekday::Mon, "11:00", "13:00"),
        ];
        assert!(
            validate_settings(&s)
                .expect_err("overlap")
                .body()
                .message
                .contains("overlaps")
        );
        s.schedule = vec![block(Weekday::Mon, "12:00", "09:00")];
        assert!(validate_settings(&s).is_err());
        s.schedule = vec![block(Weekday::Mon, "9:00", "10:00")];
        assert!(validate_settings(&s).is_err());
        s.schedule = vec![];
        s.calendar.meeting_minutes = -5;
        assert!(
            validate_settings(&s)
                .expect_err("negative")
                .body()
                .message
                .contains("meeting_minutes")
        );
        s.calendar.meeting_minutes = 30;
        s.calendar.buffer_minutes = -1;
        assert!(validate_settings(&s).is_err());
        s.calendar.buffer_minutes = 0;
        assert!(validate_settings(&s).is_ok());
    }
}

//! R7: free meeting slots of an agent's calendar.

use chrono::{DateTime, Datelike, Duration, Utc};
use protocol::{AgentSettings, Slot};

use crate::availability::{local_instant, parse_hhmm, time_zone, weekday_of};

/// Slots start at least this long after now.
pub const LEAD_TIME_MINUTES: i64 = 30;
/// How far ahead slots can be listed or booked.
pub const MAX_DAYS: u32 = 60;

/// Free slots from `from` for `days` days: working hours cut into meetings with the buffer
/// between them, minus anything overlapping an existing booking (buffer included).
pub fn free_slots(
    settings: &AgentSettings,
    from: DateTime<Utc>,
    days: u32,
    booked: &[(DateTime<Utc>, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Vec<Slot> {
    let tz = time_zone(settings);
    let meeting = i64::from(settings.calendar.meeting_minutes.max(1));
    let buffer = i64::from(settings.calendar.buffer_minutes.max(0));
    let earliest = from.max(now + Duration::minutes(LEAD_TIME_MINUTES));
    let until = from + Duration::days(i64::from(days.min(MAX_DAYS)));
    let first_day = from.with_timezone(&tz).date_naive();
    let mut slots = Vec::new();
    for offset in 0..=i64::from(days.min(MAX_DAYS)) {
        let Some(date) = first_day.checked_add_signed(Duration::days(offset)) else {
            continue;
        };
        let day = weekday_of(date.weekday());
        let mut blocks: Vec<(u32, u32)> = settings
            .calendar
            .working_hours
            .iter()
            .filter(|b| b.day == day)
            .filter_map(|b| Some((parse_hhmm(&b.start, false)?, parse_hhmm(&b.end, true)?)))
            .collect();
        blocks.sort_unstable();
        for (start, end) in blocks {
            let mut m = i64::from(start);
            while m + meeting <= i64::from(end) {
                let s = local_instant(tz, date, u32::try_from(m).unwrap_or(0));
                if let Some(s) = s {
                    let e = s + Duration::minutes(meeting);
                    let clear = booked.iter().all(|(bs, be)| {
                        e + Duration::minutes(buffer) <= *bs || *be + Duration::minutes(buffer) <= s
                    });
                    if s >= earliest && s < until && clear {
                        slots.push(Slot { start: s, end: e });
                    }
                }
                m += meeting + buffer;
            }
        }
    }
    slots.sort_by_key(|s| s.start);
    slots.dedup_by_key(|s| s.start);
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{CalendarSettings, TimeBlock, Weekday};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("valid instant")
    }

    fn cal(meeting: i32, buffer: i32) -> AgentSettings {
        AgentSettings {
            time_zone: "UTC".into(),
            schedule: vec![],
            calendar: CalendarSettings {
                working_hours: vec![TimeBlock {
                    day: Weekday::Thu,
                    start: "09:00".into(),
                    end: "11:00".into(),
                }],
                meeting_minutes: meeting,
                buffer_minutes: buffer,
            },
        }
    }

    #[test]
    fn slots_respect_length_and_buffer() {
        let now = at("2026-11-25T12:00:00Z");
        let slots = free_slots(&cal(30, 15), now, 2, &[], now);
        let starts: Vec<_> = slots
            .iter()
            .map(|s| s.start.format("%H:%M").to_string())
            .collect();
        assert_eq!(starts, ["09:00", "09:45", "10:30"]);
        assert!(
            slots
                .iter()
                .all(|s| s.end - s.start == Duration::minutes(30))
        );
    }

    #[test]
    fn booked_slots_and_their_buffer_are_not_free() {
        let now = at("2026-11-25T12:00:00Z");
        let booked = [(at("2026-11-26T09:45:00Z"), at("2026-11-26T10:15:00Z"))];
        let slots = free_slots(&cal(30, 15), now, 2, &booked, now);
        let starts: Vec<_> = slots
            .iter()
            .map(|s| s.start.format("%H:%M").to_string())
            .collect();
        assert_eq!(starts, ["09:00", "10:30"]);
    }

    #[test]
    fn no_slots_in_the_past_or_within_lead_time() {
        let now = at("2026-11-26T09:50:00Z");
        let slots = free_slots(&cal(30, 15), now, 1, &[], now);
        let starts: Vec<_> = slots
            .iter()
            .map(|s| s.start.format("%H:%M").to_string())
            .collect();
        assert_eq!(starts, ["10:30"]);
    }
}

//! Business-hours arithmetic for ticket reminders and escalations.
//!
//! Delays are counted only while the team is at work (Monday–Friday, `opens`..`closes` local
//! time, French public holidays and extra closed days off), so nothing is due at night or over
//! a weekend. Pure functions: every instant is a parameter, the clock is never read.
//!
//! Conventions:
//! - An open interval is half-open, `[opens, closes)`: at exactly `closes` the team is gone.
//!   Yet `add_business_time` may *return* exactly `closes` (9 h from Monday 09:00 is Monday
//!   18:00, not Tuesday 09:00), so a deadline never jumps over a night it does not need.
//! - Local times go through `chrono_tz`. On a fall-back day an ambiguous `opens` takes its
//!   earliest instant and `closes` its latest (the longer day). A time inside a spring-forward
//!   gap is read with the offset in force before the gap, i.e. shifted forward by the gap length;
//!   a day whose `opens` lands on another date (a skipped day) or that would be empty
//!   (`closes <= opens`) counts as closed.
//! - Searching forward gives up after 732 closed days in a row (two years), so a calendar that
//!   is never open cannot loop forever. Work is linear in the number of days spanned.

use chrono::{
    DateTime, Datelike, Days, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
    Weekday,
};

/// Consecutive closed days after which forward searches give up.
const MAX_CLOSED_DAYS: usize = 366 * 2;

/// Opening hours: Monday–Friday, `opens`..`closes` local time, public holidays off.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    pub timezone: chrono_tz::Tz,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    /// Extra closed days (e.g. a team seminar), besides weekends and French public holidays.
    pub closed_days: Vec<NaiveDate>,
}

impl BusinessCalendar {
    /// Europe/Paris, 09:00–18:00, no extra closed days.
    pub fn paris() -> Self {
        Self {
            timezone: chrono_tz::Europe::Paris,
            opens: NaiveTime::MIN + Duration::hours(9),
            closes: NaiveTime::MIN + Duration::hours(18),
            closed_days: Vec::new(),
        }
    }

    /// Whether the team is at work at that instant (`closes` itself is after hours).
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        days_from(self.local_date(at))
            .take(2)
            .filter_map(|day| self.open_interval(day))
            .any(|(start, end)| start <= at && at < end)
    }

    /// `at` itself when open, else the next opening instant (next working day at `opens`).
    ///
    /// Returns `at` unchanged if the calendar stays closed for 732 days in a row (e.g. never
    /// open), rather than searching forever.
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.open_intervals_from(at)
            .next()
            .map_or(at, |(start, _)| start)
    }

    /// Business time between two instants (zero if `to <= from`): only the open intervals count.
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let last = self.local_date(to);
        days_from(self.local_date(from))
            .take_while(|day| *day <= last)
            .filter_map(|day| self.open_interval(day))
            .map(|(start, end)| (end.min(to) - start.max(from)).max(Duration::zero()))
            .sum()
    }

    /// The instant when `amount` of business time has passed since `from` (counting only open
    /// intervals). `amount` zero (or negative) returns `next_open(from)`.
    ///
    /// May return exactly `closes` when the amount is used up there (see the module docs). If the
    /// calendar stays closed for 732 days in a row, or chrono's dates run out, gives up and
    /// returns the instant reached so far.
    pub fn add_business_time(&self, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        let mut remaining = amount.max(Duration::zero());
        let mut reached = from;
        for (start, end) in self.open_intervals_from(from) {
            let available = end - start;
            if remaining <= available {
                return start + remaining;
            }
            remaining -= available;
            reached = end;
        }
        reached
    }

    /// Business time between `from` and `to`, leaving out the paused intervals (each (start, end),
    /// possibly open-ended with end = None meaning "still paused at `to`", possibly overlapping each other).
    ///
    /// Pauses are clipped to `[from, to]` and merged first, so overlaps are not subtracted twice;
    /// a pause ending before it starts is ignored.
    pub fn business_time_excluding(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        paused: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    ) -> Duration {
        let mut pauses: Vec<_> = paused
            .iter()
            .map(|&(start, end)| (start.max(from), end.unwrap_or(to).min(to)))
            .filter(|(start, end)| start < end)
            .collect();
        pauses.sort_unstable();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(pauses.len());
        for (start, end) in pauses {
            match merged.last_mut() {
                Some((_, last_end)) if start <= *last_end => *last_end = (*last_end).max(end),
                _ => merged.push((start, end)),
            }
        }
        let paused_time: Duration = merged
            .iter()
            .map(|&(start, end)| self.business_time(start, end))
            .sum();
        self.business_time(from, to) - paused_time
    }

    /// Open intervals not yet over at `at`, in order, the first one clipped to start at `at`;
    /// stops after `MAX_CLOSED_DAYS` closed days in a row.
    fn open_intervals_from(
        &self,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let mut closed_run = 0;
        days_from(self.local_date(at))
            .map(|day| self.open_interval(day))
            .take_while(move |interval| {
                closed_run = if interval.is_some() {
                    0
                } else {
                    closed_run + 1
                };
                closed_run <= MAX_CLOSED_DAYS
            })
            .flatten()
            .filter(move |&(_, end)| end > at)
            .map(move |(start, end)| (start.max(at), end))
    }

    /// The UTC span of `day`'s opening hours, or `None` if the team is off that day.
    fn open_interval(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(day) {
            return None;
        }
        let start = self.resolve(day.and_time(self.opens), false)?;
        let end = self.resolve(day.and_time(self.closes), true)?;
        (start < end && self.local_date(start) == day).then_some((start, end))
    }

    fn is_working_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
            && !self.closed_days.contains(&day)
            && !french_public_holidays(day.year()).contains(&day)
    }

    /// The instant a local wall-clock time denotes; `None` only at the edges of chrono's range.
    fn resolve(&self, local: NaiveDateTime, latest: bool) -> Option<DateTime<Utc>> {
        let mapped = self.timezone.from_local_datetime(&local);
        let instant = if latest {
            mapped.latest()
        } else {
            mapped.earliest()
        };
        match instant {
            Some(instant) => Some(instant.with_timezone(&Utc)),
            // Spring-forward gap: read with the offset of the day before, i.e. before the jump.
            None => {
                let before = local.checked_sub_days(Days::new(1))?;
                let offset = self.timezone.offset_from_utc_datetime(&before).fix();
                local.checked_sub_offset(offset).map(|utc| utc.and_utc())
            }
        }
    }

    /// Local calendar date of an instant; falls back to the UTC date at the very end of
    /// chrono's range, where `DateTime::date_naive` would panic.
    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        let utc = at.naive_utc();
        let offset = self.timezone.offset_from_utc_datetime(&utc).fix();
        utc.checked_add_offset(offset).unwrap_or(utc).date()
    }
}

/// `first`'s previous day, then `first` and every following date: the previous day is included
/// so an interval that a DST shift pushed past midnight is never missed.
fn days_from(first: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(first.pred_opt().unwrap_or(first)), |day| {
        day.succ_opt()
    })
}

/// French public holidays (metropolitan France, the 11 national ones) of a year: 1 Jan, Easter
/// Monday, 1 May, 8 May, Ascension Thursday, Whit Monday, 14 July, 15 Aug, 1 Nov, 11 Nov, 25 Dec.
/// Easter computed with the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
///
/// Sorted and deduplicated: Ascension sometimes falls on 1 May (2008), leaving 10 dates.
/// Dates outside chrono's range are left out.
pub fn french_public_holidays(year: i32) -> Vec<NaiveDate> {
    const FIXED: [(u32, u32); 8] = [
        (1, 1),
        (5, 1),
        (5, 8),
        (7, 14),
        (8, 15),
        (11, 1),
        (11, 11),
        (12, 25),
    ];
    // Easter Monday, Ascension Thursday, Whit Monday.
    const AFTER_EASTER: [u64; 3] = [1, 39, 50];
    let easter = easter_sunday(year);
    let mut days: Vec<NaiveDate> = FIXED
        .iter()
        .filter_map(|&(month, day)| NaiveDate::from_ymd_opt(year, month, day))
        .chain(
            AFTER_EASTER
                .iter()
                .filter_map(|&days| easter?.checked_add_days(Days::new(days))),
        )
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Gregorian Easter Sunday (anonymous algorithm). Euclidean remainders keep month and day in
/// range for any `i32` (meaningless before 1583, but never a panic or an overflow).
fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let (b, c) = (year.div_euclid(100), year.rem_euclid(100));
    let (d, e) = (b.div_euclid(4), b.rem_euclid(4));
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n / 31).ok()?;
    let day = u32::try_from(n % 31 + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    /// Paris wall-clock time, weekday included so parsing checks the test data: "Fri 2026-03-13 16:00".
    fn at(local: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(local, "%a %Y-%m-%d %H:%M").unwrap();
        Paris
            .from_local_datetime(&naive)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(ymd: &str) -> NaiveDate {
        NaiveDate::parse_from_str(ymd, "%Y-%m-%d").unwrap()
    }

    fn hm(hours: i64, minutes: i64) -> Duration {
        Duration::hours(hours) + Duration::minutes(minutes)
    }

    #[test]
    fn holidays_full_years() {
        let cases: [(i32, [&str; 11]); 2] = [
            (
                2026,
                [
                    "2026-01-01",
                    "2026-04-06",
                    "2026-05-01",
                    "2026-05-08",
                    "2026-05-14",
                    "2026-05-25",
                    "2026-07-14",
                    "2026-08-15",
                    "2026-11-01",
                    "2026-11-11",
                    "2026-12-25",
                ],
            ),
            (
                2027,
                [
                    "2027-01-01",
                    "2027-03-29",
                    "2027-05-01",
                    "2027-05-06",
                    "2027-05-08",
                    "2027-05-17",
                    "2027-07-14",
                    "2027-08-15",
                    "2027-11-01",
                    "2027-11-11",
                    "2027-12-25",
                ],
            ),
        ];
        for (year, expected) in cases {
            let expected: Vec<NaiveDate> = expected.iter().map(|d| date(d)).collect();
            assert_eq!(french_public_holidays(year), expected, "{year}");
        }
    }

    #[test]
    fn easter_and_movable_feasts() {
        // (Easter Sunday, Ascension, Whit Monday)
        let cases = [
            ("2026-04-05", "2026-05-14", "2026-05-25"),
            ("2027-03-28", "2027-05-06", "2027-05-17"),
            ("2024-03-31", "2024-05-09", "2024-05-20"),
            ("2025-04-20", "2025-05-29", "2025-06-09"),
            ("2038-04-25", "2038-06-03", "2038-06-14"), // latest possible Easter
            ("2285-03-22", "2285-04-30", "2285-05-11"), // earliest possible Easter
        ];
        for (easter, ascension, whit_monday) in cases {
            let easter = date(easter);
            assert_eq!(easter_sunday(easter.year()), Some(easter));
            let holidays = french_public_holidays(easter.year());
            for feast in [
                easter.succ_opt().unwrap(),
                date(ascension),
                date(whit_monday),
            ] {
                assert!(holidays.contains(&feast), "{feast} missing");
            }
        }
    }

    #[test]
    fn holidays_dedup_and_any_year() {
        // 2008: Ascension on 1 May.
        assert_eq!(french_public_holidays(2008).len(), 10);
        assert!(french_public_holidays(2008).contains(&date("2008-05-01")));
        for year in [i32::MIN, -1, 0, 262_143, i32::MAX] {
            assert!(french_public_holidays(year).len() <= 11);
        }
        assert!(french_public_holidays(i32::MAX).is_empty());
    }

    #[test]
    fn is_open_cases() {
        let cal = BusinessCalendar::paris();
        let cases = [
            ("Tue 2026-03-10 10:00", true),
            ("Tue 2026-03-10 09:00", true),
            ("Tue 2026-03-10 17:59", true),
            ("Tue 2026-03-10 08:59", false),
            ("Tue 2026-03-10 18:00", false), // closes is after hours
            ("Tue 2026-03-10 19:00", false),
            ("Tue 2026-03-10 03:00", false),
            ("Sat 2026-03-14 11:00", false),
            ("Sun 2026-03-29 11:00", false),
            ("Mon 2026-03-30 09:30", true), // first day of summer time
            ("Mon 2026-04-06 10:00", false), // Easter Monday
            ("Tue 2026-07-14 10:00", false),
            ("Fri 2026-12-25 10:00", false),
            ("Thu 2026-12-24 17:00", true),
        ];
        for (local, expected) in cases {
            assert_eq!(cal.is_open(at(local)), expected, "{local}");
        }
    }

    #[test]
    fn extra_closed_days() {
        let cal = BusinessCalendar {
            closed_days: vec![date("2026-03-10")],
            ..BusinessCalendar::paris()
        };
        assert!(!cal.is_open(at("Tue 2026-03-10 10:00")));
        assert_eq!(
            cal.next_open(at("Mon 2026-03-09 18:00")),
            at("Wed 2026-03-11 09:00")
        );
    }

    #[test]
    fn next_open_cases() {
        let cal = BusinessCalendar::paris();
        let cases = [
            ("Fri 2026-03-13 19:00", "Mon 2026-03-16 09:00"),
            ("Fri 2026-04-03 19:00", "Tue 2026-04-07 09:00"), // Easter Monday
            ("Fri 2026-05-22 18:30", "Tue 2026-05-26 09:00"), // Whit Monday
            ("Wed 2026-05-13 18:00", "Fri 2026-05-15 09:00"), // Ascension
            ("Thu 2026-12-24 18:00", "Mon 2026-12-28 09:00"),
            ("Tue 2026-03-10 08:00", "Tue 2026-03-10 09:00"),
            ("Tue 2026-03-10 10:30", "Tue 2026-03-10 10:30"),
            ("Tue 2026-03-10 18:00", "Wed 2026-03-11 09:00"),
            ("Sat 2026-03-28 12:00", "Mon 2026-03-30 09:00"), // across spring-forward
            ("Sat 2026-10-24 12:00", "Mon 2026-10-26 09:00"), // across fall-back
        ];
        for (from, expected) in cases {
            assert_eq!(cal.next_open(at(from)), at(expected), "{from}");
        }
    }

    #[test]
    fn business_time_cases() {
        let cal = BusinessCalendar::paris();
        let cases = [
            ("Tue 2026-03-10 10:00", "Tue 2026-03-10 12:30", hm(2, 30)),
            ("Tue 2026-03-10 08:00", "Tue 2026-03-10 20:00", hm(9, 0)),
            ("Tue 2026-03-10 12:00", "Tue 2026-03-10 10:00", hm(0, 0)), // reversed
            ("Fri 2026-03-13 16:00", "Mon 2026-03-16 11:00", hm(4, 0)), // weekend
            ("Sat 2026-03-14 00:00", "Sun 2026-03-15 23:00", hm(0, 0)),
            ("Fri 2026-04-03 17:00", "Tue 2026-04-07 10:00", hm(2, 0)), // Easter Monday
            ("Mon 2026-03-09 00:00", "Mon 2026-03-16 00:00", hm(45, 0)),
            ("Fri 2026-03-27 09:00", "Mon 2026-03-30 18:00", hm(18, 0)), // spring-forward
            ("Fri 2026-10-23 09:00", "Mon 2026-10-26 18:00", hm(18, 0)), // fall-back
            // 2026: 261 weekdays, 9 holidays on weekdays.
            (
                "Thu 2026-01-01 00:00",
                "Fri 2027-01-01 00:00",
                hm(252 * 9, 0),
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(
                cal.business_time(at(from), at(to)),
                expected,
                "{from} → {to}"
            );
        }
    }

    #[test]
    fn add_business_time_cases() {
        let cal = BusinessCalendar::paris();
        let cases = [
            ("Fri 2026-03-13 16:00", hm(4, 0), "Mon 2026-03-16 11:00"),
            ("Mon 2026-03-09 09:00", hm(9, 0), "Mon 2026-03-09 18:00"), // ends at `closes`
            ("Mon 2026-03-09 09:00", hm(9, 1), "Tue 2026-03-10 09:01"),
            ("Wed 2026-03-11 10:00", hm(24, 0), "Fri 2026-03-13 16:00"),
            ("Tue 2026-03-10 22:00", hm(1, 0), "Wed 2026-03-11 10:00"),
            ("Fri 2026-04-03 17:00", hm(2, 0), "Tue 2026-04-07 10:00"), // Easter Monday
            ("Wed 2026-05-13 17:00", hm(1, 30), "Fri 2026-05-15 09:30"), // Ascension
            ("Fri 2026-03-27 17:00", hm(2, 0), "Mon 2026-03-30 10:00"), // spring-forward
            ("Sat 2026-03-14 10:00", hm(0, 0), "Mon 2026-03-16 09:00"),
            ("Tue 2026-03-10 10:30", hm(0, 0), "Tue 2026-03-10 10:30"),
            ("Sat 2026-03-14 10:00", hm(-3, 0), "Mon 2026-03-16 09:00"), // negative = zero
        ];
        for (from, amount, expected) in cases {
            let due = cal.add_business_time(at(from), amount);
            assert_eq!(due, at(expected), "{from} + {amount}");
            if amount > Duration::zero() {
                assert_eq!(
                    cal.business_time(at(from), due),
                    amount,
                    "round trip {from}"
                );
            }
        }
    }

    #[test]
    fn business_time_excluding_cases() {
        let cal = BusinessCalendar::paris();
        let day = (at("Tue 2026-03-10 09:00"), at("Tue 2026-03-10 18:00"));
        let pause = |start: &str, end: Option<&str>| (at(start), end.map(at));
        let cases = [
            (day, vec![], hm(9, 0)),
            (
                day,
                vec![pause("Tue 2026-03-10 11:00", Some("Tue 2026-03-10 12:00"))],
                hm(8, 0),
            ),
            (day, vec![pause("Tue 2026-03-10 16:00", None)], hm(7, 0)), // still paused
            (
                day,
                vec![
                    pause("Tue 2026-03-10 10:00", Some("Tue 2026-03-10 12:00")),
                    pause("Tue 2026-03-10 11:00", Some("Tue 2026-03-10 13:00")),
                ],
                hm(6, 0),
            ),
            (
                // Overhanging both ends of the range.
                (at("Mon 2026-03-09 09:00"), at("Tue 2026-03-10 18:00")),
                vec![pause("Sun 2026-03-08 08:00", Some("Tue 2026-03-10 10:00"))],
                hm(8, 0),
            ),
            (
                // Reversed pause ignored.
                day,
                vec![pause("Tue 2026-03-10 12:00", Some("Tue 2026-03-10 11:00"))],
                hm(9, 0),
            ),
            (
                // Paused over the weekend only: nothing to leave out.
                (at("Fri 2026-03-13 17:00"), at("Mon 2026-03-16 10:00")),
                vec![pause("Sat 2026-03-14 10:00", Some("Sun 2026-03-15 20:00"))],
                hm(2, 0),
            ),
        ];
        for ((from, to), paused, expected) in cases {
            assert_eq!(
                cal.business_time_excluding(from, to, &paused),
                expected,
                "{paused:?}"
            );
        }
    }

    #[test]
    fn dst_gap_and_overlap_conventions() {
        // Tehran moved its clocks at midnight, on weekdays: 00:00 → 01:00 on Mon 22 March 2021,
        // and back from 24:00 to 23:00 on Tue 21 September 2021.
        let time = |h, m| NaiveTime::MIN + hm(h, m);
        let utc = |d: &str, h, m| date(d).and_time(time(h, m)).and_utc();
        let cases = [
            // opens 00:30 is in the gap: shifted to 01:30 (+04:30), so 30 min until 02:00.
            ((0, 30), (2, 0), "2021-03-22", hm(0, 30)),
            // opens 00:30 and closes 00:45 both shift by the gap: still 15 min.
            ((0, 30), (0, 45), "2021-03-22", hm(0, 15)),
            // closes 23:30 is ambiguous: latest (+03:30), so 22:00–23:30 lasts 2 h 30.
            ((22, 0), (23, 30), "2021-09-21", hm(2, 30)),
            // opens 23:15 is ambiguous: earliest (+04:30), 23:15–23:45 lasts 1 h 30.
            ((23, 15), (23, 45), "2021-09-21", hm(1, 30)),
        ];
        for ((oh, om), (ch, cm), day, expected) in cases {
            let cal = BusinessCalendar {
                timezone: chrono_tz::Asia::Tehran,
                opens: time(oh, om),
                closes: time(ch, cm),
                // Only `day` open within the two days measured.
                closed_days: vec![date(day).pred_opt().unwrap(), date(day).succ_opt().unwrap()],
            };
            let (from, to) = (
                utc(day, 0, 0) - Duration::days(1),
                utc(day, 0, 0) + Duration::days(1),
            );
            assert_eq!(cal.business_time(from, to), expected, "{day} {oh}:{om}");
        }
        let cal = BusinessCalendar {
            timezone: chrono_tz::Asia::Tehran,
            opens: time(0, 30),
            closes: time(2, 0),
            closed_days: Vec::new(),
        };
        assert_eq!(
            cal.next_open(utc("2021-03-21", 12, 0)),
            utc("2021-03-21", 21, 0)
        );
        assert!(!cal.is_open(utc("2021-03-21", 20, 45)));
        assert!(cal.is_open(utc("2021-03-21", 21, 15)));
    }

    #[test]
    fn never_open_calendar_gives_up() {
        let from = at("Tue 2026-03-10 10:00");
        let empty_hours = BusinessCalendar {
            closes: NaiveTime::MIN + Duration::hours(9),
            ..BusinessCalendar::paris()
        };
        let long_closure = BusinessCalendar {
            closed_days: (0..800)
                .filter_map(|n| date("2026-03-01").checked_add_days(Days::new(n)))
                .collect(),
            ..BusinessCalendar::paris()
        };
        for cal in [empty_hours, long_closure] {
            assert!(!cal.is_open(from));
            assert_eq!(cal.next_open(from), from);
            assert_eq!(cal.add_business_time(from, hm(1, 0)), from);
            assert_eq!(cal.business_time(from, from + Duration::days(30)), hm(0, 0));
        }
    }

    #[test]
    fn no_panic_at_range_edges_or_odd_zones() {
        let edges = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MAX_UTC - Duration::days(3),
        ];
        let zones = [
            chrono_tz::Europe::Paris,
            chrono_tz::Pacific::Apia,       // skipped 30 Dec 2011 entirely
            chrono_tz::America::Santiago,   // DST changes at midnight
            chrono_tz::Pacific::Kiritimati, // UTC+14
        ];
        for timezone in zones {
            let cal = BusinessCalendar {
                timezone,
                opens: NaiveTime::MIN,
                ..BusinessCalendar::paris()
            };
            for &edge in &edges {
                cal.is_open(edge);
                cal.next_open(edge);
                cal.add_business_time(edge, Duration::days(10));
                cal.business_time(
                    edge,
                    edge + Duration::days(3).min(DateTime::<Utc>::MAX_UTC - edge),
                );
                cal.business_time_excluding(edge, edge, &[(edge, None)]);
            }
        }
        // Apia skipped Friday 30 Dec 2011: from Thursday 09:00 to Monday 18:00 is two days.
        let apia = BusinessCalendar {
            timezone: chrono_tz::Pacific::Apia,
            ..BusinessCalendar::paris()
        };
        let local = |d, h| {
            apia.timezone
                .from_local_datetime(&date(d).and_time(NaiveTime::MIN + Duration::hours(h)))
                .unwrap()
                .with_timezone(&Utc)
        };
        let (from, to) = (local("2011-12-29", 9), local("2012-01-02", 18));
        assert_eq!(apia.business_time(from, to), hm(18, 0));
        assert_eq!(
            apia.add_business_time(from, hm(9, 30)),
            local("2012-01-02", 9) + hm(0, 30)
        );
    }
}

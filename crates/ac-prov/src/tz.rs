//! Local time: GMT offset (DHCP option 2 or `system/ntp/gmt_offset`, table 3-45), daylight
//! saving time in FIXED and DayOfWeek modes (table 3-43) and the 12/24-hour display
//! (`system/ntp/time_display_format`). Pure functions, no clock.
//!
//! Rule semantics (as POSIX TZ rules): the start time is local standard time, the end time
//! local daylight time; a start month after the end month (southern hemisphere) means DST
//! spans the new year; week 5 means the last such weekday of the month.

use ac_cfg::Config;

use crate::vlan::schema_default;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TzError {
    #[error("GMT offset {0:?} is not [+-]HH:MM within -12:00..+14:00")]
    BadOffset(String),
}

/// Parses `system/ntp/gmt_offset`: `+02:00`, `-03:30`, `05:45`, `00:00` -> minutes east.
pub fn parse_gmt_offset(s: &str) -> Result<i32, TzError> {
    let t = s.trim();
    let bad = || TzError::BadOffset(s.to_string());
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => (1, t),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !digits(h) || !digits(m) {
        return Err(bad());
    }
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if m >= 60 {
        return Err(bad());
    }
    let v = sign * (h * 60 + m);
    if !(-12 * 60..=14 * 60).contains(&v) {
        return Err(bad());
    }
    Ok(v)
}

/// Formats minutes east as `+HH:MM`.
pub fn format_gmt_offset(min: i32) -> String {
    let sign = if min < 0 { '-' } else { '+' };
    let a = min.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 60, a % 60)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    Sunday = 0,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl Weekday {
    pub fn parse(s: &str) -> Option<Weekday> {
        use Weekday::*;
        Some(match s.to_ascii_uppercase().as_str() {
            "SUNDAY" => Sunday,
            "MONDAY" => Monday,
            "TUESDAY" => Tuesday,
            "WEDNESDAY" => Wednesday,
            "THURSDAY" => Thursday,
            "FRIDAY" => Friday,
            "SATURDAY" => Saturday,
            _ => return None,
        })
    }
}

/// When DST starts or ends within a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleDate {
    /// FIXED: month (1-12), day of month (1-31; clamped to the month's length).
    Fixed { month: u8, day: u8 },
    /// DayOfWeek: month, week 1-5 (5 = last), weekday.
    DayOfWeek {
        month: u8,
        week: u8,
        weekday: Weekday,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub date: RuleDate,
    pub hour: u8,
    pub minute: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dst {
    pub start: Transition,
    pub end: Transition,
    /// Minutes added during DST (0-180).
    pub offset: i32,
}

/// A time zone: a standard offset and an optional DST rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone {
    pub gmt_offset: i32,
    pub dst: Option<Dst>,
}

/// 12/24-hour clock (`system/ntp/time_display_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockFormat {
    H24,
    H12,
}

/// Where the GMT offset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSource {
    Dhcp,
    Config,
}

impl TimeZone {
    /// The zone in force: DHCP option 2 (`dhcp_offset_secs`) when present and
    /// `network/lan/dhcp/ntp/gmt_offset/enabled`, else `system/ntp/gmt_offset`; the DST rule of
    /// `system/daylight_saving/*` when activated.
    pub fn from_config(
        c: &Config,
        dhcp_offset_secs: Option<i32>,
    ) -> Result<(TimeZone, OffsetSource), TzError> {
        let s = |k: &str| c.get_str(k).unwrap_or_else(|| schema_default(k));
        let i = |k: &str| {
            c.get_int(k)
                .or_else(|| schema_default(k).parse().ok())
                .unwrap_or(0)
        };
        let prefer = c
            .get_bool("network/lan/dhcp/ntp/gmt_offset/enabled")
            .unwrap_or_else(|| schema_default("network/lan/dhcp/ntp/gmt_offset/enabled") == "1");
        let (gmt_offset, src) = match dhcp_offset_secs {
            // RFC 2132 2.0: signed seconds east of UTC; whole minutes are used.
            Some(secs) if prefer => (secs / 60, OffsetSource::Dhcp),
            _ => (
                parse_gmt_offset(s("system/ntp/gmt_offset"))?,
                OffsetSource::Config,
            ),
        };
        let dst = if s("system/daylight_saving/activate").eq_ignore_ascii_case("ENABLE") {
            let fixed = s("system/daylight_saving/mode").eq_ignore_ascii_case("FIXED");
            let tr = |w: &str| {
                let month = i(&format!("system/daylight_saving/{w}/month")).clamp(1, 12) as u8;
                let date = if fixed {
                    RuleDate::Fixed {
                        month,
                        day: i(&format!("system/daylight_saving/{w}/day")).clamp(1, 31) as u8,
                    }
                } else {
                    RuleDate::DayOfWeek {
                        month,
                        week: i(&format!("system/daylight_saving/{w}/week")).clamp(1, 5) as u8,
                        weekday: Weekday::parse(s(&format!(
                            "system/daylight_saving/{w}/day_of_week"
                        )))
                        .unwrap_or(Weekday::Sunday),
                    }
                };
                Transition {
                    date,
                    hour: i(&format!("system/daylight_saving/{w}/hour")).clamp(0, 23) as u8,
                    minute: i(&format!("system/daylight_saving/{w}/minute")).clamp(0, 59) as u8,
                }
            };
            Some(Dst {
                start: tr("start_date"),
                end: tr("end_date"),
                offset: i("system/daylight_saving/offset").clamp(0, 180) as i32,
            })
        } else {
            None
        };
        Ok((TimeZone { gmt_offset, dst }, src))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 0 = Sunday.
pub fn weekday_of_days(z: i64) -> u32 {
    (z + 4).rem_euclid(7) as u32
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    let next = if m == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, m + 1, 1)
    };
    (next - days_from_civil(y, m, 1)) as u32
}

/// The day number of a rule date in year `y`.
fn rule_day(y: i64, d: RuleDate) -> i64 {
    match d {
        RuleDate::Fixed { month, day } => {
            let m = u32::from(month.clamp(1, 12));
            days_from_civil(y, m, u32::from(day).clamp(1, days_in_month(y, m)))
        }
        RuleDate::DayOfWeek {
            month,
            week,
            weekday,
        } => {
            let m = u32::from(month.clamp(1, 12));
            let first = days_from_civil(y, m, 1);
            let delta = (weekday as i64 - i64::from(weekday_of_days(first))).rem_euclid(7);
            let mut day = first + delta + 7 * (i64::from(week.clamp(1, 5)) - 1);
            let last = first + i64::from(days_in_month(y, m)) - 1;
            while day > last {
                day -= 7;
            }
            day
        }
    }
}

/// The UTC second at which a transition happens in year `y`; `wall_offset_min` is the
/// offset in force just before it.
fn transition_utc(y: i64, t: Transition, wall_offset_min: i32) -> i64 {
    rule_day(y, t.date) * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60
        - i64::from(wall_offset_min) * 60
}

/// A broken-down local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    pub dst: bool,
    /// Offset from UTC in force, minutes.
    pub offset: i32,
}

impl LocalTime {
    /// `HH:MM` (24 h) or `h:MM AM/PM` (12 h).
    pub fn format_time(&self, f: ClockFormat) -> String {
        match f {
            ClockFormat::H24 => format!("{:02}:{:02}", self.hour, self.minute),
            ClockFormat::H12 => {
                let h = match self.hour % 12 {
                    0 => 12,
                    h => h,
                };
                let ampm = if self.hour < 12 { "AM" } else { "PM" };
                format!("{h}:{:02} {ampm}", self.minute)
            }
        }
    }

    /// ISO 8601 with offset, e.g. `2026-03-29T03:00:00+02:00`.
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            format_gmt_offset(self.offset)
        )
    }
}

impl ClockFormat {
    pub fn from_config(c: &Config) -> ClockFormat {
        const K: &str = "system/ntp/time_display_format";
        match c.get_str(K).unwrap_or_else(|| schema_default(K)) {
            "12Hour" => ClockFormat::H12,
            _ => ClockFormat::H24,
        }
    }
}

/// Whether DST is in force at `utc` (Unix seconds).
pub fn is_dst(tz: &TimeZone, utc: i64) -> bool {
    let Some(d) = tz.dst else {
        return false;
    };
    let std = tz.gmt_offset;
    let year = civil_from_days((utc + i64::from(std) * 60).div_euclid(86_400)).0;
    // Check the rule of the local year and its neighbours (a southern-hemisphere DST period
    // crosses the new year).
    for y in [year - 1, year, year + 1] {
        let start = transition_utc(y, d.start, std);
        let mut end = transition_utc(y, d.end, std + d.offset);
        if end <= start {
            end = transition_utc(y + 1, d.end, std + d.offset);
        }
        if (start..end).contains(&utc) {
            return true;
        }
    }
    false
}

/// Local time at `utc` (Unix seconds).
pub fn local_time(tz: &TimeZone, utc: i64) -> LocalTime {
    let dst = is_dst(tz, utc);
    let offset = tz.gmt_offset
        + if dst {
            tz.dst.map_or(0, |d| d.offset)
        } else {
            0
        };
    let t = utc + i64::from(offset) * 60;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    LocalTime {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        weekday: weekday_of_days(days),
        dst,
        offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_gmt_offset("+02:00"), Ok(120));
        assert_eq!(parse_gmt_offset("-03:30"), Ok(-210));
        assert_eq!(parse_gmt_offset("05:45"), Ok(345));
        assert_eq!(parse_gmt_offset("00:00"), Ok(0));
        assert_eq!(parse_gmt_offset("+13:00"), Ok(780));
        for bad in [
            "", "2", "+2:0", "+15:00", "-12:01", "+02:60", "+aa:00", "+-1:00", "+002:00",
        ] {
            assert!(parse_gmt_offset(bad).is_err(), "{bad}");
        }
        assert_eq!(format_gmt_offset(-210), "-03:30");
    }

    #[test]
    fn civil() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(weekday_of_days(days_from_civil(2026, 11, 23)), 1);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        // Last Sunday of March 2026 is the 29th; 2nd Sunday of March 2026 the 8th.
        let last = RuleDate::DayOfWeek {
            month: 3,
            week: 5,
            weekday: Weekday::Sunday,
        };
        assert_eq!(civil_from_days(rule_day(2026, last)), (2026, 3, 29));
        let second = RuleDate::DayOfWeek {
            month: 3,
            week: 2,
            weekday: Weekday::Sunday,
        };
        assert_eq!(civil_from_days(rule_day(2026, second)), (2026, 3, 8));
        let feb30 = RuleDate::Fixed { month: 2, day: 30 };
        assert_eq!(civil_from_days(rule_day(2026, feb30)), (2026, 2, 28));
    }

    #[test]
    fn clock_formats() {
        let tz = TimeZone {
            gmt_offset: 0,
            dst: None,
        };
        let t = local_time(
            &tz,
            days_from_civil(2026, 1, 1) * 86_400 + 13 * 3600 + 5 * 60,
        );
        assert_eq!(t.format_time(ClockFormat::H24), "13:05");
        assert_eq!(t.format_time(ClockFormat::H12), "1:05 PM");
        let t = local_time(&tz, days_from_civil(2026, 1, 1) * 86_400 + 5 * 60);
        assert_eq!(t.format_time(ClockFormat::H12), "12:05 AM");
        assert_eq!(t.format_time(ClockFormat::H24), "00:05");
    }

    #[test]
    fn config_priority_table_3_45() {
        let mut c = Config::defaults(ac_cfg::Model::Hd420);
        c.set("system/ntp/gmt_offset", "+02:00").unwrap();
        let (tz, src) = TimeZone::from_config(&c, Some(-5 * 3600)).unwrap();
        assert_eq!((tz.gmt_offset, src), (-300, OffsetSource::Dhcp));
        let (tz, src) = TimeZone::from_config(&c, None).unwrap();
        assert_eq!((tz.gmt_offset, src), (120, OffsetSource::Config));
        c.set("network/lan/dhcp/ntp/gmt_offset/enabled", "0")
            .unwrap();
        let (tz, _) = TimeZone::from_config(&c, Some(-5 * 3600)).unwrap();
        assert_eq!(tz.gmt_offset, 120);
        assert_eq!(tz.dst, None);
        c.set("system/daylight_saving/activate", "ENABLE").unwrap();
        c.set("system/daylight_saving/mode", "DayOfWeek").unwrap();
        let (tz, _) = TimeZone::from_config(&c, None).unwrap();
        let d = tz.dst.unwrap();
        assert_eq!(d.offset, 60);
        assert!(matches!(
            d.start.date,
            RuleDate::DayOfWeek {
                month: 3,
                week: 5,
                ..
            }
        ));
        assert_eq!(ClockFormat::from_config(&c), ClockFormat::H24);
    }
}

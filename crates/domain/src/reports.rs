//! Progress reports (进度报告) and bulletins (通报): the periods they cover, the figures a
//! community's month yields from its aggregate counts, how figures add up the tree (counts,
//! numerators and denominators are summed; rates are never averaged), and when a report is
//! due, late or missing.

use std::collections::BTreeMap;
use std::fmt;

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::evaluation::facts;
use crate::ratio::percent_display;
use crate::records::ACTIVITY_TYPES;
use crate::standard::Standard;

/// A month, a quarter or a year, written `2010-03`, `2010-Q1` or `2010`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Month { year: i16, month: i8 },
    Quarter { year: i16, quarter: i8 },
    Year(i16),
}

/// The day of the following month a report is due when no level has set one.
pub const DEFAULT_DUE_DAY: i8 = 5;

impl Period {
    pub fn parse(text: &str) -> Result<Period, String> {
        let bad = || {
            format!(
                "报告期“{}”无法识别：月份写作 2010-03，季度写作 2010-Q1，年度写作 2010",
                crate::text::excerpt(text, 20)
            )
        };
        let digits = |s: &str, len: usize| -> Option<i64> {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (year_text, rest) = match text.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (text, None),
        };
        let year = digits(year_text, 4).ok_or_else(bad)?;
        if !(2000..=2100).contains(&year) {
            return Err(format!("年度 {year} 不在 2000 至 2100 之间"));
        }
        let year = year as i16;
        match rest {
            None => Ok(Period::Year(year)),
            Some(r) => {
                if let Some(q) = r.strip_prefix('Q') {
                    match digits(q, 1) {
                        Some(q @ 1..=4) => Ok(Period::Quarter {
                            year,
                            quarter: q as i8,
                        }),
                        _ => Err(bad()),
                    }
                } else {
                    match digits(r, 2) {
                        Some(m @ 1..=12) => Ok(Period::Month {
                            year,
                            month: m as i8,
                        }),
                        _ => Err(bad()),
                    }
                }
            }
        }
    }

    pub fn year(self) -> i16 {
        match self {
            Period::Month { year, .. } | Period::Quarter { year, .. } | Period::Year(year) => year,
        }
    }

    pub fn first_month(self) -> i8 {
        match self {
            Period::Month { month, .. } => month,
            Period::Quarter { quarter, .. } => quarter * 3 - 2,
            Period::Year(_) => 1,
        }
    }

    pub fn last_month(self) -> i8 {
        match self {
            Period::Month { month, .. } => month,
            Period::Quarter { quarter, .. } => quarter * 3,
            Period::Year(_) => 12,
        }
    }

    pub fn months(self) -> impl Iterator<Item = i8> {
        self.first_month()..=self.last_month()
    }

    pub fn kind(self) -> &'static str {
        match self {
            Period::Month { .. } => "month",
            Period::Quarter { .. } => "quarter",
            Period::Year(_) => "year",
        }
    }

    /// As a heading writes it: 2010年3月, 2010年第一季度, 2010年度.
    pub fn label_zh(self) -> String {
        match self {
            Period::Month { year, month } => format!("{year}年{month}月"),
            Period::Quarter { year, quarter } => {
                let q = ["一", "二", "三", "四"][(quarter - 1) as usize];
                format!("{year}年第{q}季度")
            }
            Period::Year(year) => format!("{year}年度"),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month { year, month } => write!(f, "{year}-{month:02}"),
            Period::Quarter { year, quarter } => write!(f, "{year}-Q{quarter}"),
            Period::Year(year) => write!(f, "{year}"),
        }
    }
}

/// The last day of a month.
pub fn month_end(year: i16, month: i8) -> Date {
    let first = Date::new(year, month, 1).unwrap_or(Date::MIN);
    first.last_of_month()
}

/// Whether a community is expected to report a month: it must be open on the month's last
/// day, so a community opened during the month reports it, and one closed during the month
/// (its workers no longer sign in) does not.
pub fn expected_in(opened_on: Option<Date>, closed_on: Option<Date>, year: i16, month: i8) -> bool {
    let end = month_end(year, month);
    opened_on.is_none_or(|d| d <= end) && closed_on.is_none_or(|d| d > end)
}

/// The due date of a month's report when it is due on `day` of the following month.
pub fn due_on(year: i16, month: i8, day: i8) -> Result<Date, String> {
    let next = month_end(year, month).saturating_add(1.day());
    let last = next.last_of_month().day();
    if !(1..=last).contains(&day) {
        return Err(format!(
            "截止日应为次月 1 至 {last} 日之间的一天（{}年{}月报告）",
            year, month
        ));
    }
    Date::new(next.year(), next.month(), day).map_err(|e| e.to_string())
}

/// How a submitted report stands against its due date: on time when first submitted on or
/// before the due date (a local calendar date in 北京时间).
pub fn on_time(first_submitted_on: Date, due: Date) -> bool {
    first_submitted_on <= due
}

/// Services delivered: records and people served in the period, and items delivered at least
/// once from the start of the year to the period's end, out of the items possible (the
/// standard's items times the communities counted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceFigures {
    pub records: i64,
    pub people_served: i64,
    pub items_covered: i64,
    pub items_possible: i64,
    pub by_category: Vec<CategoryFigures>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CategoryFigures {
    pub category: u32,
    pub name: String,
    pub records: i64,
    pub people_served: i64,
    pub items_covered: i64,
    pub items_possible: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityFigures {
    pub total: i64,
    /// Every activity type of the ledger, zero where none was held.
    pub by_type: BTreeMap<String, i64>,
}

/// What a community's records say about a period: the part of a report a submission freezes
/// and later record changes are compared against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordFigures {
    pub services: ServiceFigures,
    pub activities: ActivityFigures,
}

impl RecordFigures {
    /// Figures with every category and activity type present at zero, so sums and tables
    /// line up whatever was recorded.
    pub fn zero(standard: &Standard) -> RecordFigures {
        RecordFigures {
            services: ServiceFigures {
                by_category: standard
                    .categories
                    .iter()
                    .map(|c| CategoryFigures {
                        category: c.number,
                        name: c.name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            activities: ActivityFigures {
                total: 0,
                by_type: ACTIVITY_TYPES.iter().map(|t| (t.to_string(), 0)).collect(),
            },
        }
    }

    /// A community's figures for the months `first..=last` of a year, from its aggregate
    /// counts; items covered count from January to `last`.
    pub fn of_community(
        standard: &Standard,
        counts: &BTreeMap<String, i64>,
        first: i8,
        last: i8,
    ) -> RecordFigures {
        let mut out = RecordFigures::zero(standard);
        let mut covered: BTreeMap<u32, ()> = BTreeMap::new();
        for (fact, &n) in counts {
            if let Some((month, item)) = facts::parse_service_month_item(fact) {
                if month <= last && n > 0 {
                    covered.insert(item, ());
                }
                if (first..=last).contains(&month) {
                    out.services.records += n;
                    if let Some(c) = out.category_mut(standard, item) {
                        c.records += n;
                    }
                }
            } else if let Some((month, item)) = facts::parse_people_month_item(fact) {
                if (first..=last).contains(&month) {
                    out.services.people_served += n;
                    if let Some(c) = out.category_mut(standard, item) {
                        c.people_served += n;
                    }
                }
            } else if let Some((kind, month)) = facts::parse_activity_month(fact)
                && (first..=last).contains(&month)
            {
                out.activities.total += n;
                *out.activities.by_type.entry(kind.to_string()).or_default() += n;
            }
        }
        out.services.items_possible = standard.items().count() as i64;
        for c in &mut out.services.by_category {
            c.items_possible = standard
                .categories
                .iter()
                .find(|k| k.number == c.category)
                .map_or(0, |k| k.items.len() as i64);
        }
        for item in covered.keys() {
            if standard.item(*item).is_none() {
                continue;
            }
            out.services.items_covered += 1;
            if let Some(c) = out.category_mut(standard, *item) {
                c.items_covered += 1;
            }
        }
        out
    }

    fn category_mut(&mut self, standard: &Standard, item: u32) -> Option<&mut CategoryFigures> {
        let number = standard.category_of(item)?;
        self.services
            .by_category
            .iter_mut()
            .find(|c| c.category == number)
    }

    /// Adds another unit's figures: every count, numerator and denominator summed.
    pub fn add(&mut self, other: &RecordFigures) {
        let s = &mut self.services;
        s.records += other.services.records;
        s.people_served += other.services.people_served;
        s.items_covered += other.services.items_covered;
        s.items_possible += other.services.items_possible;
        for c in &other.services.by_category {
            match s.by_category.iter_mut().find(|m| m.category == c.category) {
                Some(mine) => {
                    mine.records += c.records;
                    mine.people_served += c.people_served;
                    mine.items_covered += c.items_covered;
                    mine.items_possible += c.items_possible;
                }
                None => s.by_category.push(c.clone()),
            }
        }
        self.activities.total += other.activities.total;
        for (t, n) in &other.activities.by_type {
            *self.activities.by_type.entry(t.clone()).or_default() += n;
        }
    }

    /// One community's months combined in month order: records, people served and activities
    /// are summed; items covered so far this year are those of the latest month.
    pub fn over_months<'a>(
        standard: &Standard,
        months: impl IntoIterator<Item = &'a RecordFigures>,
    ) -> RecordFigures {
        let mut out = RecordFigures::zero(standard);
        for month in months {
            out.add(month);
            out.services.items_covered = month.services.items_covered;
            out.services.items_possible = month.services.items_possible;
            for c in &mut out.services.by_category {
                if let Some(m) = month
                    .services
                    .by_category
                    .iter()
                    .find(|m| m.category == c.category)
                {
                    c.items_covered = m.items_covered;
                    c.items_possible = m.items_possible;
                }
            }
        }
        out
    }

    pub fn coverage_display(&self) -> String {
        percent_display(self.services.items_covered, self.services.items_possible)
    }
}

/// A community month's report as submitted: its record figures and its evaluation preview
/// at that moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub figures: RecordFigures,
    pub evaluation: EvaluationProgress,
}

/// Reporting completeness over community-months: each community expected in a month is one
/// report expected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    pub expected: i64,
    pub on_time: i64,
    pub late: i64,
    /// Not submitted at all, whether or not the due date has passed.
    pub missing: i64,
    /// The part of `missing` whose due date has passed.
    pub overdue: i64,
}

impl Completeness {
    pub fn add(&mut self, other: &Completeness) {
        self.expected += other.expected;
        self.on_time += other.on_time;
        self.late += other.late;
        self.missing += other.missing;
        self.overdue += other.overdue;
    }

    pub fn submitted(&self) -> i64 {
        self.on_time + self.late
    }

    /// submitted / expected as a percentage; "—" when nothing was expected. It cannot pass
    /// 100% because only expected reports are counted as submitted.
    pub fn rate_display(&self) -> String {
        percent_display(self.submitted(), self.expected)
    }
}

/// Evaluation progress of the communities counted: indicators met so far (a preview until
/// the review is final) and where their reviews stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationProgress {
    pub communities: i64,
    pub indicators_met: i64,
    pub indicators_total: i64,
    pub award_eligible: i64,
    /// Reviews past the community's own draft (submitted upwards or further).
    pub reviews_submitted: i64,
    pub reviews_final: i64,
    pub surveys_counted: i64,
    pub surveys_possible: i64,
}

impl EvaluationProgress {
    pub fn add(&mut self, other: &EvaluationProgress) {
        self.communities += other.communities;
        self.indicators_met += other.indicators_met;
        self.indicators_total += other.indicators_total;
        self.award_eligible += other.award_eligible;
        self.reviews_submitted += other.reviews_submitted;
        self.reviews_final += other.reviews_final;
        self.surveys_counted += other.surveys_counted;
        self.surveys_possible += other.surveys_possible;
    }

    pub fn met_display(&self) -> String {
        percent_display(self.indicators_met, self.indicators_total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn periods_parse_strictly() {
        assert_eq!(
            Period::parse("2010-03"),
            Ok(Period::Month {
                year: 2010,
                month: 3
            })
        );
        assert_eq!(
            Period::parse("2010-Q4"),
            Ok(Period::Quarter {
                year: 2010,
                quarter: 4
            })
        );
        assert_eq!(Period::parse("2010"), Ok(Period::Year(2010)));
        for bad in [
            "2010-3",
            "2010-13",
            "2010-00",
            "2010-Q5",
            "2010-Q0",
            "2010-q1",
            "10",
            "2010-",
            "2010-03-01",
            "２０１０",
            "1999",
            "2010-Q",
            "",
            " 2010",
            "2010-W1",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            Period::parse("2010-Q2").map(|p| p.months().collect::<Vec<_>>()),
            Ok(vec![4, 5, 6])
        );
        assert_eq!(
            Period::parse("2010-Q1").map(|p| p.label_zh()),
            Ok("2010年第一季度".into())
        );
    }

    #[test]
    fn a_community_is_expected_when_open_at_month_end() {
        let d = |s: &str| s.parse::<Date>().ok();
        assert!(expected_in(None, None, 2010, 2));
        // Opened in June: reports June, not May.
        assert!(expected_in(d("2010-06-20"), None, 2010, 6));
        assert!(!expected_in(d("2010-06-20"), None, 2010, 5));
        // Closed 1 March: reports February, not March.
        assert!(expected_in(None, d("2010-03-01"), 2010, 2));
        assert!(!expected_in(None, d("2010-03-01"), 2010, 3));
        // Closed on the last day of February: it was not open at that month's end.
        assert!(!expected_in(None, d("2010-02-28"), 2010, 2));
    }

    #[test]
    fn due_dates_fall_in_the_following_month() {
        assert_eq!(due_on(2010, 3, 5), Ok(Date::constant(2010, 4, 5)));
        assert_eq!(due_on(2010, 12, 10), Ok(Date::constant(2011, 1, 10)));
        assert_eq!(due_on(2010, 1, 28), Ok(Date::constant(2010, 2, 28)));
        assert!(due_on(2010, 1, 29).is_err());
        assert!(due_on(2010, 3, 0).is_err());
        assert!(on_time(
            Date::constant(2010, 4, 5),
            Date::constant(2010, 4, 5)
        ));
        assert!(!on_time(
            Date::constant(2010, 4, 6),
            Date::constant(2010, 4, 5)
        ));
    }

    fn standard() -> Standard {
        Standard::from_toml(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/standards/hlj-2010.toml"
        )))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_month_is_read_from_the_counts() {
        let standard = standard();
        let counts: BTreeMap<String, i64> = [
            (facts::service_month_item(1, 1), 2),
            (facts::people_month_item(1, 1), 7),
            (facts::service_month_item(3, 1), 1),
            (facts::people_month_item(3, 1), 4),
            (facts::service_month_item(3, 100), 5),
            (facts::people_month_item(3, 100), 9),
            (facts::service_month_item(4, 2), 1),
            (facts::service_item(1), 3),
            (facts::activity_month("健康讲座", 3), 2),
            (facts::activity_month("健康讲座", 4), 1),
            (facts::activity_group("健康讲座", "一组"), 2),
        ]
        .into_iter()
        .collect();
        let march = RecordFigures::of_community(&standard, &counts, 3, 3);
        assert_eq!(march.services.records, 6);
        assert_eq!(march.services.people_served, 13);
        // Items 1 (January and March) and 100 so far; April's item 2 not yet.
        assert_eq!(march.services.items_covered, 2);
        assert_eq!(march.services.items_possible, 100);
        assert_eq!(march.activities.total, 2);
        assert_eq!(march.activities.by_type["健康讲座"], 2);
        assert_eq!(march.activities.by_type.len(), ACTIVITY_TYPES.len());
        let first = &march.services.by_category[0];
        assert_eq!(
            (first.records, first.people_served, first.items_covered),
            (1, 4, 1)
        );
        let q1 = RecordFigures::of_community(&standard, &counts, 1, 3);
        assert_eq!((q1.services.records, q1.services.people_served), (8, 20));
        let months: Vec<RecordFigures> = (1..=3)
            .map(|m| RecordFigures::of_community(&standard, &counts, m, m))
            .collect();
        assert_eq!(RecordFigures::over_months(&standard, &months), q1);
    }

    proptest! {
        #[test]
        fn sums_are_the_sums_of_their_parts(parts in proptest::collection::vec((1i8..=12, 1i64..=100, 0i64..50, 0i64..500), 0..40)) {
            let standard = standard();
            let mut total = RecordFigures::zero(&standard);
            let (mut records, mut people) = (0, 0);
            for (month, item, n, p) in &parts {
                let counts: BTreeMap<String, i64> = [
                    (facts::service_month_item(*month, *item), *n),
                    (facts::people_month_item(*month, *item), *p),
                ].into_iter().collect();
                total.add(&RecordFigures::of_community(&standard, &counts, 1, 12));
                records += n;
                people += p;
            }
            prop_assert_eq!(total.services.records, records);
            prop_assert_eq!(total.services.people_served, people);
            prop_assert_eq!(total.services.by_category.iter().map(|c| c.records).sum::<i64>(), records);
            prop_assert_eq!(total.services.items_possible, 100 * parts.len() as i64);
            prop_assert!(total.services.items_covered <= total.services.items_possible);
        }

        #[test]
        fn periods_round_trip(year in 2000i16..=2100, m in 1i8..=12, q in 1i8..=4) {
            for p in [Period::Month { year, month: m }, Period::Quarter { year, quarter: q }, Period::Year(year)] {
                prop_assert_eq!(Period::parse(&p.to_string()), Ok(p));
                prop_assert!(p.first_month() <= p.last_month());
            }
        }

        #[test]
        fn completeness_rate_never_passes_100(on_time in 0i64..1000, late in 0i64..1000, missing in 0i64..1000) {
            let c = Completeness { expected: on_time + late + missing, on_time, late, missing, overdue: 0 };
            let shown = c.rate_display();
            if c.expected > 0 {
                let value: f64 = shown.trim_end_matches('%').parse().unwrap_or(f64::MAX);
                prop_assert!(value <= 100.0);
            }
        }

        #[test]
        fn no_string_panics_the_parser(s in ".{0,12}") {
            let _ = Period::parse(&s);
        }
    }
}

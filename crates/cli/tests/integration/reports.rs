//! Progress reports: figures rolled up from generated ledgers checked against sums the test
//! works out itself, completeness with on-time, late and missing communities and a community
//! opened mid-year, submitted snapshots against later record changes, and the bulletin's page,
//! print view and spreadsheet showing the same numbers. On SQLite and PostgreSQL alike.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use shequ_app::Caller;
use shequ_app::domain::records::{ACTIVITY_TYPES, RecordKind};
use shequ_app::domain::standard::Standard;
use shequ_store::testing::TestDatabase;

use crate::helpers::{
    TestApp, browser, create, csrf_of, get_as, login, send, session_cookie_of, spawn_app,
    spawn_app_on, token,
};

/// The communities given ledgers: four of 兆麟街道 and four of 新阳路街道 (道里区).
const COMMUNITIES: [&str; 8] = [
    "230102001001",
    "230102001002",
    "230102001003",
    "230102001004",
    "230102002001",
    "230102002002",
    "230102002003",
    "230102002005",
];

fn standard() -> Standard {
    Standard::from_toml(
        &std::fs::read_to_string(crate::helpers::repo_path("data/standards/hlj-2010.toml"))
            .unwrap(),
    )
    .unwrap()
}

/// One generated ledger line.
#[derive(Clone)]
enum Line {
    Service {
        unit: &'static str,
        month: i8,
        day: i8,
        item: u32,
        people: i64,
    },
    Activity {
        unit: &'static str,
        month: i8,
        kind: &'static str,
    },
}

/// A year of ledgers that differ per community, spread over the months.
fn ledgers() -> Vec<Line> {
    let mut lines = Vec::new();
    for (i, unit) in COMMUNITIES.iter().enumerate() {
        let i = i as i64;
        for k in 0..(5 + i * 3) {
            lines.push(Line::Service {
                unit,
                month: ((k * 7 + i) % 12 + 1) as i8,
                day: (k % 27 + 1) as i8,
                item: ((k * 13 + i * 7) % 100 + 1) as u32,
                people: (k * 5 + i) % 20 + 1,
            });
        }
        for k in 0..(2 + i) {
            lines.push(Line::Activity {
                unit,
                month: ((k * 5 + i) % 12 + 1) as i8,
                kind: ACTIVITY_TYPES[((k + i) % ACTIVITY_TYPES.len() as i64) as usize],
            });
        }
    }
    lines
}

fn csv(kind: RecordKind, rows: &[BTreeMap<&str, String>]) -> String {
    let fields = kind.fields();
    let mut out = fields
        .iter()
        .map(|f| f.header)
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in rows {
        let cells: Vec<&str> = fields
            .iter()
            .map(|f| r.get(f.key).map_or("", String::as_str))
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn service_row(unit: &str, date: &str, item: u32, people: i64) -> BTreeMap<&'static str, String> {
    [
        ("unit", unit.to_string()),
        ("date", date.to_string()),
        ("item", item.to_string()),
        ("people", people.to_string()),
        ("mode", "现场服务".to_string()),
        ("provider", "社区".to_string()),
    ]
    .into_iter()
    .collect()
}

async fn import(app: &TestApp, token: &str, kind: RecordKind, body: String) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/records/import?filename={kind}.csv")))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{kind}: {body}");
    assert_eq!(body["errors"], json!([]), "{kind}");
}

async fn import_ledgers(app: &TestApp, token: &str, lines: &[Line]) {
    let mut services = Vec::new();
    let mut activities = Vec::new();
    for line in lines {
        match line {
            Line::Service {
                unit,
                month,
                day,
                item,
                people,
            } => services.push(service_row(
                unit,
                &format!("2010-{month:02}-{day:02}"),
                *item,
                *people,
            )),
            Line::Activity { unit, month, kind } => activities.push(
                [
                    ("unit", unit.to_string()),
                    ("type", kind.to_string()),
                    ("start", format!("2010-{month:02}-10")),
                    ("participants", "30".to_string()),
                ]
                .into_iter()
                .collect(),
            ),
        }
    }
    import(
        app,
        token,
        RecordKind::Services,
        csv(RecordKind::Services, &services),
    )
    .await;
    import(
        app,
        token,
        RecordKind::Activities,
        csv(RecordKind::Activities, &activities),
    )
    .await;
}

/// What the test expects of a set of communities over months `first..=last`, worked out from
/// the generated lines alone.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    records: i64,
    people: i64,
    items_covered: i64,
    by_category: BTreeMap<u32, (i64, i64, i64)>,
    activities: i64,
    by_type: BTreeMap<String, i64>,
}

fn expected(lines: &[Line], units: &[&str], first: i8, last: i8, standard: &Standard) -> Expected {
    let mut e = Expected::default();
    for unit in units {
        let mut covered: BTreeSet<u32> = BTreeSet::new();
        for line in lines {
            match line {
                Line::Service {
                    unit: u,
                    month,
                    item,
                    people,
                    ..
                } if u == unit => {
                    let category = standard.category_of(*item).unwrap();
                    let slot = e.by_category.entry(category).or_default();
                    if (first..=last).contains(month) {
                        e.records += 1;
                        e.people += people;
                        slot.0 += 1;
                        slot.1 += people;
                    }
                    if *month <= last {
                        covered.insert(*item);
                    }
                }
                Line::Activity {
                    unit: u,
                    month,
                    kind,
                } if u == unit && (first..=last).contains(month) => {
                    e.activities += 1;
                    *e.by_type.entry(kind.to_string()).or_default() += 1;
                }
                _ => {}
            }
        }
        e.items_covered += covered.len() as i64;
        for item in covered {
            e.by_category
                .entry(standard.category_of(item).unwrap())
                .or_default()
                .2 += 1;
        }
    }
    e
}

/// The same figures read from a report's JSON.
fn figures_of(report: &Value) -> Expected {
    let s = &report["services"];
    Expected {
        records: s["records"].as_i64().unwrap(),
        people: s["people_served"].as_i64().unwrap(),
        items_covered: s["items_covered"].as_i64().unwrap(),
        by_category: s["by_category"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["category"].as_u64().unwrap() as u32,
                    (
                        c["records"].as_i64().unwrap(),
                        c["people_served"].as_i64().unwrap(),
                        c["items_covered"].as_i64().unwrap(),
                    ),
                )
            })
            .filter(|(_, v)| *v != (0, 0, 0))
            .collect(),
        activities: report["activities"]["total"].as_i64().unwrap(),
        by_type: report["activities"]["by_type"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
            .filter(|(_, v)| *v != 0)
            .collect(),
    }
}

fn child<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["unit"] == code)
        .unwrap_or_else(|| panic!("no child {code} in {}", report["children"]))
}

fn strip_zero_categories(mut e: Expected) -> Expected {
    e.by_category.retain(|_, v| *v != (0, 0, 0));
    e
}

async fn roll_ups_match_independent_sums(app: TestApp) {
    let operator = Caller::operator();
    create(&app, &operator, "admin", "province_admin", "23")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let lines = ledgers();
    import_ledgers(&app, &admin, &lines).await;
    let standard = standard();
    let zhaolin: Vec<&str> = COMMUNITIES[..4].to_vec();
    let xinyang: Vec<&str> = COMMUNITIES[4..].to_vec();
    let county_communities = app.app.unit("230102").await.unwrap().unit.counts.community;
    for (period, first, last) in [
        ("2010-03", 3, 3),
        ("2010-Q1", 1, 3),
        ("2010-Q4", 10, 12),
        ("2010", 1, 12),
    ] {
        let all = strip_zero_categories(expected(&lines, &COMMUNITIES, first, last, &standard));
        for unit in ["23", "2301", "230102"] {
            let (status, report) = get_as(
                &app,
                &admin,
                &format!("/api/v1/units/{unit}/reports/{period}"),
            )
            .await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["period"], period);
            assert_eq!(report["basis"], "live");
            assert_eq!(figures_of(&report), all, "{unit} {period}");
        }
        let (_, county) = get_as(
            &app,
            &admin,
            &format!("/api/v1/units/230102/reports/{period}"),
        )
        .await;
        assert_eq!(county["communities"], county_communities);
        assert_eq!(
            county["services"]["items_possible"],
            100 * county_communities,
            "items possible are items times communities, never an average"
        );
        for (street, units) in [("230102001", &zhaolin), ("230102002", &xinyang)] {
            let want = strip_zero_categories(expected(&lines, units, first, last, &standard));
            assert_eq!(
                figures_of(child(&county, street)),
                want,
                "{street} {period}"
            );
            // Drilling down: the street's own report has the same figures, and each community's
            // child entry its own.
            let (_, own) = get_as(
                &app,
                &admin,
                &format!("/api/v1/units/{street}/reports/{period}"),
            )
            .await;
            assert_eq!(figures_of(&own), want);
            for unit in units.iter() {
                let one = strip_zero_categories(expected(&lines, &[unit], first, last, &standard));
                assert_eq!(figures_of(child(&own, unit)), one, "{unit} {period}");
            }
        }
        // The children add up to the parent.
        let sum: i64 = county["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["services"]["records"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, county["services"]["records"].as_i64().unwrap());
    }
    // The Land Reclamation system's farms roll up too (nothing recorded there: zeros, not gaps).
    let (status, farm) = get_as(&app, &admin, "/api/v1/units/230103500/reports/2010").await;
    assert_eq!(status, 200, "{farm}");
    assert_eq!(farm["services"]["records"], 0);
    assert_eq!(farm["completeness"]["rate"], json!(0.0));

    // Bad periods and bases are 400 with a reason; signed out is 401.
    for bad in [
        "2010-13",
        "2010-3",
        "2010-Q5",
        "2010-Q0",
        "abc",
        "1999",
        "2010-03-01",
        "2010-W1",
    ] {
        let (status, body) =
            get_as(&app, &admin, &format!("/api/v1/units/230102/reports/{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("报告期")
                || body["message"].as_str().unwrap().contains("年度"),
            "{body}"
        );
    }
    let (status, _) = get_as(
        &app,
        &admin,
        "/api/v1/units/230102/reports/2010?basis=guess",
    )
    .await;
    assert_eq!(status, 400);
    let response = app
        .client
        .get(app.url("/api/v1/units/230102/reports/2010"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let (status, _) = get_as(&app, &admin, "/api/v1/units/230102999/reports/2010").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn roll_ups_match_independent_sums_on_sqlite() {
    roll_ups_match_independent_sums(spawn_app().await).await;
}

#[tokio::test]
async fn roll_ups_match_independent_sums_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    roll_ups_match_independent_sums(spawn_app_on(db).await).await;
}

/// The last month that has ended and the one before it, as (year, month).
fn recent_months() -> ((i16, i8), (i16, i8)) {
    let today = shequ_app::today();
    let back = |(y, m): (i16, i8)| if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let last = back((today.year(), today.month()));
    (last, back(last))
}

fn month_text((y, m): (i16, i8)) -> String {
    format!("{y}-{m:02}")
}

async fn completeness_counts_on_time_late_and_missing(app: TestApp) {
    let operator = Caller::operator();
    for (name, role, unit) in [
        ("admin", "province_admin", "23"),
        ("county", "officer", "230102"),
        ("street", "officer", "230102001"),
        ("viewer", "viewer", "230102"),
        ("worker_a", "community_worker", "230102001001"),
        ("worker_b", "community_worker", "230102001002"),
    ] {
        create(&app, &operator, name, role, unit).await.unwrap();
    }
    let admin = token(&app, "admin").await;
    let county = token(&app, "county").await;
    let street = token(&app, "street").await;
    let viewer = token(&app, "viewer").await;
    let worker_a = token(&app, "worker_a").await;
    let worker_b = token(&app, "worker_b").await;
    let (last, before) = recent_months();
    let (last_text, before_text) = (month_text(last), month_text(before));
    let today = shequ_app::today();
    let end_of_this_month = today.last_of_month().day();

    // Due dates: the county gives its communities until the end of this month for last month's
    // report (so a report sent today is on time); the month before is due on the 5th by default,
    // long past. The province sets the 3rd for the month before, and the county cannot go later.
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &county,
        &format!("/api/v1/units/230102/report-deadlines/{last_text}"),
        Some(json!({"day": end_of_this_month})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["due_on"], today.last_of_month().to_string());
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &admin,
        &format!("/api/v1/units/23/report-deadlines/{before_text}"),
        Some(json!({"day": 3})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &county,
        &format!("/api/v1/units/230102/report-deadlines/{before_text}"),
        Some(json!({"day": 10})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("不得晚于上级（黑龙江省）"),
        "{body}"
    );
    for (who, day, status_wanted) in [
        (&viewer, 4, 403),
        (&worker_a, 4, 403),
        (&county, 40, 400),
        (&county, 0, 400),
    ] {
        let (status, body) = send(
            &app,
            reqwest::Method::PUT,
            who,
            &format!("/api/v1/units/230102/report-deadlines/{last_text}"),
            Some(json!({"day": day})),
        )
        .await;
        assert_eq!(status, status_wanted, "{body}");
    }
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &county,
        "/api/v1/units/230102001001/report-deadlines/2010-03",
        Some(json!({"day": 4})),
    )
    .await;
    assert_eq!(status, 400, "communities do not set due days");
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &county,
        "/api/v1/units/230102/report-deadlines/2010-Q1",
        Some(json!({"day": 4})),
    )
    .await;
    assert_eq!(status, 400, "due days are per month");

    // Community A submits both months; B neither.
    for month in [&last_text, &before_text] {
        let (status, body) = send(
            &app,
            reqwest::Method::POST,
            &worker_a,
            &format!("/api/v1/units/230102001001/reports/{month}/submit"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["submissions"], 1);
    }
    // Nobody submits for someone else, for a month not yet ended, or for a unit above.
    for (who, path) in [
        (
            &worker_b,
            format!("/api/v1/units/230102001001/reports/{last_text}/submit"),
        ),
        (
            &street,
            format!("/api/v1/units/230102001001/reports/{last_text}/submit"),
        ),
        (
            &viewer,
            format!("/api/v1/units/230102001001/reports/{last_text}/submit"),
        ),
    ] {
        let (status, body) = send(&app, reqwest::Method::POST, who, &path, None).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let next_month = month_text(if today.month() == 12 {
        (today.year() + 1, 1)
    } else {
        (today.year(), today.month() + 1)
    });
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{next_month}/submit"),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("尚未结束"),
        "{body}"
    );
    // The month under way is not yet due: neither expected nor missing, and not submittable.
    let this_month = month_text((today.year(), today.month()));
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{this_month}/submit"),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, current) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{this_month}"),
    )
    .await;
    assert_eq!(current["submission"]["status"], "upcoming");
    assert_eq!(current["completeness"]["expected"], 0);
    assert_eq!(current["completeness"]["missing"], 0);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        &admin,
        &format!("/api/v1/units/230102001/reports/{last_text}/submit"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{}/submit", last.0),
        None,
    )
    .await;
    assert_eq!(status, 400, "a year is not a month");

    let street_communities = app
        .app
        .children("230102001")
        .await
        .unwrap()
        .iter()
        .filter(|u| u.kind.is_community() && u.is_open())
        .count() as i64;
    let (_, report) = get_as(
        &app,
        &street,
        &format!("/api/v1/units/230102001/reports/{last_text}"),
    )
    .await;
    assert_eq!(
        report["completeness"],
        json!({"expected": street_communities, "on_time": 1, "late": 0, "missing": street_communities - 1, "overdue": 0, "rate": 1.0 / street_communities as f64})
    );
    assert_eq!(child(&report, "230102001001")["completeness"]["on_time"], 1);
    assert_eq!(child(&report, "230102001002")["completeness"]["missing"], 1);
    let (_, report) = get_as(
        &app,
        &street,
        &format!("/api/v1/units/230102001/reports/{before_text}"),
    )
    .await;
    assert_eq!(
        report["completeness"],
        json!({"expected": street_communities, "on_time": 0, "late": 1, "missing": street_communities - 1, "overdue": street_communities - 1, "rate": 1.0 / street_communities as f64})
    );
    // The county and the province count the same submissions among all their communities.
    let (_, county_report) = get_as(
        &app,
        &county,
        &format!("/api/v1/units/230102/reports/{last_text}"),
    )
    .await;
    assert_eq!(county_report["completeness"]["on_time"], 1);
    assert_eq!(
        county_report["completeness"]["expected"],
        app.app.unit("230102").await.unwrap().unit.counts.community
    );
    assert_eq!(
        child(&county_report, "230102001")["completeness"]["on_time"],
        1
    );
    assert_eq!(
        child(&county_report, "230102002")["completeness"]["on_time"],
        0
    );
    let (_, own) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}"),
    )
    .await;
    assert_eq!(own["submission"]["status"], "on_time");
    assert_eq!(
        own["submission"]["due_on"],
        today.last_of_month().to_string()
    );
    let (_, own) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{before_text}"),
    )
    .await;
    assert_eq!(own["submission"]["status"], "late");
    let due_before = jiff::civil::Date::new(last.0, last.1, 3).unwrap();
    assert_eq!(
        own["submission"]["due_on"],
        due_before.to_string(),
        "the province's 3rd applies"
    );
    // A worker sees only its own community.
    let (status, _) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001/reports/{last_text}"),
    )
    .await;
    assert_eq!(status, 403);

    // A record added after submitting shows as a change; the submitted basis keeps the figures
    // as submitted; a resubmission takes the change and keeps the first submission's time.
    let (_, submitted_before) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}"),
    )
    .await;
    let first_at = submitted_before["submission"]["first_submitted_at"].clone();
    let records_before = submitted_before["services"]["records"].as_i64().unwrap();
    import(
        &app,
        &worker_a,
        RecordKind::Services,
        csv(
            RecordKind::Services,
            &[service_row(
                "230102001001",
                &format!("{last_text}-02"),
                42,
                6,
            )],
        ),
    )
    .await;
    let (_, live) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}"),
    )
    .await;
    assert_eq!(live["services"]["records"], records_before + 1);
    assert_eq!(live["submission"]["changed_since_submitted"], true);
    assert_eq!(live["changed_since_submitted"], 1);
    let (_, frozen) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}?basis=submitted"),
    )
    .await;
    assert_eq!(frozen["basis"], "submitted");
    assert_eq!(frozen["services"]["records"], records_before);
    let (_, street_frozen) = get_as(
        &app,
        &street,
        &format!("/api/v1/units/230102001/reports/{last_text}?basis=submitted"),
    )
    .await;
    assert_eq!(street_frozen["changed_since_submitted"], 1);
    assert_eq!(
        child(&street_frozen, "230102001001")["changed_since_submitted"],
        1
    );
    assert_eq!(
        child(&street_frozen, "230102001002")["services"]["records"],
        0,
        "nothing submitted counts nothing"
    );
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}/submit"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["submissions"], 2);
    assert_eq!(body["first_submitted_at"], first_at);
    let (_, again) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}?basis=submitted"),
    )
    .await;
    assert_eq!(again["services"]["records"], records_before + 1);
    assert_eq!(again["changed_since_submitted"], 0);
    assert_eq!(again["submission"]["status"], "on_time");
    // Should the province later set an earlier day than the county's, the earlier one holds.
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &admin,
        &format!("/api/v1/units/23/report-deadlines/{last_text}"),
        Some(json!({"day": 2})),
    )
    .await;
    assert_eq!(status, 200);
    let second = jiff::civil::Date::new(today.year(), today.month(), 2)
        .unwrap()
        .to_string();
    let (_, earlier) = get_as(
        &app,
        &worker_b,
        &format!("/api/v1/units/230102001002/reports/{last_text}"),
    )
    .await;
    assert_eq!(earlier["submission"]["due_on"], second);
    // A report already submitted keeps the due date it was submitted under: on time stays on
    // time whatever a level changes afterwards.
    let (_, kept) = get_as(
        &app,
        &worker_a,
        &format!("/api/v1/units/230102001001/reports/{last_text}"),
    )
    .await;
    assert_eq!(
        kept["submission"]["due_on"],
        today.last_of_month().to_string()
    );
    assert_eq!(kept["submission"]["status"], "on_time");
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &admin,
        &format!("/api/v1/units/23/report-deadlines/{last_text}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    // Clearing the county's due day puts the default (the 5th) back.
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &county,
        &format!("/api/v1/units/230102/report-deadlines/{last_text}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &county,
        &format!("/api/v1/units/230102/report-deadlines/{last_text}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, cleared) = get_as(
        &app,
        &worker_b,
        &format!("/api/v1/units/230102001002/reports/{last_text}"),
    )
    .await;
    assert_eq!(
        cleared["submission"]["due_on"],
        jiff::civil::Date::new(today.year(), today.month(), 5)
            .unwrap()
            .to_string()
    );
    // Every submission and due-day change is in the audit log.
    let audit = app
        .app
        .audit_log(&Caller::operator(), None, None)
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|e| e.entry.action.as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "report.submit").count(),
        3,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "report.deadline").count(),
        5,
        "{actions:?}"
    );
}

#[tokio::test]
async fn completeness_counts_on_time_late_and_missing_on_sqlite() {
    completeness_counts_on_time_late_and_missing(spawn_app().await).await;
}

#[tokio::test]
async fn completeness_counts_on_time_late_and_missing_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    completeness_counts_on_time_late_and_missing(spawn_app_on(db).await).await;
}

#[tokio::test]
async fn a_community_opened_mid_year_is_expected_only_from_then() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    create(&app, &operator, "admin", "province_admin", "23")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let summary = app
        .app
        .import_divisions(
            shequ_app::DivisionSource::OneFile(shequ_app::SourceFile {
                name: "new.csv".into(),
                bytes: "code,name,parent_code\n230102001099,新建社区居委会,230102001\n"
                    .as_bytes()
                    .to_vec(),
            }),
            shequ_app::ImportOptions::as_of("2010-06-15".parse().unwrap()),
            &operator,
        )
        .await
        .unwrap();
    assert_eq!(summary.inserted, 1);
    let (_, q1) = get_as(&app, &admin, "/api/v1/units/230102001/reports/2010-Q1").await;
    assert_eq!(q1["communities"], 4);
    assert_eq!(q1["completeness"]["expected"], 12);
    assert!(
        q1["children"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["unit"] != "230102001099")
    );
    let (_, may) = get_as(&app, &admin, "/api/v1/units/230102001/reports/2010-05").await;
    assert_eq!(may["completeness"]["expected"], 4);
    let (_, june) = get_as(&app, &admin, "/api/v1/units/230102001/reports/2010-06").await;
    assert_eq!(
        june["completeness"]["expected"], 5,
        "opened on 15 June, open at the month's end"
    );
    let (_, year) = get_as(&app, &admin, "/api/v1/units/230102001/reports/2010").await;
    assert_eq!(year["communities"], 5);
    assert_eq!(year["completeness"]["expected"], 4 * 12 + 7);
    assert_eq!(year["completeness"]["missing"], 4 * 12 + 7);
    assert_eq!(year["completeness"]["overdue"], 4 * 12 + 7);
    assert_eq!(child(&year, "230102001099")["completeness"]["expected"], 7);
    assert_eq!(year["services"]["items_possible"], 500);
    // A month before it opened cannot be submitted for it.
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/units/230102001099/reports/2010-05/submit",
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/units/230102001099/reports/2010-07/submit",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, year) = get_as(&app, &admin, "/api/v1/units/230102001/reports/2010").await;
    assert_eq!(year["completeness"]["late"], 1);
    assert_eq!(year["completeness"]["missing"], 4 * 12 + 6);
}

/// Every cell of every bulletin table in a page, in order.
fn html_tables(html: &str) -> Vec<Vec<Vec<String>>> {
    html.split("<table class=\"units bulletin\"")
        .skip(1)
        .map(|table| {
            let body = table.split("</table>").next().unwrap();
            let body = body.split("<tbody>").nth(1).unwrap();
            body.split("<tr>")
                .skip(1)
                .map(|row| {
                    row.split("<td")
                        .skip(1)
                        .map(|cell| {
                            let text = cell
                                .split_once('>')
                                .unwrap()
                                .1
                                .split("</td>")
                                .next()
                                .unwrap();
                            text.replace("&amp;", "&")
                                .replace("&lt;", "<")
                                .replace("&gt;", ">")
                                .replace("&#34;", "\"")
                                .replace("&#39;", "'")
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn xlsx_tables(bytes: &[u8]) -> Vec<Vec<Vec<String>>> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names = book.sheet_names().to_vec();
    names
        .iter()
        .map(|name| {
            let range = book.worksheet_range(name).unwrap();
            range
                .rows()
                .skip(1)
                .map(|row| {
                    row.iter()
                        .map(|cell| match cell {
                            calamine::Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
                            calamine::Data::Float(f) => format!("{f:.2}"),
                            calamine::Data::Int(i) => i.to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_bulletin_page_print_view_and_spreadsheet_agree() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    create(&app, &operator, "admin", "province_admin", "23")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let lines = ledgers();
    import_ledgers(&app, &admin, &lines).await;
    let client = browser();
    let cookie = session_cookie_of(&login(&app, "admin", crate::helpers::PASSWORD).await);
    let fetch = |path: &'static str| {
        let client = client.clone();
        let cookie = cookie.clone();
        let url = app.url(path);
        async move {
            let response = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response
        }
    };
    let page = fetch("/units/230102/bulletin/2010")
        .await
        .text()
        .await
        .unwrap();
    let print = fetch("/units/230102/bulletin/2010?print=1")
        .await
        .text()
        .await
        .unwrap();
    let xlsx = fetch("/units/230102/bulletin/2010/export")
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        page.contains("关于道里区2010年度“百项服务进社区”暨“特色型社区”创建活动进展情况的通报"),
        "{page}"
    );
    assert!(print.contains("道里区社区建设领导小组办公室"));
    let from_page = html_tables(&page);
    assert_eq!(from_page.len(), 5);
    assert_eq!(from_page, html_tables(&print), "page and print view");
    assert_eq!(from_page, xlsx_tables(&xlsx), "page and spreadsheet");
    // The numbers are the roll-up's: the overview table against the API and the test's sums.
    let want = expected(&lines, &COMMUNITIES, 1, 12, &standard());
    let overview: BTreeMap<String, String> = from_page[0]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    assert_eq!(overview["服务记录数"], want.records.to_string());
    assert_eq!(overview["服务人次"], want.people.to_string());
    assert_eq!(
        overview["已开展服务项目（社区×项目）"],
        want.items_covered.to_string()
    );
    assert_eq!(overview["开展活动次数"], want.activities.to_string());
    // Ranked on coverage, worked out here: items covered over 100 per community of the street.
    let ranking = &from_page[1];
    let mut streets = Vec::new();
    for (street, units) in [
        ("230102001", &COMMUNITIES[..4]),
        ("230102002", &COMMUNITIES[4..]),
    ] {
        let covered = expected(&lines, units, 1, 12, &standard()).items_covered;
        let communities = app.app.unit(street).await.unwrap().unit.counts.community;
        streets.push((covered as f64 / (100 * communities) as f64, street));
    }
    streets.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert_eq!(ranking[0][1], streets[0].1);
    assert_eq!(ranking[1][1], streets[1].1);
    assert_eq!(ranking[0][0], "1");
    // Only units that covered something are named best; zero-coverage ties are not.
    let best = page
        .split("服务项目覆盖率较高的单位：<strong>")
        .nth(1)
        .and_then(|rest| rest.split("</strong>").next())
        .unwrap();
    let mut named: Vec<&str> = best.split('、').collect();
    named.sort_unstable();
    assert_eq!(named, vec!["兆麟街道", "新阳路街道"], "{best}");
    // A bulletin with nothing to rank (a community, a township of villages only) still renders.
    for path in [
        "/units/230102001001/bulletin/2010",
        "/units/230102001001/bulletin/2010?print=1",
        "/units/230123103/bulletin/2010",
    ] {
        let response = client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("通报"), "{path}");
    }
    // Three charts, inline SVG, in the page and the print view alike; no script anywhere.
    for html in [&page, &print] {
        assert_eq!(html.matches("<svg").count(), 3, "charts inline");
        assert!(!html.contains("<script"), "no script");
        assert!(html.contains("各类服务项目覆盖率"));
    }
    // The monthly trend table holds the test's per-month counts.
    let trend = &from_page[4];
    for (m, row) in trend.iter().enumerate() {
        let month = m as i8 + 1;
        let count = expected(&lines, &COMMUNITIES, month, month, &standard()).records;
        assert_eq!(row, &vec![format!("{month}月"), count.to_string()]);
    }
    // A bad period is a page with the reason, not a crash.
    let response = client
        .get(app.url("/units/230102/bulletin/2010-13"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("报告期"));
}

#[tokio::test]
async fn each_role_lands_on_what_it_needs() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    for (name, role, unit) in [
        ("admin", "province_admin", "23"),
        ("county", "officer", "230102"),
        ("worker_a", "community_worker", "230102001001"),
    ] {
        create(&app, &operator, name, role, unit).await.unwrap();
    }
    let client = browser();
    // Signing in through the form lands on the dashboard.
    let form_page = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(form_page.status(), 200);
    let response = login(&app, "worker_a", crate::helpers::PASSWORD).await;
    let cookie = session_cookie_of(&response);
    let page = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (last, _) = recent_months();
    assert!(page.contains("待办"), "{page}");
    assert!(
        page.contains(&format!("/units/230102001001/reports/{}", month_text(last))),
        "{page}"
    );
    assert!(page.contains("月报"), "{page}");
    // The month's report page has the submit form; submitting through it works.
    let report_page = client
        .get(app.url(&format!("/units/230102001001/reports/{}", month_text(last))))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report_page.contains("报送月报"), "{report_page}");
    let csrf = csrf_of(&report_page);
    let done = client
        .post(app.url(&format!(
            "/units/230102001001/reports/{}/submit",
            month_text(last)
        )))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str()), ("sure", "yes")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains("已报送"), "{done}");
    assert!(done.contains("重新报送"));

    let cookie = session_cookie_of(&login(&app, "county", crate::helpers::PASSWORD).await);
    let page = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("月报报送情况"), "{page}");
    assert!(page.contains("待审核的考评"));
    assert!(
        page.contains("兆麟街道"),
        "children listed with their completeness"
    );

    let cookie = session_cookie_of(&login(&app, "admin", crate::helpers::PASSWORD).await);
    let response = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/units/23/bulletin/{}", month_text(last))
    );
    // A community opened today has no report due for last month, and its worker still lands.
    app.app
        .import_divisions(
            shequ_app::DivisionSource::OneFile(shequ_app::SourceFile {
                name: "new.csv".into(),
                bytes: "code,name,parent_code\n230102001098,今日新建社区居委会,230102001\n"
                    .as_bytes()
                    .to_vec(),
            }),
            shequ_app::ImportOptions::as_of(shequ_app::today()),
            &operator,
        )
        .await
        .unwrap();
    create(
        &app,
        &operator,
        "worker_new",
        "community_worker",
        "230102001098",
    )
    .await
    .unwrap();
    let cookie = session_cookie_of(&login(&app, "worker_new", crate::helpers::PASSWORD).await);
    let response = client
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("无需报送该月月报"));
    // Signed out, the dashboard asks to sign in.
    let response = client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(response.headers()["location"], "/login");
}

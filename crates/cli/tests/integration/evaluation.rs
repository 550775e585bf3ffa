//! The golden set: fourteen communities of 道里区, each built through the product's own record
//! import, survey tally confirmation, on-site checklist and override API, then evaluated over
//! the API and the command line and compared with results worked out by hand below. Every rule
//! kind is covered, with the boundaries: exactly at a threshold, just below it where rounding
//! would show it as met, strict against inclusive comparisons, zero denominators, missing data,
//! a veto and mixed estates. Run on SQLite and PostgreSQL alike.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shequ_app::Caller;
use shequ_app::domain::records::RecordKind;
use shequ_store::testing::TestDatabase;

use crate::helpers::{TestApp, create, spawn_app, spawn_app_on, token};

type Row = BTreeMap<&'static str, String>;

fn row(pairs: &[(&'static str, &str)]) -> Row {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// One community's year as it is imported.
struct Community {
    code: &'static str,
    rows: BTreeMap<RecordKind, Vec<Row>>,
    /// Survey kinds whose paper tally a second person confirms.
    confirm: Vec<&'static str>,
    inspected: bool,
}

impl Community {
    fn rows(&mut self, kind: RecordKind) -> &mut Vec<Row> {
        self.rows.entry(kind).or_default()
    }

    /// Sets a field on every row of a kind that has `key_match` = `value_match`.
    fn set(&mut self, kind: RecordKind, matching: (&str, &str), key: &'static str, value: &str) {
        let mut found = false;
        for r in self.rows(kind) {
            if r.get(matching.0).map(String::as_str) == Some(matching.1) {
                r.insert(key, value.to_string());
                found = true;
            }
        }
        assert!(found, "no {kind} row with {matching:?}");
    }

    fn remove(&mut self, kind: RecordKind, matching: (&str, &str)) {
        let rows = self.rows(kind);
        let before = rows.len();
        rows.retain(|r| r.get(matching.0).map(String::as_str) != Some(matching.1));
        assert!(rows.len() < before, "no {kind} row with {matching:?}");
    }
}

/// A community that meets every indicator of the 2010 standard's default rules.
fn perfect(code: &'static str) -> Community {
    let u = code;
    let mut rows: BTreeMap<RecordKind, Vec<Row>> = BTreeMap::new();
    rows.insert(
        RecordKind::Profile,
        vec![row(&[
            ("unit", u),
            ("year", "2010"),
            ("households", "600"),
            ("population", "1500"),
            ("estate", "新建小区"),
            ("premises", "200"),
            ("greening", "35"),
            ("one_stop", "是"),
            ("deliberation", "是"),
            ("indoor_venue", "是"),
            ("outdoor_venue", "是"),
            ("day_care", "是"),
            ("home_care", "是"),
            ("funding", "是"),
            ("brand", "邻里守望"),
            ("creation_standard", "特色社区创建标准（2010）"),
        ])],
    );
    rows.insert(
        RecordKind::Groups,
        ["一组", "二组"]
            .iter()
            .map(|g| {
                row(&[
                    ("unit", u),
                    ("year", "2010"),
                    ("name", g),
                    ("households", "300"),
                    ("method", &format!("{g}创建办法")),
                ])
            })
            .collect(),
    );
    let org = |t: &str, name: &str, elected: &str, term: &str| {
        row(&[
            ("unit", u),
            ("year", "2010"),
            ("org_type", t),
            ("name", name),
            ("elected_on", elected),
            ("term_years", term),
        ])
    };
    rows.insert(
        RecordKind::Organisations,
        vec![
            org("党组织", "社区党委", "2009-05-01", "3"),
            org("居民委员会", "社区居委会", "2009-05-01", "3"),
            org("工会", "社区工会", "", ""),
            org("共青团", "社区团支部", "", ""),
            org("妇联", "社区妇联", "", ""),
            org("残协", "社区残协", "", ""),
        ],
    );
    let act = |t: &str, date: &str| {
        row(&[
            ("unit", u),
            ("type", t),
            ("start", date),
            ("participants", "30"),
        ])
    };
    let mut activities = vec![act("年度主题活动", "2010-06-01")];
    for m in ["01", "04", "07", "10"] {
        activities.push(act("季度服务周", &format!("2010-{m}-10")));
    }
    for m in 1..=12 {
        activities.push(act("月度服务日", &format!("2010-{m:02}-20")));
    }
    for (g, d) in [("一组", "2010-05-05"), ("二组", "2010-05-06")] {
        let mut r = act("居民小组志愿活动", d);
        r.insert("group", g.to_string());
        activities.push(r);
    }
    for m in ["02", "05", "08", "11"] {
        activities.push(act("文体活动", &format!("2010-{m}-15")));
    }
    let mut civic = act("文明创建活动", "2010-09-01");
    civic.insert("links", "https://news.example.cn/2010/0901".to_string());
    activities.push(civic);
    for m in ["03", "06", "09", "12"] {
        activities.push(act("驻区单位联席会议", &format!("2010-{m}-03")));
        activities.push(act("法制宣传教育", &format!("2010-{m}-08")));
    }
    rows.insert(RecordKind::Activities, activities);
    rows.insert(
        RecordKind::Services,
        (1..=100)
            .map(|i| {
                row(&[
                    ("unit", u),
                    ("date", "2010-03-01"),
                    ("item", &i.to_string()),
                    ("people", "1"),
                ])
            })
            .collect(),
    );
    rows.insert(
        RecordKind::Mediation,
        (1..=20)
            .map(|i| {
                row(&[
                    ("unit", u),
                    ("received", &format!("2010-04-{i:02}")),
                    ("category", "邻里纠纷"),
                    ("mediated", "是"),
                    (
                        "outcome",
                        if i == 20 {
                            "调解未成功"
                        } else {
                            "调解成功"
                        },
                    ),
                ])
            })
            .collect(),
    );
    rows.insert(
        RecordKind::Health,
        vec![row(&[("unit", u), ("year", "2010"), ("count", "1300")])],
    );
    let tally = |survey: &str, very: &str, fairly: &str, not: &str| {
        row(&[
            ("unit", u),
            ("year", "2010"),
            ("survey", survey),
            ("very", very),
            ("fairly", fairly),
            ("not", not),
        ])
    };
    rows.insert(
        RecordKind::Tallies,
        vec![
            tally("干部民主评议", "90", "5", "5"),
            tally("特色社区创建测评", "90", "5", "5"),
            tally("社区服务评议", "90", "5", "5"),
            tally("治安满意度测评", "97", "2", "1"),
        ],
    );
    Community {
        code,
        rows,
        confirm: vec!["cadres", "building", "services", "security"],
        inspected: true,
    }
}

/// What the hand computation says for one community: its score, whether it meets the award
/// rule, and each indicator that is not simply "met" (status and words its detail must hold).
struct Expected {
    code: &'static str,
    score: u64,
    eligible: bool,
    vetoed: bool,
    indicators: Vec<(u64, &'static str, &'static str)>,
}

fn golden() -> (Vec<Community>, Vec<Expected>) {
    use RecordKind::*;
    let mut communities = Vec::new();
    let mut expected = Vec::new();

    // G1: every indicator met.
    communities.push(perfect("230102001001"));
    expected.push(Expected {
        code: "230102001001",
        score: 100,
        eligible: true,
        vetoed: false,
        indicators: vec![
            (1, "met", "媒体报道链接 1 条，要求 ≥ 1；照片 1 张"),
            (22, "met", "调解成功率 19/20 = 95.00%，要求 ≥ 95%，达标"),
            (25, "met", "1300/1500 = 86.67%，要求 > 80%"),
        ],
    });

    // G2: just below 80% where rounding shows 80.00% (19999/25000 = 79.996%), and the
    // notice's own example 1599/2000 = 79.95%.
    let mut c = perfect("230102001002");
    c.set(Tallies, ("survey", "干部民主评议"), "very", "10000");
    c.set(Tallies, ("survey", "干部民主评议"), "fairly", "9999");
    c.set(Tallies, ("survey", "干部民主评议"), "not", "5001");
    c.set(Tallies, ("survey", "特色社区创建测评"), "very", "1000");
    c.set(Tallies, ("survey", "特色社区创建测评"), "fairly", "599");
    c.set(Tallies, ("survey", "特色社区创建测评"), "not", "401");
    communities.push(c);
    expected.push(Expected {
        code: "230102001002",
        score: 92,
        eligible: false,
        vetoed: false,
        indicators: vec![
            (8, "not_met", "19999/25000 = 80.00%，要求 ≥ 80%，未达标"),
            (9, "not_met", "1599/2000 = 79.95%，要求 ≥ 80%，未达标"),
        ],
    });

    // G3: exactly at every inclusive threshold.
    let mut c = perfect("230102001003");
    c.set(Tallies, ("survey", "干部民主评议"), "very", "700");
    c.set(Tallies, ("survey", "干部民主评议"), "fairly", "100");
    c.set(Tallies, ("survey", "干部民主评议"), "not", "200");
    c.set(Tallies, ("survey", "治安满意度测评"), "very", "90");
    c.set(Tallies, ("survey", "治安满意度测评"), "fairly", "5");
    c.set(Tallies, ("survey", "治安满意度测评"), "not", "5");
    c.set(Profile, ("year", "2010"), "premises", "120");
    c.set(Profile, ("year", "2010"), "greening", "30");
    communities.push(c);
    expected.push(Expected {
        code: "230102001003",
        score: 100,
        eligible: true,
        vetoed: false,
        indicators: vec![
            (8, "met", "800/1000 = 80.00%，要求 ≥ 80%，达标"),
            (14, "met", "= 20.00 平方米，要求 ≥ 20 平方米，达标"),
            (19, "met", "绿化覆盖率 30%，要求 ≥ 30%"),
            (21, "met", "95/100 = 95.00%，要求 ≥ 95%，达标"),
        ],
    });

    // G4: exactly 80% health records where the rule is "strictly more than".
    let mut c = perfect("230102001004");
    c.set(Health, ("year", "2010"), "count", "1200");
    communities.push(c);
    expected.push(Expected {
        code: "230102001004",
        score: 96,
        eligible: false,
        vetoed: false,
        indicators: vec![(25, "not_met", "1200/1500 = 80.00%，要求 > 80%，未达标")],
    });

    // G5: zero denominators: no disputes at all, no residents, no households.
    let mut c = perfect("230102002001");
    c.rows.remove(&Mediation);
    c.set(Profile, ("year", "2010"), "population", "0");
    c.set(Profile, ("year", "2010"), "households", "0");
    c.set(Health, ("year", "2010"), "count", "0");
    communities.push(c);
    expected.push(Expected {
        code: "230102002001",
        score: 100,
        eligible: true,
        vetoed: false,
        indicators: vec![
            (14, "met", "户数为 0，每100户用房面积不适用"),
            (22, "met", "没有受理民事纠纷，调解率不适用"),
            (25, "not_applicable", "常住人口为 0，健康档案覆盖率不适用"),
        ],
    });

    // G6: no profile: every indicator that reads it is missing data, and says where to enter it.
    let mut c = perfect("230102002002");
    c.rows.remove(&Profile);
    communities.push(c);
    let missing = "缺少 2010 年的社区基本情况（请在“社区基本情况”中填写）";
    expected.push(Expected {
        code: "230102002002",
        score: 72,
        eligible: false,
        vetoed: false,
        indicators: [1, 2, 14, 15, 16, 19, 25]
            .into_iter()
            .map(|n| (n, "missing", missing))
            .collect(),
    });

    // G7: a collective petition: indicator 21's veto, whatever the score.
    let mut c = perfect("230102002003");
    c.rows(Incidents).push(row(&[
        ("unit", "230102002003"),
        ("type", "集体上访"),
        ("date", "2010-08-08"),
    ]));
    communities.push(c);
    expected.push(Expected {
        code: "230102002003",
        score: 96,
        eligible: false,
        vetoed: true,
        indicators: vec![(
            21,
            "not_met",
            "2010 年发生集体上访 1 起，未达标（一票否决项）",
        )],
    });

    // G8: a mixed estate whose old part is just short of its own threshold.
    let mut c = perfect("230102002005");
    c.set(Profile, ("year", "2010"), "estate", "新老混合");
    c.set(Profile, ("year", "2010"), "new_households", "400");
    c.set(Profile, ("year", "2010"), "old_households", "200");
    c.set(Profile, ("year", "2010"), "new_greening", "30");
    c.set(Profile, ("year", "2010"), "old_greening", "24.99");
    communities.push(c);
    expected.push(Expected {
        code: "230102002005",
        score: 96,
        eligible: false,
        vetoed: false,
        indicators: vec![(
            19,
            "not_met",
            "新建小区部分绿化覆盖率 30%，要求 ≥ 30%；老旧小区部分绿化覆盖率 24.99%，要求 ≥ 25%，未达标",
        )],
    });

    // G9: a mixed estate whose parts each meet their own threshold, though the estate's overall
    // 20% would meet neither.
    let mut c = perfect("230102003001");
    c.set(Profile, ("year", "2010"), "estate", "新老混合");
    c.set(Profile, ("year", "2010"), "new_households", "400");
    c.set(Profile, ("year", "2010"), "old_households", "200");
    c.set(Profile, ("year", "2010"), "greening", "20");
    c.set(Profile, ("year", "2010"), "new_greening", "31");
    c.set(Profile, ("year", "2010"), "old_greening", "25");
    communities.push(c);
    expected.push(Expected {
        code: "230102003001",
        score: 100,
        eligible: true,
        vetoed: false,
        indicators: vec![(19, "met", "老旧小区部分绿化覆盖率 25%，要求 ≥ 25%，达标")],
    });

    // G10: no on-site inspection yet (awaiting assessment), and item 100 not recorded but
    // found met by an evaluator's override, whose automatic result stays visible.
    let mut c = perfect("230102003002");
    c.remove(Services, ("item", "100"));
    c.inspected = false;
    communities.push(c);
    expected.push(Expected {
        code: "230102003002",
        score: 96,
        eligible: false,
        vetoed: false,
        indicators: vec![
            (18, "awaiting_assessment", "待考评人员现场检查并录入"),
            (23, "met", "人工认定为达标"),
            (23, "met", "自动结果为未达标：2010 年服务记录覆盖 99/100 项"),
        ],
    });

    // G11: no service week in the third quarter; the Party organisation overdue for election;
    // the committee's term ending exactly on the last day of the year (on schedule).
    let mut c = perfect("230102003003");
    c.remove(Activities, ("start", "2010-07-10"));
    c.set(
        Organisations,
        ("org_type", "党组织"),
        "elected_on",
        "2007-06-01",
    );
    c.set(
        Organisations,
        ("org_type", "居民委员会"),
        "elected_on",
        "2007-12-31",
    );
    communities.push(c);
    expected.push(Expected {
        code: "230102003003",
        score: 92,
        eligible: false,
        vetoed: false,
        indicators: vec![
            // The quarter still has seven other activities.
            (3, "met", "三季度 7"),
            (5, "not_met", "三季度 0"),
            (11, "not_met", "应于 2010-06-01 前换届；2010 年末已超过任期"),
            (12, "met", "应于 2010-12-31 前换届；2010 年末仍在任期内"),
        ],
    });

    // G12: no disabled persons' federation, no national-defence services and no item 59, and
    // the owners' committee dismissed its property company.
    let mut c = perfect("230102003004");
    c.remove(Organisations, ("org_type", "残协"));
    for item in [59, 87, 88, 89, 90, 91, 92] {
        c.remove(Services, ("item", &item.to_string()));
    }
    c.rows(Organisations).push(row(&[
        ("unit", "230102003004"),
        ("year", "2010"),
        ("org_type", "业主委员会"),
        ("name", "小区业委会"),
        ("event", "解聘物业服务企业"),
        ("event_on", "2010-07-01"),
    ]));
    communities.push(c);
    expected.push(Expected {
        code: "230102003004",
        score: 84,
        eligible: false,
        vetoed: false,
        indicators: vec![
            (13, "not_met", "缺少：残协"),
            (20, "not_met", "小区业委会解聘物业服务企业（2010-07-01）"),
            (23, "not_met", "覆盖 93/100 项"),
            (
                24,
                "not_met",
                "没有服务记录：国防建设服务（第14类）、第 59 项",
            ),
        ],
    });

    // G13: a paper tally nobody has confirmed yet does not count.
    let mut c = perfect("230102003005");
    c.confirm.retain(|k| *k != "cadres");
    communities.push(c);
    expected.push(Expected {
        code: "230102003005",
        score: 96,
        eligible: false,
        vetoed: false,
        indicators: vec![(8, "missing", "干部民主评议的纸质计票尚待第二人确认")],
    });

    // G14: a resident group without its creation method and without a volunteer activity.
    let mut c = perfect("230102004001");
    c.set(Groups, ("name", "二组"), "method", "");
    c.remove(Activities, ("start", "2010-05-06"));
    communities.push(c);
    expected.push(Expected {
        code: "230102004001",
        score: 92,
        eligible: false,
        vetoed: false,
        indicators: vec![
            (2, "not_met", "1/2 个居民小组没有创建办法：二组"),
            (7, "not_met", "1/2 个居民小组没有居民小组志愿活动：二组"),
        ],
    });
    (communities, expected)
}

/// The communities' rows of one kind as a CSV with the kind's Chinese headers.
fn csv_of(kind: RecordKind, communities: &[Community]) -> String {
    let fields = kind.fields();
    let mut out = fields
        .iter()
        .map(|f| f.header)
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for c in communities {
        for r in c.rows.get(&kind).into_iter().flatten() {
            let cells: Vec<&str> = fields
                .iter()
                .map(|f| r.get(f.key).map_or("", String::as_str))
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out
}

async fn send(app: &TestApp, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let request = match method {
        "GET" => app.client.get(app.url(path)),
        "DELETE" => app.client.delete(app.url(path)),
        _ => app.client.post(app.url(path)).json(&body),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01";
const CHECKLIST: [&str; 5] = [
    "无物业弃管",
    "无违章搭建",
    "无乱堆乱放",
    "无卫生死角",
    "无宠物伤人",
];

/// Builds the golden communities through the product's import, survey and assessment API.
async fn build(app: &TestApp, communities: &[Community]) -> (String, String, String) {
    let operator = Caller::operator();
    create(app, &operator, "admin", "province_admin", "23")
        .await
        .unwrap();
    create(app, &operator, "county", "officer", "230102")
        .await
        .unwrap();
    create(app, &operator, "inspector", "evaluator", "230102")
        .await
        .unwrap();
    let admin = token(app, "admin").await;
    let county = token(app, "county").await;
    let inspector = token(app, "inspector").await;
    for kind in [
        RecordKind::Profile,
        RecordKind::Groups,
        RecordKind::Organisations,
        RecordKind::Activities,
        RecordKind::Services,
        RecordKind::Mediation,
        RecordKind::Incidents,
        RecordKind::Health,
        RecordKind::Tallies,
    ] {
        let response = app
            .client
            .post(app.url(&format!("/api/v1/records/import?filename={kind}.csv")))
            .bearer_auth(&admin)
            .body(csv_of(kind, communities))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{kind}: {body}");
        assert_eq!(body["errors"], json!([]), "{kind}");
    }
    for c in communities {
        // A photo on the first activity of the year.
        let (status, list) = send(
            app,
            &admin,
            "GET",
            &format!("/api/v1/records?unit={}&kind=activities&year=2010", c.code),
            Value::Null,
        )
        .await;
        assert_eq!(status, 200);
        let id = list["items"][0]["id"].as_i64().unwrap();
        let response = app
            .client
            .post(app.url(&format!("/api/v1/records/{id}/files?filename=photo.png")))
            .bearer_auth(&admin)
            .body(PNG.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        for kind in &c.confirm {
            let (status, body) = send(
                app,
                &county,
                "POST",
                &format!("/api/v1/units/{}/surveys/2010/{kind}/confirm", c.code),
                json!({}),
            )
            .await;
            assert_eq!(status, 200, "{} {kind}: {body}", c.code);
        }
        if c.inspected {
            let items: BTreeMap<&str, bool> = CHECKLIST.iter().map(|i| (*i, true)).collect();
            let (status, body) = send(
                app,
                &inspector,
                "POST",
                &format!(
                    "/api/v1/units/{}/evaluations/2010/indicators/18/inspection",
                    c.code
                ),
                json!({"items": items}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let (status, body) = send(
        app,
        &inspector,
        "POST",
        "/api/v1/units/230102003002/evaluations/2010/indicators/23/override",
        json!({"status": "met", "reason": "第 100 项由街道统一提供，经现场核实"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (admin, county, inspector)
}

fn check(results: &[Value], expected: &[Expected]) {
    for e in expected {
        let r = results
            .iter()
            .find(|r| r["unit"] == e.code)
            .unwrap_or_else(|| panic!("{} not evaluated", e.code));
        let indicators = r["indicators"].as_array().unwrap();
        assert_eq!(indicators.len(), 25, "{}", e.code);
        for i in indicators {
            let n = i["number"].as_u64().unwrap();
            let listed: Vec<&(u64, &str, &str)> =
                e.indicators.iter().filter(|(x, _, _)| *x == n).collect();
            let status = i["status"].as_str().unwrap();
            let detail = i["detail"].as_str().unwrap();
            if listed.is_empty() {
                assert_eq!(status, "met", "{} #{n}: {detail}", e.code);
            }
            for (_, want, words) in listed {
                assert_eq!(status, *want, "{} #{n}: {detail}", e.code);
                assert!(
                    detail.contains(words),
                    "{} #{n}: «{detail}» lacks «{words}»",
                    e.code
                );
            }
        }
        assert_eq!(r["score"], e.score, "{}", e.code);
        assert_eq!(
            r["award_eligible"], e.eligible,
            "{}: {}",
            e.code, r["award_reason"]
        );
        assert_eq!(r["vetoed"], e.vetoed, "{}", e.code);
        assert_eq!(r["year"], 2010);
        assert_eq!(r["review_state"], "draft");
        assert_eq!(
            r["award"], false,
            "nothing is awarded before the final review"
        );
    }
}

fn shequ_evaluate(database_url: &str, unit: &str) -> Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args([
            "--database-url",
            database_url,
            "evaluate",
            "--unit",
            unit,
            "--year",
            "2010",
            "--json",
        ])
        .env("USER", "golden")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn the_golden_set_evaluates_as_computed_by_hand(app: TestApp) {
    let (communities, expected) = golden();
    assert!(communities.len() >= 12);
    let (admin, county, _) = build(&app, &communities).await;

    let (status, body) = send(
        &app,
        &county,
        "GET",
        "/api/v1/units/230102/evaluations/2010",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let results = body.as_array().unwrap().clone();
    check(&results, &expected);
    // The command line gives the same array.
    assert_eq!(shequ_evaluate(&app.database_url, "230102"), body);
    // One community alone, by its own code.
    let (_, one) = send(
        &app,
        &county,
        "GET",
        "/api/v1/units/230102003004/evaluations/2010",
        Value::Null,
    )
    .await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    check(one.as_array().unwrap(), &expected[11..12]);

    // Always current: registering the missing federation turns indicator 13 at once.
    let (status, body) = send(
        &app,
        &admin,
        "POST",
        "/api/v1/records",
        json!({"kind": "organisations", "fields": {"unit": "230102003004", "year": 2010, "org_type": "残协", "name": "社区残协"}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, one) = send(
        &app,
        &county,
        "GET",
        "/api/v1/units/230102003004/evaluations/2010",
        Value::Null,
    )
    .await;
    assert_eq!(one[0]["indicators"][12]["status"], "met");
    assert_eq!(one[0]["score"], 88);

    // Rankings: equal scores share a rank; nothing is awarded until the province finalises.
    let (status, ranking) = send(
        &app,
        &county,
        "GET",
        "/api/v1/units/230102/rankings/2010",
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let items = ranking["items"].as_array().unwrap();
    let top: Vec<&str> = items
        .iter()
        .filter(|r| r["rank"] == 1)
        .map(|r| r["unit"].as_str().unwrap())
        .collect();
    assert_eq!(
        top,
        [
            "230102001001",
            "230102001003",
            "230102002001",
            "230102003001"
        ]
    );
    assert_eq!(items[4]["rank"], 5);
    assert_eq!(items[4]["score"], 96);
    assert_eq!(ranking["awards"], json!([]));
    for step in ["submit", "approve", "approve", "approve", "approve"] {
        app.app
            .review_action(
                &Caller::operator(),
                "230102001001",
                2010,
                shequ_app::domain::evaluation::ReviewAction::parse(step).unwrap(),
                "",
            )
            .await
            .unwrap();
    }
    let (_, ranking) = send(
        &app,
        &county,
        "GET",
        "/api/v1/units/230102/rankings/2010",
        Value::Null,
    )
    .await;
    let awards: Vec<&str> = ranking["awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unit"].as_str().unwrap())
        .collect();
    assert_eq!(awards, ["230102001001"]);
    let response = app
        .client
        .get(app.url("/api/v1/units/230102/rankings/2010?format=xlsx"))
        .bearer_auth(&county)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().starts_with(b"PK"));

    // A province changes the rules without code: a new standard version whose award needs 90
    // points and whose indicator 8 needs 79.99%. G2's 79.996% now meets it.
    let standard = include_str!("../../../../data/standards/hlj-2010.toml").replacen(
        "id = \"hlj-2010\"",
        "id = \"hlj-2010-golden\"",
        1,
    ) + "\n[award]\nrule = \"score\"\nmin_score = 90\n\n[[rules]]\nindicator = 8\nweight = 4\n\
         parts = [{ check = \"survey\", survey = \"cadres\", threshold = \"79.99%\" }]\n";
    app.app
        .add_standard(&standard, &Caller::operator())
        .await
        .unwrap();
    let (_, body) = send(
        &app,
        &county,
        "GET",
        "/api/v1/units/230102/evaluations/2010",
        Value::Null,
    )
    .await;
    let of = |code: &str| {
        body.as_array()
            .unwrap()
            .iter()
            .find(|r| r["unit"] == code)
            .unwrap()
            .clone()
    };
    let g2 = of("230102001002");
    assert_eq!(
        g2["indicators"][7]["status"], "met",
        "{}",
        g2["indicators"][7]
    );
    assert_eq!(
        (g2["score"].as_u64(), g2["award_eligible"].as_bool()),
        (Some(96), Some(true))
    );
    // 92 points and nothing missing: eligible under the score rule.
    assert_eq!(of("230102003003")["award_eligible"], true);
    // A veto still makes the award impossible; missing data still blocks it.
    assert_eq!(of("230102002003")["award_eligible"], false);
    assert_eq!(of("230102002002")["award_eligible"], false);
    assert_eq!(of("230102003004")["award_eligible"], false);
}

#[tokio::test]
async fn the_golden_set_on_sqlite() {
    the_golden_set_evaluates_as_computed_by_hand(spawn_app().await).await;
}

#[tokio::test]
async fn the_golden_set_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    the_golden_set_evaluates_as_computed_by_hand(spawn_app_on(db).await).await;
}

/// Every kind of bad input to the evaluation routes gets a clear refusal and changes nothing.
#[tokio::test]
async fn bad_evaluation_input_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    create(&app, &operator, "inspector", "evaluator", "230102")
        .await
        .unwrap();
    let inspector = token(&app, "inspector").await;
    let all_true: BTreeMap<&str, bool> = CHECKLIST.iter().map(|i| (*i, true)).collect();
    let mut missing_one = all_true.clone();
    missing_one.remove("无宠物伤人");
    let mut unknown = all_true.clone();
    unknown.insert("无乱贴广告", true);
    let base = "/api/v1/units/230102001001/evaluations/2010/indicators";
    for (method, path, body, status, words) in [
        (
            "GET",
            "/api/v1/units/230102001001/evaluations/1999".to_string(),
            Value::Null,
            400,
            "1999",
        ),
        (
            "GET",
            "/api/v1/units/2301020010011/evaluations/2010".to_string(),
            Value::Null,
            400,
            "单位代码",
        ),
        (
            "GET",
            "/api/v1/units/239999/evaluations/2010".to_string(),
            Value::Null,
            404,
            "不存在",
        ),
        (
            "POST",
            format!("{base}/18/inspection"),
            json!({"items": missing_one}),
            400,
            "缺少：无宠物伤人",
        ),
        (
            "POST",
            format!("{base}/18/inspection"),
            json!({"items": unknown}),
            400,
            "未知的检查项目：无乱贴广告",
        ),
        (
            "POST",
            format!("{base}/14/inspection"),
            json!({"items": all_true}),
            400,
            "自动评估",
        ),
        (
            "POST",
            format!("{base}/26/override"),
            json!({"status": "met", "reason": "x"}),
            404,
            "26",
        ),
        (
            "POST",
            format!("{base}/5/override"),
            json!({"status": "missing", "reason": "x"}),
            400,
            "met",
        ),
        (
            "POST",
            format!("{base}/5/override"),
            json!({"status": "great", "reason": "x"}),
            400,
            "met",
        ),
        (
            "POST",
            format!("{base}/5/override"),
            json!({"status": "met", "reason": "  "}),
            400,
            "理由",
        ),
        (
            "DELETE",
            format!("{base}/5/override"),
            Value::Null,
            404,
            "没有人工认定",
        ),
        (
            "POST",
            "/api/v1/units/230102001/reviews/2010/submit".to_string(),
            json!({}),
            400,
            "不是社区",
        ),
        (
            "POST",
            "/api/v1/units/230102001001/reviews/2010/finish".to_string(),
            json!({}),
            404,
            "未知的审核操作",
        ),
        (
            "GET",
            "/api/v1/units/230102/rankings/2010?format=pdf".to_string(),
            Value::Null,
            400,
            "xlsx",
        ),
    ] {
        let (got, body) = send(&app, &inspector, method, &path, body).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(words),
            "{path}: «{message}» lacks «{words}»"
        );
    }
    // Nothing was entered by any of it.
    let (_, results) = send(
        &app,
        &inspector,
        "GET",
        "/api/v1/units/230102001001/evaluations/2010",
        Value::Null,
    )
    .await;
    assert_eq!(
        results[0]["indicators"][17]["status"],
        "awaiting_assessment"
    );
    assert_eq!(results[0]["indicators"][4]["overridden"], false);
}

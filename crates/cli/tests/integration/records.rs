//! Community records end to end: the JSON API with roles and locks on both backends, the pages,
//! and the command line's import and export with files the tests build themselves.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use shequ_app::Caller;
use shequ_store::testing::TestDatabase;

use crate::helpers::{
    TestApp, browser, create, csrf_of, login, send, session_cookie_of, spawn_app, spawn_app_on,
    token,
};

const A: &str = "230102001001";
const B: &str = "230102001002";

fn profile(unit: &str, year: &str) -> Value {
    json!({"kind": "profile", "fields": {
        "unit": unit, "year": year, "households": 1200, "population": "3600",
        "estate": "新老混合", "new_households": 700, "old_households": 500,
        "premises": "260.5", "greening": "31", "one_stop": true, "deliberation": "是",
        "indoor_venue": "有", "outdoor_venue": "否", "day_care": "是", "home_care": "是",
        "funding": "是", "brand": "邻里守望"
    }})
}

async fn users(app: &TestApp) -> (String, String, String, String) {
    let op = Caller::operator();
    create(app, &op, "worker_a", "community_worker", A)
        .await
        .unwrap();
    create(app, &op, "worker_b", "community_worker", B)
        .await
        .unwrap();
    create(app, &op, "officer_daoli", "officer", "230102")
        .await
        .unwrap();
    create(app, &op, "admin", "province_admin", "23")
        .await
        .unwrap();
    (
        token(app, "worker_a").await,
        token(app, "worker_b").await,
        token(app, "officer_daoli").await,
        token(app, "admin").await,
    )
}

async fn records_through_the_api(app: TestApp) {
    use reqwest::Method;
    let (a, b, officer, admin) = users(&app).await;

    // The profile and a resident group, then a service naming that group.
    let (status, body) = send(
        &app,
        Method::POST,
        &a,
        "/api/v1/records",
        Some(profile(A, "2010")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let profile_id = body["id"].as_i64().unwrap();
    let group = json!({"kind": "groups", "fields": {"unit": A, "year": 2010, "name": "一组", "households": 120}});
    assert_eq!(
        send(&app, Method::POST, &a, "/api/v1/records", Some(group))
            .await
            .0,
        201
    );
    let service = json!({"kind": "services", "fields": {
        "unit": A, "date": "2010-03-05", "item": 5, "people": 12, "mode": "上门服务",
        "provider": "志愿者", "group": "一组", "note": "为独居老人送餐"
    }});
    let (status, body) = send(
        &app,
        Method::POST,
        &a,
        "/api/v1/records",
        Some(service.clone()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let service_id = body["id"].as_i64().unwrap();

    // Refusals name the field in Chinese and write nothing.
    let mut bad = service.clone();
    bad["fields"]["group"] = json!("九组");
    let (status, body) = send(&app, Method::POST, &a, "/api/v1/records", Some(bad)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("九组"), "{body}");
    let mut bad = service.clone();
    bad["fields"]["item"] = json!(101);
    bad["fields"]["mode"] = json!("网上");
    let (status, body) = send(&app, Method::POST, &a, "/api/v1/records", Some(bad)).await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("服务方式"),
        "{body}"
    );
    let duplicate = send(
        &app,
        Method::POST,
        &a,
        "/api/v1/records",
        Some(profile(A, "2010")),
    )
    .await;
    assert_eq!(duplicate.0, 400, "{}", duplicate.1);

    // Another community's worker may neither write nor read A's records; an officer above
    // reads but does not write.
    let mut other = service.clone();
    other["fields"]["group"] = Value::Null;
    assert_eq!(
        send(
            &app,
            Method::POST,
            &b,
            "/api/v1/records",
            Some(other.clone())
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            &b,
            &format!("/api/v1/records/{service_id}"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        send(
            &app,
            Method::DELETE,
            &b,
            &format!("/api/v1/records/{service_id}"),
            None
        )
        .await
        .0,
        404
    );
    // Ids outside one's scope look absent (404 above), so they do not reveal whose they are;
    // asking for the community by code is refused.
    assert_eq!(
        send(
            &app,
            Method::GET,
            &b,
            &format!("/api/v1/records?unit={A}"),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(
            &app,
            Method::POST,
            &officer,
            "/api/v1/records",
            Some(other.clone())
        )
        .await
        .0,
        403
    );
    let (status, listed) = send(
        &app,
        Method::GET,
        &officer,
        &format!("/api/v1/records?unit={A}&year=2010&kind=services&month=3"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["fields"]["people"], "12");
    // Without a unit, a worker sees their own community only.
    let (_, own) = send(&app, Method::GET, &b, "/api/v1/records?kind=services", None).await;
    assert_eq!(own["total"], 0);

    // Update and the year at a glance.
    let mut changed = service.clone();
    changed["fields"]["people"] = json!(20);
    let (status, body) = send(
        &app,
        Method::PUT,
        &a,
        &format!("/api/v1/records/{service_id}"),
        Some(changed),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fields"]["people"], "20");
    let (status, year) = send(
        &app,
        Method::GET,
        &officer,
        &format!("/api/v1/units/{A}/years/2010"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(year["services_by_month"][2]["people"], 20);
    assert_eq!(year["counts"][0]["kind"], "services");
    assert_eq!(year["counts"][0]["records"], 1);

    // The lock: a submitted year refuses every write until it is returned.
    app.app
        .set_records_locked(&Caller::operator(), A, 2010, true)
        .await
        .unwrap();
    let (status, body) = send(
        &app,
        Method::POST,
        &a,
        "/api/v1/records",
        Some(service.clone()),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body["message"].as_str().unwrap().contains("锁定"), "{body}");
    assert_eq!(
        send(
            &app,
            Method::DELETE,
            &a,
            &format!("/api/v1/records/{service_id}"),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(
            &app,
            Method::DELETE,
            &admin,
            &format!("/api/v1/records/{profile_id}"),
            None
        )
        .await
        .0,
        403
    );
    app.app
        .set_records_locked(&Caller::operator(), A, 2010, false)
        .await
        .unwrap();
    assert_eq!(
        send(
            &app,
            Method::POST,
            &a,
            "/api/v1/records",
            Some(service.clone())
        )
        .await
        .0,
        201
    );

    // A new year starts from last year's profile, groups and organisations, to confirm.
    let (status, copied) = send(
        &app,
        Method::POST,
        &a,
        &format!("/api/v1/units/{A}/years/2011/start"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{copied}");
    assert_eq!(copied["copied"]["社区基本情况"], 1);
    assert_eq!(copied["copied"]["居民小组"], 1);
    let (_, year) = send(
        &app,
        Method::GET,
        &a,
        &format!("/api/v1/units/{A}/years/2011"),
        None,
    )
    .await;
    let profile_count = year["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "profile")
        .unwrap()
        .clone();
    assert_eq!(profile_count["unconfirmed"], 1);
    let (_, confirmed) = send(
        &app,
        Method::POST,
        &a,
        &format!("/api/v1/units/{A}/years/2011/confirm"),
        None,
    )
    .await;
    assert_eq!(confirmed["confirmed"], 2);

    // Evidence: checked to be what the name says; downloaded as an attachment.
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let upload = |bytes: Vec<u8>, name: &str, who: &str| {
        app.client
            .post(app.url(&format!(
                "/api/v1/records/{service_id}/files?filename={name}"
            )))
            .bearer_auth(who.to_string())
            .body(bytes)
            .send()
    };
    let response = upload(png.clone(), "photo.png", &a).await.unwrap();
    assert_eq!(response.status(), 201);
    let file_id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let response = upload(b"MZ not a picture".to_vec(), "photo.png", &a)
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("不符"));
    assert_eq!(
        upload(png.clone(), "x.png", &b).await.unwrap().status(),
        404
    );
    let download = app
        .client
        .get(app.url(&format!("/api/v1/files/{file_id}")))
        .bearer_auth(&officer)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(download.bytes().await.unwrap().to_vec(), png);
    assert_eq!(
        send(
            &app,
            Method::GET,
            &b,
            &format!("/api/v1/files/{file_id}"),
            None
        )
        .await
        .0,
        404
    );

    // Deleting takes the files with it; every write was audited in A's subtree.
    assert_eq!(
        send(
            &app,
            Method::DELETE,
            &a,
            &format!("/api/v1/records/{service_id}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            &a,
            &format!("/api/v1/files/{file_id}"),
            None
        )
        .await
        .0,
        404
    );
    let (_, audit) = send(
        &app,
        Method::GET,
        &admin,
        &format!("/api/v1/audit?unit={A}"),
        None,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "records.create",
        "records.update",
        "records.delete",
        "records.lock",
        "records.unlock",
        "records.start_year",
        "records.confirm",
        "records.file.add",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn records_through_the_api_on_sqlite() {
    records_through_the_api(spawn_app().await).await;
}

#[tokio::test]
async fn records_through_the_api_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    records_through_the_api(spawn_app_on(db).await).await;
}

const SERVICES: &str = "区划代码,日期,服务项目编号,服务人次,服务方式,提供方,备注\n";

async fn import_over_api(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/records/import?filename={name}")))
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn imports_are_all_or_nothing_and_idempotent(app: TestApp) {
    let (a, b, _, _) = users(&app).await;
    let rows = format!(
        "{SERVICES}{A},2010/3/5,5,12,上门服务,志愿者,送餐\n{A},2010/3/5,5,12,上门服务,志愿者,送餐\n{A},2010年4月1日,100,3,,,=当心\n"
    );
    let (status, report) = import_over_api(&app, &a, "s.csv", rows.clone().into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report,
        json!({"new": 3, "unchanged": 0, "changed": 0, "errors": []})
    );
    // The same rows again, and the same rows saved as GBK: nothing new.
    let (_, report) = import_over_api(&app, &a, "s.csv", rows.clone().into_bytes()).await;
    assert_eq!(
        report,
        json!({"new": 0, "unchanged": 3, "changed": 0, "errors": []})
    );
    let (gbk, _, _) = encoding_rs::GB18030.encode(&rows);
    let (_, report) = import_over_api(&app, &a, "gbk.csv", gbk.into_owned()).await;
    assert_eq!(report["unchanged"], 3);
    // A third copy of the twice-present row is one new record.
    let three = format!("{rows}{A},2010-03-05,5,12,上门服务,志愿者,送餐\n");
    let (_, report) = import_over_api(&app, &a, "s3.csv", three.into_bytes()).await;
    assert_eq!(
        report,
        json!({"new": 1, "unchanged": 3, "changed": 0, "errors": []})
    );

    // One bad row stops the whole file; every bad row is listed; nothing is written.
    let before = app
        .app
        .list_records(&Caller::operator(), &shequ_app::RecordQuery::default())
        .await
        .unwrap()
        .total;
    let bad = format!(
        "{SERVICES}{A},2010-05-01,5,1,,,好\n999999999999,2010-05-01,5,1,,,\n230102001201,2010-05-01,5,1,,,\n{B},2010-05-01,5,1,,,\n{A},2010-05-01,101,1,,,\n2.30102E+11,2010-05-01,5,1,,,\n{A},2010-02-30,5,1,,,\n"
    );
    let (status, report) = import_over_api(&app, &a, "bad.csv", bad.into_bytes()).await;
    assert_eq!(status, 422);
    let errors: Vec<(u64, &str, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap(),
                e["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (3, "区划代码", "999999999999"),
            (4, "区划代码", "230102001201"),
            (5, "区划代码", B),
            (6, "服务项目编号", "101"),
            (7, "区划代码", "2.30102E+11"),
            (8, "日期", "2010-02-30"),
        ],
        "{report}"
    );
    assert!(
        report["errors"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("无权")
    );
    assert_eq!(report["new"], 0);
    let after = app
        .app
        .list_records(&Caller::operator(), &shequ_app::RecordQuery::default())
        .await
        .unwrap()
        .total;
    assert_eq!(before, after);

    // Worker B may import for B only.
    let (status, _) = import_over_api(
        &app,
        &b,
        "b.csv",
        format!("{SERVICES}{B},2010-05-01,5,1,,,\n").into_bytes(),
    )
    .await;
    assert_eq!(status, 200);

    // 记录编号 makes a changed row "changed" rather than new.
    let with_ref = "区划代码,年度,户数,常住人口,小区类型,办公服务用房面积（平方米）,绿化覆盖率（%）,一站式服务站,议事场所,室内文体活动场所,室外文体活动场所,老年人日间照料室,居家养老服务设施,工作经费落实,记录编号\n";
    let profile = |households: u32| {
        format!("{with_ref}{A},2010,{households},3000,新建小区,200,30,是,是,是,是,是,是,是,P-1\n")
    };
    let (_, report) = import_over_api(&app, &a, "p.csv", profile(1000).into_bytes()).await;
    assert_eq!(report["new"], 1, "{report}");
    let (_, report) = import_over_api(&app, &a, "p.csv", profile(1100).into_bytes()).await;
    assert_eq!(
        report,
        json!({"new": 0, "unchanged": 0, "changed": 1, "errors": []})
    );

    // A locked year refuses an import too.
    app.app
        .set_records_locked(&Caller::operator(), A, 2010, true)
        .await
        .unwrap();
    let (status, report) = import_over_api(
        &app,
        &a,
        "s.csv",
        format!("{SERVICES}{A},2010-06-01,5,1,,,\n").into_bytes(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        report["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("锁定"),
        "{report}"
    );

    // Export then import is a round trip, in both formats.
    app.app
        .set_records_locked(&Caller::operator(), A, 2010, false)
        .await
        .unwrap();
    for format in ["csv", "xlsx"] {
        let response = app
            .client
            .get(app.url(&format!(
                "/api/v1/records/export?unit=230102&year=2010&kind=services&format={format}"
            )))
            .bearer_auth(&token(&app, "officer_daoli").await)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.bytes().await.unwrap().to_vec();
        if format == "csv" {
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                text.starts_with("\u{feff}区划代码,日期,服务项目编号"),
                "{text}"
            );
            assert!(text.contains(",'=当心,"), "{text}");
        }
        let (status, report) =
            import_over_api(&app, &a, &format!("e.{format}"), bytes.clone()).await;
        // A's worker may not import B's row, which the export of the street includes.
        assert_eq!(status, 422, "{report}");
        let admin = token(&app, "admin").await;
        let (status, report) = import_over_api(&app, &admin, &format!("e.{format}"), bytes).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(
            report,
            json!({"new": 0, "unchanged": 5, "changed": 0, "errors": []})
        );
    }
}

#[tokio::test]
async fn imports_are_all_or_nothing_and_idempotent_on_sqlite() {
    imports_are_all_or_nothing_and_idempotent(spawn_app().await).await;
}

#[tokio::test]
async fn imports_are_all_or_nothing_and_idempotent_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    imports_are_all_or_nothing_and_idempotent(spawn_app_on(db).await).await;
}

#[tokio::test]
async fn a_worker_keeps_records_in_the_browser() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "worker_a", "community_worker", A)
        .await
        .unwrap();
    let client = browser();
    let response = login(&app, "worker_a", crate::helpers::PASSWORD).await;
    let cookie = session_cookie_of(&response);
    let get = |path: String| {
        client
            .get(app.url(&path))
            .header("cookie", cookie.clone())
            .send()
    };

    let page = get(format!("/units/{A}/records/2010"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("省报社社区居委会 · 2010 年台账"), "{page}");
    let list = get(format!("/units/{A}/records/2010/services"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&list);
    // A bad value comes back with the reason and what was typed.
    let form = [
        ("csrf_token", csrf.as_str()),
        ("unit", A),
        ("date", "2010-03-05"),
        ("item", "5"),
        ("people", "0"),
        ("mode", ""),
        ("provider", ""),
        ("group", ""),
        ("note", "<b>送餐</b>"),
    ];
    let page = client
        .post(app.url(&format!("/units/{A}/records/2010/services")))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("服务人次：应为 1 至 10000000 之间的整数"),
        "{page}"
    );
    assert!(
        page.contains("&#60;b&#62;送餐"),
        "typed value kept, escaped"
    );
    let mut form = form;
    form[4].1 = "12";
    let page = client
        .post(app.url(&format!("/units/{A}/records/2010/services")))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已添加一条服务台账"), "{page}");
    assert!(!page.contains("<b>送餐</b>"));
    let marker = "<td><a href=\"/records/";
    let at = page.find(marker).unwrap() + marker.len();
    let id: i64 = page[at..].split('"').next().unwrap().parse().unwrap();

    // Deleting asks first, then deletes.
    let confirm = get(format!("/records/{id}/delete"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("确认删除"));
    let done = client
        .post(app.url(&format!("/records/{id}/delete")))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains(&format!("已删除记录 {id}")), "{done}");

    // The upload page lists every bad row and imports nothing.
    let file =
        reqwest::multipart::Part::bytes(format!("{SERVICES}{A},2010-13-01,5,1,,,\n").into_bytes())
            .file_name("bad.csv");
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", csrf.clone())
        .part("file", file);
    let page = client
        .post(app.url("/records/import"))
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("有 1 处错误，未导入任何数据"), "{page}");
    assert!(page.contains("2010-13-01"));
    // Templates download with Chinese headers.
    let template = get("/records/templates/services?format=csv".into())
        .await
        .unwrap();
    assert_eq!(template.status(), 200);
    let text = template.text().await.unwrap();
    assert!(
        text.contains("区划代码,日期,服务项目编号,服务人次,服务方式,提供方"),
        "{text}"
    );
    // Another community's year is not this worker's to see.
    assert_eq!(
        get(format!("/units/{B}/records/2010"))
            .await
            .unwrap()
            .status(),
        403
    );
}

fn shequ(data_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args(args)
        .env("SHEQU_DATA_DIR", data_dir)
        .env("USER", "recorder")
        .env_remove("SHEQU_DATABASE_URL")
        .output()
        .unwrap()
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn the_command_line_imports_and_exports_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An office's workbook: codes as numbers, a merged code cell, serial dates and date-times,
    // headers with spaces and full-width characters.
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (c, h) in [
        "区划代码 ",
        "日 期",
        "服务项目编号",
        "服务人次",
        "服务方式",
        "备注",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet
        .merge_range(1, 0, 2, 0, "", &rust_xlsxwriter::Format::new())
        .unwrap();
    sheet.write_number(1, 0, 230102001001.0).unwrap();
    sheet.write_number(1, 1, 40242.0).unwrap();
    let when = rust_xlsxwriter::ExcelDateTime::parse_from_str("2010-03-06 09:30:00").unwrap();
    sheet
        .write_datetime_with_format(
            2,
            1,
            &when,
            &rust_xlsxwriter::Format::new().set_num_format("yyyy/m/d h:mm"),
        )
        .unwrap();
    sheet.write_string(1, 2, "５").unwrap();
    sheet.write_number(2, 2, 6.0).unwrap();
    sheet.write_number(1, 3, 12.0).unwrap();
    sheet.write_number(2, 3, 3.0).unwrap();
    sheet.write_string(1, 4, "现场服务").unwrap();
    let xlsx = dir.path().join("office.xlsx");
    workbook.save(&xlsx).unwrap();

    let out = shequ(
        &data,
        &["import", "records", xlsx.to_str().unwrap(), "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report(&out),
        json!({"new": 2, "unchanged": 0, "changed": 0, "errors": []})
    );
    let again = shequ(
        &data,
        &["import", "records", xlsx.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        report(&again),
        json!({"new": 0, "unchanged": 2, "changed": 0, "errors": []})
    );

    // A lossy code is refused with a hint, and the exit code says so.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, format!("{SERVICES}2.30102E+11,2010-03-05,5,1,,,\n")).unwrap();
    let out = shequ(
        &data,
        &["import", "records", bad.to_str().unwrap(), "--json"],
    );
    assert!(!out.status.success());
    let r = report(&out);
    assert_eq!(r["errors"][0]["row"], 2);
    assert_eq!(r["errors"][0]["column"], "区划代码");
    assert_eq!(r["errors"][0]["value"], "2.30102E+11");
    assert!(
        r["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("文本格式")
    );

    // Export to a file and to standard output; each imports back unchanged.
    let exported = dir.path().join("out.xlsx");
    let out = shequ(
        &data,
        &[
            "export",
            "records",
            "--unit",
            A,
            "--year",
            "2010",
            "--kind",
            "services",
            "--format",
            "xlsx",
            "--out",
            exported.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = shequ(
        &data,
        &["import", "records", exported.to_str().unwrap(), "--json"],
    );
    assert_eq!(
        report(&back),
        json!({"new": 0, "unchanged": 2, "changed": 0, "errors": []})
    );
    let out = shequ(
        &data,
        &[
            "export", "records", "--unit", "23", "--year", "2010", "--kind", "services",
            "--format", "csv",
        ],
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("\u{feff}区划代码"));
    assert!(text.contains("230102001001,2010-03-06,6,3,,,,,"), "{text}");
    let csv = dir.path().join("out.csv");
    std::fs::write(&csv, &out.stdout).unwrap();
    let back = shequ(
        &data,
        &["import", "records", csv.to_str().unwrap(), "--json"],
    );
    assert_eq!(report(&back)["unchanged"], 2);
    // A bad kind is refused by name.
    let out = shequ(
        &data,
        &[
            "export", "records", "--unit", A, "--year", "2010", "--kind", "people", "--format",
            "csv",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("services"));

    // The writes are audited as the command line's user.
    let app = shequ_app::App::open(&format!(
        "sqlite://{}?mode=rwc",
        data.join("shequ.db").display()
    ))
    .await
    .unwrap();
    let log = app
        .audit_log(&Caller::operator(), Some(A), None)
        .await
        .unwrap();
    let import = log
        .items
        .iter()
        .find(|e| e.entry.action == "records.import")
        .unwrap();
    assert_eq!(import.entry.actor, "cli:recorder");
    assert!(
        import.entry.summary.contains("新增 2 条"),
        "{}",
        import.entry.summary
    );
}

#[tokio::test]
async fn a_resident_group_in_use_keeps_its_name() {
    use reqwest::Method;
    let app = spawn_app().await;
    let (a, _, _, _) = users(&app).await;
    let group = json!({"kind": "groups", "fields": {"unit": A, "year": 2010, "name": "一组", "households": 120}});
    let (_, created) = send(
        &app,
        Method::POST,
        &a,
        "/api/v1/records",
        Some(group.clone()),
    )
    .await;
    let group_id = created["id"].as_i64().unwrap();
    // Unused, it may be renamed.
    let mut renamed = group.clone();
    renamed["fields"]["name"] = json!("第一组");
    let path = format!("/api/v1/records/{group_id}");
    assert_eq!(
        send(&app, Method::PUT, &a, &path, Some(renamed.clone()))
            .await
            .0,
        200
    );
    let service = json!({"kind": "services", "fields": {"unit": A, "date": "2010-03-05", "item": 5, "people": 1, "group": "第一组"}});
    assert_eq!(
        send(&app, Method::POST, &a, "/api/v1/records", Some(service))
            .await
            .0,
        201
    );
    // Used, it may neither be renamed nor deleted; a change of households is fine.
    let (status, body) = send(&app, Method::PUT, &a, &path, Some(group.clone())).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("1 条服务或活动记录"),
        "{body}"
    );
    assert_eq!(send(&app, Method::DELETE, &a, &path, None).await.0, 400);
    renamed["fields"]["households"] = json!(130);
    assert_eq!(
        send(&app, Method::PUT, &a, &path, Some(renamed)).await.0,
        200
    );
    // Unknown keys in a body are refused rather than dropped.
    let (status, _) = send(
        &app,
        Method::POST,
        &a,
        "/api/v1/records",
        Some(json!({"kind": "groups", "record_ref": "x", "fields": {}})),
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn concurrent_year_starts_copy_once() {
    use reqwest::Method;
    let app = spawn_app().await;
    let (a, _, _, _) = users(&app).await;
    for body in [
        profile(A, "2010"),
        json!({"kind": "organisations", "fields": {"unit": A, "year": 2010, "org_type": "业主委员会", "name": "某小区业委会"}}),
    ] {
        assert_eq!(
            send(&app, Method::POST, &a, "/api/v1/records", Some(body))
                .await
                .0,
            201
        );
    }
    let path = format!("/api/v1/units/{A}/years/2011/start");
    let start = || send(&app, Method::POST, &a, &path, None);
    let results = tokio::join!(start(), start(), start(), start(), start());
    for (status, body) in [results.0, results.1, results.2, results.3, results.4] {
        assert_eq!(status, 200, "{body}");
    }
    let (_, listed) = send(
        &app,
        Method::GET,
        &a,
        &format!("/api/v1/records?unit={A}&year=2011&kind=organisations"),
        None,
    )
    .await;
    assert_eq!(listed["total"], 1);
}

//! Democratic evaluations end to end: codes that count once under concurrency on both
//! backends, secret ballots, the print sheet's QR codes, the phone page and paper tallies.

use serde_json::{Value, json};
use shequ_app::Caller;
use shequ_store::testing::TestDatabase;

use crate::helpers::{
    TestApp, browser, create, csrf_of, decode_sheet, login, session_cookie_of, spawn_app,
    spawn_app_on, token,
};

const A: &str = "230102001001";

async fn post_json(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn issue(app: &TestApp, worker: &str, count: usize) -> Vec<String> {
    let (status, body) = post_json(
        app,
        worker,
        &format!("/api/v1/units/{A}/surveys/2010/services/codes"),
        json!({"count": count}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

async fn vote(app: &TestApp, code: &str, answer: &str) -> String {
    app.client
        .post(app.url(&format!("/v/{code}")))
        .form(&[("q0", answer)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn one_code_counts_once(app: TestApp) {
    create(&app, &Caller::operator(), "worker_a", "community_worker", A)
        .await
        .unwrap();
    let worker = token(&app, "worker_a").await;
    let (status, body) = post_json(
        &app,
        &worker,
        &format!("/api/v1/units/{A}/surveys/2010/services/open"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes = issue(&app, &worker, 3).await;
    assert!(codes.iter().all(|c| c.len() == 14));

    // 50 simultaneous submissions of one code: exactly one ballot.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url(&format!("/v/{}", codes[0]));
        tasks.push(tokio::spawn(async move {
            let answer = (i % 3).to_string();
            let r = client
                .post(url)
                .form(&[("q0", answer)])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, page) = t.await.unwrap();
        assert_eq!(status, 200);
        if page.contains("投票成功") {
            accepted += 1;
        } else {
            assert!(page.contains("已经投过票"), "{page}");
        }
    }
    assert_eq!(accepted, 1);
    // A refreshed page shows the code as used and no form.
    let page = app.get_page(&format!("/v/{}", codes[0])).await.1;
    assert!(page.contains("已经投过票"));
    assert!(!page.contains("type=\"radio\""));
    // A voided code no longer votes; a wrong code is refused.
    let (status, body) = post_json(
        &app,
        &worker,
        &format!("/api/v1/units/{A}/surveys/2010/services/void"),
        json!({"codes": [codes[1].to_lowercase()]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(vote(&app, &codes[1], "0").await.contains("已作废"));
    let (status, _) = app.get_page("/v/ABCDEFGHJKMNPQ").await;
    assert_eq!(status, 404);
    // While the survey runs its counts stay hidden (watching them move would reveal a vote);
    // once closed, the one ballot counts.
    let services = |app: &TestApp| {
        let worker = worker.clone();
        let url = app.url(&format!("/api/v1/units/{A}/surveys/2010"));
        let client = app.client.clone();
        async move {
            let results: Value = client
                .get(url)
                .bearer_auth(worker)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            results["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["kind"] == "services")
                .unwrap()
                .clone()
        }
    };
    assert_eq!(services(&app).await["ballots"], 0);
    let (status, _) = post_json(
        &app,
        &worker,
        &format!("/api/v1/units/{A}/surveys/2010/services/close"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let closed = services(&app).await;
    assert_eq!(closed["ballots"], 1);
    assert_eq!(closed["threshold"], 80);
    assert!(vote(&app, &codes[2], "0").await.contains("测评已结束"));
}

#[tokio::test]
async fn one_code_counts_once_on_sqlite() {
    one_code_counts_once(spawn_app().await).await;
}

#[tokio::test]
async fn one_code_counts_once_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    one_code_counts_once(spawn_app_on(db).await).await;
}

#[tokio::test]
async fn the_phone_page_the_print_sheet_and_guess_limits() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "worker_a", "community_worker", A)
        .await
        .unwrap();
    let client = browser();
    let cookie = session_cookie_of(&login(&app, "worker_a", crate::helpers::PASSWORD).await);
    let page = client
        .get(app.url(&format!("/units/{A}/surveys/2010")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("民主测评"), "{page}");
    let csrf = csrf_of(&page);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        client
            .post(app.url(&path))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let opened = post(
        format!("/units/{A}/surveys/2010/cadres/open"),
        vec![
            ("csrf_token", csrf.clone()),
            ("from", String::new()),
            ("to", String::new()),
        ],
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(opened.contains("已开启干部民主评议"), "{opened}");
    let sheet = post(
        format!("/units/{A}/surveys/2010/cadres/codes"),
        vec![("csrf_token", csrf.clone()), ("count", "4".into())],
    )
    .await
    .unwrap();
    assert_eq!(sheet.status(), 200);
    let sheet = sheet.text().await.unwrap();
    // Every QR code on the sheet decodes to the voting address of the code printed beneath it.
    let urls = decode_sheet(&sheet);
    assert_eq!(urls.len(), 4);
    for url in &urls {
        let code = url.strip_prefix("http://127.0.0.1:8080/v/").unwrap();
        let shown = shequ_app::domain::surveys::display_code(code);
        assert!(sheet.contains(&shown), "{shown} printed");
    }
    // The voting page: no sign-in, a phone-width layout, one radio group per question.
    let path = urls[0].strip_prefix("http://127.0.0.1:8080").unwrap();
    let (status, page) = app.get_page(path).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert!(page.contains(r#"<body class="vote">"#));
    assert_eq!(page.matches(r#"type="radio" name="q0""#).count(), 3);
    assert!(!page.contains("<script"));
    let css = app.get_page("/static/style.css").await.1;
    assert!(css.contains("body.vote main { max-width: 32rem"));
    // The sheet names the community and where to type a code by hand.
    assert!(sheet.contains("干部民主评议 测评码"), "{sheet}");
    assert!(sheet.contains("http://127.0.0.1:8080/v "), "{sheet}");
    let (status, entry) = app.get_page("/v").await;
    assert_eq!(status, 200);
    assert!(entry.contains(r#"<form method="post" action="/v">"#));
    let code = urls[0].rsplit('/').next().unwrap();
    let typed = shequ_app::domain::surveys::display_code(code).to_lowercase();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(app.url("/v"))
        .form(&[("code", typed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("/v/{code}"));
    // A tampered form counts nothing and leaves the code usable.
    for form in [
        vec![("q0", "0"), ("q0", "2")],
        vec![("q0", "9")],
        vec![("q0", "满意")],
    ] {
        let response = app
            .client
            .post(app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{form:?}");
    }
    assert!(vote(&app, code, "2").await.contains("投票成功"));
    // Guessing codes is limited per client address.
    let mut last = 0;
    for i in 0..25 {
        last = app
            .get_page(&format!("/v/ABCDEFGHJKMN{:02}", i % 10 + 20))
            .await
            .0;
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn paper_tallies_count_after_a_second_person_confirms() {
    let app = spawn_app().await;
    let op = Caller::operator();
    create(&app, &op, "worker_a", "community_worker", A)
        .await
        .unwrap();
    create(&app, &op, "street", "officer", "230102001")
        .await
        .unwrap();
    let worker = token(&app, "worker_a").await;
    let street = token(&app, "street").await;
    let tally = json!({"kind": "tallies", "fields": {
        "unit": A, "year": 2010, "survey": "治安满意度测评", "very": 90, "fairly": 4, "not": 6
    }});
    let (status, body) = post_json(&app, &worker, "/api/v1/records", tally).await;
    assert_eq!(status, 201, "{body}");
    let results = |who: String| {
        let app = &app;
        async move {
            let r: Value = app
                .client
                .get(app.url("/api/v1/units/230102001/surveys/2010"))
                .bearer_auth(who)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["kind"] == "security")
                .unwrap()
                .clone()
        }
    };
    // Entered, not yet counted.
    assert_eq!(results(street.clone()).await["ballots"], 0);
    assert_eq!(results(street.clone()).await["met"], Value::Null);
    // The one who entered it cannot confirm it.
    let confirm = format!("/api/v1/units/{A}/surveys/2010/security/confirm");
    let (status, body) = post_json(&app, &worker, &confirm, json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_json(&app, &street, &confirm, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let security = results(street.clone()).await;
    assert_eq!(security["ballots"], 100);
    assert_eq!(security["satisfied"], 94);
    assert_eq!(security["rate"], 94.0);
    assert_eq!(security["threshold"], 95);
    assert_eq!(security["met"], false);
    // Changing the tally makes it wait for confirmation again.
    let listed: Value = app
        .client
        .get(app.url(&format!("/api/v1/records?unit={A}&kind=tallies")))
        .bearer_auth(&worker)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = listed["items"][0]["id"].as_i64().unwrap();
    let response = app
        .client
        .put(app.url(&format!("/api/v1/records/{id}")))
        .bearer_auth(&worker)
        .json(&json!({"fields": {"unit": A, "year": 2010, "survey": "治安满意度测评", "very": 96, "fairly": 0, "not": 4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(results(street.clone()).await["ballots"], 0);
    // A confirmer who saw the old counts confirms nothing: the tally changed under them.
    let (status, body) = post_json(
        &app,
        &street,
        &confirm,
        json!({"expected": {"very": 90, "fairly": 4, "not": 6}}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("满意 96、基本满意 0、不满意 4"),
        "{body}"
    );
    assert_eq!(results(street.clone()).await["ballots"], 0);
    let (status, body) = post_json(
        &app,
        &street,
        &confirm,
        json!({"expected": {"very": 96, "fairly": 0, "not": 4}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(results(street.clone()).await["satisfied"], 96);
    // Counted ballots are not deleted without a second person.
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/records/{id}")))
        .bearer_auth(&worker)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Once the survey is closed its tally is final: no edit, no import.
    let security = format!("/api/v1/units/{A}/surveys/2010/security");
    assert_eq!(
        post_json(&app, &worker, &format!("{security}/open"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        post_json(&app, &worker, &format!("{security}/close"), json!({}))
            .await
            .0,
        200
    );
    let response = app
        .client
        .put(app.url(&format!("/api/v1/records/{id}")))
        .bearer_auth(&worker)
        .json(&json!({"fields": {"unit": A, "year": 2010, "survey": "治安满意度测评", "very": 100, "fairly": 0, "not": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("已经结束"),
        "{body}"
    );
    let late = app
        .app
        .import_records(
            &op,
            &shequ_app::SourceFile {
                name: "late.csv".into(),
                bytes: format!(
                    "区划代码,年度,测评类型,满意,基本满意,不满意\n{A},2010,治安满意度测评,1,0,0\n"
                )
                .into_bytes(),
            },
        )
        .await;
    let late = late.unwrap();
    assert_eq!((late.new, late.changed, late.errors.len()), (0, 0, 1));
    assert!(late.errors[0].reason.contains("已经结束"), "{late:?}");
    assert_eq!(results(street.clone()).await["satisfied"], 96);
    // Imported tallies are entries too: the operator's import waits for a second person.
    let file = std::env::temp_dir().join(format!("tallies-{}.csv", std::process::id()));
    std::fs::write(
        &file,
        format!("区划代码,年度,测评类型,满意,基本满意,不满意\n{A},2010,干部民主评议,8,1,1\n"),
    )
    .unwrap();
    let report = app
        .app
        .import_records(
            &op,
            &shequ_app::SourceFile {
                name: "tallies.csv".into(),
                bytes: std::fs::read(&file).unwrap(),
            },
        )
        .await
        .unwrap();
    assert_eq!(report.new, 1, "{report:?}");
    let cadres = app.app.survey_results(&op, A, 2010).await.unwrap();
    assert_eq!(cadres[0].tally.ballots, 0);
    assert!(
        app.app
            .confirm_tally(
                &op,
                A,
                2010,
                shequ_app::domain::surveys::SurveyKind::Cadres,
                None
            )
            .await
            .is_err()
    );
    // A survey with a tally waiting for its second person cannot be closed yet.
    let cadres_survey = format!("/api/v1/units/{A}/surveys/2010/cadres");
    assert_eq!(
        post_json(&app, &worker, &format!("{cadres_survey}/open"), json!({}))
            .await
            .0,
        200
    );
    let (status, body) =
        post_json(&app, &worker, &format!("{cadres_survey}/close"), json!({})).await;
    assert_eq!(status, 400, "{body}");
    let cadres_confirm = format!("/api/v1/units/{A}/surveys/2010/cadres/confirm");
    assert_eq!(
        post_json(&app, &worker, &cadres_confirm, json!({})).await.0,
        200
    );
    let cadres = app.app.survey_results(&op, A, 2010).await.unwrap();
    assert_eq!((cadres[0].tally.ballots, cadres[0].met), (10, Some(true)));
    // Every step is in the audit log.
    let log = app.app.audit_log(&op, Some(A), None).await.unwrap();
    let actions: Vec<&str> = log.items.iter().map(|e| e.entry.action.as_str()).collect();
    for action in [
        "records.create",
        "records.update",
        "records.import",
        "survey.tally.confirm",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let _ = std::fs::remove_file(file);
}

fn shequ(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args(args)
        .env("SHEQU_DATA_DIR", data_dir)
        .env("SHEQU_PUBLIC_URL", "https://vote.example.cn/")
        .env_remove("SHEQU_DATABASE_URL")
        .output()
        .unwrap()
}

#[test]
fn the_command_line_runs_a_survey() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let target = ["--unit", A, "--year", "2010", "--kind", "security"];
    let with = |command: &[&str], extra: &[&str]| {
        let mut args: Vec<&str> = command.to_vec();
        args.extend_from_slice(&target);
        args.extend_from_slice(extra);
        shequ(&data, &args)
    };
    let out = with(
        &["survey", "open"],
        &["--from", "2000-01-01", "--to", "2100-12-31"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = with(&["survey", "open"], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已经开启"));
    let sheet = dir.path().join("sheet.html");
    let out = with(
        &["survey", "codes"],
        &["--count", "3", "--sheet", sheet.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 3);
    let urls = decode_sheet(&std::fs::read_to_string(&sheet).unwrap());
    let expected: Vec<String> = codes
        .iter()
        .map(|c| format!("https://vote.example.cn/v/{c}"))
        .collect();
    assert_eq!(urls, expected);
    // A sheet file that exists is not overwritten, and no codes are issued for it.
    let out = with(
        &["survey", "codes"],
        &["--count", "3", "--sheet", sheet.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let out = with(&["survey", "void"], &[codes[0].as_str()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("已作废 1 个"));
    let out = with(&["survey", "close"], &[]);
    assert!(out.status.success());
    let out = shequ(&data, &["survey", "results", "--unit", A, "--year", "2010"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("治安满意度测评\t0\t0\t不适用\t95%\t不适用"),
        "{text}"
    );
    let bad = shequ(
        &data,
        &[
            "survey",
            "open",
            "--unit",
            A,
            "--year",
            "2010",
            "--kind",
            "happiness",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cadres"));
}

#[tokio::test]
async fn a_survey_outside_its_dates_takes_no_ballots() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "worker_a", "community_worker", A)
        .await
        .unwrap();
    let worker = token(&app, "worker_a").await;
    let base = format!("/api/v1/units/{A}/surveys/2010/services");
    // A survey whose last day has passed would open only to take no votes.
    let (status, body) = post_json(
        &app,
        &worker,
        &format!("{base}/open"),
        json!({"to": "2000-12-31"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("已经过去"));
    let (status, _) = post_json(
        &app,
        &worker,
        &format!("{base}/open"),
        json!({"from": "2100-01-01"}),
    )
    .await;
    assert_eq!(status, 200);
    let codes = issue(&app, &worker, 1).await;
    assert!(vote(&app, &codes[0], "0").await.contains("尚未开始"));
    let (status, body) = post_json(
        &app,
        &worker,
        &format!("{base}/dates"),
        json!({"from": "2000-01-01", "to": "2000-12-31"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(vote(&app, &codes[0], "0").await.contains("测评已结束"));
    let (status, body) = post_json(
        &app,
        &worker,
        &format!("{base}/dates"),
        json!({"from": "2000-01-01", "to": "1999-01-01"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = post_json(&app, &worker, &format!("{base}/dates"), json!({})).await;
    assert_eq!(status, 200);
    assert!(vote(&app, &codes[0], "0").await.contains("投票成功"));
    let (status, _) = post_json(&app, &worker, &format!("{base}/close"), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) =
        post_json(&app, &worker, &format!("{base}/codes"), json!({"count": 1})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn the_survey_page_confirms_the_counts_it_shows() {
    let app = spawn_app().await;
    let op = Caller::operator();
    create(&app, &op, "worker_a", "community_worker", A)
        .await
        .unwrap();
    create(&app, &op, "street", "officer", "230102001")
        .await
        .unwrap();
    let worker = token(&app, "worker_a").await;
    let tally = json!({"kind": "tallies", "fields": {
        "unit": A, "year": 2010, "survey": "社区服务评议", "very": 70, "fairly": 20, "not": 10
    }});
    assert_eq!(
        post_json(&app, &worker, "/api/v1/records", tally).await.0,
        201
    );
    let client = browser();
    let cookie = session_cookie_of(&login(&app, "street", crate::helpers::PASSWORD).await);
    let page = client
        .get(app.url(&format!("/units/{A}/surveys/2010")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("满意 70、基本满意 20、不满意 10"), "{page}");
    assert!(page.contains(r#"<input type="hidden" name="fairly" value="20">"#));
    let csrf = csrf_of(&page);
    let confirm = |counts: [&'static str; 3]| {
        let form = vec![
            ("csrf_token", csrf.clone()),
            ("very", counts[0].to_string()),
            ("fairly", counts[1].to_string()),
            ("not", counts[2].to_string()),
        ];
        client
            .post(app.url(&format!("/units/{A}/surveys/2010/services/confirm")))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    let stale = confirm(["70", "20", "9"])
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stale.contains("请核对后重新确认"), "{stale}");
    assert_eq!(
        app.app.survey_results(&op, A, 2010).await.unwrap()[2]
            .tally
            .ballots,
        0
    );
    let done = confirm(["70", "20", "10"])
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        done.contains("已确认纸质计票：100 票，满意 90 票"),
        "{done}"
    );
    let services = &app.app.survey_results(&op, A, 2010).await.unwrap()[2];
    assert_eq!(
        (services.kind, services.tally.satisfied),
        (shequ_app::domain::surveys::SurveyKind::Services, 90)
    );
}

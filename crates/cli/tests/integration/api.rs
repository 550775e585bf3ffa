use serde_json::Value;
use shequ_store::testing::TestDatabase;

use crate::helpers::{TestApp, spawn_app, spawn_app_on, spawn_uninitialised};

#[tokio::test]
async fn healthz_is_503_until_the_first_start_data_is_loaded() {
    let app = spawn_uninitialised(TestDatabase::sqlite()).await;
    assert_eq!(app.get("/healthz").await.status(), 503);
    // Data routes wait too, with a JSON error.
    let (status, body) = app.get_json("/api/v1/units/23").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "not_ready");
    // The OpenAPI document is available at once.
    assert_eq!(app.get("/api/openapi.json").await.status(), 200);
    app.app
        .initialise_if_empty(
            &shequ_app::Bundled::HEILONGJIANG,
            &shequ_app::Caller::operator(),
        )
        .await
        .unwrap();
    app.state.set_ready();
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

async fn the_current_standard_is_the_2010_one(app: &TestApp) {
    let (status, body) = app.get_json("/api/v1/standards/current").await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], "hlj-2010");
    let categories = body["categories"].as_array().unwrap();
    assert_eq!(categories.len(), 16);
    let declared: Vec<u64> = categories
        .iter()
        .map(|c| c["declared_count"].as_u64().unwrap())
        .collect();
    assert_eq!(
        declared,
        [3, 3, 6, 10, 10, 10, 9, 4, 4, 7, 9, 6, 5, 6, 6, 2]
    );
    let items: Vec<&Value> = categories
        .iter()
        .flat_map(|c| c["items"].as_array().unwrap())
        .collect();
    assert_eq!(items.len(), 100);
    assert_eq!(items[13]["number"], 14);
    assert_eq!(items[13]["text"], "社区为“两劳”释放人员帮教服务");
    assert_eq!(categories[0]["name"], "党建服务");
    let indicators = body["indicators"].as_array().unwrap();
    assert_eq!(indicators.len(), 25);
    assert_eq!(indicators[7]["number"], 8);
    assert_eq!(indicators[7]["group"], "群众满意");
    assert_eq!(indicators[7]["distinctive"], true);
    assert_eq!(indicators[10]["distinctive"], false);
    assert!(indicators[24]["text"].as_str().unwrap().contains("高于80%"));
}

async fn heilongjiang_counts_come_from_the_codes(app: &TestApp) {
    let (status, body) = app.get_json("/api/v1/units/23").await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "黑龙江省");
    assert_eq!(body["level"], "province");
    assert_eq!(body["parent"], Value::Null);
    let counts = &body["counts"];
    assert_eq!(counts["prefecture"], 13);
    assert_eq!(counts["county"], 126);
    assert_eq!(counts["township"], 1703);
    assert_eq!(counts["committee"], 13877);
    // Communities are 001-199 and 400-599 by code, whatever the name says.
    assert_eq!(counts["community"], 4852);
    assert_eq!(counts["village"], 13877 - 4852);

    let (_, unit) = app.get_json("/api/v1/units/230102001001").await;
    assert_eq!(unit["kind"], "residents_committee");
    assert_eq!(unit["community"], true);
    assert_eq!(unit["level"], "committee");
    assert_eq!(unit["parent"], "230102001");
    let path: Vec<&str> = unit["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        [
            "黑龙江省",
            "哈尔滨市",
            "道里区",
            "兆麟街道",
            "省报社社区居委会"
        ]
    );
}

#[tokio::test]
async fn standard_and_tree_on_sqlite() {
    let app = spawn_app().await;
    the_current_standard_is_the_2010_one(&app).await;
    heilongjiang_counts_come_from_the_codes(&app).await;
}

#[tokio::test]
async fn standard_and_tree_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let app = spawn_app_on(db).await;
    the_current_standard_is_the_2010_one(&app).await;
    heilongjiang_counts_come_from_the_codes(&app).await;
    let (status, body) = app.get_json("/api/v1/units?q=道里").await;
    assert_eq!(status, 200);
    assert!(!body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn children_add_up_to_their_parent() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/units/23/children").await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 13);
    assert_eq!(items[0]["code"], "2301");
    assert_eq!(items[0]["path"][0]["code"], "23");
    let committees: i64 = items
        .iter()
        .map(|i| i["counts"]["committee"].as_i64().unwrap())
        .sum();
    let communities: i64 = items
        .iter()
        .map(|i| i["counts"]["community"].as_i64().unwrap())
        .sum();
    assert_eq!((committees, communities), (13877, 4852));

    let (_, street) = app.get_json("/api/v1/units/230102001/children").await;
    let kinds: Vec<&str> = street["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.iter().all(|k| *k == "residents_committee"),
        "{kinds:?}"
    );
    // A committee has no children: an empty list, not an error.
    let (status, leaf) = app.get_json("/api/v1/units/230102001001/children").await;
    assert_eq!(status, 200);
    assert_eq!(leaf["items"], serde_json::json!([]));
}

#[tokio::test]
async fn search_lists_every_match_with_its_path() {
    let app = spawn_app().await;
    // 新华街道 exists in four places in Heilongjiang.
    let (status, body) = app.get_json("/api/v1/units?q=新华街道").await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let parents: std::collections::HashSet<&str> = items
        .iter()
        .map(|i| i["path"][2]["name"].as_str().unwrap())
        .collect();
    assert_eq!(parents.len(), 4, "each match shows where it is");
    // Code prefix, with full-width digits.
    let (_, body) = app.get_json("/api/v1/units?q=２３０１０２００１").await;
    let codes: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes[0], "230102001");
    assert!(codes.iter().all(|c| c.starts_with("230102001")));
    // 50 a page; the cursor walks every match once.
    let (_, body) = app.get_json("/api/v1/units?q=胜利").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
    assert_eq!(body["next"], "50");
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get_json(&format!("/api/v1/units?q=胜利&cursor={cursor}"))
            .await;
        assert_eq!(status, 200);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["code"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    // Every unit of any level whose name contains 胜利, from the bundled files.
    let expected: usize = ["provinces", "cities", "areas", "streets", "villages"]
        .iter()
        .map(|stem| {
            std::fs::read_to_string(crate::helpers::repo_path(&format!(
                "data/divisions/23/{stem}.csv"
            )))
            .unwrap()
            .lines()
            .skip(1)
            .filter(|line| line.split(',').nth(1).unwrap().contains("胜利"))
            .count()
        })
        .sum();
    assert!(expected > 50);
    assert_eq!(seen.len(), expected);
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), expected);
    let (status, body) = app.get_json("/api/v1/units?q=23&cursor=abc").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_request");
    let (_, body) = app.get_json("/api/v1/units?q=2301&cursor=50").await;
    assert_eq!(body["items"][0]["code"].as_str().unwrap().len(), 12);
    // Wildcards match literally.
    let (_, body) = app.get_json("/api/v1/units?q=%25").await;
    assert_eq!(body["items"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let app = spawn_app().await;
    for (path, status, error) in [
        ("/api/v1/units/99", 404, "not_found"),
        ("/api/v1/units/230102001999", 404, "not_found"),
        ("/api/v1/units/abc", 400, "bad_request"),
        ("/api/v1/units/123", 400, "bad_request"),
        ("/api/v1/units/99/children", 404, "not_found"),
        ("/api/v1/units/x/children", 400, "bad_request"),
        ("/api/v1/units", 400, "bad_request"),
        ("/api/v1/units?q=", 400, "bad_request"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(body["error"], error, "{path}");
        assert!(!body["message"].as_str().unwrap().is_empty(), "{path}");
    }
    let long = "长".repeat(60);
    let (status, _) = app.get_json(&format!("/api/v1/units?q={long}")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_openapi_document_names_every_route() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/healthz",
        "/api/v1/standards/current",
        "/api/v1/units",
        "/api/v1/units/{code}",
        "/api/v1/units/{code}/children",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    let q = &doc["paths"]["/api/v1/units"]["get"]["parameters"][0];
    assert_eq!(
        (q["name"].as_str(), q["in"].as_str()),
        (Some("q"), Some("query"))
    );
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/api/v1/units/23", "/units/nope"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.contains_key("referrer-policy"));
    }
}

#[tokio::test]
async fn refusals_before_any_handler_are_json_too() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/units?q=a&q=b",
        "/api/v1/units/%FF",
        "/api/v1/units/%FF/children",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"], "bad_request", "{path}");
    }
    let response = app
        .client
        .post(app.url("/api/v1/units/23"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    // Pages answer with a page.
    let (status, html) = app.get_page("/units?q=a&q=b").await;
    assert_eq!(status, 400);
    assert!(html.contains("请求地址或参数无法识别"));
    // A huge code is not echoed back whole.
    let long = "9".repeat(10_000);
    let (status, body) = app.get_json(&format!("/api/v1/units/{long}")).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().len() < 200);
    // Invisible characters are refused in searches.
    let (status, _) = app.get_json("/api/v1/units?q=%E2%80%AE%E9%81%93").await;
    assert_eq!(status, 400);
}

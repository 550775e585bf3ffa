//! The review chain over the API, with a user at every level: each legal step, the refusals the
//! issue lists (acting out of scope or at another level's step, changing, returning or
//! withdrawing below a level that has approved, anyone but the province after the final
//! approval), the records' lock following the state, and the history on the community's page.

use serde_json::{Value, json};
use shequ_app::Caller;

use crate::helpers::{TestApp, browser, create, spawn_app, token};

const A: &str = "230102001001";

async fn step(app: &TestApp, token: &str, action: &str, reason: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/api/v1/units/{A}/reviews/2010/{action}")))
        .bearer_auth(token)
        .json(&json!({"reason": reason}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn state(app: &TestApp, token: &str) -> Value {
    let (status, body) = app
        .get_json_as(&format!("/api/v1/units/{A}/reviews/2010"), token)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn write_record(app: &TestApp, token: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/records"))
        .bearer_auth(token)
        .json(&json!({"kind": "services", "fields": {"unit": A, "date": "2010-03-05", "item": 5, "people": 1}}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

impl TestApp {
    async fn get_json_as(&self, path: &str, token: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

#[tokio::test]
async fn the_review_chain_runs_level_by_level_and_refuses_the_rest() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    for (username, role, unit) in [
        ("worker", "community_worker", A),
        ("street", "officer", "230102001"),
        ("county", "officer", "230102"),
        ("city", "officer", "2301"),
        ("admin", "province_admin", "23"),
        ("far", "officer", "230103"),
        ("inspector", "evaluator", "230102"),
    ] {
        create(&app, &operator, username, role, unit).await.unwrap();
    }
    let mut t = std::collections::HashMap::new();
    for u in [
        "worker",
        "street",
        "county",
        "city",
        "admin",
        "far",
        "inspector",
    ] {
        t.insert(u, token(&app, u).await);
    }
    let s = state(&app, &t["worker"]).await;
    assert_eq!(s["state"], "draft");
    assert_eq!(
        s["chain"],
        json!(["township", "county", "prefecture", "province"])
    );
    assert_eq!(s["allowed"], json!(["submit"]));
    assert_eq!(write_record(&app, &t["worker"]).await, 201);

    // Nobody but the community submits; nobody approves a draft.
    for who in ["street", "county", "admin", "inspector", "far"] {
        let (status, _) = step(&app, &t[who], "submit", "").await;
        assert_eq!(status, 403, "{who} submitted");
    }
    assert_eq!(step(&app, &t["street"], "approve", "").await.0, 403);

    // Submitted: the records lock.
    let (status, body) = step(&app, &t["worker"], "submit", "").await;
    assert_eq!((status, body["state"].as_str()), (200, Some("submitted")));
    assert_eq!(write_record(&app, &t["worker"]).await, 403);
    // The county cannot skip the street; another county cannot act at all.
    assert_eq!(step(&app, &t["county"], "approve", "").await.0, 403);
    assert_eq!(step(&app, &t["far"], "approve", "").await.0, 403);
    assert_eq!(step(&app, &t["admin"], "approve", "").await.0, 403);
    // A return needs a reason, and gives the records back.
    assert_eq!(step(&app, &t["street"], "return", "  ").await.0, 400);
    let (status, body) = step(&app, &t["street"], "return", "服务台账缺少三季度记录").await;
    assert_eq!((status, body["state"].as_str()), (200, Some("returned")));
    assert_eq!(write_record(&app, &t["worker"]).await, 201);
    // Submitting again, then withdrawing while the street has not acted.
    assert_eq!(step(&app, &t["worker"], "submit", "").await.0, 200);
    let (status, body) = step(&app, &t["worker"], "withdraw", "").await;
    assert_eq!((status, body["state"].as_str()), (200, Some("draft")));
    assert_eq!(step(&app, &t["worker"], "submit", "").await.0, 200);

    // The street approves; now the community cannot withdraw, and the street can.
    assert_eq!(
        step(&app, &t["street"], "approve", "").await.1["state"],
        "approved_township"
    );
    assert_eq!(step(&app, &t["worker"], "withdraw", "").await.0, 403);
    assert_eq!(
        step(&app, &t["street"], "withdraw", "").await.1["state"],
        "submitted"
    );
    assert_eq!(step(&app, &t["street"], "approve", "").await.0, 200);
    // The county returns it to the street (records stay locked), the street approves again.
    let (status, body) = step(&app, &t["county"], "return", "请街道复核").await;
    assert_eq!((status, body["state"].as_str()), (200, Some("submitted")));
    assert_eq!(write_record(&app, &t["worker"]).await, 403);
    assert_eq!(step(&app, &t["street"], "approve", "").await.0, 200);
    assert_eq!(
        step(&app, &t["county"], "approve", "").await.1["state"],
        "approved_county"
    );
    // Below an approving level nothing returns or withdraws.
    assert_eq!(step(&app, &t["street"], "return", "想改").await.0, 403);
    assert_eq!(step(&app, &t["street"], "withdraw", "").await.0, 403);
    assert_eq!(
        step(&app, &t["city"], "approve", "").await.1["state"],
        "approved_prefecture"
    );
    assert_eq!(step(&app, &t["county"], "withdraw", "").await.0, 403);
    let (status, body) = step(&app, &t["admin"], "approve", "").await;
    assert_eq!((status, body["state"].as_str()), (200, Some("final")));

    // After the final approval only the province reopens, with a reason; assessments freeze.
    for who in ["worker", "street", "county", "city"] {
        for action in ["approve", "return", "withdraw", "reopen"] {
            assert_eq!(
                step(&app, &t[who], action, "理由").await.0,
                403,
                "{who} {action}"
            );
        }
    }
    let (status, _) = app
        .client
        .post(app.url(&format!(
            "/api/v1/units/{A}/evaluations/2010/indicators/21/override"
        )))
        .bearer_auth(&t["inspector"])
        .json(&json!({"status": "met", "reason": "复核"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 403);
    assert_eq!(step(&app, &t["admin"], "reopen", "").await.0, 400);
    let (status, body) = step(&app, &t["admin"], "reopen", "发现统计错误").await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("approved_prefecture"))
    );
    let (status, body) = step(&app, &t["admin"], "return", "请市里复核").await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("approved_county"))
    );

    // Every step is in the history and in the audit log.
    let s = state(&app, &t["county"]).await;
    let actions: Vec<&str> = s["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "submit", "return", "submit", "withdraw", "submit", "approve", "withdraw", "approve",
            "return", "approve", "approve", "approve", "approve", "reopen", "return"
        ]
    );
    assert_eq!(s["history"][1]["reason"], "服务台账缺少三季度记录");
    assert_eq!(s["history"][1]["level"], "township");
    assert_eq!(s["history"][1]["actor"], "street");
    let (_, audit) = app
        .get_json_as(&format!("/api/v1/audit?unit={A}"), &t["admin"])
        .await;
    let reviews = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("review."))
        .count();
    assert_eq!(reviews, 15);

    // The community's page shows the history, escaped.
    let client = browser();
    let page = client
        .get(app.url(&format!("/units/{A}/evaluations/2010")))
        .header("cookie", format!("shequ_session={}", t["county"]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("服务台账缺少三季度记录"));
    assert!(html.contains("区县已审核"));
    assert!(html.contains("调解率不适用") || html.contains("没有受理民事纠纷"));
}

#[tokio::test]
async fn review_steps_taken_twice_at_once_count_once() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "worker", "community_worker", A)
        .await
        .unwrap();
    let worker = token(&app, "worker").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/units/{A}/reviews/2010/submit"));
        let worker = worker.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(worker)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        let status = task.await.unwrap();
        assert!(matches!(status, 200 | 403 | 409), "{status}");
        ok += usize::from(status == 200);
    }
    assert_eq!(ok, 1);
    let s = state(&app, &worker).await;
    assert_eq!(s["history"].as_array().unwrap().len(), 1);
}

//! Accounts, sessions, lockout, CSRF and the audit log over HTTP.

use serde_json::{Value, json};
use shequ_app::{Caller, UserRequest};
use shequ_store::testing::TestDatabase;

use crate::helpers::{
    PASSWORD, TestApp, browser, create, csrf_of, get_as, login, session_cookie_of, spawn_app,
    spawn_app_behind_proxy, spawn_app_on, token,
};

#[tokio::test]
async fn sign_in_me_and_sign_out() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "admin", "province_admin", "23")
        .await
        .unwrap();

    let response = login(&app, "admin", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("shequ_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains("Max-Age"),
        "ends with the browser; the server ends idle sessions"
    );
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["role"], "province_admin");
    assert_eq!(body["user"]["unit"], "23");

    let (status, me) = get_as(&app, &token, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "admin");
    // The cookie works as well as the bearer token.
    let session_cookie = cookie.split(';').next().unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", session_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (status, body) = app.get_json("/api/v1/me").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthenticated");

    let response = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (status, _) = get_as(&app, &token, "/api/v1/me").await;
    assert_eq!(status, 401, "the session died on logout");
    let (status, _) = get_as(&app, &"0".repeat(64), "/api/v1/me").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same_and_lock_out() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "admin", "province_admin", "23")
        .await
        .unwrap();
    let unknown = login(&app, "nobody", PASSWORD).await;
    let unknown_status = unknown.status();
    let unknown_body: Value = unknown.json().await.unwrap();
    let wrong = login(&app, "admin", "wrongpassword1").await;
    assert_eq!(unknown_status, 401);
    assert_eq!(wrong.status(), 401);
    let wrong_body: Value = wrong.json().await.unwrap();
    assert_eq!(unknown_body, wrong_body);
    for _ in 0..4 {
        assert_eq!(login(&app, "admin", "wrongpassword1").await.status(), 401);
    }
    // Five failures: even the right password is refused for a while.
    let locked = login(&app, "admin", PASSWORD).await;
    assert_eq!(locked.status(), 429);
    assert_eq!(locked.headers()["retry-after"], "900");
    let body: Value = locked.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    // Other usernames from the same address are not locked by it.
    create(&app, &Caller::operator(), "other", "viewer", "23")
        .await
        .unwrap();
    assert_eq!(login(&app, "other", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let db = TestDatabase::sqlite();
    let url = db.url.clone();
    let first = spawn_app_on(db).await;
    create(&first, &Caller::operator(), "admin", "province_admin", "23")
        .await
        .unwrap();
    let token = token(&first, "admin").await;
    // A second server on the same database, as after a restart.
    let app = std::sync::Arc::new(shequ_app::App::open(&url).await.unwrap());
    let state = shequ_web::AppState::new(app);
    state.set_ready();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(shequ_web::serve(listener, state, std::future::pending()));
    let response = reqwest::Client::new()
        .get(format!("{address}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token_unless_json() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "admin", "province_admin", "23")
        .await
        .unwrap();
    let response = login(&app, "admin", PASSWORD).await;
    let cookie = session_cookie_of(&response);
    let body: Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    let logout = |csrf: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/auth/logout"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    let missing = logout(None).await.unwrap();
    assert_eq!(missing.status(), 403);
    let wrong = logout(Some("0123")).await.unwrap();
    assert_eq!(wrong.status(), 403);
    let right = logout(Some(&csrf)).await.unwrap();
    assert_eq!(right.status(), 204);
}

#[tokio::test]
async fn creating_users_respects_roles_scopes_and_rules_and_writes_nothing_when_refused() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    create(&app, &operator, "county", "officer", "230102")
        .await
        .unwrap();
    let county = app
        .app
        .sign_in("county", PASSWORD, "127.0.0.1")
        .await
        .unwrap();
    let county = app
        .app
        .session(&county.token, "127.0.0.1")
        .await
        .unwrap()
        .caller;
    let before = app
        .app
        .audit_log(&operator, None, None)
        .await
        .unwrap()
        .items
        .len();
    for (username, role, unit, expected) in [
        (
            "xx1",
            "province_admin",
            "230102",
            "不能创建或管理省级管理员",
        ),
        (
            "xx2",
            "officer",
            "230102",
            "只能创建或管理下级单位的民政工作人员",
        ),
        ("xx3", "viewer", "230103", "不在您的管辖范围内"),
        ("xx4", "root", "230102", "角色“root”无效"),
        ("xx5", "viewer", "239999", "所属单位无效"),
        ("xx6", "community_worker", "230102001", "必须是一个社区"),
        ("county", "viewer", "230102001", "已被使用"),
        ("a b", "viewer", "230102001", "用户名须为"),
    ] {
        let error = create(&app, &county, username, role, unit)
            .await
            .unwrap_err();
        assert!(error.contains(expected), "{username}: {error}");
    }
    let weak = app
        .app
        .create_user(
            &county,
            UserRequest {
                username: "weak".into(),
                display_name: "弱密码".into(),
                role: "viewer".into(),
                unit: "230102".into(),
                password: "password123".into(),
                must_change_password: true,
            },
        )
        .await
        .unwrap_err();
    assert!(weak.to_string().contains("过于常见"));
    assert_eq!(
        app.app
            .audit_log(&operator, None, None)
            .await
            .unwrap()
            .items
            .len(),
        before
    );

    create(&app, &county, "street", "officer", "230102001")
        .await
        .unwrap();
    create(&app, &county, "worker", "community_worker", "230102001001")
        .await
        .unwrap();
    let log = app.app.audit_log(&operator, None, None).await.unwrap();
    assert_eq!(log.items.len(), before + 2, "one entry per write");
    assert_eq!(log.items[0].entry.action, "user.create");
    assert_eq!(log.items[0].entry.actor, "county");
    assert_eq!(
        log.items[0].entry.unit.as_ref().unwrap().as_str(),
        "230102001001"
    );
}

#[tokio::test]
async fn the_audit_log_is_for_admins_and_officers_in_scope() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    create(&app, &operator, "admin", "province_admin", "23")
        .await
        .unwrap();
    create(&app, &operator, "county", "officer", "230102")
        .await
        .unwrap();
    create(&app, &operator, "viewer", "viewer", "23")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let county = token(&app, "county").await;
    let viewer = token(&app, "viewer").await;
    assert_eq!(login(&app, "county", "wrongpassword1").await.status(), 401);

    let (status, body) = get_as(&app, &admin, "/api/v1/audit").await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..4],
        [
            "auth.sign_in_failed",
            "auth.sign_in",
            "auth.sign_in",
            "auth.sign_in"
        ]
    );
    assert_eq!(body["items"][0]["actor"], "county");
    assert_eq!(body["items"][0]["client"], "127.0.0.1");

    let (status, body) = get_as(&app, &county, "/api/v1/audit").await;
    assert_eq!(status, 200, "{body}");
    let units: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["unit"].as_str())
        .collect();
    assert!(units.iter().all(|u| u.starts_with("230102")), "{units:?}");
    let (status, _) = get_as(&app, &county, "/api/v1/audit?unit=230103").await;
    assert_eq!(status, 403);
    let (status, _) = get_as(&app, &county, "/api/v1/audit?unit=230102001").await;
    assert_eq!(status, 200);
    let (status, _) = get_as(&app, &viewer, "/api/v1/audit").await;
    assert_eq!(status, 403);
    let (status, _) = app.get_json("/api/v1/audit").await;
    assert_eq!(status, 401);
    let (status, _) = get_as(&app, &admin, "/api/v1/audit?cursor=x").await;
    assert_eq!(status, 400);
}

/// A client that keeps cookies and does not follow redirects, as a browser session.
#[tokio::test]
async fn from_the_setup_link_to_a_signed_in_admin_in_the_browser() {
    let app = spawn_app().await;
    let token = app.app.prepare_setup().await.unwrap().unwrap();
    let client = browser();
    let setup = app.url(&format!("/setup/{token}"));
    let response = client.get(&setup).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("黑龙江省（23）"));
    // A mistake keeps the form, with the reason.
    let response = client
        .post(&setup)
        .form(&[
            ("username", "admin"),
            ("display_name", "管理员"),
            ("password", "shequ2010hlj"),
            ("confirm", "other2010hlj"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("两次输入的密码不一致")
    );
    let response = client
        .post(&setup)
        .form(&[
            ("username", "admin"),
            ("display_name", "管理员"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
    // Used up.
    assert_eq!(client.get(&setup).send().await.unwrap().status(), 404);
    assert_eq!(app.app.prepare_setup().await.unwrap(), None);

    let response = client
        .post(app.url("/login"))
        .form(&[("username", "admin"), ("password", "wrongpassword1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("用户名或密码不正确")
    );
    let response = client
        .post(app.url("/login"))
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = session_cookie_of(&response);
    let html = client
        .get(app.url("/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("省级管理员"));
    let csrf = csrf_of(&html);

    // Change the password: a wrong token is refused, the right one works.
    let change = |csrf: String, current: &'static str| {
        client
            .post(app.url("/account/password"))
            .header("cookie", &cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("current", current),
                ("new_password", "newpass2011hlj"),
                ("confirm", "newpass2011hlj"),
            ])
            .send()
    };
    assert_eq!(
        change("0".repeat(64), PASSWORD).await.unwrap().status(),
        403
    );
    let html = change(csrf.clone(), "wrongpassword1")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("当前密码不正确"));
    let html = change(csrf.clone(), PASSWORD)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("密码已修改"));

    let response = client
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let response = client
        .get(app.url("/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "signed out");
    assert_eq!(response.headers()["location"], "/login");
    assert_eq!(login(&app, "admin", "newpass2011hlj").await.status(), 200);
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn officers_manage_users_below_them_and_first_passwords_must_be_changed() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "county", "officer", "230102")
        .await
        .unwrap();
    let county = token(&app, "county").await;
    let (status, body) = post_as(
        &app,
        &county,
        "/api/v1/users",
        json!({"username": "worker", "display_name": "社区工作者", "role": "community_worker", "unit": "230102001001"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let first = body["first_password"].as_str().unwrap().to_string();
    assert!(shequ_app::domain::access::check_password(&first).is_ok());
    assert_eq!(body["user"]["must_change_password"], true);

    let (status, list) = get_as(&app, &county, "/api/v1/users").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["county", "worker"]);

    // The worker must change the handed-out password before anything else.
    let worker = token_with(&app, "worker", &first).await;
    let (status, body) = get_as(&app, &worker, "/api/v1/audit").await;
    assert_eq!(status, 403);
    assert!(body["message"].as_str().unwrap().contains("请先修改密码"));
    let (status, _) = post_as(
        &app,
        &worker,
        "/api/v1/me/password",
        json!({"current": first, "new": "worker2010hlj"}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, me) = get_as(&app, &worker, "/api/v1/me").await;
    assert_eq!(
        (status, me["must_change_password"].clone()),
        (200, json!(false))
    );

    // Reset and deactivate, by the officer; not the officer by itself, not others out of scope.
    let (status, body) = post_as(
        &app,
        &county,
        "/api/v1/users/worker/reset-password",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["password"].as_str().unwrap().len(), 12);
    let (status, _) = post_as(&app, &county, "/api/v1/users/worker/deactivate", json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = get_as(&app, &worker, "/api/v1/me").await;
    assert_eq!(status, 401, "deactivation ends sessions");
    assert_eq!(login(&app, "worker", "worker2010hlj").await.status(), 401);
    let (status, _) = post_as(&app, &county, "/api/v1/users/county/deactivate", json!({})).await;
    assert_eq!(status, 403);
    create(&app, &Caller::operator(), "other", "viewer", "230103")
        .await
        .unwrap();
    let (status, _) = post_as(
        &app,
        &county,
        "/api/v1/users/other/reset-password",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post_as(&app, &county, "/api/v1/users/nobody/activate", json!({})).await;
    assert_eq!(status, 404);
}

async fn token_with(app: &TestApp, username: &str, password: &str) -> String {
    let response = login(app, username, password).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// Every protected route, with each role in and out of scope and anonymously, against a table.
/// 2xx is allowed; 400 is allowed but the input was refused; 401, 403 and the redirect to
/// sign-in (303) are denied.
#[tokio::test]
async fn authorisation_matrix() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    for (username, role, unit) in [
        ("admin", "province_admin", "23"),
        ("county", "officer", "230102"),
        ("far", "officer", "230103"),
        ("worker", "community_worker", "230102001001"),
        ("evaluator", "evaluator", "230102"),
        ("viewer", "viewer", "230102"),
        ("target", "viewer", "230102001"),
    ] {
        create(&app, &operator, username, role, unit).await.unwrap();
    }
    let who = [
        "anonymous",
        "admin",
        "county",
        "far",
        "worker",
        "evaluator",
        "viewer",
    ];
    let mut tokens = std::collections::HashMap::new();
    for username in &who[1..] {
        tokens.insert(*username, token(&app, username).await);
    }
    let wrong_password = json!({"current": "wrongpassword1", "new": "another2010hlj"});
    // (method, path, JSON body, expected status for each of `who`)
    let matrix: Vec<(&str, &str, Value, [u16; 7])> = vec![
        (
            "GET",
            "/api/v1/me",
            Value::Null,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/me/password",
            wrong_password,
            [401, 400, 400, 400, 400, 400, 400],
        ),
        (
            "GET",
            "/api/v1/audit",
            Value::Null,
            [401, 200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/audit?unit=230102001",
            Value::Null,
            [401, 200, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/audit.csv",
            Value::Null,
            [401, 200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/audit.csv?unit=230102",
            Value::Null,
            [401, 200, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/users",
            Value::Null,
            [401, 200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/users?unit=230102",
            Value::Null,
            [401, 200, 200, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users/target/reset-password",
            json!({}),
            [401, 200, 200, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users/target/deactivate",
            json!({}),
            [401, 204, 204, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users/target/activate",
            json!({}),
            [401, 204, 204, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/users/admin/deactivate",
            json!({}),
            [401, 403, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/records?unit=230102001001",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102001001/years/2010",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/records",
            json!({"kind": "services", "fields": {"unit": "230102001001", "date": "2010-03-05", "item": 5, "people": 1}}),
            [401, 201, 403, 403, 201, 403, 403],
        ),
        (
            "POST",
            "/api/v1/units/230102001001/years/2011/start",
            json!({}),
            [401, 200, 403, 403, 200, 403, 403],
        ),
        (
            "GET",
            "/api/v1/records/export?unit=230102001001&year=2010&kind=services&format=csv",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102001001/surveys/2010",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/units/230102001001/surveys/2010/cadres/open",
            json!({}),
            [401, 200, 400, 403, 400, 403, 403],
        ),
        (
            "GET",
            "/units/230102001001/surveys/2010",
            Value::Null,
            [303, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/units/230102001001/records/2010",
            Value::Null,
            [303, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/units/230102001001/records/2010/services",
            Value::Null,
            [303, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102001001/evaluations/2010",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102/rankings/2010",
            Value::Null,
            [401, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102001001/reviews/2010",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/units/230102001001/evaluations/2010/indicators/18/inspection",
            json!({"items": {"无物业弃管": true, "无违章搭建": true, "无乱堆乱放": true, "无卫生死角": true, "无宠物伤人": false}}),
            [401, 200, 200, 403, 403, 200, 403],
        ),
        (
            "POST",
            "/api/v1/units/230102001001/reviews/2010/approve",
            json!({}),
            [401, 403, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/units/230102001001/evaluations/2010",
            Value::Null,
            [303, 200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/units/230102/rankings/2010",
            Value::Null,
            [303, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102/reports/2010-03",
            Value::Null,
            [401, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/units/230102001001/reports/2010?basis=submitted",
            Value::Null,
            [401, 200, 200, 403, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/units/230102001001/reports/2010-03/submit",
            json!({}),
            [401, 200, 403, 403, 200, 403, 403],
        ),
        (
            "PUT",
            "/api/v1/units/230102/report-deadlines/2010-03",
            json!({"day": 4}),
            [401, 200, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/units/230102/reports/2010-03",
            Value::Null,
            [303, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/units/230102/bulletin/2010",
            Value::Null,
            [303, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/units/230102/bulletin/2010-Q1/export",
            Value::Null,
            [303, 200, 200, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/dashboard",
            Value::Null,
            [303, 303, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/account",
            Value::Null,
            [303, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/users",
            Value::Null,
            [303, 200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/audit",
            Value::Null,
            [303, 200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/audit?unit=230102",
            Value::Null,
            [303, 200, 200, 403, 403, 403, 403],
        ),
    ];
    let client = browser();
    for (method, path, body, expected) in &matrix {
        for (i, username) in who.iter().enumerate() {
            let mut request = match *method {
                "GET" => client.get(app.url(path)),
                "PUT" => client.put(app.url(path)).json(body),
                _ => client.post(app.url(path)).json(body),
            };
            if let Some(token) = tokens.get(username) {
                request = if path.starts_with("/api/") {
                    request.bearer_auth(token)
                } else {
                    request.header("cookie", format!("shequ_session={token}"))
                };
            }
            let status = request.send().await.unwrap().status().as_u16();
            assert_eq!(status, expected[i], "{method} {path} as {username}");
        }
    }
    // Creating users: who may create a viewer at the target's street.
    let body = |n: usize| json!({"username": format!("new{n}"), "display_name": "新用户", "role": "viewer", "unit": "230102001"});
    let expected = [401, 201, 201, 403, 403, 403, 403];
    for (i, username) in who.iter().enumerate() {
        let mut request = client.post(app.url("/api/v1/users")).json(&body(i));
        if let Some(token) = tokens.get(username) {
            request = request.bearer_auth(token);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(status, expected[i], "POST /api/v1/users as {username}");
    }
    // Signing out, last: everyone signed in may, the anonymous get 401.
    for (i, username) in who.iter().enumerate() {
        let mut request = client.post(app.url("/api/v1/auth/logout")).json(&json!({}));
        if let Some(token) = tokens.get(username) {
            request = request.bearer_auth(token);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(
            status,
            if i == 0 { 401 } else { 204 },
            "logout as {username}"
        );
    }
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    for (behind_proxy, client, secure) in [(true, "203.0.113.9", true), (false, "127.0.0.1", false)]
    {
        let app = if behind_proxy {
            spawn_app_behind_proxy().await
        } else {
            spawn_app().await
        };
        create(&app, &Caller::operator(), "admin", "province_admin", "23")
            .await
            .unwrap();
        let response = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
            .header("x-forwarded-proto", "https")
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(cookie.contains("; Secure"), secure, "{cookie}");
        let log = app
            .app
            .audit_log(&Caller::operator(), None, None)
            .await
            .unwrap();
        assert_eq!(log.items[0].entry.action, "auth.sign_in");
        assert_eq!(log.items[0].entry.client, client);
    }
}

#[tokio::test]
async fn user_and_audit_pages_with_csv_export() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "county", "officer", "230102")
        .await
        .unwrap();
    create(&app, &Caller::operator(), "viewer", "viewer", "230102")
        .await
        .unwrap();
    let client = browser();
    let sign_in = |username: &'static str| {
        client
            .post(app.url("/login"))
            .form(&[("username", username), ("password", PASSWORD)])
            .send()
    };
    let response = sign_in("county").await.unwrap();
    let cookie = session_cookie_of(&response);
    let html = client
        .get(app.url("/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<td>county</td>"));
    let csrf = csrf_of(&html);
    // A formula-like display name, to see it neutralised in the export.
    let html = client
        .post(app.url("/users"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "street.one"),
            ("display_name", "=HYPERLINK(1)"),
            ("role", "officer"),
            ("unit", "230102001"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已新建用户 street.one，首次密码："), "{html}");
    let html = client
        .post(app.url("/users"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "too.high"),
            ("display_name", "x"),
            ("role", "province_admin"),
            ("unit", "230102"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("不能创建或管理省级管理员"));
    let response = client
        .post(app.url("/users/street.one/deactivate"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let html = client
        .post(app.url("/users/street.one/deactivate"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已停用 street.one"));
    assert!(html.contains("<td>已停用</td>"));
    assert!(html.contains("/users/street.one/activate"));
    assert!(!html.contains("/users/street.one/deactivate"));

    // A failed sign-in under a formula-like name, to see it made inert in the export.
    assert_eq!(login(&app, "=1+2", "wrongpassword1").await.status(), 401);
    let html = client
        .get(app.url("/audit"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("user.create") && html.contains("street.one"));
    let response = client
        .get(app.url("/api/v1/audit.csv"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("编号,时间(UTC),操作人"));
    assert!(text.contains("street.one"));
    // The admin sees everything, including the failed sign-in, made inert.
    create(&app, &Caller::operator(), "admin", "province_admin", "23")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let response = app
        .client
        .get(app.url("/api/v1/audit.csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(
        text.contains(",'=1+2,anonymous,auth.sign_in_failed,"),
        "{text}"
    );

    // A viewer gets refusals as pages.
    let response = sign_in("viewer").await.unwrap();
    let cookie = session_cookie_of(&response);
    for path in ["/users", "/audit"] {
        let response = client
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    // And the anonymous are sent to sign in.
    for path in ["/users", "/audit"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
    }
}

#[tokio::test]
async fn bulk_users_by_upload_page() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "county", "officer", "230102")
        .await
        .unwrap();
    let client = browser();
    let response = client
        .post(app.url("/login"))
        .form(&[("username", "county"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie_of(&response);
    let html = client
        .get(app.url("/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let upload = |csrf: String, text: &'static str| {
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", csrf)
            .part(
                "file",
                reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("users.csv"),
            );
        client
            .post(app.url("/users/import"))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
    };
    let bad = "username,name,role,unit\nok.one,甲,viewer,230102\nbad.one,乙,viewer,230103\n";
    let html = upload(csrf.clone(), bad)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("users.csv 第 3 行：单位 230103 不在您的管辖范围内"),
        "{html}"
    );
    assert_eq!(
        app.app
            .list_users(&Caller::operator(), None)
            .await
            .unwrap()
            .len(),
        1
    );
    let good = "username,name,role,unit\nok.one,甲,viewer,230102\nok.two,乙,community_worker,230102001001\n";
    let response = upload("forged".into(), good).await.unwrap();
    assert_eq!(response.status(), 403);
    let html = upload(csrf, good).await.unwrap().text().await.unwrap();
    assert!(html.contains("已新建 2 个用户"), "{html}");
    assert_eq!(html.matches("<td><code>").count(), 2);
}

#[tokio::test]
async fn every_account_write_appends_exactly_one_audit_entry() {
    let app = spawn_app().await;
    let operator = Caller::operator();
    create(&app, &operator, "admin", "province_admin", "23")
        .await
        .unwrap();
    create(&app, &operator, "target", "viewer", "230102")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let count = || async {
        app.app
            .audit_log(&operator, None, None)
            .await
            .unwrap()
            .items
            .len()
    };
    let steps: Vec<(&str, &str, Value, &str)> = vec![
        (
            "POST",
            "/api/v1/users",
            json!({"username": "third", "display_name": "三", "role": "viewer", "unit": "230102"}),
            "user.create",
        ),
        (
            "POST",
            "/api/v1/users/target/deactivate",
            json!({}),
            "user.deactivate",
        ),
        (
            "POST",
            "/api/v1/users/target/activate",
            json!({}),
            "user.activate",
        ),
        (
            "POST",
            "/api/v1/users/target/reset-password",
            json!({}),
            "user.reset_password",
        ),
        (
            "POST",
            "/api/v1/me/password",
            json!({"current": PASSWORD, "new": "changed2010hlj"}),
            "user.change_password",
        ),
        ("POST", "/api/v1/auth/logout", json!({}), "auth.sign_out"),
    ];
    for (_, path, body, action) in steps {
        let before = count().await;
        let (status, _) = post_as(&app, &admin, path, body).await;
        assert!(status < 300, "{path}: {status}");
        let log = app.app.audit_log(&operator, None, None).await.unwrap();
        assert_eq!(log.items.len(), before + 1, "{path}");
        assert_eq!(log.items[0].entry.action, action);
    }
    // Refusals write nothing (beyond a failed sign-in, which is itself an event).
    let before = count().await;
    let (status, _) = post_as(&app, &admin, "/api/v1/users/target/deactivate", json!({})).await;
    assert_eq!(status, 401, "signed out");
    assert_eq!(count().await, before);
}

#[tokio::test]
async fn the_setup_link_makes_exactly_one_admin_under_concurrency() {
    let app = spawn_app().await;
    let token = app.app.prepare_setup().await.unwrap().unwrap();
    let url = app.url(&format!("/setup/{token}"));
    let mut handles = Vec::new();
    for i in 0..8 {
        let client = browser();
        let url = url.clone();
        handles.push(tokio::spawn(async move {
            let username = format!("racer{i}");
            client
                .post(&url)
                .form(&[
                    ("username", username.as_str()),
                    ("display_name", "管理员"),
                    ("password", PASSWORD),
                    ("confirm", PASSWORD),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(app.app.user_count().await.unwrap(), 1);
}

#[tokio::test]
async fn password_resets_and_changes_end_other_sessions() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "admin", "province_admin", "23")
        .await
        .unwrap();
    create(&app, &Caller::operator(), "officer", "officer", "230102")
        .await
        .unwrap();
    let admin = token(&app, "admin").await;
    let first = token(&app, "officer").await;
    let second = token(&app, "officer").await;
    // Changing one's own password keeps that session and ends the others.
    let (status, _) = post_as(
        &app,
        &first,
        "/api/v1/me/password",
        json!({"current": PASSWORD, "new": "changed2010hlj"}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(get_as(&app, &first, "/api/v1/me").await.0, 200);
    assert_eq!(get_as(&app, &second, "/api/v1/me").await.0, 401);
    // A reset by an admin ends them all.
    let (status, _) = post_as(
        &app,
        &admin,
        "/api/v1/users/officer/reset-password",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(get_as(&app, &first, "/api/v1/me").await.0, 401);
}

#[tokio::test]
async fn guessing_the_current_password_locks_out_like_sign_in() {
    let app = spawn_app().await;
    create(&app, &Caller::operator(), "officer", "officer", "230102")
        .await
        .unwrap();
    let officer = token(&app, "officer").await;
    for _ in 0..5 {
        let (status, _) = post_as(
            &app,
            &officer,
            "/api/v1/me/password",
            json!({"current": "guess2010xxx", "new": "changed2010hlj"}),
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, body) = post_as(
        &app,
        &officer,
        "/api/v1/me/password",
        json!({"current": PASSWORD, "new": "changed2010hlj"}),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    // The refused sign-ins during the lockout are in the log too.
    assert_eq!(login(&app, "officer", PASSWORD).await.status(), 429);
    let log = app
        .app
        .audit_log(&Caller::operator(), None, None)
        .await
        .unwrap();
    assert_eq!(log.items[0].entry.action, "auth.sign_in_locked");
    let failed = log
        .items
        .iter()
        .filter(|r| r.entry.action == "user.change_password_failed")
        .count();
    assert_eq!(failed, 5);
}

#[tokio::test]
async fn province_admins_belong_to_a_province_and_usernames_ignore_case() {
    let app = spawn_app().await;
    let error = create(
        &app,
        &Caller::operator(),
        "low.admin",
        "province_admin",
        "2301",
    )
    .await
    .unwrap_err();
    assert!(
        error.contains("省级管理员的所属单位必须是省级单位"),
        "{error}"
    );
    create(&app, &Caller::operator(), "Zhang.San", "viewer", "230102")
        .await
        .unwrap();
    let error = create(&app, &Caller::operator(), "zhang.san", "viewer", "230102")
        .await
        .unwrap_err();
    assert!(error.contains("已被使用"), "{error}");
    assert_eq!(login(&app, "ZHANG.SAN", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn oversized_bodies_and_foreign_sign_in_forms_are_refused_in_form() {
    let app = spawn_app().await;
    let big = "x".repeat(3 * 1024 * 1024);
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "too_large");
    let response = browser()
        .post(app.url("/login"))
        .header("origin", "http://evil.example")
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

//! The year's cycle as the people who do it go through it in a browser: nothing here calls the
//! API except to check what the pages did.

use crate::harness::{Browser, ENTER, Journey, SPACE, Server, Step, TAB, browser_available};

const YEAR: &str = "2010";
const PROVINCE: &str = "23";
const PREFECTURE: &str = "2301";
const COUNTY: &str = "230102";
const TOWNSHIP: &str = "230102001";
const COMMUNITY: &str = "230102001001";
const COMMUNITY_NAME: &str = "省报社社区居委会";
const ADMIN_PASSWORD: &str = "shengting2010";

struct Person {
    username: &'static str,
    password: String,
}

/// Signs in with the form; a first sign-in must change the first password before anything else.
async fn sign_in(j: &mut Journey, person: &mut Person) -> Step {
    j.goto("/login").await?;
    j.fill("#username", person.username).await?;
    j.fill("#password", &person.password).await?;
    j.press("form[action='/login']", "登录").await?;
    if j.path().await == "/login" {
        return Err(j
            .fail(&format!("{} was not signed in", person.username))
            .await);
    }
    if j.path().await == "/account" {
        let new_password = format!("{}-changed-2010", person.username);
        j.fill("#current", &person.password).await?;
        j.fill("#new_password", &new_password).await?;
        j.fill("#confirm", &new_password).await?;
        j.press("form[action='/account/password']", "修改密码")
            .await?;
        j.expect_text("密码已修改").await?;
        person.password = new_password;
    }
    Ok(())
}

async fn sign_out(j: &mut Journey) -> Step {
    j.goto("/account").await?;
    j.press("form[action='/logout']", "退出登录").await
}

/// Creates a user on the users page and reads the first password the page shows once.
async fn create_user(
    j: &mut Journey,
    username: &'static str,
    name: &str,
    role: &str,
    unit: &str,
) -> Step<Person> {
    j.goto("/users").await?;
    j.fill("form[action='/users'] #username", username).await?;
    j.fill("form[action='/users'] #display_name", name).await?;
    j.select("form[action='/users'] #role", role).await?;
    j.fill("form[action='/users'] #unit", unit).await?;
    j.press("form[action='/users']", "新建").await?;
    j.expect_text(&format!("已新建用户 {username}")).await?;
    let text = j.text().await?;
    let password = text
        .split("首次密码：")
        .nth(1)
        .and_then(|rest| rest.split('（').next())
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    match password {
        Some(password) => Ok(Person { username, password }),
        None => Err(j.fail("the first password is not shown").await),
    }
}

/// Fills a record form field by field key; dates are set as values (a date control takes typed
/// digits in the browser's locale order).
async fn fill_record(j: &mut Journey, fields: &[(&str, &str)]) -> Step {
    for (key, value) in fields {
        let css = format!("#f-{key}");
        let element = j.find(&css).await?;
        let tag = element.tag_name().await.unwrap_or_default();
        let kind = element
            .attr("type")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        if tag == "select" {
            j.select(&css, value).await?;
        } else if kind == "date" {
            j.script(&format!(
                "document.querySelector('{css}').value = '{value}'; return true;"
            ))
            .await?;
        } else {
            j.fill(&css, value).await?;
        }
    }
    Ok(())
}

async fn add_record(j: &mut Journey, kind: &str, fields: &[(&str, &str)]) -> Step {
    let list = format!("/units/{COMMUNITY}/records/{YEAR}/{kind}");
    j.goto(&list).await?;
    fill_record(j, fields).await?;
    j.press(&format!("form[method='post'][action='{list}']"), "添加")
        .await
}

/// The number of records of a kind the API holds for the community: the check after the pages.
async fn api_count(server: &Server, token: &str, kind: &str) -> i64 {
    let response = reqwest::Client::new()
        .get(server.url(&format!(
            "/api/v1/records?unit={COMMUNITY}&year={YEAR}&kind={kind}&limit=1"
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    body["total"].as_i64().unwrap_or(-1)
}

async fn api_token(server: &Server, person: &Person) -> String {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": person.username, "password": person.password}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    body["token"].as_str().unwrap_or_default().to_string()
}

async fn review(j: &mut Journey, person: &mut Person, action: &str, label: &str) -> Step {
    sign_in(j, person).await?;
    j.goto(&format!("/units/{COMMUNITY}/evaluations/{YEAR}"))
        .await?;
    let form = format!(
        "form[action='/units/{COMMUNITY}/evaluations/{YEAR}/review']:has(input[name='action'][value='{action}'])"
    );
    if action == "submit" {
        j.click(&format!("{form} input[name='sure']")).await?;
    }
    j.press(&form, label).await
}

async fn year_cycle(j: &mut Journey, server: &Server) -> Step {
    j.step("first start: the setup link creates the province admin");
    let link = server.setup_link().await;
    let path = link.trim_start_matches(&server.base).to_string();
    j.goto(&path).await?;
    j.fill("#username", "admin").await?;
    j.fill("#display_name", "省民政厅管理员").await?;
    j.fill("#password", ADMIN_PASSWORD).await?;
    j.fill("#confirm", ADMIN_PASSWORD).await?;
    j.done().await?;
    j.press("form", "创建并前往登录").await?;
    j.find("#username").await?;

    j.step("the province admin signs in from the keyboard");
    j.goto("/login").await?;
    // From the top of the page, Tab to the user name field, then on through the form.
    j.tab_to("e.id === 'username'", "the user name field")
        .await?;
    j.keys("admin").await?;
    j.keys(TAB).await?;
    if j.focused().await? != "password" {
        return Err(j
            .fail("Tab from the user name does not reach the password")
            .await);
    }
    j.keys(ADMIN_PASSWORD).await?;
    j.mark_page().await?;
    j.keys(ENTER).await?;
    j.wait_for_new_page("pressing Enter in the password field")
        .await?;
    // The landing page after sign-in (the province's dashboard shows its latest bulletin).
    if j.path().await == "/login" {
        return Err(j.fail("signing in with Enter left the sign-in page").await);
    }
    j.done().await?;
    j.goto("/account").await?;
    j.find("form[action='/logout']").await?;
    j.expect_text("admin").await?;
    let mut admin = Person {
        username: "admin",
        password: ADMIN_PASSWORD.into(),
    };

    j.step("the admin creates the officers of three levels and a community worker");
    let mut prefecture =
        create_user(j, "off_2301", "哈尔滨市民政局", "officer", PREFECTURE).await?;
    let mut county = create_user(j, "off_230102", "道里区民政局", "officer", COUNTY).await?;
    let mut township =
        create_user(j, "off_230102001", "兆麟街道办事处", "officer", TOWNSHIP).await?;
    let mut worker = create_user(
        j,
        "worker_001",
        "省报社社区工作者",
        "community_worker",
        COMMUNITY,
    )
    .await?;
    j.done().await?;
    sign_out(j).await?;

    j.step("the worker signs in and changes the first password");
    sign_in(j, &mut worker).await?;
    j.done().await?;

    j.step("the worker fills the profile");
    add_record(
        j,
        "profile",
        &[
            ("households", "1200"),
            ("population", "3600"),
            ("estate", "老旧小区"),
            ("premises", "420"),
            ("greening", "32"),
            ("one_stop", "是"),
            ("deliberation", "是"),
            ("indoor_venue", "是"),
            ("outdoor_venue", "是"),
            ("day_care", "是"),
            ("home_care", "是"),
            ("funding", "是"),
        ],
    )
    .await?;
    j.expect_text("已添加一条社区基本情况").await?;
    j.done().await?;

    j.step("the worker enters a resident group from the keyboard");
    j.goto(&format!("/units/{COMMUNITY}/records/{YEAR}/groups"))
        .await?;
    j.tab_to("e.id === 'f-name'", "the group's name").await?;
    j.keys("第一居民小组").await?;
    j.keys(TAB).await?;
    if j.focused().await? != "f-households" {
        return Err(j
            .fail("Tab from the name does not reach the households")
            .await);
    }
    j.keys("320").await?;
    j.mark_page().await?;
    j.keys(ENTER).await?;
    j.wait_for_new_page("pressing Enter in the group form")
        .await?;
    j.expect_text("第一居民小组").await?;
    j.done().await?;

    j.step("the worker records a service and an activity by form");
    add_record(
        j,
        "services",
        &[("date", "2010-03-05"), ("item", "1"), ("people", "12")],
    )
    .await?;
    add_record(
        j,
        "activities",
        &[
            ("type", "月度服务日"),
            ("start", "2010-03-10"),
            ("participants", "45"),
        ],
    )
    .await?;
    j.expect_text("月度服务日").await?;
    j.done().await?;
    let token = api_token(server, &worker).await;
    if api_count(server, &token, "services").await != 1
        || api_count(server, &token, "activities").await != 1
    {
        return Err(j
            .fail("the API does not hold the service and activity the forms saved")
            .await);
    }

    j.step("a spreadsheet with a bad row is refused row by row");
    let files = tempfile::tempdir().unwrap();
    let bad = files.path().join("services-bad.csv");
    std::fs::write(
        &bad,
        format!(
            "区划代码,日期,服务项目编号,服务人次\n{COMMUNITY},2010-03-08,2,5\n{COMMUNITY},2010-03-09,101,6\n"
        ),
    )
    .unwrap();
    j.goto("/records/import").await?;
    j.fill("#file", bad.to_str().unwrap()).await?;
    j.press("form[action='/records/import']", "上传并导入")
        .await?;
    j.expect_text("未导入任何数据").await?;
    let errors = j.text().await?;
    if !(errors.contains("服务项目编号") && errors.contains("101")) {
        return Err(j
            .fail("the error does not name the row's column and value")
            .await);
    }
    j.done().await?;
    if api_count(server, &token, "services").await != 1 {
        return Err(j.fail("a refused file wrote rows").await);
    }

    j.step("the corrected spreadsheet imports");
    let good = files.path().join("services.csv");
    std::fs::write(
        &good,
        format!(
            "区划代码,日期,服务项目编号,服务人次\n{COMMUNITY},2010-03-08,2,5\n{COMMUNITY},2010-03-09,3,6\n"
        ),
    )
    .unwrap();
    j.goto("/records/import").await?;
    j.fill("#file", good.to_str().unwrap()).await?;
    j.press("form[action='/records/import']", "上传并导入")
        .await?;
    j.expect_text("导入完成：新增 2 条").await?;
    j.done().await?;

    j.step("the worker opens a survey and issues ballot codes");
    let surveys = format!("/units/{COMMUNITY}/surveys/{YEAR}");
    j.goto(&surveys).await?;
    j.press(
        &format!("form[action='{surveys}/services/open']"),
        "开启网上测评",
    )
    .await?;
    j.find(&format!("form[action='{surveys}/services/codes']"))
        .await?;
    j.done().await?;
    j.fill("#count-services", "3").await?;
    j.press(
        &format!("form[action='{surveys}/services/codes']"),
        "生成打印页",
    )
    .await?;
    j.find(".card .code").await?;
    let code = j
        .find(".card .code")
        .await?
        .text()
        .await
        .unwrap_or_default();
    j.done().await?;

    j.step("a phone votes with one code");
    let desk = j.swap_browser(Browser::phone(360, 740).await);
    j.goto("/v").await?;
    j.fill("#code", &code).await?;
    j.press("form[action='/v']", "下一步").await?;
    j.find("input[type='radio']").await?;
    let widths = j
        .script("return [window.innerWidth, document.documentElement.scrollWidth];")
        .await?;
    if widths != serde_json::json!([360, 360]) {
        return Err(j
            .fail(&format!(
                "the voting page is not 360 px wide on a 360 px phone (viewport and content: {widths})"
            ))
            .await);
    }
    // By the keyboard: Tab to the first answer, Space chooses it, Tab on to the button, Enter.
    j.tab_to("e.type === 'radio'", "an answer").await?;
    j.keys(SPACE).await?;
    let chosen = j
        .script("return document.querySelectorAll('input[type=radio]:checked').length;")
        .await?;
    if chosen != serde_json::json!(1) {
        return Err(j.fail(&format!("Space chose {chosen} answers")).await);
    }
    j.done().await?;
    j.keys(TAB).await?;
    if j.script("return document.activeElement.type;").await? != serde_json::json!("submit") {
        return Err(j
            .fail("Tab from the answer does not reach the submit button")
            .await);
    }
    j.mark_page().await?;
    j.keys(ENTER).await?;
    j.wait_for_new_page("pressing Enter on the submit button")
        .await?;
    j.expect_text("投票成功").await?;
    j.done().await?;

    j.step("the same code is refused the second time");
    j.goto("/v").await?;
    j.fill("#code", &code).await?;
    j.press("form[action='/v']", "下一步").await?;
    j.expect_text("已经投过票").await?;
    j.done().await?;
    let phone = j.swap_browser(desk);
    phone.close().await;

    j.step("the worker submits March's report");
    let report = format!("/units/{COMMUNITY}/reports/{YEAR}-03");
    j.goto(&report).await?;
    j.click(&format!(
        "form[action='{report}/submit'] input[name='sure']"
    ))
    .await?;
    j.press(&format!("form[action='{report}/submit']"), "报送月报")
        .await?;
    j.expect_text("已报送2010年3月月报").await?;
    j.done().await?;

    j.step("the worker submits the self-assessment");
    review(j, &mut worker, "submit", "提交自评").await?;
    j.expect_text("社区已提交").await?;
    j.done().await?;
    sign_out(j).await?;

    for (officer, state) in [
        (&mut township, "街道（乡镇）已审核"),
        (&mut county, "区县已审核"),
        (&mut prefecture, "市（行署）已审核"),
    ] {
        j.step(&format!("{} approves", officer.username));
        review(j, officer, "approve", "审核通过").await?;
        j.expect_text(state).await?;
        j.done().await?;
        sign_out(j).await?;
    }

    j.step("the province finalises");
    review(j, &mut admin, "approve", "审核通过").await?;
    j.expect_text("省级终审通过").await?;
    j.done().await?;

    j.step("the bulletin shows the community with its chart");
    j.goto(&format!("/units/{TOWNSHIP}/bulletin/{YEAR}-03"))
        .await?;
    // The form's service and the two imported ones: 3 records, 12 + 5 + 6 people.
    j.expect_text("登记服务 3 条、服务居民 23 人次").await?;
    let chart = j.find("figure.chart svg[aria-label^='各单位']").await?;
    let labels = chart.text().await.unwrap_or_default();
    if !labels.contains(COMMUNITY_NAME) {
        return Err(j
            .fail(&format!("the ranking chart does not name {COMMUNITY_NAME}"))
            .await);
    }
    j.script(
        "document.querySelector(\"figure.chart svg[aria-label^='各单位']\").scrollIntoView(); return true;",
    )
    .await?;
    j.done().await?;
    j.goto(&format!("/units/{PROVINCE}/bulletin/{YEAR}-03"))
        .await?;
    j.find("svg").await?;

    j.step("every other page the year used passes the accessibility check");
    let mut pages = vec![
        "/".to_string(),
        "/dashboard".into(),
        "/catalogue".into(),
        "/indicators".into(),
        "/units".into(),
        format!("/units/{PROVINCE}"),
        format!("/units/{COMMUNITY}"),
        "/groups".into(),
        "/users".into(),
        "/audit".into(),
        "/account".into(),
        "/records/import".into(),
        format!("/units/{COMMUNITY}/records/{YEAR}"),
        format!("/units/{COMMUNITY}/surveys/{YEAR}"),
        format!("/units/{COMMUNITY}/evaluations/{YEAR}"),
        format!("/units/{COUNTY}/rankings/{YEAR}"),
        format!("/units/{COUNTY}/rankings/{YEAR}?print=1"),
        format!("/units/{PROVINCE}/reports/{YEAR}-03"),
        format!("/units/{COMMUNITY}/reports/{YEAR}-03"),
        format!("/units/{TOWNSHIP}/bulletin/{YEAR}-03?print=1"),
    ];
    for kind in [
        "profile",
        "groups",
        "organisations",
        "services",
        "activities",
        "mediation",
        "incidents",
        "health",
        "tallies",
    ] {
        pages.push(format!("/units/{COMMUNITY}/records/{YEAR}/{kind}"));
    }
    for page in &pages {
        j.goto(page).await?;
        j.find("body").await?;
        j.check_accessibility().await?;
    }
    j.done().await?;
    sign_out(j).await?;

    j.step("a signed-out visitor reaches no record page");
    for path in [
        format!("/units/{COMMUNITY}/records/{YEAR}"),
        format!("/units/{COMMUNITY}/records/{YEAR}/services"),
        format!("/units/{COMMUNITY}/records/{YEAR}/profile"),
        "/records/import".to_string(),
        format!("/units/{COMMUNITY}/evaluations/{YEAR}"),
    ] {
        j.goto(&path).await?;
        j.find("#username").await?;
        let text = j.text().await?;
        if text.contains("第一居民小组") || text.contains("月度服务日") {
            return Err(j.fail(&format!("{path} shows records signed out")).await);
        }
    }
    j.done().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_in_the_browser_from_first_start_to_the_bulletin() {
    if !browser_available() {
        return;
    }
    let server = Server::start().await;
    let mut journey = Journey::new("year", Browser::start(1280, 900).await, &server.base);
    let outcome = year_cycle(&mut journey, &server).await;
    let evidence = journey.evidence().to_path_buf();
    journey.browser.close().await;
    if let Err(e) = outcome {
        panic!("{e}\n--- server log ---\n{}", server.log_text());
    }
    // Every step left its screenshot.
    let shots = std::fs::read_dir(&evidence)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(shots >= 20, "{shots} screenshots in {}", evidence.display());
}

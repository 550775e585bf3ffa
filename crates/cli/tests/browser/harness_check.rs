//! The harness itself: a journey that cannot find what it wants must say which step and which
//! element, and leave the page behind to look at.

use crate::harness::{Browser, Journey, Server, browser_available};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_element_fails_naming_the_step_and_the_element_and_leaves_the_page() {
    if !browser_available() {
        return;
    }
    let server = Server::start().await;
    let mut j = Journey::new(
        "harness-check",
        Browser::start(800, 600).await,
        &server.base,
    );
    j.step("open the sign-in page");
    j.goto("/login").await.unwrap();
    j.find("#username").await.unwrap();
    j.shot().await.unwrap();

    j.step("press a button that is not there");
    let message = j.find("#no-such-button").await.unwrap_err().to_string();
    assert!(message.contains("step 2"), "{message}");
    assert!(
        message.contains("press a button that is not there"),
        "{message}"
    );
    assert!(message.contains("`#no-such-button`"), "{message}");
    let stem = j
        .evidence()
        .join("02-press-a-button-that-is-not-there.failed");
    assert!(message.contains(&stem.display().to_string()), "{message}");
    let html = std::fs::read_to_string(stem.with_extension("failed.html")).unwrap();
    assert!(html.contains("id=\"username\""), "{html}");
    let png = std::fs::read(stem.with_extension("failed.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(j.evidence().join("01-open-the-sign-in-page.png").is_file());

    j.step("text that is not there");
    let message = j.expect_text("不存在的文字").await.unwrap_err().to_string();
    assert!(
        message.contains("step 3") && message.contains("不存在的文字"),
        "{message}"
    );

    j.step("an unlabelled field");
    j.script(
        "const i = document.createElement('input'); i.name = 'stray'; \
         document.querySelector('main').appendChild(i); return true;",
    )
    .await
    .unwrap();
    let message = j.check_accessibility().await.unwrap_err().to_string();
    assert!(message.contains("field without a label"), "{message}");
    assert!(message.contains("stray"), "{message}");
    j.browser.close().await;
}

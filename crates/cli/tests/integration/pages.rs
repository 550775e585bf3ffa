use shequ_app::{DivisionSource, ImportOptions, SourceFile};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_catalogue_page_shows_16_categories_and_100_items() {
    let app = spawn_app().await;
    let (status, html) = app.get_page("/catalogue").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<section id=\"c").count(), 16);
    assert_eq!(html.matches("<li value=").count(), 100);
    assert!(html.contains("16. 宣传服务（二项）"));
    // Quotes in the notice's text are escaped, not dropped.
    assert!(html.contains("组织党员开展“党员服务区”、“党员先锋岗”服务"));
}

#[tokio::test]
async fn the_indicators_page_shows_25_in_8_groups() {
    let app = spawn_app().await;
    let (status, html) = app.get_page("/indicators").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<li value=").count(), 25);
    assert_eq!(html.matches("<section class=\"group\">").count(), 8);
    assert_eq!(html.matches("特色考评指标</span>").count(), 3);
}

#[tokio::test]
async fn home_tree_and_unit_pages() {
    let app = spawn_app().await;
    let (status, html) = app.get_page("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("hlj-2010"));
    assert!(html.contains("黑龙江省"));
    assert!(html.contains(">13877<") && html.contains(">4852<"));

    let (status, html) = app.get_page("/units").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/units/23\""));

    let (status, html) = app.get_page("/units/230102").await;
    assert_eq!(status, 200);
    // Breadcrumbs from the tree root down to the unit.
    assert!(html.contains("<a href=\"/units/23\">黑龙江省</a> › <a href=\"/units/2301\">哈尔滨市</a> › <span aria-current=\"page\">道里区</span>"));
    assert!(html.contains("兆麟街道"));
    assert!(html.contains("直属下级"));

    let (status, html) = app.get_page("/units/230102001001").await;
    assert_eq!(status, 200);
    assert!(html.contains("居委会（社区）"));
    assert!(html.contains("按代码计为社区"));
}

#[tokio::test]
async fn search_page_lists_each_match_with_its_place() {
    let app = spawn_app().await;
    let (status, html) = app.get_page("/units?q=新华街道").await;
    assert_eq!(status, 200);
    assert!(html.contains("（4 个）"));
    assert_eq!(html.matches("<tr><td><a href=\"/units/").count(), 4);
    let (_, html) = app.get_page("/units?q=胜利").await;
    assert!(html.contains("（第 1—50 个）"));
    assert!(html.contains("cursor=50\" rel=\"next\">下一页</a>"));
    let (status, html) = app.get_page("/units?q=不存在的地方").await;
    assert_eq!(status, 200);
    assert!(html.contains("没有找到匹配的单位"));
    let (status, html) = app.get_page(&format!("/units?q={}", "长".repeat(60))).await;
    assert_eq!(status, 400);
    assert!(html.contains("查找内容过长"));
}

#[tokio::test]
async fn groups_are_browsable_and_shown_on_unit_pages() {
    let app = spawn_app().await;
    let (status, html) = app.get_page("/groups").await;
    assert_eq!(status, 200);
    assert!(html.contains("农垦") && html.contains("森工"));
    let (status, html) = app
        .get_page("/groups/%E7%B3%BB%E7%BB%9F/%E5%86%9C%E5%9E%A6")
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("红旗农场"));
    // 红旗农场 (230103500) is in 农垦; a living area below it shows the group too.
    let (_, children) = app.get_json("/api/v1/units/230103500/children").await;
    let first_child = children["items"][0]["code"].as_str().unwrap().to_string();
    let (_, html) = app.get_page(&format!("/units/{first_child}")).await;
    assert!(html.contains("系统 · 农垦"), "{first_child}");
    let (status, _) = app.get_page("/groups/x/y").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn error_pages_are_chinese_html() {
    let app = spawn_app().await;
    let (status, html) = app.get_page("/units/99").await;
    assert_eq!(status, 404);
    assert!(html.contains("单位 99 不存在"));
    let (status, html) = app.get_page("/units/2x").await;
    assert_eq!(status, 400);
    assert!(html.contains("单位代码无效"));
    let (status, html) = app.get_page("/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("页面不存在"));
}

#[tokio::test]
async fn pages_escape_what_they_show() {
    let app = spawn_app().await;
    let file = SourceFile {
        name: "extra.csv".into(),
        bytes: "code,name,parent_code\n230102001901,<script>alert(1)</script>&\"',230102001\n"
            .as_bytes()
            .to_vec(),
    };
    app.app
        .import_divisions(
            DivisionSource::OneFile(file),
            ImportOptions::as_of("2010-05-01".parse().unwrap()),
            &shequ_app::Caller::operator(),
        )
        .await
        .unwrap();
    for path in ["/units/230102001901", "/units/230102001", "/units?q=script"] {
        let (status, html) = app.get_page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!html.contains("<script>"), "{path}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#38;&#34;&#39;"),
            "{path}: {}",
            &html[html.find("alert").unwrap_or(0).saturating_sub(40)..][..120]
        );
    }
    let (status, html) = app.get_page("/units?q=%3Cb%3E").await;
    assert_eq!(status, 200);
    assert!(html.contains("&#60;b&#62;") && !html.contains("<b>"));
    // JSON carries the name as data.
    let (_, unit) = app.get_json("/api/v1/units/230102001901").await;
    assert_eq!(unit["name"], "<script>alert(1)</script>&\"'");
    assert_eq!(unit["opened_on"], "2010-05-01");
}

#[tokio::test]
async fn group_links_survive_slashes_in_names() {
    let app = spawn_app().await;
    let file = SourceFile {
        name: "g.csv".into(),
        bytes: "group_set,group,code\n系统,农垦/林业,230103500\n"
            .as_bytes()
            .to_vec(),
    };
    app.app
        .import_groups(&file, &shequ_app::Caller::operator())
        .await
        .unwrap();
    let (_, html) = app.get_page("/groups").await;
    let href = "/groups/%E7%B3%BB%E7%BB%9F/%E5%86%9C%E5%9E%A6%2F%E6%9E%97%E4%B8%9A";
    assert!(html.contains(href), "{html}");
    let (status, html) = app.get_page(href).await;
    assert_eq!(status, 200);
    assert!(html.contains("红旗农场"));
}

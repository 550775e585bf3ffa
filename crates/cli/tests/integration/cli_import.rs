//! The `shequ` binary on a data directory of its own: imports good, repeated, renamed and bad.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use shequ_app::App;
use shequ_app::domain::codes::DivisionCode;
use shequ_store::testing::TestDatabase;

use crate::helpers::repo_path;

const STEMS: [&str; 5] = ["provinces", "cities", "areas", "streets", "villages"];

fn shequ(data_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_shequ"))
        .args(args)
        .env("SHEQU_DATA_DIR", data_dir)
        .env_remove("SHEQU_DATABASE_URL")
        .output()
        .unwrap()
}

/// `shequ import WHAT PATH EXTRA...` on a data directory.
fn import(data_dir: &Path, what: &str, path: &Path, extra: &[&str]) -> Output {
    let path = path.to_str().unwrap();
    let mut args = vec!["import", what, path];
    args.extend_from_slice(extra);
    shequ(data_dir, &args)
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A copy of the bundled Heilongjiang files to modify.
fn copy_of_heilongjiang(into: &Path) -> PathBuf {
    let folder = into.join("divisions");
    std::fs::create_dir_all(&folder).unwrap();
    for stem in STEMS {
        std::fs::copy(
            repo_path(&format!("data/divisions/23/{stem}.csv")),
            folder.join(format!("{stem}.csv")),
        )
        .unwrap();
    }
    folder
}

fn append(file: &Path, lines: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(lines.as_bytes()).unwrap();
}

async fn open(data_dir: &Path) -> App {
    App::open(&format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("shequ.db").display()
    ))
    .await
    .unwrap()
}

/// Everything about the units, to show a failed import left the database as it was.
async fn snapshot(data_dir: &Path) -> Vec<String> {
    let app = open(data_dir).await;
    let mut all = Vec::new();
    let mut queue = app.roots().await.unwrap();
    while let Some(unit) = queue.pop() {
        all.push(format!("{unit:?}"));
        queue.extend(app.children(unit.code.as_str()).await.unwrap());
    }
    all.push(format!("{:?}", app.groups().await.unwrap()));
    all.sort();
    all
}

#[tokio::test]
async fn importing_the_same_files_again_changes_nothing_plain_or_gzipped() {
    let db = TestDatabase::sqlite();
    let output = import(
        &db.data_dir,
        "divisions",
        &repo_path("data/divisions/23"),
        &[],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    // The first command initialised the empty database, then found nothing to change.
    assert!(stderr.contains("已初始化：15720 个单位"), "{stderr}");
    assert!(
        stdout.contains("新增 0，更名 0，调整上级 0，恢复 0，撤销 0，未变 15720"),
        "{stdout}"
    );

    let gz = db.data_dir.join("gz");
    std::fs::create_dir_all(&gz).unwrap();
    for stem in STEMS {
        let plain = std::fs::read(repo_path(&format!("data/divisions/23/{stem}.csv"))).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&plain).unwrap();
        std::fs::write(gz.join(format!("{stem}.csv.gz")), encoder.finish().unwrap()).unwrap();
    }
    let before = snapshot(&db.data_dir).await;
    let output = import(&db.data_dir, "divisions", &gz, &[]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("未变 15720"), "{stdout}");
    assert_eq!(snapshot(&db.data_dir).await, before);
}

#[tokio::test]
async fn renamed_new_and_missing_units_with_as_of() {
    let db = TestDatabase::sqlite();
    let folder = copy_of_heilongjiang(&db.data_dir);
    let villages = folder.join("villages.csv");
    let original = std::fs::read_to_string(&villages).unwrap();
    let changed = original
        .replace(
            "230102001001,\"省报社社区居委会\"",
            "230102001001,\"省报社社区\"",
        )
        .replace(
            "230102001002,\"索菲亚社区居委会\",230102001,23,2301,230102\n",
            "",
        )
        .replace('\n', "\r\n");
    // UTF-8 with a byte-order mark and Windows line ends, as spreadsheet programs save.
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(changed.as_bytes());
    bytes.extend_from_slice(
        "230102001099,\"新建社区居委会\",230102001,23,2301,230102\r\n".as_bytes(),
    );
    std::fs::write(&villages, bytes).unwrap();

    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2011-03-01"],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("新增 1，更名 1，调整上级 0，恢复 0，撤销 1"),
        "{stdout}"
    );

    let app = open(&db.data_dir).await;
    let renamed = app.unit("230102001001").await.unwrap();
    assert_eq!(renamed.unit.name, "省报社社区");
    let history = app.name_history(&renamed.unit.code).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].old_name, "省报社社区居委会");
    assert_eq!(history[0].changed_on, "2011-03-01");
    let closed = app.unit("230102001002").await.unwrap();
    assert_eq!(closed.unit.closed_on, Some("2011-03-01".parse().unwrap()));
    let opened = app.unit("230102001099").await.unwrap();
    assert_eq!(opened.unit.opened_on, Some("2011-03-01".parse().unwrap()));
    // The closed unit is kept (its records stay) but no longer counted.
    let province = app.unit("23").await.unwrap();
    assert_eq!(province.unit.counts.committee, 13877);

    // Bringing the original back reopens the closed unit and restores the name.
    std::fs::write(&villages, original).unwrap();
    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2012-01-01"],
    );
    let (stdout, _) = text(&output);
    assert!(
        stdout.contains("新增 0，更名 1，调整上级 0，恢复 1，撤销 1"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_bad_file_is_refused_whole_with_file_line_and_problem() {
    let db = TestDatabase::sqlite();
    let folder = copy_of_heilongjiang(&db.data_dir);
    // Initialise first so there is something to leave untouched.
    assert!(
        shequ(
            &db.data_dir,
            &[
                "import",
                "groups",
                repo_path("data/groups/hlj-systems.csv").to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let before = snapshot(&db.data_dir).await;
    let villages = folder.join("villages.csv");
    let lines = std::fs::read_to_string(&villages).unwrap().lines().count();
    append(
        &villages,
        "230102001001,\"重复\",230102001,23,2301,230102\n\
         230102999001,\"无上级\",230102999,23,2301,230102\n\
         23010200100,\"位数不对\",230102001,23,2301,230102\n\
         2301020010a1,\"非数字\",230102001,23,2301,230102\n\
         230102001098,\"上级不一致\",230102002,23,2301,230102\n",
    );
    // A renamed unit in the same file must not be applied either.
    let good_change = std::fs::read_to_string(&villages)
        .unwrap()
        .replace("\"索菲亚社区居委会\"", "\"改名\"");
    std::fs::write(&villages, good_change).unwrap();

    let output = import(&db.data_dir, "divisions", &folder, &[]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    let file = villages.display().to_string();
    // Format problems are found first (all of them), then tree problems.
    assert!(
        stderr.contains(&format!(
            "{file} 第 {} 行（code 列）：代码“23010200100”",
            lines + 3
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file} 第 {} 行（code 列）：代码“2301020010a1”含有非数字字符",
            lines + 4
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file} 第 {} 行（streetCode 列）", lines + 5)),
        "{stderr}"
    );
    assert_eq!(snapshot(&db.data_dir).await, before);

    // With the format fixed, the duplicate and the unknown parent are named.
    let fixed: String = std::fs::read_to_string(&villages)
        .unwrap()
        .lines()
        .take(lines + 2)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&villages, fixed).unwrap();
    let output = import(&db.data_dir, "divisions", &folder, &[]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "{file} 第 {} 行：代码 230102001001 重复（首次出现在{file} 第 2 行）",
            lines + 1
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file} 第 {} 行：上级单位 230102999 不存在",
            lines + 2
        )),
        "{stderr}"
    );
    assert!(stderr.contains("未导入任何数据"));
    assert_eq!(snapshot(&db.data_dir).await, before);
}

#[tokio::test]
async fn missing_files_and_columns_are_named() {
    let db = TestDatabase::sqlite();
    let folder = copy_of_heilongjiang(&db.data_dir);
    std::fs::write(
        folder.join("cities.csv"),
        "code,title,provinceCode\n2301,哈尔滨市,23\n",
    )
    .unwrap();
    let output = import(&db.data_dir, "divisions", &folder, &[]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cities.csv 第 1 行（name 列）：缺少列“name”"),
        "{stderr}"
    );

    std::fs::remove_file(folder.join("streets.csv")).unwrap();
    let output = import(&db.data_dir, "divisions", &folder, &[]);
    let (_, stderr) = text(&output);
    assert!(stderr.contains("缺少 streets.csv"), "{stderr}");

    let output = shequ(&db.data_dir, &["import", "divisions", "/no/such/path"]);
    assert!(!output.status.success());
    assert!(text(&output).1.contains("无法读取 /no/such/path"));
}

#[tokio::test]
async fn provincial_units_and_groups_from_one_file() {
    let db = TestDatabase::sqlite();
    let extra = db.data_dir.join("extra.csv");
    std::fs::create_dir_all(&db.data_dir).unwrap();
    std::fs::write(
        &extra,
        "code,name,parent_code\n230103500499,红旗农场第九生活区,230103500\n",
    )
    .unwrap();
    let output = import(
        &db.data_dir,
        "divisions",
        &extra,
        &["--as-of", "2010-06-01"],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("新增 1"), "{stdout}");

    let bad = db.data_dir.join("bad.csv");
    std::fs::write(
        &bad,
        "code,name,parent_code\n230103599902,x,230103599\n230103500903,y,\n230103500904,z,23\n",
    )
    .unwrap();
    let (_, stderr) = text(&import(&db.data_dir, "divisions", &bad, &[]));
    assert!(
        stderr.contains("第 2 行：上级单位 230103599 不存在或已撤销"),
        "{stderr}"
    );
    assert!(
        stderr.contains("第 4 行：上级代码 23 与代码 230103500904 的前几位不一致"),
        "{stderr}"
    );
    assert!(
        stderr.contains("第 3 行：村级单位必须填写上级代码"),
        "{stderr}"
    );

    let groups = db.data_dir.join("groups.csv");
    std::fs::write(
        &groups,
        "group_set,group,code\n系统,农垦,230103500\n系统,农垦,239999500\n",
    )
    .unwrap();
    let (_, stderr) = text(&import(&db.data_dir, "groups", &groups, &[]));
    assert!(
        stderr.contains("第 3 行（code 列）：单位 239999500 不存在"),
        "{stderr}"
    );

    let app = open(&db.data_dir).await;
    let added = app.unit("230103500499").await.unwrap();
    assert_eq!(added.unit.kind.as_str(), "residents_like");
    assert_eq!(added.unit.opened_on, Some("2010-06-01".parse().unwrap()));
    let code = DivisionCode::parse("230103500499").unwrap();
    assert_eq!(
        app.groups_of(&code).await.unwrap(),
        vec![("系统".to_string(), "农垦".to_string())]
    );
}

#[tokio::test]
async fn a_second_standard_version_is_kept_beside_the_first() {
    let db = TestDatabase::sqlite();
    let second = db.data_dir.join("hlj-2021.toml");
    std::fs::create_dir_all(&db.data_dir).unwrap();
    let toml = std::fs::read_to_string(repo_path("data/standards/hlj-2010.toml"))
        .unwrap()
        .replace("id = \"hlj-2010\"", "id = \"hlj-2021\"");
    std::fs::write(&second, toml).unwrap();
    let output = import(&db.data_dir, "standard", &second, &[]);
    assert!(output.status.success(), "{}", text_of(&output));
    let output = import(&db.data_dir, "standard", &second, &[]);
    assert!(text(&output).0.contains("已存在"));
    let app = open(&db.data_dir).await;
    assert_eq!(
        app.standard_ids().await.unwrap(),
        vec!["hlj-2010", "hlj-2021"]
    );
    assert_eq!(app.current_standard().await.unwrap().id, "hlj-2021");

    let broken = db.data_dir.join("broken.toml");
    std::fs::write(&broken, "id = \"x\"\n").unwrap();
    let output = import(&db.data_dir, "standard", &broken, &[]);
    assert!(!output.status.success());
    assert!(text(&output).1.contains("标准文件格式错误"));
}

fn text_of(output: &Output) -> String {
    let (a, b) = text(output);
    format!("{a}{b}")
}

#[tokio::test]
async fn closing_many_units_needs_confirming_and_dates_only_move_forward() {
    let db = TestDatabase::sqlite();
    let folder = copy_of_heilongjiang(&db.data_dir);
    let villages = folder.join("villages.csv");
    let original = std::fs::read_to_string(&villages).unwrap();
    // Drop every village of Harbin's 道里区 (230102): far more than 5% of ... no: a few hundred.
    let kept: String = original
        .lines()
        .filter(|l| !l.starts_with("2301"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&villages, &kept).unwrap();
    let dropped = original.lines().count() - kept.lines().count();
    assert!(dropped > 700, "{dropped}");
    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2011-01-01"],
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("本次导入将撤销 {dropped} 个单位")),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-mass-close"), "{stderr}");
    let app = open(&db.data_dir).await;
    assert_eq!(app.unit("23").await.unwrap().unit.counts.committee, 13877);

    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2011-01-01", "--allow-mass-close"],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("撤销 {dropped}")), "{stdout}");

    // Going back in time is refused: a unit would close before it opened.
    std::fs::write(&villages, &original).unwrap();
    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2010-06-01"],
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("早于上次区划导入的生效日期 2011-01-01"),
        "{stderr}"
    );

    // Dates as offices write them, and clear words for bad ones.
    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "２０１２/1/1"],
    );
    assert!(output.status.success(), "{}", text_of(&output));
    assert!(text(&output).0.contains("生效日期 2012-01-01"));
    for bad in ["2012-02-30", "2012-13-01", "tomorrow"] {
        let output = import(&db.data_dir, "divisions", &folder, &["--as-of", bad]);
        let (_, stderr) = text(&output);
        assert!(!output.status.success(), "{bad}");
        assert!(stderr.contains("日期"), "{bad}: {stderr}");
    }
}

#[tokio::test]
async fn a_header_only_file_or_an_ambiguous_pair_is_refused() {
    let db = TestDatabase::sqlite();
    let folder = copy_of_heilongjiang(&db.data_dir);
    std::fs::write(
        folder.join("villages.csv"),
        "code,name,streetCode,provinceCode,cityCode,areaCode\n",
    )
    .unwrap();
    let (_, stderr) = text(&import(&db.data_dir, "divisions", &folder, &[]));
    assert!(stderr.contains("villages.csv：文件没有数据行"), "{stderr}");

    let folder = copy_of_heilongjiang(&db.data_dir.join("second"));
    let plain = std::fs::read(folder.join("streets.csv")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&plain).unwrap();
    std::fs::write(folder.join("streets.csv.gz"), encoder.finish().unwrap()).unwrap();
    let (_, stderr) = text(&import(&db.data_dir, "divisions", &folder, &[]));
    assert!(
        stderr.contains("同时有 streets.csv 和 streets.csv.gz"),
        "{stderr}"
    );

    // An unclosed quote is named as such, on the last line too.
    let folder = copy_of_heilongjiang(&db.data_dir.join("third"));
    append(
        &folder.join("villages.csv"),
        "230102001097,\"未闭合,230102001,23,2301,230102\n",
    );
    let (_, stderr) = text(&import(&db.data_dir, "divisions", &folder, &[]));
    assert!(stderr.contains("可能缺少右引号"), "{stderr}");
}

#[tokio::test]
async fn duplicate_group_rows_are_named() {
    let db = TestDatabase::sqlite();
    std::fs::create_dir_all(&db.data_dir).unwrap();
    let groups = db.data_dir.join("groups.csv");
    std::fs::write(
        &groups,
        "group_set,group,code\n系统,农垦,230103500\n系统,农垦,230103500\n",
    )
    .unwrap();
    let (_, stderr) = text(&import(&db.data_dir, "groups", &groups, &[]));
    assert!(
        stderr.contains("第 3 行（code 列）：与第 2 行重复"),
        "{stderr}"
    );
    std::fs::write(&groups, "group_set,group,code\n系统,农垦/林业,230103500\n").unwrap();
    let (stdout, stderr) = text(&import(&db.data_dir, "groups", &groups, &[]));
    assert!(
        stdout.contains("1 条成员（这些分组集原有 123 条成员，已整体替换）"),
        "{stdout}{stderr}"
    );
}

#[tokio::test]
async fn concurrent_imports_and_first_starts_apply_once() {
    let db = TestDatabase::sqlite();
    // Three processes' worth of first start at once, on one empty database.
    let apps = [
        open(&db.data_dir).await,
        open(&db.data_dir).await,
        open(&db.data_dir).await,
    ];
    let bundled = &shequ_app::Bundled::HEILONGJIANG;
    let operator = shequ_app::Caller::operator();
    let (a, b, c) = tokio::join!(
        apps[0].initialise_if_empty(bundled, &operator),
        apps[1].initialise_if_empty(bundled, &operator),
        apps[2].initialise_if_empty(bundled, &operator)
    );
    for result in [a, b, c] {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(
        apps[0].unit("23").await.unwrap().unit.counts.committee,
        13877
    );

    // The same rename from two importers at once is recorded once.
    let folder = copy_of_heilongjiang(&db.data_dir);
    let villages = folder.join("villages.csv");
    let renamed = std::fs::read_to_string(&villages)
        .unwrap()
        .replace("\"省报社社区居委会\"", "\"省报社新社区居委会\"");
    std::fs::write(&villages, renamed).unwrap();
    let (a, b) = tokio::join!(
        import_folder(&apps[1], &folder),
        import_folder(&apps[2], &folder)
    );
    assert_eq!(a.unwrap().renamed + b.unwrap().renamed, 1);
    let code = DivisionCode::parse("230102001001").unwrap();
    assert_eq!(apps[0].name_history(&code).await.unwrap().len(), 1);
}

async fn import_folder(
    app: &App,
    folder: &Path,
) -> Result<shequ_app::ImportSummary, shequ_app::AppError> {
    let read = |stem: &str| shequ_app::SourceFile {
        name: format!("{stem}.csv"),
        bytes: std::fs::read(folder.join(format!("{stem}.csv"))).unwrap(),
    };
    let files = shequ_app::national_files(
        read("provinces"),
        read("cities"),
        read("areas"),
        read("streets"),
        read("villages"),
    );
    app.import_divisions(
        shequ_app::DivisionSource::National(files),
        shequ_app::ImportOptions::as_of("2011-01-01".parse().unwrap()),
        &shequ_app::Caller::operator(),
    )
    .await
}

#[tokio::test]
async fn every_import_writes_one_audit_entry_by_the_operator() {
    let db = TestDatabase::sqlite();
    let output = import(
        &db.data_dir,
        "divisions",
        &repo_path("data/divisions/23"),
        &[],
    );
    assert!(output.status.success());
    let app = open(&db.data_dir).await;
    let operator = shequ_app::Caller::operator();
    let log = app.audit_log(&operator, None, None).await.unwrap();
    // First start: the standard, the divisions, the groups; the no-op import writes nothing.
    let actions: Vec<&str> = log.items.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        ["import.groups", "import.divisions", "standard.add"]
    );
    let user = operator.actor.audit_name();
    assert!(user.starts_with("cli:"));
    assert!(
        log.items
            .iter()
            .all(|r| r.entry.actor == user && r.entry.client == "cli")
    );

    let folder = copy_of_heilongjiang(&db.data_dir);
    let villages = folder.join("villages.csv");
    let renamed = std::fs::read_to_string(&villages)
        .unwrap()
        .replace("\"省报社社区居委会\"", "\"省报社新社区居委会\"");
    std::fs::write(&villages, renamed).unwrap();
    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2011-01-01"],
    );
    assert!(output.status.success(), "{}", text_of(&output));
    let log = app.audit_log(&operator, None, None).await.unwrap();
    assert_eq!(log.items.len(), 4);
    assert_eq!(log.items[0].entry.action, "import.divisions");
    assert!(
        log.items[0]
            .entry
            .summary
            .contains("生效日期 2011-01-01：新增 0，更名 1"),
        "{:?}",
        log.items[0]
    );
    // A refused import writes nothing.
    let output = import(
        &db.data_dir,
        "divisions",
        &folder,
        &["--as-of", "2010-01-01"],
    );
    assert!(!output.status.success());
    assert_eq!(
        app.audit_log(&operator, None, None)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
}

#[tokio::test]
async fn bulk_users_from_a_spreadsheet_all_or_none() {
    let db = TestDatabase::sqlite();
    std::fs::create_dir_all(&db.data_dir).unwrap();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (row, cells) in [
        ["用户名", "姓名", "角色", "单位代码"],
        ["zhang.san", "张三", "officer", "230102"],
        ["li.si", "李四", "community_worker", "230102001001"],
    ]
    .iter()
    .enumerate()
    {
        for (col, text) in cells.iter().enumerate() {
            sheet.write_string(row as u32, col as u16, *text).unwrap();
        }
    }
    // A code typed as a number, as spreadsheets do.
    sheet.write_string(3, 0, "wang.wu").unwrap();
    sheet.write_string(3, 1, "王五").unwrap();
    sheet.write_string(3, 2, "viewer").unwrap();
    sheet.write_number(3, 3, 230102001.0).unwrap();
    let xlsx = db.data_dir.join("users.xlsx");
    workbook.save(&xlsx).unwrap();

    let out = db.data_dir.join("passwords.csv");
    let output = shequ(
        &db.data_dir,
        &[
            "admin",
            "import-users",
            xlsx.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", text_of(&output));
    let sheet = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = sheet.lines().collect();
    assert_eq!(lines[0], "username,password");
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("zhang.san,"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let app = open(&db.data_dir).await;
    let operator = shequ_app::Caller::operator();
    let users = app.list_users(&operator, None).await.unwrap();
    assert_eq!(users.len(), 3);
    assert!(users.iter().all(|u| u.must_change_password));
    let first = lines[3].split(',').nth(1).unwrap();
    let signed_in = app.sign_in("wang.wu", first, "127.0.0.1").await.unwrap();
    assert_eq!(signed_in.user.scope.as_str(), "230102001");

    // One bad row: nothing is created, every problem is named.
    let bad = db.data_dir.join("bad.csv");
    std::fs::write(&bad, "username,name,role,unit\nnew.one,新人,viewer,230102\nzhang.san,重名,viewer,230102\nnew.two,新人,root,230102\nnew.three,新人,community_worker,230102\n").unwrap();
    let output = shequ(
        &db.data_dir,
        &["admin", "import-users", bad.to_str().unwrap()],
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("第 3 行：用户名 zhang.san 已被使用"),
        "{stderr}"
    );
    assert!(stderr.contains("第 4 行：角色“root”无效"), "{stderr}");
    assert!(
        stderr.contains("第 5 行：社区工作者的所属单位必须是一个社区"),
        "{stderr}"
    );
    assert_eq!(app.list_users(&operator, None).await.unwrap().len(), 3);
    let log = app.audit_log(&operator, None, None).await.unwrap();
    let imports: Vec<_> = log
        .items
        .iter()
        .filter(|r| r.entry.action == "user.import")
        .collect();
    // One entry per created user, each with its unit so officers see their own.
    assert_eq!(imports.len(), 3);
    assert!(imports.iter().all(|r| r.entry.unit.is_some()));

    // An output file that cannot be created stops the import before any user exists.
    let again = db.data_dir.join("again.csv");
    std::fs::write(
        &again,
        "username,name,role,unit\nlate.one,迟,viewer,230102\n",
    )
    .unwrap();
    let output = shequ(
        &db.data_dir,
        &[
            "admin",
            "import-users",
            again.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(text(&output).1.contains("无法新建"));
    assert_eq!(app.list_users(&operator, None).await.unwrap().len(), 3);
}

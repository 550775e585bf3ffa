//! One conformance suite, run against SQLite and PostgreSQL alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shequ_domain::codes::DivisionCode;
use shequ_domain::records::{Input, RecordData, RecordKind};
use shequ_domain::standard::Standard;
use shequ_domain::tree::{ImportScope, IncomingUnit, Origin, ParentSpec, plan_import};
use shequ_store::testing::TestDatabase;
use shequ_store::{
    AuditEntry, CastOutcome, EvaluationStore, FactSet, GroupMembership, NewFile, NewSurvey,
    RecordChange, RecordCursor, RecordFilter, RecordStore, RecordWrite, ReportStore, SaveOutcome,
    SqlStore, Store, StoreError, SurveyStore, UnitQuery,
};

fn audit(action: &str, unit: Option<&str>) -> AuditEntry {
    AuditEntry {
        actor: "cli:tester".into(),
        role: "operator".into(),
        action: action.into(),
        unit: unit.map(code),
        object: "t.csv".into(),
        summary: "测试".into(),
        client: "cli".into(),
    }
}

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

fn row(c: &str, name: &str) -> IncomingUnit {
    IncomingUnit {
        code: code(c),
        name: name.into(),
        parent: ParentSpec::ByDigits,
        origin: Origin {
            file: "t.csv".into(),
            line: 1,
        },
    }
}

fn province() -> Vec<IncomingUnit> {
    vec![
        row("23", "黑龙江省"),
        row("2301", "哈尔滨市"),
        row("230102", "道里区"),
        row("230103", "南岗区"),
        row("230102001", "兆麟街道"),
        row("230102001001", "省报社社区居委会"),
        row("230102001002", "索菲亚社区居委会"),
        row("230102001201", "某村委会"),
        row("230103500", "红旗农场"),
        row("230103500400", "第一生活区"),
        row("230103500600", "某作业区"),
    ]
}

async fn import(store: &SqlStore, rows: &[IncomingUnit], date: &str) {
    let version = store.units_version().await.unwrap();
    let existing = store.units_for_planning().await.unwrap();
    let mut plan = plan_import(
        &existing,
        rows,
        ImportScope::FullProvinces,
        date.parse().unwrap(),
    )
    .unwrap();
    plan.based_on_version = version;
    store
        .apply_import(
            &plan,
            "2010-01-01T00:00:00Z",
            &audit("import.divisions", None),
        )
        .await
        .unwrap();
}

async fn a_stale_plan_is_refused(store: SqlStore) {
    store.migrate().await.unwrap();
    let stale = plan_import(
        &[],
        &province(),
        ImportScope::FullProvinces,
        "2010-01-01".parse().unwrap(),
    )
    .unwrap();
    import(&store, &province(), "2010-01-01").await;
    assert_eq!(store.units_version().await.unwrap(), 1);
    assert!(matches!(
        store
            .apply_import(
                &stale,
                "2010-01-01T00:00:00Z",
                &audit("import.divisions", None)
            )
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.units_version().await.unwrap(), 1);
}

async fn audit_entries_are_filtered_by_subtree_and_paged(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    for unit in ["230102001001", "230103500400", "2301"] {
        store
            .append_audit(&audit("test.write", Some(unit)))
            .await
            .unwrap();
    }
    let all = store.audit_entries(None, None, 50).await.unwrap();
    assert_eq!(all.len(), 4, "the import and three writes");
    assert_eq!(all[0].entry.unit, Some(code("2301")), "newest first");
    let county = store
        .audit_entries(Some(&code("230102")), None, 50)
        .await
        .unwrap();
    assert_eq!(county.len(), 1);
    assert_eq!(county[0].entry.unit, Some(code("230102001001")));
    let city = store
        .audit_entries(Some(&code("2301")), None, 50)
        .await
        .unwrap();
    assert_eq!(city.len(), 3);
    let page = store
        .audit_entries(Some(&code("2301")), None, 2)
        .await
        .unwrap();
    let rest = store
        .audit_entries(Some(&code("2301")), Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].entry.unit, Some(code("230102001001")));
    assert_eq!(all[3].entry.action, "import.divisions");
    assert_eq!(all[3].entry.actor, "cli:tester");
}

async fn migrations_are_idempotent(store: SqlStore) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.state("nothing").await.unwrap(), None);
    store.set_state("k", "v1").await.unwrap();
    store.set_state("k", "v2").await.unwrap();
    assert_eq!(store.state("k").await.unwrap().as_deref(), Some("v2"));
}

async fn a_newer_database_is_refused(store: SqlStore) {
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    assert!(matches!(
        store.migrate().await,
        Err(StoreError::DatabaseTooNew { found: 999, .. })
    ));
}

async fn standards_are_versioned(store: SqlStore) {
    store.migrate().await.unwrap();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/standards/hlj-2010.toml"
    ))
    .unwrap();
    let standard = Standard::from_toml(&text).unwrap();
    assert_eq!(
        store
            .add_standard(&standard, &text, &audit("standard.add", None))
            .await
            .unwrap(),
        SaveOutcome::Added
    );
    assert_eq!(
        store
            .add_standard(&standard, &text, &audit("standard.add", None))
            .await
            .unwrap(),
        SaveOutcome::AlreadyPresent
    );
    // Same id, other text: refused.
    let changed = text.replace("为社区党员开展党内活动提供服务", "改动");
    assert!(matches!(
        store
            .add_standard(
                &Standard::from_toml(&changed).unwrap(),
                &changed,
                &audit("standard.add", None)
            )
            .await,
        Err(StoreError::StandardConflict(_))
    ));
    // A second version is added and becomes current; the first stays.
    let second_text = changed.replace("id = \"hlj-2010\"", "id = \"hlj-2021\"");
    let second = Standard::from_toml(&second_text).unwrap();
    store
        .add_standard(&second, &second_text, &audit("standard.add", None))
        .await
        .unwrap();
    assert_eq!(
        store.standard_ids().await.unwrap(),
        vec!["hlj-2010", "hlj-2021"]
    );
    assert_eq!(
        store.current_standard().await.unwrap().unwrap(),
        second_text
    );
    let items: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM standard_items WHERE standard_id = 'hlj-2010'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(items, 100);
}

async fn imports_keep_counts_current(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let p = store.unit(&code("23")).await.unwrap().unwrap();
    assert_eq!(p.name, "黑龙江省");
    assert_eq!(
        (
            p.counts.prefecture,
            p.counts.county,
            p.counts.township,
            p.counts.committee,
            p.counts.community
        ),
        (1, 2, 2, 5, 3)
    );
    assert_eq!(p.counts.village(), 2);
    let farm = store.unit(&code("230103500")).await.unwrap().unwrap();
    assert_eq!((farm.counts.committee, farm.counts.community), (2, 1));
    assert_eq!(farm.ancestors.county, Some(code("230103")));
    let village = store.unit(&code("230102001201")).await.unwrap().unwrap();
    assert_eq!(village.counts, Default::default());
    assert_eq!(village.opened_on, None);

    let children = store.children(&code("2301")).await.unwrap();
    let names: Vec<&str> = children.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["道里区", "南岗区"]);
    assert_eq!(children[0].counts.committee, 3);
    assert_eq!(store.roots().await.unwrap().len(), 1);
    assert_eq!(
        store.ancestor_codes(&code("230102001001")).await.unwrap(),
        vec![code("23"), code("2301"), code("230102"), code("230102001")]
    );
}

async fn reimport_rename_and_close(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let before = store.units_for_planning().await.unwrap();
    import(&store, &province(), "2010-02-01").await;
    assert_eq!(store.units_for_planning().await.unwrap(), before);

    let mut next = province();
    next[5].name = "省报社社区".into();
    next.retain(|u| u.code.as_str() != "230102001002");
    next.push(row("230102001003", "新建社区居委会"));
    import(&store, &next, "2011-03-01").await;

    let renamed = store.unit(&code("230102001001")).await.unwrap().unwrap();
    assert_eq!(renamed.name, "省报社社区");
    let history = store.name_history(&code("230102001001")).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].old_name, "省报社社区居委会");
    assert_eq!(history[0].changed_on, "2011-03-01");

    let closed = store.unit(&code("230102001002")).await.unwrap().unwrap();
    assert_eq!(closed.closed_on, Some("2011-03-01".parse().unwrap()));
    let opened = store.unit(&code("230102001003")).await.unwrap().unwrap();
    assert_eq!(opened.opened_on, Some("2011-03-01".parse().unwrap()));
    // Counts cover open units only: one closed, one opened.
    let p = store.unit(&code("23")).await.unwrap().unwrap();
    assert_eq!((p.counts.committee, p.counts.community), (5, 3));
}

async fn search_by_code_prefix_and_name(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let by_code = store
        .search_units(&UnitQuery::CodePrefix("2301020010".into()), 50, 0)
        .await
        .unwrap();
    let codes: Vec<&str> = by_code.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, ["230102001001", "230102001002"]);
    let by_name = store
        .search_units(&UnitQuery::NameContains("社区".into()), 50, 0)
        .await
        .unwrap();
    assert_eq!(by_name.len(), 2);
    // Wildcards are literal.
    let none = store
        .search_units(&UnitQuery::NameContains("%".into()), 50, 0)
        .await
        .unwrap();
    assert!(none.is_empty());
    let limited = store
        .search_units(&UnitQuery::CodePrefix("23".into()), 3, 0)
        .await
        .unwrap();
    assert_eq!(limited.len(), 3);
    let rest = store
        .search_units(&UnitQuery::CodePrefix("23".into()), 50, 3)
        .await
        .unwrap();
    assert_eq!(rest.len(), 8);
    assert_eq!(rest[0].code.as_str(), "230102001");
}

async fn groups_cover_subtrees(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let membership = |set: &str, group: &str, c: &str| GroupMembership {
        group_set: set.into(),
        group: group.into(),
        code: code(c),
    };
    store
        .replace_groups(
            &[
                membership("系统", "农垦", "230103500"),
                membership("系统", "森工", "230102001"),
            ],
            &audit("import.groups", None),
        )
        .await
        .unwrap();
    assert_eq!(
        store.groups_of(&code("230103500400")).await.unwrap(),
        vec![("系统".to_string(), "农垦".to_string())]
    );
    assert!(store.groups_of(&code("230103")).await.unwrap().is_empty());
    // Re-importing a set replaces it.
    let previous = store
        .replace_groups(
            &[membership("系统", "农垦", "230103500")],
            &audit("import.groups", None),
        )
        .await
        .unwrap();
    assert_eq!(previous, 2);
    let groups = store.groups().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].members, 1);
    let members = store.group_members("系统", "农垦").await.unwrap();
    assert_eq!(members[0].counts.community, 1);
}

fn service(unit: &str, date: &str, item: &str, people: &str) -> RecordWrite {
    let data = RecordData::from_inputs(
        RecordKind::Services,
        [
            ("unit", unit),
            ("date", date),
            ("item", item),
            ("people", people),
        ]
        .map(|(k, v)| (k, Input::Text(v))),
    )
    .unwrap();
    RecordWrite {
        data,
        record_ref: None,
        standard_id: Some("hlj-2010".into()),
        confirmed: true,
    }
}

fn health(unit: &str, year: &str, count: &str) -> RecordWrite {
    let data = RecordData::from_inputs(
        RecordKind::Health,
        [("unit", unit), ("year", year), ("count", count)].map(|(k, v)| (k, Input::Text(v))),
    )
    .unwrap();
    RecordWrite {
        data,
        record_ref: None,
        standard_id: None,
        confirmed: true,
    }
}

async fn records_are_written_filtered_and_paged(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = "230102001001";
    let b = "230102001002";
    let ids = store
        .apply_record_changes(
            &[
                RecordChange::Insert(service(a, "2010-03-05", "5", "12")),
                RecordChange::Insert(service(a, "2010-03-01", "6", "3")),
                RecordChange::Insert(service(a, "2010-04-01", "5", "1")),
                RecordChange::Insert(service(b, "2010-03-05", "5", "7")),
                RecordChange::Insert(health(a, "2010", "900")),
            ],
            &[],
            "worker",
            &[audit("records.create", Some(a))],
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 5);
    let stored = store.record(ids[0]).await.unwrap().unwrap();
    assert_eq!(stored.data.int("people"), Some(12));
    assert_eq!(stored.year, 2010);
    assert_eq!(stored.created_by, "worker");
    assert_eq!(stored.standard_id.as_deref(), Some("hlj-2010"));

    let march = RecordFilter {
        kind: Some(RecordKind::Services),
        unit: Some(code(a)),
        year: Some(2010),
        month: Some(3),
        ..Default::default()
    };
    let listed = store.list_records(&march, None, 10).await.unwrap();
    // Ledger order: by date.
    let dates: Vec<_> = listed
        .iter()
        .map(|r| r.data.date("date").unwrap().to_string())
        .collect();
    assert_eq!(dates, ["2010-03-01", "2010-03-05"]);
    assert_eq!(store.count_records(&march).await.unwrap(), 2);
    let item5 = RecordFilter {
        kind: Some(RecordKind::Services),
        within: Some(code("230102")),
        item: Some(5),
        ..Default::default()
    };
    assert_eq!(store.count_records(&item5).await.unwrap(), 3);
    // Paging continues after the cursor.
    let all = RecordFilter {
        kind: Some(RecordKind::Services),
        ..Default::default()
    };
    let first = store.list_records(&all, None, 2).await.unwrap();
    let last = first.last().unwrap();
    let cursor = RecordCursor {
        sort_key: last.data.date("date").unwrap().to_string(),
        id: last.id,
    };
    let rest = store.list_records(&all, Some(&cursor), 10).await.unwrap();
    assert_eq!(first.len() + rest.len(), 4);
    assert!(rest.iter().all(|r| first.iter().all(|f| f.id != r.id)));

    // One health count per community year.
    let dup = store
        .apply_record_changes(
            &[RecordChange::Insert(health(a, "2010", "901"))],
            &[],
            "worker",
            &[],
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::DuplicateRecord(_))),
        "{dup:?}"
    );

    // Update and delete.
    store
        .apply_record_changes(
            &[
                RecordChange::Update {
                    id: ids[0],
                    write: service(a, "2010-03-05", "5", "20"),
                },
                RecordChange::Delete { id: ids[1] },
            ],
            &[],
            "officer",
            &[],
        )
        .await
        .unwrap();
    let updated = store.record(ids[0]).await.unwrap().unwrap();
    assert_eq!(updated.data.int("people"), Some(20));
    assert_eq!(updated.updated_by, "officer");
    assert_eq!(updated.created_by, "worker");
    assert!(store.record(ids[1]).await.unwrap().is_none());
    let identities = store
        .record_identities(RecordKind::Services, &[code(a)])
        .await
        .unwrap();
    assert_eq!(identities.len(), 2);
    assert_eq!(identities[0].content_key, updated.data.content_key());
    let audits = store.audit_entries(Some(&code(a)), None, 10).await.unwrap();
    assert!(audits.iter().any(|e| e.entry.action == "records.create"));
}

/// An import's inserts go in as multi-row statements: every id returned must be its own row's,
/// in the order given, across statement boundaries and beside updates in the same change set.
async fn batched_inserts_return_each_rows_id_in_order(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let units = ["230102001001", "230102001002", "230103500400"];
    let n = 457;
    let with_ref = |i: usize, reference: &str| RecordWrite {
        record_ref: Some(reference.to_string()),
        ..service(
            units[i % 3],
            "2010-05-01",
            &(1 + i % 100).to_string(),
            &(i + 1).to_string(),
        )
    };
    let first = store
        .apply_record_changes(
            &[RecordChange::Insert(with_ref(0, "R-old"))],
            &[],
            "worker",
            &[],
        )
        .await
        .unwrap();
    // The existing record gives up its reference in the same set that inserts a row taking it.
    let mut changes = vec![RecordChange::Insert(with_ref(1, "R-old"))];
    changes.push(RecordChange::Update {
        id: first[0],
        write: with_ref(0, "R-new"),
    });
    changes.extend((2..n).map(|i| RecordChange::Insert(with_ref(i, &format!("R-{i}")))));
    let ids = store
        .apply_record_changes(&changes, &[], "worker", &[])
        .await
        .unwrap();
    assert_eq!(ids.len(), n - 1);
    for (i, id) in (1..n).zip(&ids) {
        let stored = store.record(*id).await.unwrap().unwrap();
        assert_eq!(stored.data.int("people"), Some(i as i64 + 1), "row {i}");
        assert_eq!(stored.unit.as_str(), units[i % 3], "row {i}");
        let expected = if i == 1 {
            "R-old".to_string()
        } else {
            format!("R-{i}")
        };
        assert_eq!(stored.record_ref.as_deref(), Some(expected.as_str()));
    }
    // An evaluation's read leaves out exactly the per-month service counts.
    let a = units[0];
    let all = facts_of(&store, a).await;
    assert!(
        all.contains_key(&shequ_domain::evaluation::facts::service_month_item(5, 1)),
        "{all:?}"
    );
    let for_evaluation = store
        .record_facts(&code("23"), 2010, FactSet::Evaluation)
        .await
        .unwrap();
    let yearly: std::collections::BTreeMap<String, i64> = all
        .into_iter()
        .filter(|(f, _)| !shequ_domain::evaluation::facts::is_monthly_service(f))
        .collect();
    assert!(
        yearly.contains_key(&shequ_domain::evaluation::facts::service_item(1)),
        "{yearly:?}"
    );
    assert_eq!(for_evaluation.get(&code(a)), Some(&yearly));
    let renamed = store.record(first[0]).await.unwrap().unwrap();
    assert_eq!(renamed.record_ref.as_deref(), Some("R-new"));
    let all = RecordFilter {
        kind: Some(RecordKind::Services),
        ..Default::default()
    };
    assert_eq!(store.count_records(&all).await.unwrap(), n as i64);
    // A duplicate reference inside one statement (same community) fails the whole set and writes
    // nothing of it.
    let dup = store
        .apply_record_changes(
            &[
                RecordChange::Insert(with_ref(1, "R-dup")),
                RecordChange::Insert(with_ref(4, "R-dup")),
            ],
            &[],
            "worker",
            &[],
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::DuplicateRecord(_))),
        "{dup:?}"
    );
    assert_eq!(store.count_records(&all).await.unwrap(), n as i64);
}

async fn a_locked_year_refuses_every_write(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = "230102001001";
    let ids = store
        .apply_record_changes(
            &[
                RecordChange::Insert(service(a, "2010-03-05", "5", "12")),
                RecordChange::Insert(service(a, "2011-03-05", "5", "12")),
            ],
            &[],
            "worker",
            &[],
        )
        .await
        .unwrap();
    let file = NewFile {
        file_name: "a.png".into(),
        content_type: "image/png".into(),
        sha256: "00".into(),
        bytes: b"\x89PNG\r\n\x1a\n\x00\x01".to_vec(),
    };
    let file_id = store
        .add_record_file(ids[0], &file, "worker", &audit("records.file", Some(a)))
        .await
        .unwrap();
    let (meta, bytes) = store.record_file(file_id).await.unwrap().unwrap();
    assert_eq!(bytes, file.bytes);
    assert_eq!(meta.size_bytes, 10);
    assert_eq!(store.record_files(ids[0]).await.unwrap().len(), 1);

    store
        .set_year_locked(&code(a), 2010, true, &audit("records.lock", Some(a)))
        .await
        .unwrap();
    let states = store.year_states(&[code(a)]).await.unwrap();
    assert!(states[&(code(a), 2010)].locked);
    assert!(!states[&(code(a), 2011)].locked);
    let locked =
        |r: Result<Vec<i64>, StoreError>| matches!(r, Err(StoreError::Locked { year: 2010, .. }));
    assert!(locked(
        store
            .apply_record_changes(
                &[RecordChange::Insert(service(a, "2010-05-01", "1", "1"))],
                &[],
                "w",
                &[]
            )
            .await
    ));
    assert!(locked(
        store
            .apply_record_changes(&[RecordChange::Delete { id: ids[0] }], &[], "w", &[])
            .await
    ));
    // Moving a record of an open year into the locked one is refused too.
    assert!(locked(
        store
            .apply_record_changes(
                &[RecordChange::Update {
                    id: ids[1],
                    write: service(a, "2010-06-01", "5", "12")
                }],
                &[],
                "w",
                &[],
            )
            .await
    ));
    assert!(matches!(
        store
            .add_record_file(ids[0], &file, "w", &audit("x", None))
            .await,
        Err(StoreError::Locked { .. })
    ));
    assert!(matches!(
        store.delete_record_file(file_id, &audit("x", None)).await,
        Err(StoreError::Locked { .. })
    ));
    // Nothing of the refused batch was written, and the open year still takes writes.
    assert_eq!(store.record(ids[1]).await.unwrap().unwrap().year, 2011);
    store
        .apply_record_changes(
            &[RecordChange::Insert(service(a, "2011-05-01", "1", "1"))],
            &[],
            "w",
            &[],
        )
        .await
        .unwrap();
    // Unlocked (the review returned it), the year is writable again.
    store
        .set_year_locked(&code(a), 2010, false, &audit("records.unlock", Some(a)))
        .await
        .unwrap();
    store
        .apply_record_changes(&[RecordChange::Delete { id: ids[0] }], &[], "w", &[])
        .await
        .unwrap();
    assert!(store.record_file(file_id).await.unwrap().is_none());
}

async fn a_stale_record_plan_is_refused(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = code("230102001001");
    let before = store.year_states(std::slice::from_ref(&a)).await.unwrap();
    assert!(before.is_empty());
    store
        .apply_record_changes(
            &[RecordChange::Insert(service(
                "230102001001",
                "2010-03-05",
                "5",
                "12",
            ))],
            &[(a.clone(), 2010, 0)],
            "w",
            &[],
        )
        .await
        .unwrap();
    // Planned against version 0, but the year is now at 1.
    let stale = store
        .apply_record_changes(
            &[RecordChange::Insert(service(
                "230102001001",
                "2010-03-05",
                "5",
                "12",
            ))],
            &[(a.clone(), 2010, 0)],
            "w",
            &[],
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    assert_eq!(
        store.year_states(std::slice::from_ref(&a)).await.unwrap()[&(a, 2010)].version,
        1
    );
}

async fn survey_for(store: &SqlStore, unit: &str) -> i64 {
    use shequ_domain::surveys::{SurveyKind, SurveySpec};
    store
        .open_survey(
            &NewSurvey {
                unit: code(unit),
                year: 2010,
                kind: SurveyKind::Services,
                spec: SurveySpec::default_for(SurveyKind::Services),
                standard_id: "hlj-2010".into(),
                opens_on: None,
                closes_on: None,
                created_by: "worker".into(),
            },
            &audit("survey.open", Some(unit)),
        )
        .await
        .unwrap()
}

fn one_answer(satisfied: bool) -> shequ_domain::surveys::Tally {
    shequ_domain::surveys::Tally {
        ballots: 1,
        answers: 1,
        satisfied: i64::from(satisfied),
    }
}

async fn a_code_counts_once_under_concurrency(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let survey = survey_for(&store, "230102001001").await;
    store
        .add_codes(
            survey,
            &["h1".into(), "h2".into()],
            &audit("survey.codes", None),
        )
        .await
        .unwrap();
    let store = std::sync::Arc::new(store);
    let today: jiff::civil::Date = "2010-06-01".parse().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .cast_ballot("h1", "0", one_answer(true), today)
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let cast = outcomes.iter().filter(|o| **o == CastOutcome::Cast).count();
    assert_eq!(cast, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, CastOutcome::Cast | CastOutcome::AlreadyUsed))
    );
    assert_eq!(store.ballots(survey).await.unwrap(), ["0"]);
    let counts = store.code_counts(survey).await.unwrap();
    assert_eq!((counts.used, counts.unused), (1, 1));
    let s = store
        .survey(
            &code("230102001001"),
            2010,
            shequ_domain::surveys::SurveyKind::Services,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.online.ballots, 1);
    // Voided and closed codes cast nothing; unknown codes are unknown.
    assert_eq!(
        store
            .void_codes(survey, &["h2".into()], &audit("survey.void", None))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .cast_ballot("h2", "0", one_answer(true), today)
            .await
            .unwrap(),
        CastOutcome::Void
    );
    assert_eq!(
        store
            .cast_ballot("nope", "0", one_answer(true), today)
            .await
            .unwrap(),
        CastOutcome::Unknown
    );
    // Totals roll up by subtree, once the survey has ended.
    assert!(
        store
            .online_totals(&code("2301"), 2010, today)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .close_survey(survey, "2010-06-02T00:00:00Z", &audit("survey.close", None))
        .await
        .unwrap();
    let totals = store
        .online_totals(&code("2301"), 2010, today)
        .await
        .unwrap();
    assert_eq!(
        totals,
        vec![(
            shequ_domain::surveys::SurveyKind::Services,
            one_answer(true)
        )]
    );
    assert!(
        store
            .online_totals(&code("230103"), 2010, today)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_ballot_cannot_be_traced_to_its_code(store: SqlStore) {
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let survey = survey_for(&store, "230102001001").await;
    store
        .add_codes(
            survey,
            &["ha".into(), "hb".into(), "hc".into()],
            &audit("survey.codes", None),
        )
        .await
        .unwrap();
    let today: jiff::civil::Date = "2010-06-01".parse().unwrap();
    store
        .cast_ballot("hb", "2", one_answer(false), today)
        .await
        .unwrap();
    store
        .cast_ballot("ha", "0", one_answer(true), today)
        .await
        .unwrap();
    // What is stored: codes with a state, ballots with answers, and nothing joining them.
    let columns = |table: &str| {
        let table = table.to_string();
        let pool = store.pool().clone();
        async move {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT * FROM {table} LIMIT 1"
            )))
            .fetch_one(&pool)
            .await
            .unwrap();
            use sqlx::{Column, Row};
            let mut names: Vec<String> =
                row.columns().iter().map(|c| c.name().to_string()).collect();
            names.sort();
            names
        }
    };
    assert_eq!(columns("ballots").await, ["answers", "id", "survey_id"]);
    assert_eq!(
        columns("ballot_codes").await,
        ["code_hash", "state", "survey_id"]
    );
    // The used codes look alike; only the answers differ, sorted, on the ballot side.
    let used: Vec<(String, String)> = {
        use sqlx::Row;
        sqlx::query(
            "SELECT code_hash, state FROM ballot_codes WHERE state = 'used' ORDER BY code_hash",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("code_hash"), r.get("state")))
        .collect()
    };
    assert_eq!(
        used,
        [
            ("ha".to_string(), "used".to_string()),
            ("hb".to_string(), "used".to_string())
        ]
    );
    assert_eq!(store.ballots(survey).await.unwrap(), ["0", "2"]);
    // Closing expires the unused code.
    store
        .close_survey(survey, "2010-12-31T00:00:00Z", &audit("survey.close", None))
        .await
        .unwrap();
    assert_eq!(
        store
            .cast_ballot("hc", "0", one_answer(true), today)
            .await
            .unwrap(),
        CastOutcome::Expired
    );
    assert_eq!(store.code_counts(survey).await.unwrap().expired, 1);
}

fn activity(unit: &str, date: &str, kind: &str, links: &str) -> RecordWrite {
    let data = RecordData::from_inputs(
        RecordKind::Activities,
        [
            ("unit", unit),
            ("type", kind),
            ("start", date),
            ("participants", "30"),
            ("links", links),
        ]
        .map(|(k, v)| (k, Input::Text(v))),
    )
    .unwrap();
    RecordWrite {
        data,
        record_ref: None,
        standard_id: None,
        confirmed: true,
    }
}

async fn facts_of(store: &SqlStore, unit: &str) -> std::collections::BTreeMap<String, i64> {
    store
        .record_facts(&code(unit), 2010, FactSet::All)
        .await
        .unwrap()
        .remove(&code(unit))
        .unwrap_or_default()
}

async fn aggregate_counts_follow_every_write(store: SqlStore) {
    use shequ_domain::evaluation::facts;
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = "230102001001";
    let ids = store
        .apply_record_changes(
            &[
                RecordChange::Insert(service(a, "2010-03-05", "59", "12")),
                RecordChange::Insert(service(a, "2010-03-06", "59", "3")),
                RecordChange::Insert(activity(a, "2010-04-02", "季度服务周", "https://a.cn/1")),
            ],
            &[],
            "worker",
            &[],
        )
        .await
        .unwrap();
    let f = facts_of(&store, a).await;
    assert_eq!(f.get(&facts::service_item(59)), Some(&2));
    assert_eq!(f.get(&facts::service_month_item(3, 59)), Some(&2));
    assert_eq!(f.get(&facts::people_month_item(3, 59)), Some(&15));
    assert_eq!(f.get(&facts::activity_month("季度服务周", 4)), Some(&1));
    assert_eq!(f.get(facts::MEDIA_LINKS), Some(&1));
    // A change moves the count; a delete takes it away and leaves no zero rows.
    store
        .apply_record_changes(
            &[
                RecordChange::Update {
                    id: ids[2],
                    write: activity(a, "2010-07-02", "季度服务周", "https://a.cn/1 https://b.cn"),
                },
                RecordChange::Delete { id: ids[1] },
            ],
            &[],
            "worker",
            &[],
        )
        .await
        .unwrap();
    let f = facts_of(&store, a).await;
    assert_eq!(f.get(&facts::service_item(59)), Some(&1));
    assert_eq!(f.get(&facts::activity_month("季度服务周", 4)), None);
    assert_eq!(f.get(&facts::activity_month("季度服务周", 7)), Some(&1));
    assert_eq!(f.get(facts::MEDIA_LINKS), Some(&2));
    // A photo counts while it is attached.
    let file = store
        .add_record_file(
            ids[2],
            &shequ_store::NewFile {
                file_name: "p.png".into(),
                content_type: "image/png".into(),
                sha256: "00".into(),
                bytes: vec![1, 2, 3],
            },
            "worker",
            &audit("records.file.add", Some(a)),
        )
        .await
        .unwrap();
    assert_eq!(facts_of(&store, a).await.get(facts::PHOTOS), Some(&1));
    // The province's view holds the same counts, and a rebuild from the records agrees.
    let by_unit = store
        .record_facts(&code("23"), 2010, FactSet::All)
        .await
        .unwrap();
    assert_eq!(by_unit.get(&code(a)), Some(&facts_of(&store, a).await));
    let before = facts_of(&store, a).await;
    assert_eq!(store.rebuild_record_facts().await.unwrap(), 2);
    assert_eq!(facts_of(&store, a).await, before);
    store
        .delete_record_file(file, &audit("records.file.delete", Some(a)))
        .await
        .unwrap();
    assert_eq!(facts_of(&store, a).await.get(facts::PHOTOS), None);
    store
        .apply_record_changes(&[RecordChange::Delete { id: ids[2] }], &[], "worker", &[])
        .await
        .unwrap();
    let left = facts_of(&store, a).await;
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.keys().all(|k| k.contains("59")), "{left:?}");
}

async fn is_locked(store: &SqlStore, a: &DivisionCode) -> bool {
    store
        .year_states(std::slice::from_ref(a))
        .await
        .unwrap()
        .get(&(a.clone(), 2010))
        .is_some_and(|s| s.locked)
}

/// Writers that check a state before they change it must not both pass the check: on
/// PostgreSQL (READ COMMITTED) they did, until every write transaction took its turn.
async fn racing_writers_that_check_first_succeed_once(store: SqlStore) {
    use shequ_domain::evaluation::ReviewState;
    use shequ_store::ReviewEvent;
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let store = std::sync::Arc::new(store);
    let a = code("230102001001");
    for year in 2000..2010i16 {
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (store, a) = (store.clone(), a.clone());
                tokio::spawn(async move {
                    let event = ReviewEvent {
                        action: "submit".into(),
                        from_state: ReviewState::Draft,
                        to_state: ReviewState::Submitted,
                        level: "committee".into(),
                        reason: String::new(),
                        actor: format!("worker{i}"),
                        at: "2010-12-01T00:00:00Z".into(),
                    };
                    store
                        .transition_review(&a, year, &event, &audit("review.submit", None))
                        .await
                })
            })
            .collect();
        let mut succeeded = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => succeeded += 1,
                Err(StoreError::Conflict) => {}
                Err(e) => panic!("{year}: {e:?}"),
            }
        }
        assert_eq!(succeeded, 1, "{year}: one submission, the others refused");
        assert_eq!(store.review_history(&a, year).await.unwrap().len(), 1);
    }
    // Two imports planned on the same version of a year: the second is stale.
    let b = code("230102001002");
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (store, b) = (store.clone(), b.clone());
            tokio::spawn(async move {
                store
                    .apply_record_changes(
                        &[RecordChange::Insert(service(
                            b.as_str(),
                            "2010-03-05",
                            "5",
                            &(i + 1).to_string(),
                        ))],
                        &[(b.clone(), 2010, 0)],
                        "worker",
                        &[],
                    )
                    .await
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(succeeded, 1, "one import on version 0, the others stale");
    // Two rebuilds of the counts at once leave them as a recomputation finds them.
    let (x, y) = (store.clone(), store.clone());
    let first = tokio::spawn(async move { x.rebuild_record_facts().await });
    let second = tokio::spawn(async move { y.rebuild_record_facts().await });
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    let report = shequ_store::OperationsStore::check_consistency(&*store)
        .await
        .unwrap();
    assert!(
        report.fact_mismatches.is_empty(),
        "{:?}",
        report.fact_mismatches
    );
}

async fn review_steps_lock_and_refuse_stale_states(store: SqlStore) {
    use shequ_domain::evaluation::{ReviewState, Status};
    use shequ_store::{AssessmentEntry, ReviewEvent};
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = code("230102001001");
    let step = |from: ReviewState, to: ReviewState| ReviewEvent {
        action: "submit".into(),
        from_state: from,
        to_state: to,
        level: "committee".into(),
        reason: String::new(),
        actor: "worker".into(),
        at: "2010-12-01T00:00:00Z".into(),
    };
    store
        .transition_review(
            &a,
            2010,
            &step(ReviewState::Draft, ReviewState::Submitted),
            &audit("review.submit", Some("230102001001")),
        )
        .await
        .unwrap();
    assert!(is_locked(&store, &a).await);
    let write = store
        .apply_record_changes(
            &[RecordChange::Insert(health("230102001001", "2010", "9"))],
            &[],
            "worker",
            &[],
        )
        .await;
    assert!(matches!(write, Err(StoreError::Locked { .. })), "{write:?}");
    // A step planned on a state that has moved on is refused.
    let stale = store
        .transition_review(
            &a,
            2010,
            &step(ReviewState::Draft, ReviewState::Submitted),
            &audit("review.submit", None),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    store
        .transition_review(
            &a,
            2010,
            &step(ReviewState::Submitted, ReviewState::Returned),
            &audit("review.return", None),
        )
        .await
        .unwrap();
    assert!(!is_locked(&store, &a).await);
    let states = store.review_states(&code("23"), 2010).await.unwrap();
    assert_eq!(states.get(&a), Some(&ReviewState::Returned));
    assert_eq!(store.review_history(&a, 2010).await.unwrap().len(), 2);
    // Assessments are kept, replaced and refused once final.
    let entry = AssessmentEntry::Override {
        status: Status::Met,
        reason: "核实".into(),
    };
    store
        .put_assessment(
            &a,
            2010,
            21,
            &entry,
            "eval",
            &audit("evaluation.override", None),
        )
        .await
        .unwrap();
    let again = AssessmentEntry::Override {
        status: Status::NotMet,
        reason: "复核".into(),
    };
    store
        .put_assessment(
            &a,
            2010,
            21,
            &again,
            "eval",
            &audit("evaluation.override", None),
        )
        .await
        .unwrap();
    let stored = store.assessments(&code("2301"), 2010).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].entry, again);
    store
        .transition_review(
            &a,
            2010,
            &step(ReviewState::Returned, ReviewState::Final),
            &audit("review.approve", None),
        )
        .await
        .unwrap();
    let refused = store
        .put_assessment(
            &a,
            2010,
            18,
            &entry,
            "eval",
            &audit("evaluation.override", None),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::ReviewFinal)),
        "{refused:?}"
    );
}

async fn reports_keep_the_first_submission_and_deadlines_per_unit(store: SqlStore) {
    use shequ_store::{DeadlineSetting, NewSubmission};
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = code("230102001001");
    let b = code("230102001002");
    let farm = code("230103500400");
    let submit =
        |unit: &'static DivisionCode, month: i8, at: &'static str, snapshot: &'static str| {
            let store = &store;
            async move {
                store
                    .submit_report(
                        &NewSubmission {
                            unit,
                            year: 2010,
                            month,
                            at,
                            on: at[..10].parse().unwrap(),
                            due_on: "2010-04-05".parse().unwrap(),
                            by: "worker",
                            snapshot,
                        },
                        &audit("report.submit", Some(unit.as_str())),
                    )
                    .await
                    .unwrap()
            }
        };
    let a: &'static DivisionCode = Box::leak(Box::new(a));
    let b: &'static DivisionCode = Box::leak(Box::new(b));
    let farm: &'static DivisionCode = Box::leak(Box::new(farm));
    let first = submit(a, 3, "2010-04-03T01:00:00Z", "{\"v\":1}").await;
    assert_eq!(
        (first.submissions, first.snapshot.as_str()),
        (1, "{\"v\":1}")
    );
    let again = submit(a, 3, "2010-04-09T01:00:00Z", "{\"v\":2}").await;
    assert_eq!(again.submissions, 2);
    assert_eq!(again.first_submitted_at, "2010-04-03T01:00:00Z");
    assert_eq!(again.first_submitted_on, "2010-04-03".parse().unwrap());
    assert_eq!(again.submitted_at, "2010-04-09T01:00:00Z");
    assert_eq!(again.snapshot, "{\"v\":2}");
    assert_eq!(again.due_on, "2010-04-05".parse().unwrap());
    // A submission that lost a race (an earlier instant arriving later) is counted but does
    // not replace the later snapshot.
    let raced = submit(a, 3, "2010-04-08T01:00:00Z", "{\"v\":0}").await;
    assert_eq!(raced.submissions, 3);
    assert_eq!(raced.submitted_at, "2010-04-09T01:00:00Z");
    assert_eq!(raced.snapshot, "{\"v\":2}");
    submit(b, 4, "2010-05-01T01:00:00Z", "{}").await;
    submit(farm, 3, "2010-04-01T01:00:00Z", "{}").await;
    let street = store
        .submitted_reports(&code("230102001"), 2010, 1, 3)
        .await
        .unwrap();
    assert_eq!(street.len(), 1, "{street:?}");
    assert_eq!(street[0].unit, *a);
    let province_q2 = store
        .submitted_reports(&code("23"), 2010, 4, 6)
        .await
        .unwrap();
    assert_eq!(
        province_q2
            .iter()
            .map(|r| r.unit.clone())
            .collect::<Vec<_>>(),
        vec![b.clone()]
    );
    let county = store
        .submitted_reports(&code("230103"), 2010, 1, 12)
        .await
        .unwrap();
    assert_eq!(county.len(), 1);
    assert_eq!(county[0].unit, *farm);
    // Three submissions, three audit lines.
    let audited = store
        .audit_entries(Some(&code("230102001001")), None, 50)
        .await
        .unwrap();
    assert_eq!(
        audited
            .iter()
            .filter(|e| e.entry.action == "report.submit")
            .count(),
        3
    );

    let setting = |unit: &str, month: i8, day: i8| DeadlineSetting {
        unit: code(unit),
        year: 2010,
        month,
        day,
        set_by: "officer".into(),
        set_at: "2010-03-01T00:00:00Z".into(),
    };
    store
        .set_deadline(&setting("23", 3, 10), &audit("report.deadline", Some("23")))
        .await
        .unwrap();
    store
        .set_deadline(
            &setting("230102", 3, 6),
            &audit("report.deadline", Some("230102")),
        )
        .await
        .unwrap();
    store
        .set_deadline(
            &setting("230102", 3, 7),
            &audit("report.deadline", Some("230102")),
        )
        .await
        .unwrap();
    let all = store.deadlines(2010).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|d| (d.unit.as_str().to_string(), d.month, d.day))
            .collect::<Vec<_>>(),
        vec![("23".to_string(), 3, 10), ("230102".to_string(), 3, 7)]
    );
    assert!(
        store
            .clear_deadline(&code("230102"), 2010, 3, &audit("report.deadline", None))
            .await
            .unwrap()
    );
    assert!(
        !store
            .clear_deadline(&code("230102"), 2010, 3, &audit("report.deadline", None))
            .await
            .unwrap()
    );
    assert_eq!(store.deadlines(2010).await.unwrap().len(), 1);
    assert!(store.deadlines(2011).await.unwrap().is_empty());
    // A submission for a unit not in the tree is refused and writes nothing.
    let unknown: &'static DivisionCode = Box::leak(Box::new(code("239999999999")));
    let refused = store
        .submit_report(
            &NewSubmission {
                unit: unknown,
                year: 2010,
                month: 3,
                at: "2010-04-01T00:00:00Z",
                on: "2010-04-01".parse().unwrap(),
                due_on: "2010-04-05".parse().unwrap(),
                by: "x",
                snapshot: "{}",
            },
            &audit("report.submit", None),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::UnknownUnit(_))),
        "{refused:?}"
    );
}

async fn the_check_finds_counts_that_drifted_and_a_rebuild_repairs_them(store: SqlStore) {
    use shequ_store::OperationsStore;
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    let a = "230102001001";
    store
        .apply_record_changes(
            &[
                RecordChange::Insert(service(a, "2010-03-05", "59", "12")),
                RecordChange::Insert(activity(a, "2010-04-02", "季度服务周", "")),
            ],
            &[],
            "worker",
            &[],
        )
        .await
        .unwrap();
    let clean = store.check_consistency().await.unwrap();
    assert!(clean.is_consistent(), "{clean:?}");
    assert_eq!(clean.records_read, 2);
    assert_eq!(clean.fact_rows, 4);
    // A count changed behind the store's back, and one that should not exist.
    sqlx::query("UPDATE record_facts SET n = n + 5 WHERE fact = 'service:item:59'")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("INSERT INTO record_facts (unit_code, year, fact, n) VALUES ('230102001002', 2010, 'service:item:1', 3)")
        .execute(store.pool())
        .await
        .unwrap();
    let drifted = store.check_consistency().await.unwrap();
    assert!(!drifted.is_consistent());
    let mut found: Vec<(String, i64, i64)> = drifted
        .fact_mismatches
        .iter()
        .map(|m| (format!("{}:{}", m.unit, m.fact), m.stored, m.recomputed))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("230102001001:service:item:59".to_string(), 6, 1),
            ("230102001002:service:item:1".to_string(), 3, 0),
        ]
    );
    store.rebuild_record_facts().await.unwrap();
    assert!(store.check_consistency().await.unwrap().is_consistent());
}

async fn an_online_copy_holds_everything(store: SqlStore) {
    use shequ_store::OperationsStore;
    store.migrate().await.unwrap();
    import(&store, &province(), "2010-01-01").await;
    store
        .apply_record_changes(
            &[RecordChange::Insert(service(
                "230102001001",
                "2010-03-05",
                "59",
                "12",
            ))],
            &[],
            "worker",
            &[],
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    match store.backend() {
        shequ_store::Backend::Sqlite => {
            store.backup_into(&copy).await.unwrap();
            let restored = SqlStore::connect(&format!("sqlite://{}", copy.display()))
                .await
                .unwrap();
            restored.migrate().await.unwrap();
            let records = restored
                .list_records(&RecordFilter::default(), None, 10)
                .await
                .unwrap();
            assert_eq!(records.len(), 1);
            assert!(restored.check_consistency().await.unwrap().is_consistent());
        }
        shequ_store::Backend::Postgres => {
            let refused = store.backup_into(&copy).await;
            assert!(
                matches!(refused, Err(StoreError::Unsupported(_))),
                "{refused:?}"
            );
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = shequ_store::testing::TestDatabase::sqlite();
                    let store = shequ_store::SqlStore::connect(&db.url).await.unwrap();
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = shequ_store::testing::TestDatabase::postgres().await else {
                        return;
                    };
                    let store = shequ_store::SqlStore::connect(&db.url).await.unwrap();
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_stale_plan_is_refused,
    audit_entries_are_filtered_by_subtree_and_paged,
    migrations_are_idempotent,
    a_newer_database_is_refused,
    standards_are_versioned,
    imports_keep_counts_current,
    reimport_rename_and_close,
    search_by_code_prefix_and_name,
    groups_cover_subtrees,
    records_are_written_filtered_and_paged,
    batched_inserts_return_each_rows_id_in_order,
    a_locked_year_refuses_every_write,
    a_stale_record_plan_is_refused,
    a_code_counts_once_under_concurrency,
    a_ballot_cannot_be_traced_to_its_code,
    aggregate_counts_follow_every_write,
    review_steps_lock_and_refuse_stale_states,
    racing_writers_that_check_first_succeed_once,
    reports_keep_the_first_submission_and_deadlines_per_unit,
    the_check_finds_counts_that_drifted_and_a_rebuild_repairs_them,
    an_online_copy_holds_everything,
);

#[test]
fn test_databases_are_distinct() {
    let a = TestDatabase::sqlite();
    let b = TestDatabase::sqlite();
    assert_ne!(a.url, b.url);
}

//! Unit group files: `group_set,group,code`, further columns ignored.

use shequ_domain::codes::DivisionCode;
use shequ_domain::tree::Origin;

use crate::text::{FileProblem, SourceFile, Table, check_name};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub group_set: String,
    pub group: String,
    pub code: DivisionCode,
    pub origin: Origin,
}

pub fn read_groups(file: &SourceFile) -> Result<Vec<GroupRow>, Vec<FileProblem>> {
    let table = Table::read(file, &["group_set", "group", "code"])?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (line, record) in &table.records {
        let line = *line;
        let group_set = table.field(record, 0);
        let group = table.field(record, 1);
        for (column, value) in [("group_set", group_set), ("group", group)] {
            if let Err(problem) = check_name(value, 50) {
                problems.push(FileProblem::at(&table.file, line, Some(column), problem));
            }
        }
        match DivisionCode::parse(table.field(record, 2)) {
            Ok(code) => rows.push(GroupRow {
                group_set: group_set.to_string(),
                group: group.to_string(),
                code,
                origin: table.origin(line),
            }),
            Err(e) => problems.push(FileProblem::at(
                &table.file,
                line,
                Some("code"),
                e.to_string(),
            )),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_layout_and_ignores_extra_columns() {
        let file = SourceFile {
            name: "g.csv".into(),
            bytes: "group_set,group,code,name_at_derivation\n系统,农垦,230103500,红旗农场\n"
                .as_bytes()
                .to_vec(),
        };
        let rows = read_groups(&file).unwrap();
        assert_eq!(rows[0].group, "农垦");
        assert_eq!(rows[0].code.as_str(), "230103500");
    }

    #[test]
    fn a_bad_code_is_named() {
        let file = SourceFile {
            name: "g.csv".into(),
            bytes: "group_set,group,code\n系统,农垦,12345\n"
                .as_bytes()
                .to_vec(),
        };
        let problems = read_groups(&file).unwrap_err();
        assert_eq!(problems[0].line, Some(2));
        assert_eq!(problems[0].column.as_deref(), Some("code"));
    }
}

//! User lists for bulk creation: `username,name,role,unit` (or 用户名,姓名,角色,单位代码), CSV or
//! a spreadsheet.

use shequ_domain::tree::Origin;

use crate::text::{FileProblem, SourceFile, Table};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    pub name: String,
    pub role: String,
    pub unit: String,
    pub origin: Origin,
}

const ENGLISH: [&str; 4] = ["username", "name", "role", "unit"];
const CHINESE: [&str; 4] = ["用户名", "姓名", "角色", "单位代码"];

pub fn read_users(file: &SourceFile) -> Result<Vec<UserRow>, Vec<FileProblem>> {
    let table = match Table::read(file, &ENGLISH) {
        Ok(table) => table,
        Err(english_problems) => Table::read(file, &CHINESE).map_err(|_| english_problems)?,
    };
    if table.records.is_empty() {
        return Err(vec![FileProblem::file(&table.file, "文件没有数据行")]);
    }
    Ok(table
        .records
        .iter()
        .map(|(line, record)| UserRow {
            username: table.field(record, 0).to_string(),
            name: table.field(record, 1).to_string(),
            role: table.field(record, 2).to_string(),
            unit: table.field(record, 3).to_string(),
            origin: table.origin(*line),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_or_chinese_headers() {
        for text in [
            "username,name,role,unit\nzhang,张三,viewer,230102\n",
            "用户名,姓名,角色,单位代码\nzhang,张三,viewer,230102\n",
        ] {
            let rows = read_users(&SourceFile {
                name: "u.csv".into(),
                bytes: text.as_bytes().to_vec(),
            })
            .unwrap();
            assert_eq!(rows[0].name, "张三");
            assert_eq!(rows[0].origin.line, 2);
        }
        let problems = read_users(&SourceFile {
            name: "u.csv".into(),
            bytes: b"username,name\nx,y\n".to_vec(),
        })
        .unwrap_err();
        assert!(problems[0].problem.contains("缺少列“role”"));
    }
}

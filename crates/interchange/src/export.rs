//! Tables written for people to open in a spreadsheet program: CSV in UTF-8 with a byte-order
//! mark (so Excel reads Chinese right), with cells that a spreadsheet would run as a formula
//! made inert.

/// Starts of a cell that spreadsheet programs treat as a formula, in ASCII and full width.
const FORMULA_STARTS: [char; 8] = ['=', '+', '-', '@', '＝', '＋', '－', '＠'];

/// A cell as it is safe to write: text that would start a formula gets a leading apostrophe;
/// numbers (such as -3 or +5) stay numbers. Text that already starts with an apostrophe gets
/// one more, so that removing exactly one on import gives back what was written.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with('\'') {
        return format!("'{cell}");
    }
    let starts_formula = cell
        .trim_start()
        .chars()
        .next()
        .is_some_and(|c| FORMULA_STARTS.contains(&c) || c == '\t' || c == '\r');
    if starts_formula && cell.trim().parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

/// CSV bytes with a UTF-8 byte-order mark.
pub fn csv_bytes(headers: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    writer.write_record(headers).map_err(|e| e.to_string())?;
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| neutralise(c)).collect();
        writer.write_record(&cells).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

/// A cell of a table written for people: numbers stay numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

/// One worksheet of typed cells with a bold, frozen header row and columns wide enough to read.
/// Text is written as text, so nothing in it runs as a formula.
pub fn xlsx_table(
    sheet_name: &str,
    headers: &[&str],
    rows: &[Vec<Cell>],
) -> Result<Vec<u8>, String> {
    xlsx_workbook(&[Sheet {
        name: sheet_name,
        headers,
        rows,
    }])
}

/// One worksheet of a workbook.
pub struct Sheet<'a> {
    pub name: &'a str,
    pub headers: &'a [&'a str],
    pub rows: &'a [Vec<Cell>],
}

/// A workbook of several tables, one per worksheet, each written as [`xlsx_table`] writes one.
pub fn xlsx_workbook(sheets: &[Sheet<'_>]) -> Result<Vec<u8>, String> {
    let error = |e: rust_xlsxwriter::XlsxError| format!("xlsx 写入失败：{e}");
    let mut workbook = rust_xlsxwriter::Workbook::new();
    for table in sheets {
        write_sheet(&mut workbook, table).map_err(error)?;
    }
    workbook.save_to_buffer().map_err(error)
}

fn write_sheet(
    workbook: &mut rust_xlsxwriter::Workbook,
    table: &Sheet<'_>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let (sheet_name, headers, rows) = (table.name, table.headers, table.rows);
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (col, header) in headers.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *header, &bold)?;
        let widest = rows
            .iter()
            .filter_map(|r| match r.get(usize::from(col)) {
                Some(Cell::Text(t)) => Some(t.chars().count()),
                _ => None,
            })
            .chain([header.chars().count()])
            .max()
            .unwrap_or(4)
            .min(60);
        sheet.set_column_width(col, (widest * 2 + 2) as f64)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(t) => sheet.write_string(r, col, t),
                Cell::Number(n) => sheet.write_number(r, col, *n),
            }?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formulas_are_made_inert_and_numbers_stay() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("＝1+1"), "'＝1+1");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("-3"), "-3");
        assert_eq!(neutralise("+5.5"), "+5.5");
        assert_eq!(neutralise("道里区"), "道里区");
    }

    #[test]
    fn csv_has_a_bom_and_quotes() {
        let bytes = csv_bytes(&["a", "b"], &[vec!["x,y".into(), "=1".into()]]).unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        assert_eq!(
            String::from_utf8(bytes[3..].to_vec()).unwrap(),
            "a,b\n\"x,y\",'=1\n"
        );
    }

    proptest! {
        #[test]
        fn no_neutralised_cell_starts_a_formula(cell in ".{0,12}") {
            let safe = neutralise(&cell);
            let first = safe.trim_start().chars().next();
            let risky = first.is_some_and(|c| FORMULA_STARTS.contains(&c));
            prop_assert!(!risky || safe.trim().parse::<f64>().is_ok());
        }
    }
}

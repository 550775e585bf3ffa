//! Spreadsheets (xlsx, xls, ods) read as the CSV text of their first sheet, so that every
//! layout has one reader and one way of naming problems by line and column.

use std::io::Cursor;

use calamine::{Data, Reader};

/// Whether the bytes are a zip container (xlsx, ods) or an OLE file (xls).
pub fn looks_like_spreadsheet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// The first sheet as CSV text. Whole numbers are written without a decimal point or
/// exponent, as codes typed into a spreadsheet become numbers.
pub fn first_sheet_as_csv(bytes: &[u8]) -> Result<String, String> {
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| format!("表格文件无法打开：{e}"))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| "表格文件没有工作表".to_string())?
        .map_err(|e| format!("第一个工作表无法读取：{e}"))?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in range.rows() {
        let cells: Vec<String> = row.iter().map(cell_text).collect();
        writer
            .write_record(&cells)
            .map_err(|e| format!("表格内容无法转换：{e}"))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| format!("表格内容无法转换：{e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("表格内容无法转换：{e}"))
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_xlsx_reads_as_csv_with_codes_as_digits() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "username").unwrap();
        sheet.write_string(0, 1, "unit").unwrap();
        sheet.write_string(1, 0, "zhang, san").unwrap();
        sheet.write_number(1, 1, 230102001001.0).unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        assert!(looks_like_spreadsheet(&bytes));
        let csv = first_sheet_as_csv(&bytes).unwrap();
        assert_eq!(csv, "username,unit\n\"zhang, san\",230102001001\n");
    }

    #[test]
    fn a_broken_spreadsheet_is_an_error() {
        assert!(first_sheet_as_csv(b"PK\x03\x04broken").is_err());
    }
}

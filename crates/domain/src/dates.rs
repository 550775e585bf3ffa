//! Dates as offices write them: typed text in several forms, and spreadsheet serial numbers.

use jiff::civil::Date;
use unicode_normalization::UnicodeNormalization;

/// Reads a date typed as 2010-03-05, 2010/3/5, 2010年3月5日, 2010.3.5 (full-width digits too),
/// optionally followed by a time of day, which is ignored.
pub fn parse_date_text(input: &str) -> Result<Date, String> {
    let text: String = input.nfkc().collect();
    let text = text.trim();
    if text.is_empty() {
        return Err("日期为空".into());
    }
    // A date-time keeps only its date part.
    let date_part = text.split_once([' ', 'T']).map_or(text, |(date, time)| {
        if time.contains(':') || time.is_empty() {
            date
        } else {
            text
        }
    });
    let date_part = date_part.strip_suffix('日').unwrap_or(date_part);
    let parts: Vec<&str> = date_part.split(['-', '/', '.', '年', '月']).collect();
    let bad = || {
        format!(
            "无法识别的日期“{}”（可写作 2010-03-05、2010/3/5、2010年3月5日 或 2010.3.5）",
            crate::text::excerpt(text, 30)
        )
    };
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    let number = |s: &str, max_len: usize| -> Option<i64> {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return Err(bad());
    };
    if y.len() != 4 {
        return Err(format!(
            "年份应写 4 位数字：“{}”",
            crate::text::excerpt(text, 30)
        ));
    }
    checked_date(year, month, day)
}

fn checked_date(year: i64, month: i64, day: i64) -> Result<Date, String> {
    let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(year), i8::try_from(month), i8::try_from(day))
    else {
        return Err(format!("日期 {year}-{month}-{day} 不存在"));
    };
    Date::new(y, m, d).map_err(|_| format!("日期 {year}-{month:02}-{day:02} 不存在"))
}

/// The date of a spreadsheet serial number in the 1900 date system. Excel counts a
/// 29 February 1900 that never was (serial 60), so serials after it are one day ahead.
pub fn excel_serial_date(serial: f64) -> Result<Date, String> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return Err(format!("数字 {serial} 不是有效的表格日期"));
    }
    let days = serial.floor() as i64;
    if days == 60 {
        return Err("表格日期 60 对应 1900年2月29日，这一天并不存在".into());
    }
    let base = Date::constant(1899, 12, 31);
    let offset = if days > 60 { days - 1 } else { days };
    base.checked_add(jiff::Span::new().days(offset))
        .map_err(|_| format!("数字 {serial} 不是有效的表格日期"))
}

/// The serial number a spreadsheet would store for this date (the inverse of
/// [`excel_serial_date`]).
pub fn excel_serial(date: Date) -> f64 {
    let base = Date::constant(1899, 12, 31);
    let days = i64::from((date - base).get_days());
    (if days >= 60 { days + 1 } else { days }) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_forms_people_type() {
        let want = Date::constant(2010, 3, 5);
        for text in [
            "2010-03-05",
            "2010/3/5",
            "2010年3月5日",
            "2010.3.5",
            "２０１０年３月５日",
            " 2010-3-5 ",
            "2010-03-05 00:00:00",
            "2010/3/5 14:30",
            "2010-03-05T08:00:00",
        ] {
            assert_eq!(parse_date_text(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn impossible_and_unreadable_dates_are_refused() {
        assert!(
            parse_date_text("2010-02-30")
                .unwrap_err()
                .contains("不存在")
        );
        assert!(
            parse_date_text("2011-02-29")
                .unwrap_err()
                .contains("不存在")
        );
        assert!(parse_date_text("3/5/2010").is_err());
        assert!(parse_date_text("10-3-5").unwrap_err().contains("4 位"));
        assert!(parse_date_text("明天").unwrap_err().contains("无法识别"));
        assert!(parse_date_text("").is_err());
    }

    #[test]
    fn excel_serials_in_the_1900_system() {
        assert_eq!(excel_serial_date(1.0), Ok(Date::constant(1900, 1, 1)));
        assert_eq!(excel_serial_date(59.0), Ok(Date::constant(1900, 2, 28)));
        assert!(excel_serial_date(60.0).unwrap_err().contains("2月29日"));
        assert_eq!(excel_serial_date(61.0), Ok(Date::constant(1900, 3, 1)));
        assert_eq!(excel_serial_date(40242.0), Ok(Date::constant(2010, 3, 5)));
        // A date-time keeps its date.
        assert_eq!(excel_serial_date(40242.75), Ok(Date::constant(2010, 3, 5)));
        assert!(excel_serial_date(0.0).is_err());
        assert!(excel_serial_date(f64::NAN).is_err());
    }

    proptest! {
        #[test]
        fn serials_round_trip(days in 0i64..80_000) {
            let date = Date::constant(1900, 3, 1)
                .checked_add(jiff::Span::new().days(days))
                .unwrap();
            prop_assert_eq!(excel_serial_date(excel_serial(date)), Ok(date));
        }

        #[test]
        fn typed_dates_round_trip(days in 0i64..40_000) {
            let date = Date::constant(2000, 1, 1)
                .checked_add(jiff::Span::new().days(days))
                .unwrap();
            let slashed = format!("{}/{}/{}", date.year(), date.month(), date.day());
            let chinese = format!("{}年{}月{}日", date.year(), date.month(), date.day());
            prop_assert_eq!(parse_date_text(&date.to_string()), Ok(date));
            prop_assert_eq!(parse_date_text(&slashed), Ok(date));
            prop_assert_eq!(parse_date_text(&chinese), Ok(date));
        }
    }
}

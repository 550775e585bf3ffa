-- Listing and exporting the records of a kind and year under a unit walks them in ledger order
-- (sort_key, id) page by page; these indexes serve each page without scanning and sorting the
-- whole year again (a province's export was quadratic without them).
DROP INDEX records_township;
DROP INDEX records_county;
DROP INDEX records_prefecture;
CREATE INDEX records_province_order ON records (kind, year, province_code, sort_key, id);
CREATE INDEX records_prefecture_order ON records (kind, year, prefecture_code, sort_key, id);
CREATE INDEX records_county_order ON records (kind, year, county_code, sort_key, id);
CREATE INDEX records_township_order ON records (kind, year, township_code, sort_key, id);

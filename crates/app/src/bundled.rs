//! The reference data shipped inside the binary: the 2010 standard, Heilongjiang's divisions
//! and the first list of the two provincial systems.

use shequ_interchange::{NationalFiles, SourceFile};

pub struct Bundled {
    pub standard_toml: &'static str,
    divisions: [(&'static str, &'static [u8]); 5],
    groups: (&'static str, &'static [u8]),
}

macro_rules! data {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/", $path))
    };
}

impl Bundled {
    pub const HEILONGJIANG: Bundled = Bundled {
        standard_toml: include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/standards/hlj-2010.toml"
        )),
        divisions: [
            (
                "data/divisions/23/provinces.csv",
                data!("divisions/23/provinces.csv"),
            ),
            (
                "data/divisions/23/cities.csv",
                data!("divisions/23/cities.csv"),
            ),
            (
                "data/divisions/23/areas.csv",
                data!("divisions/23/areas.csv"),
            ),
            (
                "data/divisions/23/streets.csv",
                data!("divisions/23/streets.csv"),
            ),
            (
                "data/divisions/23/villages.csv",
                data!("divisions/23/villages.csv"),
            ),
        ],
        groups: (
            "data/groups/hlj-systems.csv",
            data!("groups/hlj-systems.csv"),
        ),
    };

    pub fn divisions(&self) -> crate::DivisionSource {
        let [p, c, a, s, v] = self.divisions.map(|(name, bytes)| SourceFile {
            name: name.to_string(),
            bytes: bytes.to_vec(),
        });
        crate::DivisionSource::National(NationalFiles {
            provinces: p,
            cities: c,
            areas: a,
            streets: s,
            villages: v,
        })
    }

    pub fn groups(&self) -> SourceFile {
        SourceFile {
            name: self.groups.0.to_string(),
            bytes: self.groups.1.to_vec(),
        }
    }
}

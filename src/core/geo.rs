//! French regions and departments with their prefectures (data/geo), place lookup from what
//! people type ("Bretagne", "PACA", "Gironde", "33", "Lyon") and distances between prefectures.

use super::text::normalize;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Region {
    pub code: String,
    pub name: String,
    /// The department whose prefecture is the regional capital.
    pub capital: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub region: usize,
    pub prefecture: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Region(usize),
    Department(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{file}: {reason}")]
    Bad { file: &'static str, reason: String },
}

#[derive(Debug)]
pub struct Geography {
    regions: Vec<Region>,
    departments: Vec<Department>,
    names: HashMap<String, Place>,
}

/// Names people use that are not in the INSEE tables.
const REGION_ALIASES: &[(&str, &str)] = &[
    ("idf", "11"),
    ("paris region", "11"),
    ("region parisienne", "11"),
    ("cvl", "24"),
    ("centre", "24"),
    ("bfc", "27"),
    ("bourgogne", "27"),
    ("franche comte", "27"),
    ("nor", "28"),
    ("hdf", "32"),
    ("nord pas de calais", "32"),
    ("picardie", "32"),
    ("ges", "44"),
    ("alsace", "44"),
    ("lorraine", "44"),
    ("champagne ardenne", "44"),
    ("pdl", "52"),
    ("bre", "53"),
    ("brittany", "53"),
    ("naq", "75"),
    ("aquitaine", "75"),
    ("occ", "76"),
    ("midi pyrenees", "76"),
    ("languedoc roussillon", "76"),
    ("ara", "84"),
    ("aura", "84"),
    ("rhone alpes", "84"),
    ("auvergne", "84"),
    ("paca", "93"),
    ("pac", "93"),
    ("sud", "93"),
    ("region sud", "93"),
    ("cor", "94"),
    ("corsica", "94"),
    ("reunion", "04"),
    ("normandy", "28"),
];

impl Geography {
    /// Builds from the text of `prefectures.csv` (dep_code, dep_name, reg_code, reg_name,
    /// chef_lieu_insee, chef_lieu_name, lon, lat, …) and `regions.csv` (INSEE COG).
    pub fn from_csv(prefectures: &str, regions: &str) -> Result<Self, GeoError> {
        let mut region_list = Vec::new();
        let mut capitals = Vec::new();
        let mut reader =
            csv::Reader::from_reader(regions.trim_start_matches('\u{feff}').as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| GeoError::Bad {
                file: "regions.csv",
                reason: e.to_string(),
            })?;
            let field = |i: usize| row.get(i).unwrap_or("").to_string();
            region_list.push(Region {
                code: field(0),
                name: field(5),
                capital: None,
            });
            capitals.push(field(1));
        }
        let mut departments = Vec::new();
        let mut reader =
            csv::Reader::from_reader(prefectures.trim_start_matches('\u{feff}').as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| GeoError::Bad {
                file: "prefectures.csv",
                reason: e.to_string(),
            })?;
            let field = |i: usize| row.get(i).unwrap_or("").to_string();
            let number = |i: usize| {
                field(i).parse::<f64>().map_err(|_| GeoError::Bad {
                    file: "prefectures.csv",
                    reason: format!("department {}: bad coordinate '{}'", field(0), field(i)),
                })
            };
            let region = region_list
                .iter()
                .position(|r| r.code == field(2))
                .ok_or_else(|| GeoError::Bad {
                    file: "prefectures.csv",
                    reason: format!("department {}: unknown region {}", field(0), field(2)),
                })?;
            let department = departments.len();
            if capitals[region] == field(4) {
                region_list[region].capital = Some(department);
            }
            departments.push(Department {
                code: field(0),
                name: field(1),
                region,
                prefecture: field(5),
                lon: number(6)?,
                lat: number(7)?,
            });
        }
        if departments.is_empty() || region_list.is_empty() {
            return Err(GeoError::Bad {
                file: "prefectures.csv",
                reason: "no data".into(),
            });
        }
        let mut names = HashMap::new();
        // Insertion order sets precedence: region names, then departments, then prefectures
        // (so "Paris" is the department, and "Lyon" finds the Rhône through its prefecture).
        for (i, region) in region_list.iter().enumerate() {
            names
                .entry(normalize(&region.name))
                .or_insert(Place::Region(i));
        }
        for (alias, code) in REGION_ALIASES {
            if let Some(i) = region_list.iter().position(|r| &r.code == code) {
                names
                    .entry((*alias).to_string())
                    .or_insert(Place::Region(i));
            }
        }
        for (i, department) in departments.iter().enumerate() {
            names
                .entry(normalize(&department.name))
                .or_insert(Place::Department(i));
            names
                .entry(department.code.to_ascii_lowercase())
                .or_insert(Place::Department(i));
        }
        for (i, department) in departments.iter().enumerate() {
            names
                .entry(normalize(&department.prefecture))
                .or_insert(Place::Department(i));
        }
        Ok(Geography {
            regions: region_list,
            departments,
            names,
        })
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn departments(&self) -> &[Department] {
        &self.departments
    }

    pub fn department(&self, i: usize) -> &Department {
        &self.departments[i]
    }

    pub fn region(&self, i: usize) -> &Region {
        &self.regions[i]
    }

    pub fn department_by_code(&self, code: &str) -> Option<usize> {
        let code = code.trim();
        // "1" and "01" are the same department.
        let padded = if code.len() == 1 {
            format!("0{code}")
        } else {
            code.to_string()
        };
        self.departments
            .iter()
            .position(|d| d.code.eq_ignore_ascii_case(&padded))
    }

    /// A place from what a person typed: region, department (name or code) or prefecture city.
    pub fn lookup(&self, text: &str) -> Option<Place> {
        let key = normalize(text);
        let key = key
            .strip_prefix("la region ")
            .or_else(|| key.strip_prefix("region "))
            .or_else(|| key.strip_prefix("le departement "))
            .or_else(|| key.strip_prefix("departement "))
            .or_else(|| key.strip_prefix("la "))
            .or_else(|| key.strip_prefix("le "))
            .or_else(|| key.strip_prefix("l "))
            .or_else(|| key.strip_prefix("les "))
            .unwrap_or(&key);
        self.names.get(key).copied()
    }

    pub fn place_name(&self, place: Place) -> &str {
        match place {
            Place::Region(i) => &self.regions[i].name,
            Place::Department(i) => &self.departments[i].name,
        }
    }

    /// The region a place lies in.
    pub fn region_of(&self, place: Place) -> usize {
        match place {
            Place::Region(i) => i,
            Place::Department(i) => self.departments[i].region,
        }
    }

    /// Coordinates standing for a place: a department's prefecture, a region's capital.
    pub fn point(&self, place: Place) -> Option<(f64, f64)> {
        let department = match place {
            Place::Department(i) => Some(i),
            Place::Region(i) => self.regions[i].capital,
        }?;
        let d = &self.departments[department];
        Some((d.lat, d.lon))
    }

    /// Known place names closest to what was typed, for "did you mean".
    pub fn suggestions(&self, text: &str, limit: usize) -> Vec<String> {
        let key = normalize(text);
        let mut scored: Vec<(f64, &str)> = self
            .regions
            .iter()
            .map(|r| r.name.as_str())
            .chain(self.departments.iter().map(|d| d.name.as_str()))
            .map(|name| (strsim::jaro_winkler(&key, &normalize(name)), name))
            .filter(|(score, _)| *score > 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, name)| name.to_string())
            .collect()
    }
}

/// Great-circle distance in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn geography() -> Geography {
        Geography::from_csv(
            include_str!("../../data/geo/prefectures.csv"),
            include_str!("../../data/geo/regions.csv"),
        )
        .unwrap()
    }

    #[test]
    fn looks_up_what_people_type() {
        let geo = geography();
        let cases = [
            ("Bretagne", "Bretagne"),
            ("bretagne", "Bretagne"),
            ("Brittany", "Bretagne"),
            ("Occitanie", "Occitanie"),
            ("ile de France", "Île-de-France"),
            ("PACA", "Provence-Alpes-Côte d'Azur"),
            ("la région Auvergne-Rhône-Alpes", "Auvergne-Rhône-Alpes"),
            ("Gironde", "Gironde"),
            ("33", "Gironde"),
            ("2A", "Corse-du-Sud"),
            ("Lyon", "Rhône"),
            ("Rennes", "Ille-et-Vilaine"),
            ("Paris", "Paris"),
        ];
        for (text, expected) in cases {
            let place = geo
                .lookup(text)
                .unwrap_or_else(|| panic!("{text} not found"));
            assert_eq!(geo.place_name(place), expected, "{text}");
        }
        assert_eq!(geo.lookup("Narnia"), None);
        assert_eq!(geo.suggestions("Bretagn", 1), vec!["Bretagne".to_string()]);
    }

    #[test]
    fn every_metropolitan_region_has_a_capital() {
        let geo = geography();
        for region in geo.regions() {
            if region.code.len() == 2 && region.code.as_str() >= "11" {
                assert!(region.capital.is_some(), "{}", region.name);
            }
        }
    }

    #[test]
    fn distances_between_prefectures_are_plausible() {
        let geo = geography();
        let point = |code: &str| {
            geo.point(Place::Department(geo.department_by_code(code).unwrap()))
                .unwrap()
        };
        let paris_lyon = distance_km(point("75"), point("69"));
        assert!((380.0..420.0).contains(&paris_lyon), "{paris_lyon}");
        assert!(distance_km(point("35"), point("35")) < 1e-9);
    }
}

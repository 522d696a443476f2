//! French regions, departments and communes (data/geo), place lookup from what people type
//! ("Bretagne", "PACA", "Gironde", "33", "Lyon", "Saint-Denis (93)"), places found in free text
//! (see [`Geography::find_places`]) and distances between prefectures.

mod find;

pub use find::{Mention, PlaceMention};

use super::text::normalize;
use find::{Entry, Guard, Target};
use std::collections::HashMap;
use std::sync::Arc;

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
    /// INSEE code of the prefecture's commune.
    pub prefecture_code: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct Commune {
    /// INSEE code ("35238").
    pub code: String,
    pub name: String,
    pub department: usize,
    pub population: u32,
    /// Empty for the few communes the source gives none.
    pub siren: String,
    /// The name is also an everyday word ("Plan", "Orange", "Tours"): only taken from free text
    /// where a place is clearly meant.
    pub everyday: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Region(usize),
    Department(usize),
    Commune(usize),
}

#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{file}: {reason}")]
    Bad { file: &'static str, reason: String },
}

/// Cheap to clone: the communes and the name index are shared.
#[derive(Debug, Clone)]
pub struct Geography {
    regions: Vec<Region>,
    departments: Vec<Department>,
    communes: Arc<[Commune]>,
    names: Arc<find::Names>,
}

/// Names people use that are not in the INSEE tables, old regions and English names.
const REGION_ALIASES: &[(&str, &str)] = &[
    ("idf", "11"),
    ("paris region", "11"),
    ("greater paris", "11"),
    ("grand paris", "11"),
    ("region parisienne", "11"),
    ("cvl", "24"),
    ("centre", "24"),
    ("loire valley", "24"),
    ("val de loire", "24"),
    ("bfc", "27"),
    ("bourgogne", "27"),
    ("burgundy", "27"),
    ("franche comte", "27"),
    ("nor", "28"),
    ("normandy", "28"),
    ("basse normandie", "28"),
    ("haute normandie", "28"),
    ("lower normandy", "28"),
    ("upper normandy", "28"),
    ("hdf", "32"),
    ("nord pas de calais", "32"),
    ("picardie", "32"),
    ("picardy", "32"),
    ("ges", "44"),
    ("alsace", "44"),
    ("lorraine", "44"),
    ("champagne ardenne", "44"),
    ("champagne", "44"),
    ("pdl", "52"),
    ("bre", "53"),
    ("brittany", "53"),
    ("naq", "75"),
    ("aquitaine", "75"),
    ("new aquitaine", "75"),
    ("limousin", "75"),
    ("poitou charentes", "75"),
    ("occ", "76"),
    ("occitania", "76"),
    ("midi pyrenees", "76"),
    ("languedoc roussillon", "76"),
    ("languedoc", "76"),
    ("ara", "84"),
    ("aura", "84"),
    ("rhone alpes", "84"),
    ("auvergne", "84"),
    ("paca", "93"),
    ("pac", "93"),
    ("sud", "93"),
    ("region sud", "93"),
    ("provence", "93"),
    ("cote d azur", "93"),
    ("french riviera", "93"),
    ("cor", "94"),
    ("corsica", "94"),
    ("reunion", "04"),
    ("french guiana", "03"),
];

/// Short names people give large towns, ahead of the small communes that bear them.
const COMMUNE_ALIASES: &[(&str, &str)] = &[
    ("aix", "13001"),
    ("clermont", "63113"),
    ("charleville", "08105"),
    ("chalons", "51108"),
    ("chalon", "71076"),
];

/// Department names that are also everyday words ("la manche", "le nord", "une somme").
const EVERYDAY_DEPARTMENTS: &[&str] = &[
    "aube",
    "cher",
    "creuse",
    "landes",
    "lot",
    "manche",
    "nord",
    "somme",
    "var",
    "la reunion",
];

/// Names that are words too, but rarer ones: capitalised or after a place word is enough.
const RARE_WORD_PLACES: &[&str] = &[
    "allier", "calvados", "cantal", "corse", "gironde", "jura", "marne", "meuse", "orne", "vienne",
];

/// Communes from this many inhabitants are known enough to be taken in any case, anywhere.
const WELL_KNOWN: u32 = 10_000;

impl Geography {
    /// Builds from the text of `prefectures.csv` (dep_code, dep_name, reg_code, reg_name,
    /// chef_lieu_insee, chef_lieu_name, lon, lat, …) and `regions.csv` (INSEE COG), without
    /// communes (see [`Geography::with_communes`]).
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
                prefecture_code: field(4),
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
        let mut geography = Geography {
            regions: region_list,
            departments,
            communes: Arc::from(Vec::new()),
            names: Arc::default(),
        };
        geography.names = Arc::new(geography.index());
        Ok(geography)
    }

    /// Adds every commune from the text of `communes.csv` (code, name, department, population,
    /// siren, word; see tools/communes.py).
    pub fn with_communes(mut self, communes: &str) -> Result<Self, GeoError> {
        let bad = |reason: String| GeoError::Bad {
            file: "communes.csv",
            reason,
        };
        let by_code: HashMap<&str, usize> = self
            .departments
            .iter()
            .enumerate()
            .map(|(i, d)| (d.code.as_str(), i))
            .collect();
        let mut list = Vec::with_capacity(40_000);
        let mut reader =
            csv::Reader::from_reader(communes.trim_start_matches('\u{feff}').as_bytes());
        for row in reader.records() {
            let row = row.map_err(|e| bad(e.to_string()))?;
            let field = |i: usize| row.get(i).unwrap_or("");
            let department = *by_code
                .get(field(2))
                .ok_or_else(|| bad(format!("{}: unknown department {}", field(0), field(2))))?;
            list.push(Commune {
                code: field(0).to_string(),
                name: field(1).to_string(),
                department,
                population: field(3)
                    .parse()
                    .map_err(|_| bad(format!("{}: bad population '{}'", field(0), field(3))))?,
                siren: field(4).to_string(),
                everyday: field(5) == "1",
            });
        }
        if list.is_empty() {
            return Err(bad("no data".into()));
        }
        // Sorted by code, so that a code is found by binary search.
        list.sort_by(|a, b| a.code.cmp(&b.code));
        self.communes = Arc::from(list);
        self.names = Arc::new(self.index());
        Ok(self)
    }

    /// Every name, alias and listed foreign place, most likely meaning first.
    fn index(&self) -> find::Names {
        let mut names = find::Names::default();
        let key = find::key_of;
        for (i, region) in self.regions.iter().enumerate() {
            let k = key(&region.name);
            let guard = place_guard(&k);
            names.add(k, Entry::new(Target::Place(Place::Region(i)), guard));
        }
        for (alias, code) in REGION_ALIASES {
            if let Some(i) = self.regions.iter().position(|r| &r.code == code) {
                let guard = match *alias {
                    "centre" | "sud" => Guard::Alone,
                    "reunion" => Guard::Word,
                    a if a.len() <= 4 && !a.contains(' ') => Guard::Upper,
                    _ => Guard::None,
                };
                names.add(
                    (*alias).to_string(),
                    Entry::new(Target::Place(Place::Region(i)), guard),
                );
            }
        }
        for (i, department) in self.departments.iter().enumerate() {
            let k = key(&department.name);
            let guard = place_guard(&k);
            names.add(k, Entry::new(Target::Place(Place::Department(i)), guard));
        }
        find::add_fixed_names(&mut names);
        // The seats of national institutions are in Paris: a hearing "au Palais Bourbon" or
        // "à l'Assemblée nationale" is held there.
        if let Some(paris) = self.communes.iter().position(|c| c.code == "75056") {
            for landmark in find::PARIS_LANDMARKS {
                let entry = Entry::new(Target::Place(Place::Commune(paris)), Guard::None);
                names.add_first(key(landmark), entry);
            }
        }
        let department_keys: Vec<String> = self.departments.iter().map(|d| key(&d.name)).collect();
        // Most populous first, so that a homonym without a department given is the larger town.
        let mut order: Vec<usize> = (0..self.communes.len()).collect();
        order.sort_by(|&a, &b| {
            self.communes[b]
                .population
                .cmp(&self.communes[a].population)
        });
        for i in order {
            let commune = &self.communes[i];
            let k = key(&commune.name);
            let guard = if commune.everyday {
                Guard::Word
            } else if k.contains(' ') || commune.population >= WELL_KNOWN {
                Guard::None
            } else {
                Guard::Case
            };
            // Paris is the department and its commune: the commune is the place meant.
            let prefecture_named_as_department =
                self.departments[commune.department].prefecture_code == commune.code
                    && department_keys[commune.department] == k;
            let entry = Entry::new(Target::Place(Place::Commune(i)), guard);
            if prefecture_named_as_department {
                names.add_first(k.clone(), entry);
            } else {
                names.add(k.clone(), entry);
            }
            // "au Mans", "du Havre", "aux Sables-d'Olonne": the article merged into a preposition.
            for (article, merged) in [("le ", find::Elided::Le), ("les ", find::Elided::Les)] {
                if let Some(rest) = k.strip_prefix(article) {
                    names.add(rest.to_string(), entry.elided(merged));
                }
            }
            if !commune.siren.is_empty() {
                names.sirens.insert(commune.siren.clone(), i);
            }
            if commune.population >= 20_000 && !commune.everyday && !k.contains(' ') {
                names.add_notable(k, Place::Commune(i));
            }
        }
        for (alias, code) in COMMUNE_ALIASES {
            if let Some(i) = self.commune_by_code(code) {
                names.add_first(
                    (*alias).to_string(),
                    Entry::new(Target::Place(Place::Commune(i)), Guard::None),
                );
            }
        }
        for (i, region) in self.regions.iter().enumerate() {
            names.add_notable(key(&region.name), Place::Region(i));
        }
        for (i, department) in self.departments.iter().enumerate() {
            names.add_notable(key(&department.name), Place::Department(i));
        }
        names
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn departments(&self) -> &[Department] {
        &self.departments
    }

    pub fn communes(&self) -> &[Commune] {
        &self.communes
    }

    pub fn department(&self, i: usize) -> &Department {
        &self.departments[i]
    }

    pub fn region(&self, i: usize) -> &Region {
        &self.regions[i]
    }

    pub fn commune(&self, i: usize) -> &Commune {
        &self.communes[i]
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

    /// A commune by its INSEE code ("35238").
    pub fn commune_by_code(&self, code: &str) -> Option<usize> {
        self.communes
            .binary_search_by(|c| c.code.as_str().cmp(code.trim()))
            .ok()
    }

    /// A commune by its SIREN (the observatory's organisations carry one); spaces are ignored.
    pub fn commune_by_siren(&self, siren: &str) -> Option<usize> {
        let digits: String = siren.chars().filter(|c| !c.is_whitespace()).collect();
        self.names.sirens.get(&digits).copied()
    }

    /// A place from what a person typed as a place: region, department (name or code),
    /// commune ("Lyon", "St-Malo", "Saint-Denis (93)", "Valence, Drôme"). Names that are also
    /// everyday words are taken here, since the whole text is meant as a place.
    pub fn lookup(&self, text: &str) -> Option<Place> {
        let key = find::key_of(text);
        let stripped = [
            "la region ",
            "region ",
            "le departement ",
            "departement ",
            "la ",
            "le ",
            "l ",
            "les ",
        ]
        .iter()
        .find_map(|prefix| key.strip_prefix(prefix));
        for candidate in std::iter::once(key.as_str()).chain(stripped) {
            if let Some(place) = self.names.first_place(candidate) {
                return Some(place);
            }
            if let Some(i) = self.department_code(candidate) {
                return Some(Place::Department(i));
            }
        }
        // A name with its department: the mention must be all there is.
        let mentions = find::find(self, text, true);
        match mentions.as_slice() {
            [
                PlaceMention {
                    span,
                    kind: Mention::Found(place),
                    ..
                },
            ] if find::only_place_words(&text[..span.start])
                && find::key_of(&text[span.end..]).is_empty() =>
            {
                Some(*place)
            }
            _ => None,
        }
    }

    /// A department code as typed ("35", "2A", "974"), not a single digit.
    fn department_code(&self, key: &str) -> Option<usize> {
        (key.len() >= 2 && key.len() <= 3 && key.chars().all(|c| c.is_ascii_alphanumeric()))
            .then(|| self.department_by_code(key))
            .flatten()
    }

    /// Every place named in a free text, in order: French places, places abroad (kept as
    /// written, no distance) and online events. Names that are also everyday words ("Plan",
    /// "Tours", "Nice") count only when capitalised after a place word ("à Tours", "in Nice",
    /// "Mairie de Tours"); "dans le 69" and "(35)" are departments, never dates.
    pub fn find_places(&self, text: &str) -> Vec<PlaceMention> {
        find::find(self, text, false)
    }

    /// Whether a text names the seat of a national institution ("Assemblée nationale"): a
    /// place for an event held there, a body's name in a signature.
    pub fn is_landmark(text: &str) -> bool {
        let typed = find::key_of(text);
        find::PARIS_LANDMARKS
            .iter()
            .any(|landmark| find::key_of(landmark) == typed)
    }

    pub fn place_name(&self, place: Place) -> &str {
        match place {
            Place::Region(i) => &self.regions[i].name,
            Place::Department(i) => &self.departments[i].name,
            Place::Commune(i) => &self.communes[i].name,
        }
    }

    /// The name to show, with the department's code for a commune that shares its name
    /// ("Saint-Denis (93)"); [`Geography::lookup`] reads it back to the same place.
    pub fn label(&self, place: Place) -> String {
        match place {
            Place::Commune(i) if self.names.homonyms(&find::key_of(&self.communes[i].name)) => {
                let commune = &self.communes[i];
                format!(
                    "{} ({})",
                    commune.name, self.departments[commune.department].code
                )
            }
            _ => self.place_name(place).to_string(),
        }
    }

    /// The department a place lies in; none for a region.
    pub fn department_of(&self, place: Place) -> Option<usize> {
        match place {
            Place::Region(_) => None,
            Place::Department(i) => Some(i),
            Place::Commune(i) => Some(self.communes[i].department),
        }
    }

    /// The region a place lies in.
    pub fn region_of(&self, place: Place) -> usize {
        match place {
            Place::Region(i) => i,
            Place::Department(i) => self.departments[i].region,
            Place::Commune(i) => self.departments[self.communes[i].department].region,
        }
    }

    /// Coordinates standing for a place: a department's prefecture, a region's capital, and for
    /// a commune its department's prefecture (the source has no coordinates for communes).
    pub fn point(&self, place: Place) -> Option<(f64, f64)> {
        let department = match place {
            Place::Department(i) => Some(i),
            Place::Region(i) => self.regions[i].capital,
            Place::Commune(i) => Some(self.communes[i].department),
        }?;
        let d = &self.departments[department];
        Some((d.lat, d.lon))
    }

    /// Known place names closest to what was typed, for "did you mean": regions, departments
    /// and communes of some size starting with the same letter.
    pub fn suggestions(&self, text: &str, limit: usize) -> Vec<String> {
        let key = normalize(text);
        let first = key.bytes().next();
        let communes = self
            .communes
            .iter()
            .filter(|c| c.population >= 5_000)
            .map(|c| (normalize(&c.name), c.name.as_str()))
            .filter(|(folded, _)| {
                // Thousands of towns: only a close one is worth proposing.
                folded.bytes().next() == first
                    && crate::core::text::jaro_winkler(&key, folded) > 0.9
            });
        let mut scored: Vec<(f64, &str)> = self
            .regions
            .iter()
            .map(|r| (normalize(&r.name), r.name.as_str()))
            .chain(
                self.departments
                    .iter()
                    .map(|d| (normalize(&d.name), d.name.as_str())),
            )
            .chain(communes)
            .map(|(folded, name)| (crate::core::text::jaro_winkler(&key, &folded), name))
            .filter(|(score, _)| *score > 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<String> = Vec::new();
        for (_, name) in scored {
            if out.len() == limit {
                break;
            }
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
        out
    }
}

/// How a region or department name must appear in free text to count.
fn place_guard(key: &str) -> Guard {
    if EVERYDAY_DEPARTMENTS.contains(&key) {
        Guard::Word
    } else if RARE_WORD_PLACES.contains(&key) {
        Guard::Case
    } else {
        Guard::None
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
    use std::sync::LazyLock;

    static GEOGRAPHY: LazyLock<Geography> = LazyLock::new(|| {
        Geography::from_csv(
            include_str!("../../data/geo/prefectures.csv"),
            include_str!("../../data/geo/regions.csv"),
        )
        .and_then(|g| g.with_communes(include_str!("../../data/geo/communes.csv")))
        .unwrap()
    });

    /// The real geography, every commune loaded (built once per test binary).
    pub(crate) fn geography() -> Geography {
        GEOGRAPHY.clone()
    }

    #[test]
    fn looks_up_what_people_type() {
        let geo = geography();
        let cases = [
            ("Bretagne", "Bretagne"),
            ("bretagne", "Bretagne"),
            ("Brittany", "Bretagne"),
            ("Normandy", "Normandie"),
            ("Burgundy", "Bourgogne-Franche-Comté"),
            ("Corsica", "Corse"),
            ("Paris region", "Île-de-France"),
            ("Picardie", "Hauts-de-France"),
            ("Limousin", "Nouvelle-Aquitaine"),
            ("Occitanie", "Occitanie"),
            ("ile de France", "Île-de-France"),
            ("PACA", "Provence-Alpes-Côte d'Azur"),
            ("la région Auvergne-Rhône-Alpes", "Auvergne-Rhône-Alpes"),
            ("Gironde", "Gironde"),
            ("Finistère", "Finistère"),
            ("33", "Gironde"),
            ("2A", "Corse-du-Sud"),
            ("Lyon", "Lyon"),
            ("Rennes", "Rennes"),
            ("Paris", "Paris"),
            ("saint brieuc", "Saint-Brieuc"),
            ("St-Malo", "Saint-Malo"),
            ("ste maxime", "Sainte-Maxime"),
            ("La Rochelle", "La Rochelle"),
            ("Plouzané", "Plouzané"),
            ("Vienne", "Vienne"),
            ("Aix", "Aix-en-Provence"),
            ("Clermont", "Clermont-Ferrand"),
        ];
        for (text, expected) in cases {
            let place = geo
                .lookup(text)
                .unwrap_or_else(|| panic!("{text} not found"));
            assert_eq!(geo.place_name(place), expected, "{text}");
        }
        assert!(matches!(geo.lookup("Paris"), Some(Place::Commune(_))));
        assert!(matches!(geo.lookup("Vienne"), Some(Place::Department(_))));
        let dept = |text: &str| geo.lookup(text).map(|p| geo.label(p));
        assert_eq!(dept("dans le 69"), Some("Rhône".to_string()));
        assert_eq!(dept("in the 35"), Some("Ille-et-Vilaine".to_string()));
        assert_eq!(dept("Lyon et Paris"), None);
        assert_eq!(geo.lookup("Narnia"), None);
        // A city abroad, not the villages of its name; with a department, the village.
        assert_eq!(geo.lookup("Montréal"), None);
        assert!(matches!(
            geo.lookup("Montréal (11)"),
            Some(Place::Commune(_))
        ));
        assert_eq!(geo.lookup("open data"), None);
        assert_eq!(geo.suggestions("Bretagn", 1), vec!["Bretagne".to_string()]);
        assert_eq!(geo.suggestions("Renes", 1), vec!["Rennes".to_string()]);
    }

    #[test]
    fn homonyms_take_the_department_given_else_the_largest() {
        let geo = geography();
        let code = |text: &str| match geo.lookup(text) {
            Some(Place::Commune(i)) => geo.commune(i).code.clone(),
            other => panic!("{text}: {other:?}"),
        };
        let cases = [
            ("Saint-Denis", "97411"),
            ("Saint-Denis (93)", "93066"),
            ("Saint-Denis (974)", "97411"),
            ("Saint-Denis, La Réunion", "97411"),
            ("Valence", "26362"),
            ("Valence, Drôme", "26362"),
            ("Valence (82)", "82186"),
            ("Valence dans le Tarn-et-Garonne", "82186"),
            ("Vienne (38)", "38544"),
            ("à Saint-Denis (93)", "93066"),
        ];
        for (text, expected) in cases {
            assert_eq!(code(text), expected, "{text}");
        }
        // Labels of homonyms carry the department and read back to the same commune.
        for text in ["Saint-Denis (974)", "Valence (82)", "Lyon"] {
            let place = geo.lookup(text).unwrap();
            assert_eq!(geo.lookup(&geo.label(place)), Some(place), "{text}");
        }
        assert_eq!(
            geo.label(geo.lookup("Valence (82)").unwrap()),
            "Valence (82)"
        );
        assert_eq!(geo.label(geo.lookup("Lyon").unwrap()), "Lyon");
    }

    #[test]
    fn loads_every_commune_and_links_sirens() {
        let geo = geography();
        assert!(geo.communes().len() > 34_000, "{}", geo.communes().len());
        let rennes = geo.commune_by_code("35238").unwrap();
        assert_eq!(geo.commune(rennes).name, "Rennes");
        assert_eq!(geo.department(geo.commune(rennes).department).code, "35");
        // Acigné's SIREN, as data/odf/organisations.csv writes it.
        let acigne = geo.commune_by_siren("213500010").unwrap();
        assert_eq!(geo.commune(acigne).name, "Acigné");
        assert_eq!(geo.commune_by_siren(" 213500010 "), Some(acigne));
        assert_eq!(geo.commune_by_siren("254002272"), None);
        let timer = std::time::Instant::now();
        let again = Geography::from_csv(
            include_str!("../../data/geo/prefectures.csv"),
            include_str!("../../data/geo/regions.csv"),
        )
        .and_then(|g| g.with_communes(include_str!("../../data/geo/communes.csv")))
        .unwrap();
        eprintln!("communes loaded in {:?}", timer.elapsed());
        assert_eq!(again.communes().len(), geo.communes().len());
    }

    #[test]
    fn observatory_communes_are_placed_by_siren() {
        let geo = geography();
        let organisations = include_str!("../../data/odf/organisations.csv");
        let mut reader = csv::Reader::from_reader(organisations.as_bytes());
        let (mut communes, mut placed, mut agree) = (0, 0, 0);
        for row in reader.records() {
            let row = row.unwrap();
            if row.get(2) == Some("COM") {
                communes += 1;
                if let Some(i) = geo.commune_by_siren(row.get(0).unwrap()) {
                    placed += 1;
                    let department = geo.department(geo.commune(i).department);
                    agree += usize::from(Some(department.code.as_str()) == row.get(14));
                }
            }
        }
        // Communes merged since the observatory's list was made have a new SIREN, and its
        // department column has a few slips (Aspres-sur-Buëch is in the 05, not the 04).
        assert!(placed * 100 >= communes * 95, "{placed} of {communes}");
        assert!(agree * 100 >= placed * 98, "{agree} of {placed}");
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
        let lyon = geo.lookup("Lyon").unwrap();
        assert_eq!(geo.point(lyon), Some(point("69")));
    }
}

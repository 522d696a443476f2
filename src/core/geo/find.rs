//! Places in free text, for chat and mail alike: an index of folded names (first word → longest
//! name), a tokenizer that remembers case, punctuation and the original spans, and the rules
//! deciding when a name that is also an everyday word is meant as a place.

use super::{Geography, Place};
use crate::core::text::close_enough;
use std::collections::HashMap;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub struct PlaceMention {
    /// Byte range in the text given.
    pub span: Range<usize>,
    pub kind: Mention,
    /// Said as where something happens ("à Lyon", "in Geneva", "dans le 69", "Labège (31)"),
    /// rather than in passing or in a body's name ("Rennes Métropole", "Ville de Besançon").
    pub introduced: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mention {
    Found(Place),
    /// A place outside France, as written ("Bruxelles", "Geneva"): no distance.
    Abroad(String),
    /// "en ligne", "online", "en visio", "Zoom": a format, not a place.
    Online,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Place(Place),
    Abroad,
    Online,
    /// A phrase holding a place-like word that names no place ("Hôtel de Ville", "mars").
    NotAPlace,
}

/// How a name must appear in free text to count as a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// Distinctive: anywhere, in any case.
    None,
    /// Introduced, or capitalised away from a sentence's start and from other capitalised words
    /// (a person's name: "Claire Fleury", "Gilles Roux").
    Case,
    /// Also an everyday word: capitalised and introduced by a place word or a body ("à Tours",
    /// "Ville de Tours"), or set off by commas in a terse line.
    Word,
    /// An acronym: in capitals ("PACA"), or introduced by a place word.
    Upper,
    /// A product name ("Zoom", "Teams"): capitalised, not opening a sentence.
    Capital,
    /// Too vague in running text ("au Centre universitaire", "dans le Sud"): typed alone only.
    Alone,
}

/// The article of "Le Mans" merged into the preposition before it ("au Mans", "du Havre").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elided {
    Le,
    Les,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    target: Target,
    guard: Guard,
    elided: Option<Elided>,
}

impl Entry {
    pub(super) fn new(target: Target, guard: Guard) -> Self {
        Entry {
            target,
            guard,
            elided: None,
        }
    }

    pub(super) fn elided(self, elided: Elided) -> Self {
        Entry {
            elided: Some(elided),
            ..self
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Names {
    /// Folded name ("saint denis") → what it may name, most likely first.
    keys: HashMap<String, Vec<Entry>>,
    /// First word of a name → the most words a name starting with it has.
    spans: HashMap<String, usize>,
    pub(super) sirens: HashMap<String, usize>,
    /// One-word names worth correcting a typo to, by first letter.
    notable: HashMap<u8, Vec<(String, Place)>>,
}

impl Names {
    pub(super) fn add(&mut self, key: String, entry: Entry) {
        self.note_span(&key);
        self.keys.entry(key).or_default().push(entry);
    }

    pub(super) fn add_first(&mut self, key: String, entry: Entry) {
        self.note_span(&key);
        self.keys.entry(key).or_default().insert(0, entry);
    }

    fn note_span(&mut self, key: &str) {
        let words = key.split(' ').count();
        let first = key.split(' ').next().unwrap_or_default();
        match self.spans.get_mut(first) {
            Some(longest) => *longest = (*longest).max(words),
            None => {
                self.spans.insert(first.to_string(), words);
            }
        }
    }

    pub(super) fn add_notable(&mut self, key: String, place: Place) {
        if !key.contains(' ')
            && let Some(&first) = key.as_bytes().first()
        {
            self.notable.entry(first).or_default().push((key, place));
        }
    }

    /// The most likely place of a whole name, whatever its guard; none for a city abroad,
    /// which comes before the French villages of its name.
    pub(super) fn first_place(&self, key: &str) -> Option<Place> {
        for entry in self.keys.get(key)? {
            match entry.target {
                Target::Place(p) if entry.elided.is_none() => return Some(p),
                Target::Abroad => return None,
                _ => {}
            }
        }
        None
    }

    /// True when several communes bear this name.
    pub(super) fn homonyms(&self, key: &str) -> bool {
        self.keys.get(key).is_some_and(|entries| {
            entries
                .iter()
                .filter(|e| {
                    e.elided.is_none() && matches!(e.target, Target::Place(Place::Commune(_)))
                })
                .count()
                > 1
        })
    }
}

/// Places abroad that people in the network name: French and English names, folded.
#[rustfmt::skip]
const ABROAD: &[&str] = &[
    "bruxelles", "brussels", "geneve", "geneva", "genf", "lausanne", "basel", "zurich", "lugano",
    "fribourg", "neuchatel", "luxembourg", "montreal", "quebec", "ottawa", "toronto",
    "sherbrooke", "gatineau", "namur", "charleroi", "tournai", "louvain", "louvain la neuve",
    "leuven", "anvers", "antwerp", "ghent", "arlon", "londres", "london", "berlin", "madrid",
    "barcelone", "barcelona", "lisbonne", "lisbon", "lisboa", "rome", "roma", "turin", "amsterdam",
    "rotterdam", "the hague", "munich", "francfort", "frankfurt", "dublin", "edimbourg",
    "edinburgh", "copenhague", "copenhagen", "stockholm", "oslo", "helsinki", "tallinn",
    "varsovie", "warsaw", "prague", "vienna", "budapest", "athenes", "athens", "new york",
    "washington", "tunis", "alger", "algiers", "rabat", "casablanca", "dakar", "abidjan",
    "cotonou", "ouagadougou", "bamako", "kinshasa", "yaounde", "douala", "beyrouth", "beirut",
    "sarrebruck", "saarbrucken", "treves", "trier", "aix la chapelle", "aachen", "karlsruhe",
    "stuttgart", "mannheim", "dusseldorf", "hambourg", "hamburg", "freiburg",
    "monaco", "andorre", "andorra", "belgique", "belgium", "switzerland", "canada", "allemagne",
    "germany", "espagne", "spain", "italie", "italy", "portugal", "royaume uni", "united kingdom",
    "angleterre", "england", "ecosse", "scotland", "irlande", "ireland", "pays bas",
    "netherlands", "autriche", "austria", "pologne", "poland", "grece", "greece", "suede",
    "sweden", "norvege", "norway", "danemark", "denmark", "finlande", "finland", "estonie",
    "estonia", "etats unis", "united states", "usa", "maroc", "morocco", "tunisie", "tunisia",
    "algerie", "algeria", "senegal", "cote d ivoire", "ivory coast",
    // Not "Florence", "Sofia" (first names), "Gênes" (genes), "Porto", "Mons" (French places).
    "valencia", "seville", "sevilla", "bilbao", "saint sebastien", "san sebastian",
    "milano", "naples", "napoli", "firenze", "venise", "venice", "bologne", "bologna",
    "genoa", "bern", "cracovie", "krakow", "bratislava", "ljubljana", "zagreb", "riga",
    "vilnius", "bucarest", "bucharest", "brno", "manchester", "birmingham", "glasgow",
    "cardiff", "bristol", "liverpool", "leeds", "utrecht", "eindhoven", "gothenburg", "malmo",
    "aarhus", "tampere", "bruges", "vancouver", "calgary", "edmonton",
    "winnipeg", "halifax", "moncton", "boston", "chicago", "san francisco", "los angeles",
    "lome", "niamey", "nouakchott", "libreville", "brazzaville", "antananarivo", "conakry",
    "suisse romande", "wallonie", "wallonia", "flandre", "flanders", "quebec city",
    // Further afield, where French bodies and partners also invite speakers.
    "dubai", "abu dhabi", "doha", "le caire", "cairo", "nairobi", "lagos", "abuja", "accra",
    "johannesburg", "cape town", "le cap", "mumbai", "bombay", "bengaluru", "bangalore",
    "chennai", "delhi", "new delhi", "singapour", "singapore", "tokyo", "seoul", "pekin",
    "beijing", "shanghai", "sydney", "melbourne", "sao paulo", "rio de janeiro", "buenos aires",
    "santiago du chili", "mexico", "bogota", "lima", "new york city", "san diego", "seattle",
];

/// Places abroad whose names are also words ("une banque suisse", "bale", "liege").
const ABROAD_WORDS: &[&str] = &[
    "suisse", "bale", "liege", "milan", "cologne", "berne", "gand",
];

const ONLINE: &[&str] = &[
    "en ligne",
    "online",
    "on line",
    "visio",
    "visios",
    "visioconference",
    "visioconferences",
    "visio conference",
    "videoconference",
    "video conference",
    "distanciel",
    "a distance",
    "video call",
    "videocall",
    "appel video",
    "remotely",
    "remote talk",
    "remote session",
    "remote event",
    "remote presentation",
    "remote participation",
    "remote keynote",
    "remote conference",
    "microsoft teams",
    "google meet",
    "jitsi",
    "webex",
    "bigbluebutton",
    "livestream",
    "live stream",
    "virtual event",
    "virtual conference",
];

/// Phrases that hold a place-like word but name no place, and months (the commune "Mars"
/// must not come out of "en Mars 2027").
const NOT_A_PLACE: &[&str] = &[
    "hotel de ville",
    "hotel de region",
    "hotel de la region",
    "hotel du departement",
    "hotel de metropole",
    "palais des congres",
    "centre des congres",
    "cite des congres",
    "jardin du luxembourg",
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
];

/// Seats of national institutions, in Paris.
pub(super) const PARIS_LANDMARKS: &[&str] = &[
    "Palais Bourbon",
    "Assemblée nationale",
    "Palais du Luxembourg",
    "Conseil d'État",
    "Hôtel de Matignon",
    "Palais de l'Élysée",
    "Cour des comptes",
];

/// Words after which a name is a place ("à", "dans le", "in", "near").
const STRONG_INTRODUCERS: &[&str] = &[
    "au", "aux", "en", "dans", "vers", "in", "at", "near", "around",
];

/// Words after which a place is likely but not certain ("sur Lyon", "from Lyon", "de Lyon").
const WEAK_INTRODUCERS: &[&str] = &[
    "sur", "from", "to", "pour", "depuis", "a", "de", "d", "du", "des", "of", "for",
];

/// Nouns after which "de" introduces where something happens: venues, "près de".
#[rustfmt::skip]
const VENUES: &[&str] = &[
    "pres", "proche", "autour", "cote", "environs", "hotel", "palais", "congres", "centre",
    "center", "salle", "campus", "musee", "cite", "parc", "maison", "halle", "theatre",
    "mediatheque", "bibliotheque", "gare", "ecole", "institut", "lycee", "college", "chu",
    "archives", "opera", "auditorium", "zenith", "stade", "aeroport", "espace",
    "amphitheatre", "amphi", "tiers", "fabrique", "studio",
];

/// Nouns after which "de" names a body by its place ("Ville de Tours"): a place, but more often
/// the requester's than the event's.
#[rustfmt::skip]
const BODIES: &[&str] = &[
    "region", "ville", "commune", "metropole", "agglomeration", "agglo", "mairie", "universite",
    "university", "city", "town", "prefecture", "departement", "conseil", "departemental",
    "regional", "communaute", "communautaire", "municipal", "metropolitain", "territoire", "pays",
    "chambre",
];

/// "rue de Strasbourg à Nantes": a street, the town is the other one.
#[rustfmt::skip]
const STREETS: &[&str] = &[
    "rue", "avenue", "av", "boulevard", "bd", "quai", "allee", "allees", "impasse", "chemin",
    "route", "square", "esplanade", "passage", "voie", "street", "road",
];

/// A label and a colon before a place ("Lieu : Tours", "Venue: Nice").
const LABELS: &[&str] = &[
    "lieu",
    "location",
    "venue",
    "where",
    "ou",
    "ville",
    "city",
    "adresse",
    "address",
    "localisation",
];

/// "mis en ligne", "available online": published, not an online event.
const PUBLISHED: &[&str] = &[
    "mis",
    "mise",
    "mises",
    "mettre",
    "mettons",
    "mettez",
    "met",
    "mettent",
    "remis",
    "disponible",
    "disponibles",
    "accessible",
    "accessibles",
    "publie",
    "publiee",
    "publies",
    "publiees",
    "publier",
    "consultable",
    "consultables",
    "available",
    "published",
    "publicly",
    "posted",
    "put",
    "puts",
    "putting",
    "publish",
    "publishes",
    "from",
    "at",
    // found, read or kept there: what is published, not where the event is
    "trouver",
    "trouvable",
    "trouvables",
    "consulter",
    "find",
    "information",
    "informations",
    "data",
    "donnees",
    "publication",
    "laisser",
    "laisse",
    "rester",
    "reste",
    "restent",
    "actes",
];

/// Words after "online" / "en ligne" that make it a thing, not an event ("online form"),
/// and English around "a distance" ("from a distance of").
const NOT_ONLINE_AFTER: &[&str] = &[
    "form", "forms", "survey", "platform", "portal", "tool", "tools", "shop", "store", "de",
    "droite", "directe", "of",
];

/// Words allowed between a commune and the department that tells homonyms apart.
const HINT_WORDS: &[&str] = &[
    "dans",
    "en",
    "in",
    "le",
    "la",
    "les",
    "l",
    "the",
    "departement",
    "dept",
];

const ARTICLES: &[&str] = &["le", "la", "les", "l", "the"];

pub(super) fn add_fixed_names(names: &mut Names) {
    // A city abroad comes before the French villages of its name ("Montréal (Québec)" is not
    // Montréal in the Aude); a department given still picks the commune ("Montréal (11)").
    for key in ABROAD {
        names.add_first(key.to_string(), Entry::new(Target::Abroad, Guard::None));
    }
    for key in ABROAD_WORDS {
        names.add(key.to_string(), Entry::new(Target::Abroad, Guard::Case));
    }
    for key in ONLINE {
        names.add(key.to_string(), Entry::new(Target::Online, Guard::None));
    }
    names.add("uk".to_string(), Entry::new(Target::Abroad, Guard::Upper));
    for key in ["zoom", "teams"] {
        names.add(key.to_string(), Entry::new(Target::Online, Guard::Capital));
    }
    for key in NOT_A_PLACE {
        names.add(key.to_string(), Entry::new(Target::NotAPlace, Guard::None));
    }
}

/// The folded key of a name or a typed text: lowercase ASCII words joined by one space,
/// "St"/"Ste" written out ("St-Malo" → "saint malo").
pub(super) fn key_of(text: &str) -> String {
    let tokens = Tokens::new(text);
    let mut key = String::with_capacity(text.len());
    for i in 0..tokens.t.len() {
        if i > 0 {
            key.push(' ');
        }
        key.push_str(tokens.word(i));
    }
    key
}

/// Nothing but place words before a place typed alone: "dans le 69", "à Saint-Denis (93)".
pub(super) fn only_place_words(text: &str) -> bool {
    let tokens = Tokens::new(text);
    (0..tokens.len()).all(|i| {
        let word = tokens.word(i);
        ARTICLES.contains(&word)
            || STRONG_INTRODUCERS.contains(&word)
            || WEAK_INTRODUCERS.contains(&word)
    })
}

#[derive(Debug, Default, Clone)]
struct Token {
    /// Byte range in the original text.
    start: usize,
    end: usize,
    /// Byte range of the folded word in [`Tokens::folded`].
    word: Range<usize>,
    capital: bool,
    /// Every letter a capital, at least two letters ("PACA").
    upper: bool,
    accented: bool,
    /// Nothing but punctuation ending a sentence, or nothing at all, before it.
    sentence_start: bool,
    after_paren: bool,
    after_comma: bool,
    after_colon: bool,
    /// Joined to the word before by a hyphen ("en-US", "Saint-Denis").
    after_hyphen: bool,
    /// Part of an e-mail or web address ("contact@rennes.fr").
    link: bool,
}

struct Tokens<'a> {
    text: &'a str,
    folded: String,
    t: Vec<Token>,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        let mut tokens = Tokens {
            text,
            folded: String::with_capacity(text.len() + 8),
            t: Vec::with_capacity(text.len() / 5 + 1),
        };
        let mut current: Option<Token> = None;
        let mut pending = Token {
            sentence_start: true,
            ..Token::default()
        };
        let mut chunk_start = 0;
        let mut chunk_first_token = 0;
        let mut chunk_is_link = false;
        let mut previous = ' ';
        let mut line_start = 0;
        for (at, ch) in text.char_indices() {
            if ch.is_alphanumeric() {
                let token = current.get_or_insert_with(|| Token {
                    start: at,
                    end: at,
                    word: tokens.folded.len()..tokens.folded.len(),
                    capital: ch.is_uppercase(),
                    upper: true,
                    ..pending.clone()
                });
                if ch.is_alphabetic() && !ch.is_uppercase() {
                    token.upper = false;
                }
                if ch.is_ascii() {
                    tokens.folded.push(ch.to_ascii_lowercase());
                } else {
                    token.accented = true;
                    for c in deunicode::deunicode_char(ch).unwrap_or("").chars() {
                        if c.is_ascii_alphanumeric() {
                            tokens.folded.push(c.to_ascii_lowercase());
                        }
                    }
                }
                token.end = at + ch.len_utf8();
            } else {
                let glued = current.is_some();
                if let Some(token) = current.take() {
                    tokens.close(token);
                    pending = Token::default();
                }
                if ch == '-' && glued {
                    pending.after_hyphen = true;
                } else if !ch.is_alphanumeric() && ch != '-' {
                    pending.after_hyphen = false;
                }
                match ch {
                    '(' | '[' => pending.after_paren = true,
                    ',' => pending.after_comma = true,
                    ':' => pending.after_colon = true,
                    // "St. Malo" goes on.
                    '.' if tokens.t.last().is_some_and(|t| {
                        t.end == at && matches!(tokens.word_of(t), "saint" | "sainte")
                    }) => {}
                    '.' | '!' | '?' | ';' => pending.sentence_start = true,
                    // A mail's lines are wrapped: a long line that does not end a sentence goes
                    // on ("à l'Hôtel du Département, à\nBordeaux"); short lines (signatures,
                    // headings, chat) end there.
                    '\n' => {
                        let line = text[line_start..at].trim_end();
                        if line.chars().count() < 50 || line.ends_with(['.', '!', '?', ':', ';']) {
                            pending.sentence_start = true;
                        }
                        line_start = at + 1;
                    }
                    '@' => chunk_is_link = true,
                    _ => {}
                }
                if ch == '/' && previous == ':' {
                    chunk_is_link = true;
                }
                if ch.is_whitespace() {
                    tokens.end_chunk(chunk_first_token, chunk_start, at, chunk_is_link);
                    chunk_is_link = false;
                    chunk_start = at + ch.len_utf8();
                    chunk_first_token = tokens.t.len();
                }
            }
            previous = ch;
        }
        if let Some(token) = current.take() {
            tokens.close(token);
        }
        tokens.end_chunk(chunk_first_token, chunk_start, text.len(), chunk_is_link);
        tokens
    }

    fn close(&mut self, mut token: Token) {
        token.word.end = self.folded.len();
        if token.word.is_empty() {
            return;
        }
        token.upper &= token.end - token.start >= 2;
        let replacement = match &self.folded[token.word.clone()] {
            "st" => Some("saint"),
            "ste" => Some("sainte"),
            _ => None,
        };
        if let Some(full) = replacement {
            self.folded.truncate(token.word.start);
            self.folded.push_str(full);
            token.word.end = self.folded.len();
        }
        self.t.push(token);
    }

    /// Marks the tokens of a run of non-space characters that is an address: "www." opening
    /// it, a dot between two words ("rennes.fr"), an "@" or "://".
    fn end_chunk(&mut self, first: usize, start: usize, end: usize, mut link: bool) {
        let chunk = &self.text[start..end];
        // Two parts between dots need a dot: most chunks are plain words.
        link |= chunk.starts_with("www.")
            || chunk.contains('.')
                && chunk
                    .trim_end_matches(|c: char| !c.is_alphanumeric())
                    .split('.')
                    .filter(|part| !part.is_empty())
                    .count()
                    > 1
                && chunk.chars().filter(|c| c.is_alphabetic()).count() > 3;
        if link {
            for token in &mut self.t[first..] {
                token.link = true;
            }
        }
    }

    fn len(&self) -> usize {
        self.t.len()
    }

    fn word(&self, i: usize) -> &str {
        &self.folded[self.t[i].word.clone()]
    }

    fn word_of(&self, token: &Token) -> &str {
        &self.folded[token.word.clone()]
    }

    fn is_number(&self, i: usize) -> bool {
        self.word(i).starts_with(|c: char| c.is_ascii_digit())
    }

    /// The word before token `i` in the same sentence.
    fn before(&self, i: usize) -> Option<usize> {
        (i > 0 && !self.t[i].sentence_start).then(|| i - 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Intro {
    None,
    /// "de Lyon", "sur Lyon", "a Lyon" without its accent.
    Weak,
    /// A body named after its place: "Ville de Tours", "Conseil départemental du Nord".
    Body,
    /// Where something happens: "à", "dans le", "in", "near", a venue ("Palais des Congrès de").
    Strong,
}

/// What comes before and after a candidate name from token `i` to `end`.
struct Context {
    intro: Intro,
    /// The preposition merges an article ("au", "du" → le; "aux", "des" → les).
    merged: Option<Elided>,
    /// That preposition is "au" or "aux": a location ("au Palais" is one, "du Parc" is not).
    merged_at: bool,
    capital: bool,
    upper: bool,
    sentence_start: bool,
    /// Right after another capitalised word: likely a surname ("Claire Fleury").
    after_capitalised: bool,
    /// Right before a capitalised word: likely a first name ("Gilles Roux").
    before_capitalised: bool,
    /// Before "de" and a word: a venue's noun ("Palais du Luxembourg", "Parc des expositions").
    before_of_name: bool,
    /// Part of a compound with a word before or after it ("en-US", "US-ASCII").
    compound: bool,
    /// A street's name: "rue de Strasbourg".
    street: bool,
    /// After "sur", "on", "via": "sur zoom".
    after_medium: bool,
    /// Set off by commas in a terse line: "speaker on data ethics, Tours, Dec 14".
    between_commas: bool,
}

impl Context {
    fn of(tk: &Tokens<'_>, i: usize, end: usize, after_place: Option<usize>) -> Context {
        // The first word that is not the name's own article ("La Rochelle").
        let core = (i..end)
            .find(|&j| !ARTICLES.contains(&tk.word(j)))
            .unwrap_or(i);
        let token = &tk.t[i];
        let next = (end < tk.len() && !tk.t[end].sentence_start).then_some(end);
        let plain_next = next.filter(|&n| !tk.t[n].after_comma && !tk.t[n].after_paren);
        let mut context = Context {
            intro: Intro::None,
            merged: None,
            merged_at: false,
            capital: tk.t[core].capital,
            upper: tk.t[core].upper,
            sentence_start: token.sentence_start,
            after_capitalised: false,
            before_capitalised: plain_next
                .is_some_and(|n| tk.t[n].capital && !tk.t[n].after_hyphen),
            // "au Palais de la Musique", "au Parc des expositions" too: a noun with its
            // complement; "à Nice du 3 au 5 mars" is a date after the town.
            before_of_name: plain_next.is_some_and(|n| {
                matches!(tk.word(n), "de" | "du" | "des" | "d")
                    && n + 1 < tk.len()
                    && !tk.t[n + 1].sentence_start
                    && !tk.is_number(n + 1)
            }),
            compound: token.after_hyphen || next.is_some_and(|n| tk.t[n].after_hyphen),
            street: false,
            after_medium: false,
            between_commas: token.after_comma
                && (end == tk.len() || tk.t[end].after_comma || tk.t[end].sentence_start),
        };
        // "Tours area", "Lyon region".
        if plain_next.is_some_and(|n| matches!(tk.word(n), "area" | "region")) {
            context.intro = Intro::Strong;
        }
        let Some(p) = tk.before(i) else {
            return context;
        };
        let previous = tk.word(p);
        if token.after_hyphen {
            return context;
        }
        context.after_medium = matches!(previous, "sur" | "on" | "via" | "par" | "over");
        context.after_capitalised = tk.t[p].capital
            && !STRONG_INTRODUCERS.contains(&previous)
            && !WEAK_INTRODUCERS.contains(&previous);
        context.merged = match previous {
            "au" | "du" => Some(Elided::Le),
            "aux" | "des" => Some(Elided::Les),
            _ => None,
        };
        context.merged_at = matches!(previous, "au" | "aux");
        if token.after_colon {
            // "Lieu : Tours" is a place; "À : Gilles Roux" is a mail header.
            if LABELS.contains(&previous) {
                context.intro = Intro::Strong;
            }
            return context;
        }
        // "à Alpexpo (Grenoble)": the town of the venue just named.
        if token.after_paren
            && tk.before(p).is_some_and(|q| {
                STRONG_INTRODUCERS.contains(&tk.word(q)) || tk.word(q) == "a" && tk.t[q].accented
            })
        {
            context.intro = Intro::Strong;
            return context;
        }
        // A postcode: "35000 Rennes".
        if previous.len() == 5 && previous.bytes().all(|b| b.is_ascii_digit()) {
            context.intro = Intro::Strong;
            return context;
        }
        // "et", "ou", a comma after a place: the list goes on ("à Rennes et Tours").
        if after_place == Some(p)
            && (token.after_comma || matches!(previous, "et" | "and" | "ou" | "or"))
        {
            context.intro = Intro::Strong;
            return context;
        }
        // "dans le Nord", "dans la Drôme": the preposition is before the article.
        let q = match tk.before(p) {
            Some(q) if ARTICLES.contains(&previous) && !token.after_comma => q,
            _ => p,
        };
        let word = tk.word(q);
        let intro = if word == "a" {
            if tk.t[q].accented {
                Intro::Strong
            } else {
                Intro::Weak
            }
        } else if STRONG_INTRODUCERS.contains(&word) {
            Intro::Strong
        } else if matches!(word, "de" | "d" | "du" | "des" | "of") {
            // The noun before "de", a few words back: "Espace Diagora de", "salle des fêtes de".
            let mut intro = Intro::Weak;
            let mut r = q;
            for _ in 0..3 {
                let Some(before) = tk.before(r) else { break };
                r = before;
                let noun = tk.word(r);
                if STREETS.contains(&noun) {
                    context.street = true;
                    break;
                }
                if VENUES.contains(&noun) {
                    intro = Intro::Strong;
                    break;
                }
                if BODIES.contains(&noun) {
                    intro = Intro::Body;
                    break;
                }
            }
            intro
        } else if WEAK_INTRODUCERS.contains(&word) {
            Intro::Weak
        } else {
            Intro::None
        };
        context.intro = context.intro.max(intro);
        context
    }

    fn accepts(&self, entry: &Entry, lenient: bool) -> bool {
        if entry.elided.is_some() && entry.elided != self.merged {
            return false;
        }
        if lenient {
            return true;
        }
        if self.street {
            return false;
        }
        match entry.guard {
            Guard::None => true,
            Guard::Case => {
                !self.compound
                    && !self.before_capitalised
                    && (self.intro > Intro::None
                        || self.capital && !self.after_capitalised && !self.sentence_start)
            }
            Guard::Word => {
                // "au Palais Bourbon", "au Parc Expo": a venue's name, not "Le Palais".
                let venue = entry.elided.is_some() && self.before_capitalised;
                !self.compound
                    && self.capital
                    && !self.before_of_name
                    && !venue
                    && (entry.elided.is_none() || self.merged_at)
                    && (self.intro >= Intro::Body || self.between_commas)
            }
            Guard::Upper => self.upper || self.intro == Intro::Strong,
            Guard::Capital => self.capital && !self.sentence_start || self.after_medium,
            Guard::Alone => false,
        }
    }
}

/// A department or region named right after a commune: "(93)", ", Drôme", "dans le 82".
#[derive(Debug, Clone, Copy)]
enum Hint {
    Department(usize),
    Region(usize),
}

pub(super) fn find(geo: &Geography, text: &str, lenient: bool) -> Vec<PlaceMention> {
    let tokens = Tokens::new(text);
    let mut out = Vec::new();
    let mut after_place = None;
    // Buffers for the names tried at each token, reused: a mail has hundreds of tokens.
    let (mut key, mut ends) = (String::new(), Vec::new());
    let mut i = 0;
    while i < tokens.len() {
        if tokens.t[i].link {
            i += 1;
            continue;
        }
        match match_at(geo, &tokens, i, lenient, after_place, &mut key, &mut ends) {
            Some((mention, end)) => {
                after_place = mention
                    .as_ref()
                    .filter(|m| matches!(m.kind, Mention::Found(_) | Mention::Abroad(_)))
                    .map(|_| end - 1);
                out.extend(mention);
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// The mention starting at token `i`, if any, and the token after it.
fn match_at(
    geo: &Geography,
    tk: &Tokens<'_>,
    i: usize,
    lenient: bool,
    after_place: Option<usize>,
    key: &mut String,
    ends: &mut Vec<(usize, usize)>,
) -> Option<(Option<PlaceMention>, usize)> {
    if tk.is_number(i) {
        let department = department_number(geo, tk, i)?;
        return Some(found(
            geo,
            tk,
            i,
            i + 1,
            Place::Department(department),
            true,
        ));
    }
    let names = &geo.names;
    let longest = names.spans.get(tk.word(i)).copied().unwrap_or(0);
    key.clear();
    ends.clear();
    for j in i..(i + longest).min(tk.len()) {
        if j > i {
            if tk.t[j].sentence_start || tk.t[j].link || tk.t[j].after_paren {
                break;
            }
            key.push(' ');
        }
        key.push_str(tk.word(j));
        ends.push((key.len(), j + 1));
    }
    for &(len, end) in ends.iter().rev() {
        let Some(entries) = names.keys.get(&key[..len]) else {
            continue;
        };
        let context = Context::of(tk, i, end, after_place);
        let Some(entry) = entries.iter().find(|e| context.accepts(e, lenient)) else {
            // A department given makes the name a place even when it is a word: "Tours (37)".
            if let Some((place, hint_end)) = by_hint(geo, tk, entries, end) {
                return Some(found(geo, tk, i, hint_end, place, true));
            }
            continue;
        };
        if entry.target == Target::Abroad
            && let Some((place, hint_end)) = by_hint(geo, tk, entries, end)
        {
            return Some(found(geo, tk, i, hint_end, place, true));
        }
        let span = tk.t[i].start..tk.t[end - 1].end;
        return match entry.target {
            Target::NotAPlace => Some((None, end)),
            Target::Online => {
                // "mis en ligne", "mis ce géoportail en ligne", "des informations en ligne":
                // a publishing word up to three words before, in the same sentence.
                let published = std::iter::successors(tk.before(i), |&p| tk.before(p))
                    .take(3)
                    .any(|p| PUBLISHED.contains(&tk.word(p)));
                let a_thing = end < tk.len()
                    && !tk.t[end].sentence_start
                    && (NOT_ONLINE_AFTER.contains(&tk.word(end))
                        || tk.word(i) == "zoom" && tk.word(end) == "sur");
                let mention = (!published && !a_thing).then_some(PlaceMention {
                    span,
                    kind: Mention::Online,
                    introduced: false,
                });
                Some((mention, end))
            }
            Target::Abroad => Some((
                Some(PlaceMention {
                    kind: Mention::Abroad(tk.text[span.clone()].to_string()),
                    span,
                    introduced: context.intro == Intro::Strong,
                }),
                end,
            )),
            Target::Place(place) => {
                // "Vienne (38)": the town, not the department of that name.
                if let Some((other, hint_end)) = by_hint(geo, tk, entries, end) {
                    return Some(found(geo, tk, i, hint_end, other, true));
                }
                let place = by_postcode(geo, tk, entries, i).unwrap_or(place);
                let introduced = context.intro == Intro::Strong;
                Some(found(geo, tk, i, end, place, introduced))
            }
        };
    }
    typo(geo, tk, i, after_place).map(|place| found(geo, tk, i, i + 1, place, true))
}

/// A found place from token `i` to `end`, swallowing a "(35)" that repeats its department.
fn found(
    geo: &Geography,
    tk: &Tokens<'_>,
    i: usize,
    mut end: usize,
    place: Place,
    mut introduced: bool,
) -> (Option<PlaceMention>, usize) {
    if end < tk.len()
        && tk.t[end].after_paren
        && tk.is_number(end)
        && geo.department_code(tk.word(end)).is_some()
        && geo.department_code(tk.word(end)) == geo.department_of(place)
    {
        end += 1;
        introduced = true;
    }
    let span = tk.t[i].start..tk.t[end - 1].end;
    (
        Some(PlaceMention {
            span,
            kind: Mention::Found(place),
            introduced,
        }),
        end,
    )
}

/// The commune of this name in the department or region written after it, and where the hint
/// ends.
fn by_hint(
    geo: &Geography,
    tk: &Tokens<'_>,
    entries: &[Entry],
    end: usize,
) -> Option<(Place, usize)> {
    let (hint, hint_end) = hint_after(geo, tk, end)?;
    entries.iter().find_map(|e| match e.target {
        Target::Place(Place::Commune(c)) if e.elided.is_none() => {
            let department = geo.communes[c].department;
            let fits = match hint {
                Hint::Department(d) => d == department,
                Hint::Region(r) => geo.departments[department].region == r,
            };
            fits.then_some((Place::Commune(c), hint_end))
        }
        _ => None,
    })
}

fn hint_after(geo: &Geography, tk: &Tokens<'_>, end: usize) -> Option<(Hint, usize)> {
    if end >= tk.len() || tk.t[end].sentence_start || tk.t[end].link {
        return None;
    }
    let lead = tk.t[end].after_paren || tk.t[end].after_comma;
    let mut j = end;
    while j < tk.len() && j < end + 3 && HINT_WORDS.contains(&tk.word(j)) {
        j += 1;
    }
    if j >= tk.len() || j > end && tk.t[j].sentence_start {
        return None;
    }
    if tk.is_number(j) {
        return geo
            .department_code(tk.word(j))
            .map(|d| (Hint::Department(d), j + 1));
    }
    if !lead && j == end {
        return None;
    }
    let longest = geo.names.spans.get(tk.word(j)).copied().unwrap_or(0);
    let mut key = String::new();
    let mut best = None;
    for k in j..(j + longest).min(tk.len()) {
        if k > j {
            key.push(' ');
        }
        key.push_str(tk.word(k));
        let hint = geo.names.keys.get(&key).and_then(|entries| {
            entries.iter().find_map(|e| match e.target {
                Target::Place(Place::Department(d)) => Some(Hint::Department(d)),
                Target::Place(Place::Region(r)) if e.elided.is_none() => Some(Hint::Region(r)),
                _ => None,
            })
        });
        if let Some(hint) = hint {
            best = Some((hint, k + 1));
        }
    }
    best
}

/// "35000 Rennes", "93200 Saint-Denis": the postcode's department picks the homonym.
fn by_postcode(geo: &Geography, tk: &Tokens<'_>, entries: &[Entry], i: usize) -> Option<Place> {
    let p = tk.before(i)?;
    let code = tk.word(p);
    if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let department = match &code[..2] {
        "97" => geo.department_code(&code[..3]),
        "20" => None,
        two => geo.department_code(two),
    }?;
    entries.iter().find_map(|e| match e.target {
        Target::Place(Place::Commune(c))
            if e.elided.is_none() && geo.communes[c].department == department =>
        {
            Some(Place::Commune(c))
        }
        _ => None,
    })
}

/// A department number where it cannot be a date or a count: "(35)", "dans le 69",
/// "in the 69", "département 29", "le 35" (no month has 35 days).
fn department_number(geo: &Geography, tk: &Tokens<'_>, i: usize) -> Option<usize> {
    let department = geo.department_code(tk.word(i))?;
    let token = &tk.t[i];
    if token.after_paren && tk.text[token.end..].trim_start().starts_with(')') {
        return Some(department);
    }
    let p = tk.before(i)?;
    let previous = tk.word(p);
    if matches!(
        previous,
        "departement" | "department" | "dept" | "dpt" | "dep"
    ) {
        return Some(department);
    }
    if matches!(previous, "le" | "the") {
        let introduced = tk
            .before(p)
            .is_some_and(|q| matches!(tk.word(q), "dans" | "in"));
        let no_day = tk.word(i).parse::<u32>().is_ok_and(|n| n > 31)
            && (i + 1 >= tk.len() || tk.t[i + 1].sentence_start || !tk.is_number(i + 1));
        if introduced || no_day {
            return Some(department);
        }
    }
    None
}

/// "à Toulouze", "in Bordaux": a capitalised unknown word after a place word, one or two
/// letters away from a region, a department or a town of some size.
fn typo(geo: &Geography, tk: &Tokens<'_>, i: usize, after_place: Option<usize>) -> Option<Place> {
    let word = tk.word(i);
    let token = &tk.t[i];
    // Not a first name: "à Marie-Claire Leclerc", "à Marie Leclerc".
    // Nor a name with its complement: "at the Chamber of Commerce".
    let named = i + 1 < tk.len()
        && (tk.t[i + 1].after_hyphen
            || tk.t[i + 1].capital
            || matches!(tk.word(i + 1), "of" | "de" | "du" | "des" | "d"))
        || tk.before(i).is_some_and(|p| ARTICLES.contains(&tk.word(p)));
    if word.len() < 5 || !token.capital || token.sentence_start || tk.is_number(i) || named {
        return None;
    }
    if Context::of(tk, i, i + 1, after_place).intro != Intro::Strong {
        return None;
    }
    let candidates = geo.names.notable.get(&word.as_bytes()[0])?;
    candidates
        .iter()
        .find(|(name, _)| close_enough(word, name))
        .map(|(_, place)| *place)
}

#[cfg(test)]
mod tests {
    use super::super::tests::geography;
    use super::*;

    /// Every mention as a short string: "commune:35238", "department:69", "region:53",
    /// "abroad:Bruxelles", "online" (the evaluation files' notation).
    fn mentions(geo: &Geography, text: &str) -> Vec<String> {
        geo.find_places(text)
            .into_iter()
            .map(|m| match m.kind {
                Mention::Found(Place::Commune(i)) => format!("commune:{}", geo.commune(i).code),
                Mention::Found(Place::Department(i)) => {
                    format!("department:{}", geo.department(i).code)
                }
                Mention::Found(Place::Region(i)) => format!("region:{}", geo.region(i).code),
                Mention::Abroad(name) => format!("abroad:{name}"),
                Mention::Online => "online".to_string(),
            })
            .collect()
    }

    fn check(cases: &[(&str, &[&str])]) {
        let geo = geography();
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(text, expected)| {
                let got = mentions(&geo, text);
                (got != *expected).then(|| format!("{text:?}: got {got:?}, want {expected:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn communes_in_chat_and_mail() {
        check(&[
            (
                "trouve-moi quelqu'un pour parler d'open data à Rennes le 3 mars",
                &["commune:35238"],
            ),
            (
                "find me someone who can talk about open data in Lyon",
                &["commune:69123"],
            ),
            (
                "any speakers on data quality near Toulouse?",
                &["commune:31555"],
            ),
            (
                "intervenant budget participatif grenoble",
                &["commune:38185"],
            ),
            ("un atelier a saint brieuc", &["commune:22278"]),
            (
                "St-Malo ou Ste-Maxime ?",
                &["commune:35288", "commune:83115"],
            ),
            (
                "au Mans, puis du Havre",
                &["commune:72181", "commune:76351"],
            ),
            ("à La Rochelle", &["commune:17300"]),
            ("conférence à Plouzané en juin", &["commune:29212"]),
            ("Mairie de Plouzané", &["commune:29212"]),
            ("35000 Rennes", &["commune:35238"]),
        ]);
    }

    #[test]
    fn homonyms_take_the_department_given_else_the_largest() {
        check(&[
            // The Réunion's prefecture has a few more inhabitants (155,634 against 149,077).
            ("à Saint-Denis", &["commune:97411"]),
            ("à Saint-Denis (93)", &["commune:93066"]),
            ("à Saint-Denis (974) en mars", &["commune:97411"]),
            ("Saint-Denis dans le 93", &["commune:93066"]),
            ("à Saint-Denis, La Réunion", &["commune:97411"]),
            ("rendez-vous à Valence, Drôme", &["commune:26362"]),
            ("rendez-vous à Valence (82)", &["commune:82186"]),
            ("97400 Saint-Denis", &["commune:97411"]),
            ("à Lyon (69)", &["commune:69123"]),
            (
                "à Lyon, Paris et Marseille",
                &["commune:69123", "commune:75056", "commune:13055"],
            ),
        ]);
    }

    #[test]
    fn departments_by_number_never_dates() {
        check(&[
            ("quelqu'un dans le 69 ?", &["department:69"]),
            ("un intervenant (35) pour le 12 mars", &["department:35"]),
            ("plutôt le 35", &["department:35"]),
            ("in the 69 please", &["department:69"]),
            ("département 29", &["department:29"]),
            ("dans le Finistère", &["department:29"]),
            ("en Ille-et-Vilaine (35)", &["department:35"]),
            ("dans le 2A", &["department:2A"]),
            // Days, counts and telephone numbers are not departments.
            ("le 29 mars", &[]),
            ("on se voit le 12", &[]),
            ("environ 35 personnes, 06 12 34 56 78", &[]),
            ("(50 participants)", &[]),
        ]);
    }

    #[test]
    fn regions_in_french_and_english_and_old_ones() {
        check(&[
            (
                "qui connaît les données de mobilité en Bretagne ?",
                &["region:53"],
            ),
            (
                "someone in Brittany or Normandy",
                &["region:53", "region:28"],
            ),
            ("a speaker from Burgundy", &["region:27"]),
            ("in Corsica", &["region:94"]),
            ("anyone in the Paris region?", &["region:11"]),
            ("en Île-de-France", &["region:11"]),
            ("en PACA", &["region:93"]),
            ("en Alsace ou en Picardie", &["region:44", "region:32"]),
            ("dans le Nord", &["department:59"]),
            ("à La Réunion", &["region:04"]),
        ]);
    }

    #[test]
    fn venues() {
        check(&[
            ("au Palais des Congrès de Lille", &["commune:59350"]),
            ("à l'Hôtel de Région à Rennes", &["commune:35238"]),
            ("à l'Hôtel de Ville de Nantes", &["commune:44109"]),
            ("à l'Hôtel de Ville de Tours", &["commune:37261"]),
            ("Conseil départemental du Nord", &["department:59"]),
            ("Lieu : Tours", &["commune:37261"]),
            ("le 22 avril à Alpexpo (Grenoble)", &["commune:38185"]),
            ("au Centre universitaire, à Nice", &["commune:06088"]),
            ("12 rue de Strasbourg à Nantes", &["commune:44109"]),
            (
                "la journée à l'Hôtel du Département, à\nBordeaux (esplanade)",
                &["commune:33063"],
            ),
            ("> À: Gilles Roux", &[]),
            ("conseil communautaire de Vitré", &["commune:35360"]),
            ("speaker on data ethics, Tours, Dec 14", &["commune:37261"]),
            ("la ville de Rennes", &["commune:35238"]),
            ("budget de la ville", &[]),
            ("anyone in the Tours area?", &["commune:37261"]),
        ]);
    }

    #[test]
    fn abroad_and_online() {
        check(&[
            ("un forum à Bruxelles", &["abroad:Bruxelles"]),
            // A city abroad before the villages of its name, a department still picks one.
            ("au Palais des congrès de Montréal", &["abroad:Montréal"]),
            ("à Montréal (11)", &["commune:11254"]),
            // A venue's noun and its complement name no village ("Le Palais", "Le Parc").
            (
                "au Palais de la Musique et des Congrès de Strasbourg",
                &["commune:67482"],
            ),
            ("au Parc des expositions de Rennes", &["commune:35238"]),
            (
                "au Palais Bourbon, à Paris",
                &["commune:75056", "commune:75056"],
            ),
            // The seats of national institutions are in Paris.
            ("une audition au Palais du Luxembourg", &["commune:75056"]),
            (
                "devant la commission de l'Assemblée nationale",
                &["commune:75056"],
            ),
            ("à Nice du 3 au 5 mars", &["commune:06088"]),
            (
                "a workshop in Valencia (Spain)",
                &["abroad:Valencia", "abroad:Spain"],
            ),
            ("a conference in Geneva", &["abroad:Geneva"]),
            (
                "à Genève ou à Lausanne",
                &["abroad:Genève", "abroad:Lausanne"],
            ),
            ("à Montréal (Québec)", &["abroad:Montréal", "abroad:Québec"]),
            (
                "in Saarbrücken, near Trier",
                &["abroad:Saarbrücken", "abroad:Trier"],
            ),
            ("à Liège, en Belgique", &["abroad:Liège", "abroad:Belgique"]),
            ("en Suisse", &["abroad:Suisse"]),
            ("une banque suisse", &[]),
            ("en ligne le 3 mars", &["online"]),
            ("webinar in English", &[]),
            ("une intervention à distance", &["online"]),
            ("sur zoom", &["online"]),
            ("seen from a distance", &[]),
            ("en visio ou à Lyon", &["online", "commune:69123"]),
            ("visioconférence", &["online"]),
            ("remote talk", &["online"]),
            ("on Zoom or Teams", &["online", "online"]),
            // Published online, a zoom on a subject, teams of people: no event format.
            ("les données mises en ligne", &[]),
            ("available online at data.gouv.fr", &[]),
            ("Zoom sur les données", &[]),
            ("our teams will attend", &[]),
        ]);
    }

    #[test]
    fn everyday_words_are_not_places() {
        check(&[
            ("un plan de communication", &[]),
            ("la vente des données", &[]),
            ("nice to meet you", &[]),
            ("That's a nice idea, thanks", &[]),
            ("en mars 2027, au bar", &[]),
            ("En Mars 2027", &[]),
            ("il y a eu des tours de table", &[]),
            ("une réunion à Rennes", &["commune:35238"]),
            ("a conference in Nice", &["commune:06088"]),
            ("à Tours", &["commune:37261"]),
            ("à Orange, à Sens", &["commune:84087", "commune:89387"]),
            ("Tours (37)", &["commune:37261"]),
            ("merci à Claire Fleury", &[]),
            ("écrire à contact@rennes.fr ou www.lyon.fr", &[]),
            ("une somme de 300 euros, la manche", &[]),
            ("le lot de données", &[]),
            ("à Bientôt", &[]),
            // Mail headers, other languages, names at a line's start.
            ("Content-Language: en-US, text in US-ASCII", &[]),
            ("es war auch nicht so", &[]),
            ("SMTP error from remote server", &[]),
            ("name,organisation\nMaud Lescure,243500139", &[]),
            ("Cras faucibus, orci", &[]),
        ]);
    }

    #[test]
    fn typos_after_a_place_word() {
        check(&[
            ("à Toulouze", &["commune:31555"]),
            ("in Bordaux", &["commune:33063"]),
            ("en Français", &[]),
            ("confier la demande à Marie-Claire Leclerc", &[]),
            (
                "at the Chamber of Commerce in Luxembourg",
                &["abroad:Luxembourg"],
            ),
        ]);
    }

    #[test]
    fn spans_point_into_the_text() {
        let geo = geography();
        let text = "Réunion à Saint-Denis (974), puis en visio";
        let found = geo.find_places(text);
        let spans: Vec<&str> = found.iter().map(|m| &text[m.span.clone()]).collect();
        assert_eq!(spans, vec!["Saint-Denis (974", "visio"]);
    }

    #[test]
    fn a_chat_line_is_quick() {
        let geo = geography();
        let line = "trouve-moi quelqu'un pour parler d'open data à Rennes le 3 mars";
        let runs = 2_000;
        let timer = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(geo.find_places(std::hint::black_box(line)));
        }
        eprintln!("find_places: {:?} per line", timer.elapsed() / runs);
    }
}

#!/usr/bin/env python3
"""Generate Passerelle's sample directory.

Writes, relative to the repository root:
  data/sample/members.csv        240 people (5 fixed personas first, then 235 generated)
  data/sample/interventions.csv  ~450 past talks of consenting people (fairness ranking)

EVERY PERSON IS INVENTED: names, e-mail addresses (all @example.org), bios,
Matrix ids, availability and talk history are random fabrications. Any
resemblance to a real person is coincidental. The organisations, on the other
hand, are REAL: they are referenced by SIREN and taken from the OpenDataFrance
observatory export in data/odf/organisations.csv (ODbL, "OpenDataFrance –
Observatoire open data des territoires").

Inputs:  data/odf/organisations.csv, data/geo/prefectures.csv
Usage:   python3 tools/make_sample.py      (Python 3.11, standard library only)

The output is deterministic (random.Random(20261126), lists only, no set or
dict-order dependent iteration over unordered data): re-running produces
byte-identical files. The coverage requirements the demo relies on are
asserted at the end.
"""

from __future__ import annotations

import csv
import random
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORGS_CSV = ROOT / "data" / "odf" / "organisations.csv"
PREF_CSV = ROOT / "data" / "geo" / "prefectures.csv"
OUT_DIR = ROOT / "data" / "sample"

SEED = 20261126
TOTAL_PEOPLE = 240
TARGET_TALKS = 450
DOMAIN = "example.org"

# --------------------------------------------------------------------------
# Topic ids (kept in sync by hand with data/topics.toml; do not import it)
# --------------------------------------------------------------------------
PRACTICE_IDS = [
    "licensing", "legal", "standards", "data-quality", "metadata", "platforms",
    "apis-formats", "reuse", "communication", "training", "hackathons",
    "psi-directive", "governance", "algorithms-transparency", "geodata",
]
THEME_TO_SECTOR = [
    ("Administratif", "administration"), ("Agriculture", "agriculture"),
    ("Citoyenneté", "citizenship"), ("Culture", "culture"),
    ("Economie", "economy"), ("Education", "education"), ("Energie", "energy"),
    ("Enfance", "childhood"), ("Environnement", "environment"),
    ("Equipements", "facilities"), ("Finance", "finance"), ("Santé", "health"),
    ("Sécurité", "security"), ("Social", "social"), ("Sport", "sport"),
    ("Télécom", "telecom"), ("Tourisme", "tourism"), ("Transport", "transport"),
    ("Urbanisme", "urban-planning"),
]
THEME_MAP = dict(THEME_TO_SECTOR)
SECTOR_IDS = [s for _, s in THEME_TO_SECTOR]
ALL_TOPICS = PRACTICE_IDS + SECTOR_IDS
# Deliberately rare topics, to demonstrate "no match -> suggest nearby topics".
EXACTLY_ONE = ["agriculture", "telecom"]
NOBODY = ["childhood"]
NEVER_RANDOM = EXACTLY_ONE + NOBODY

BRETAGNE_DEPS = ["22", "29", "35", "56"]
OCCITANIE_DEPS = ["09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"]
REG_BRETAGNE, REG_OCCITANIE, REG_ARA = "53", "76", "84"

# Chef-lieu names in prefectures.csv drop the leading article (COG style).
PLACE_FIX = {
    "Rochelle": "La Rochelle", "Mans": "Le Mans",
    "Puy-en-Velay": "Le Puy-en-Velay", "Roche-sur-Yon": "La Roche-sur-Yon",
}

# --------------------------------------------------------------------------
# Invented names. (first names female / male / epicene, surnames) per origin.
# --------------------------------------------------------------------------
ORIGINS = {
    "fr": dict(
        weight=58,
        f=["Claire", "Sophie", "Julie", "Émilie", "Léa", "Chloé", "Manon", "Céline",
           "Nathalie", "Isabelle", "Sandrine", "Aurélie", "Hélène", "Élodie", "Marion",
           "Pauline", "Agathe", "Mathilde", "Anaïs", "Océane", "Margaux", "Solène",
           "Gaëlle", "Estelle", "Véronique", "Christine", "Sylvie", "Françoise",
           "Catherine", "Laure", "Bérénice", "Coralie", "Noémie", "Justine",
           "Marie-Claire", "Anne-Sophie", "Marie-Hélène", "Anne-Laure", "Marie-Pierre",
           "Ève", "Maëlys", "Josiane", "Brigitte", "Odile"],
        m=["Thomas", "Nicolas", "Julien", "Maxime", "Antoine", "Guillaume", "Pierre",
           "Sébastien", "Mathieu", "François", "Olivier", "Stéphane", "Laurent",
           "Frédéric", "Jérôme", "Benoît", "Cédric", "Rémi", "Hugo", "Lucas", "Théo",
           "Clément", "Arnaud", "Bastien", "Gilles", "Thierry", "Damien", "Romain",
           "Jean-Michel", "Jean-Baptiste", "Jean-François", "Marc-Antoine",
           "Pierre-Louis", "Aurélien", "Grégoire", "Joël", "Hervé", "Valentin"],
        e=["Camille", "Dominique", "Claude", "Alex", "Sacha", "Charlie"],
        s=["Martin", "Bernard", "Dubois", "Robert", "Richard", "Petit", "Durand",
           "Leroy", "Moreau", "Laurent", "Lefebvre", "David", "Bertrand", "Roux",
           "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont",
           "Lambert", "Bonnet", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
           "Guérin", "Henry", "Roussel", "Perrin", "Morin", "Mathieu", "Clément",
           "Gauthier", "Dumont", "Fontaine", "Chevalier", "Robin", "Masson", "Gérard",
           "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roche", "Noël",
           "Meunier", "Marchand", "Dufour", "Blanchard", "Barbier", "Brun", "Dumas",
           "Brunet", "Leroux", "Colin", "Renard", "Rolland", "Caron", "Aubert",
           "Giraud", "Leclerc", "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard",
           "Lacroix", "Dupuis", "Hubert", "Guillot", "Rivière", "Moulin", "Berger",
           "Lecomte", "Ménard", "Fleury", "Deschamps", "Carpentier", "Maillard",
           "Aubry", "Vasseur", "Jacquet", "Collet", "Prévost", "Poirier", "Charpentier",
           "Royer", "Huet", "Baron", "Dupuy", "Carré", "Rémy", "Aubin", "Lefèvre",
           "Besson", "Chauvin", "Perrot", "Tessier", "Vallée", "Marty", "Hamel"],
    ),
    "breton": dict(
        weight=3,
        f=["Nolwenn", "Soizic", "Enora", "Rozenn", "Maëlle", "Gwenola", "Morgane", "Katell"],
        m=["Erwan", "Yann", "Gwenaël", "Loïc", "Ronan", "Tangi", "Goulven", "Ewen"],
        e=["Brieuc"],
        s=["Le Goff", "Le Bihan", "Kerhervé", "Le Gall", "Tanguy", "Guéguen", "Le Floch",
           "Le Corre", "Morvan", "Le Bris", "Quéré", "Le Meur", "Prigent", "Jézéquel",
           "Kervella", "Le Du", "Cadiou", "Riou"],
    ),
    "occitan": dict(
        weight=2,
        f=["Magali", "Mireille", "Maïlis", "Estelle", "Fabienne", "Joana"],
        m=["Joan", "Bernat", "Aurèle", "Fabien", "Sylvain", "Pascal"],
        e=[],
        s=["Delmas", "Bousquet", "Castan", "Cabrol", "Fabrègue", "Vidal", "Pujol",
           "Teulier", "Gasc", "Bonnafous", "Delpech", "Cabanel", "Espinasse", "Sabatier"],
    ),
    "corse": dict(
        weight=1,
        f=["Letizia", "Vanina", "Laetitia", "Paula", "Maria-Lucia"],
        m=["Petru", "Ghjuvan", "Anghjulu", "Paul-Antoine", "Jean-Toussaint", "Dumenicu"],
        e=[],
        s=["Santoni", "Pietri", "Leca", "Mattei", "Antonetti", "Luciani", "Filippi",
           "Orsoni", "Giacometti", "Albertini", "Susini"],
    ),
    "maghreb": dict(
        weight=10,
        f=["Fatima", "Samira", "Leïla", "Yasmina", "Amina", "Inès", "Salma", "Aïcha",
           "Khadija", "Nour", "Meriem", "Sonia", "Farida", "Djamila"],
        m=["Mehdi", "Karim", "Rachid", "Sofiane", "Yacine", "Bilal", "Nordine", "Samir",
           "Hakim", "Walid", "Farid", "Malik", "Nassim", "Anis"],
        e=[],
        s=["Haddad", "Bouzid", "Mansouri", "Cherif", "Amrani", "Khelifi", "Ziani",
           "Saïdi", "Meziane", "Boudjema", "Hamdi", "El Idrissi", "Benhamou", "Ouali",
           "Bensaïd", "Lahlou", "Chaouch", "Belhadj"],
    ),
    "westafrica": dict(
        weight=5,
        f=["Fatoumata", "Aminata", "Mariama", "Awa", "Adama", "Kadiatou", "Oumou"],
        m=["Moussa", "Mamadou", "Ibrahima", "Ousmane", "Cheikh", "Seydou", "Abdoulaye"],
        e=[],
        s=["Diallo", "Traoré", "Ndiaye", "Diop", "Sow", "Camara", "Koné", "Touré",
           "Sylla", "Keita", "Ba", "Fall", "N'Diaye", "Kouyaté", "Sangaré"],
    ),
    "portugal": dict(
        weight=5,
        f=["Ana", "Inês", "Joana", "Sofia", "Beatriz", "Carla"],
        m=["João", "Tiago", "Rui", "Paulo", "Nuno", "Vítor"],
        e=[],
        s=["Da Silva", "Pereira", "Ferreira", "Rodrigues", "Fernandes", "Gonçalves",
           "Oliveira", "Carvalho", "Teixeira", "Moreira", "Lopes", "Dos Santos", "Alves"],
    ),
    "vietnam": dict(
        weight=3,
        f=["Linh", "Mai", "Thu", "Hoa", "Lan", "Ngoc"],
        m=["Duc", "Minh", "Quang", "Tuan", "Huy", "Long"],
        e=[],
        s=["Nguyen", "Tran", "Pham", "Hoang", "Vu", "Dang", "Bui", "Truong", "Phan", "Lê"],
    ),
    "alsace": dict(
        weight=3,
        f=["Christelle", "Odile", "Anne", "Caroline"],
        m=["Marc", "Patrick", "Luc", "Philippe"],
        e=[],
        s=["Muller", "Schmitt", "Meyer", "Weber", "Klein", "Wagner", "Hoffmann",
           "Kieffer", "Schneider", "Fischer", "Roth", "Haag"],
    ),
    "south": dict(
        weight=4,
        f=["Carmen", "Lucia", "Elena", "Giulia", "Rosa"],
        m=["Diego", "Carlos", "Marco", "Enzo", "Luca"],
        e=[],
        s=["Garcia", "Martinez", "Lopez", "Sanchez", "Fernandez", "Rossi", "Romano",
           "Rizzo", "Marino", "Gomez", "Ruiz", "Navarro"],
    ),
}
# Region (INSEE code) -> origin weight multipliers, for a realistic regional flavour.
REGION_ORIGIN_BOOST = {
    "53": {"breton": 10},
    "76": {"occitan": 7, "south": 2},
    "75": {"occitan": 2, "portugal": 1.5},
    "93": {"occitan": 2, "south": 2.5, "corse": 2},
    "94": {"corse": 60},
    "44": {"alsace": 6},
    "11": {"maghreb": 1.6, "westafrica": 2, "portugal": 1.5, "vietnam": 1.8},
}
# Full names never to generate: fixed personas and well-known people that the
# lists above could otherwise combine into.
BLOCKED_NAMES = [
    "Dominique Lefèvre", "Camille Roux", "Yanis Benali", "Alex Martin", "Nadia Perrin",
    "Pierre Richard", "Claude François", "Pierre Garnier", "Olivier Martinez",
    "Antoine Dupont", "Théo Fernandez", "Laurent Blanc", "Frédéric François",
    "Karim Ziani", "Claude Simon", "Nicolas Mathieu", "François Morel",
    "Nathalie Simon", "Anne Roumanoff", "Julien Clerc", "Hugo Lopez",
    "Thomas Legrand", "Marc Lévy", "Patrick Bruel", "Mathieu Valbuena",
]

# --------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------
# (masculine title, feminine title, weight, {practice topic: affinity})
STAFF_TITLES = [
    ("Chef de projet open data", "Cheffe de projet open data", 6,
     {"licensing": 3, "platforms": 3, "reuse": 3, "communication": 2, "standards": 2,
      "governance": 1, "metadata": 1}),
    ("Responsable SIG", "Responsable SIG", 3,
     {"geodata": 6, "standards": 2, "data-quality": 2, "metadata": 2, "apis-formats": 1}),
    ("Géomaticien", "Géomaticienne", 2,
     {"geodata": 6, "metadata": 2, "apis-formats": 2, "data-quality": 1}),
    ("DPO", "DPO", 2,
     {"legal": 6, "governance": 2, "algorithms-transparency": 2, "psi-directive": 1,
      "licensing": 1}),
    ("Chargé de mission données", "Chargée de mission données", 4,
     {"data-quality": 3, "metadata": 2, "standards": 2, "governance": 2, "reuse": 1,
      "licensing": 1}),
    ("Administrateur des données", "Administratrice des données", 2,
     {"data-quality": 3, "metadata": 3, "standards": 3, "governance": 2}),
    ("Juriste numérique", "Juriste numérique", 1,
     {"legal": 4, "licensing": 4, "psi-directive": 3, "algorithms-transparency": 1}),
    ("Responsable des affaires juridiques", "Responsable des affaires juridiques", 1,
     {"legal": 5, "licensing": 2, "psi-directive": 2}),
    ("Archiviste", "Archiviste", 1,
     {"metadata": 4, "standards": 2, "legal": 1, "data-quality": 1}),
    ("Développeur", "Développeuse", 2,
     {"apis-formats": 5, "platforms": 3, "standards": 2}),
    ("Chargé de communication numérique", "Chargée de communication numérique", 2,
     {"communication": 5, "reuse": 2, "hackathons": 2}),
    ("Médiateur numérique", "Médiatrice numérique", 1,
     {"training": 5, "hackathons": 2, "communication": 2, "reuse": 1}),
    ("Directeur des systèmes d'information", "Directrice des systèmes d'information", 1,
     {"platforms": 3, "governance": 3, "apis-formats": 2, "algorithms-transparency": 1}),
    ("Responsable innovation", "Responsable innovation", 1,
     {"hackathons": 4, "reuse": 3, "algorithms-transparency": 2, "communication": 1}),
    ("Data scientist", "Data scientist", 1,
     {"algorithms-transparency": 3, "data-quality": 3, "apis-formats": 2, "reuse": 1}),
    ("Chargé d'études statistiques", "Chargée d'études statistiques", 1,
     {"data-quality": 3, "reuse": 2, "standards": 1, "metadata": 1}),
    ("Chef de projet transformation numérique", "Cheffe de projet transformation numérique", 2,
     {"governance": 3, "training": 2, "platforms": 2, "psi-directive": 1}),
    ("Chargé de mission Europe et numérique", "Chargée de mission Europe et numérique", 1,
     {"psi-directive": 5, "legal": 2, "governance": 1}),
    ("Responsable qualité des données", "Responsable qualité des données", 1,
     {"data-quality": 5, "standards": 2, "metadata": 2}),
    ("Formateur numérique", "Formatrice numérique", 1,
     {"training": 5, "communication": 1}),
    ("Responsable de la donnée", "Responsable de la donnée", 1,
     {"governance": 5, "data-quality": 2, "algorithms-transparency": 2, "licensing": 1}),
]
ELECTED_AFFINITY = {
    "governance": 3, "communication": 2, "algorithms-transparency": 2, "licensing": 2,
    "psi-directive": 1, "hackathons": 2, "reuse": 1, "training": 1, "legal": 1,
}
# Titles by organisation type. Unique offices (maire, président) are avoided.
ELECTED_TITLES = {
    "COM": [("Adjoint au maire chargé du numérique", "Adjointe au maire chargée du numérique"),
            ("Conseiller municipal délégué à l'open data", "Conseillère municipale déléguée à l'open data"),
            ("Adjoint au maire chargé de la démocratie locale", "Adjointe au maire chargée de la démocratie locale"),
            ("Conseiller municipal délégué à la transition numérique", "Conseillère municipale déléguée à la transition numérique")],
    "EPCI": [("Vice-président délégué à la transition numérique", "Vice-présidente déléguée à la transition numérique"),
             ("Conseiller communautaire délégué aux données publiques", "Conseillère communautaire déléguée aux données publiques")],
    "MET": [("Vice-président délégué au numérique et à l'open data", "Vice-présidente déléguée au numérique et à l'open data"),
            ("Conseiller métropolitain délégué aux données", "Conseillère métropolitaine déléguée aux données")],
    "DEP": [("Vice-président du Département chargé du numérique", "Vice-présidente du Département chargée du numérique"),
            ("Conseiller départemental délégué à l'open data", "Conseillère départementale déléguée à l'open data")],
    "REG": [("Vice-président de la Région délégué au numérique", "Vice-présidente de la Région déléguée au numérique"),
            ("Conseiller régional délégué aux données publiques", "Conseillère régionale déléguée aux données publiques")],
    "SYND": [("Vice-président du syndicat délégué au numérique", "Vice-présidente du syndicat déléguée au numérique"),
             ("Délégué au comité syndical", "Déléguée au comité syndical")],
}
ELECTED_GROUP = {"COM": "COM", "CA": "EPCI", "CC": "EPCI", "CU": "EPCI", "EPT": "EPCI",
                 "MET": "MET", "DEP": "DEP", "REG": "REG", "AGCT": "SYND", "SDE": "SYND"}
# Organisation type -> weight when drawing someone's employer.
ORG_TYPE_WEIGHT = {"REG": 5, "MET": 5, "DEP": 3, "CA": 2.2, "CU": 2.2, "EPT": 2,
                   "COM": 1, "CC": 1, "AGCT": 1, "OACT": 0.9, "SDE": 1, "DSPT": 0.3}

# --------------------------------------------------------------------------
# Bio phrases
# --------------------------------------------------------------------------
PRACTICE_PHRASE = {
    "licensing": "les licences ouvertes",
    "legal": "le cadre juridique de l'open data",
    "standards": "les schémas de données (SCDL)",
    "data-quality": "la qualité des données",
    "metadata": "les métadonnées et catalogues",
    "platforms": "le portail open data",
    "apis-formats": "les API et formats ouverts",
    "reuse": "l'accompagnement des réutilisateurs",
    "communication": "la valorisation des données",
    "training": "la formation des agents",
    "hackathons": "les hackathons",
    "psi-directive": "la directive européenne sur les données ouvertes",
    "governance": "la gouvernance de la donnée",
    "algorithms-transparency": "la transparence des algorithmes publics",
    "geodata": "les données géographiques",
}
SECTOR_PHRASE = {
    "administration": "les données administratives", "agriculture": "l'agriculture",
    "citizenship": "la vie citoyenne", "culture": "la culture",
    "economy": "le développement économique", "education": "l'éducation",
    "energy": "l'énergie", "childhood": "la petite enfance",
    "environment": "l'environnement", "facilities": "les équipements publics",
    "finance": "les finances locales", "health": "la santé",
    "security": "la sécurité civile", "social": "l'action sociale", "sport": "le sport",
    "telecom": "le très haut débit", "tourism": "le tourisme",
    "transport": "les mobilités", "urban-planning": "l'urbanisme",
}
STAFF_VERBS = ["travaille sur", "pilote", "intervient sur", "suit",
               "accompagne les services sur", "anime le travail sur", "REF"]
ELECTED_VERBS = ["porte", "défend", "suit", "promeut", "porte politiquement"]

# --------------------------------------------------------------------------
# Events for interventions.csv: (name, place kind, topic or None, may add year)
# --------------------------------------------------------------------------
GENERAL_EVENTS = [
    ("Webinaire OpenDataFrance", "online", True),
    ("Journée régionale open data", "region", True),
    ("Forum des territoires numériques", "national", True),
    ("Salon des maires", "paris", True),
    ("Rencontres nationales de la donnée territoriale", "national", True),
    ("Café data", "region", False),
    ("Matinale de l'open data", "region", False),
    ("Rencontres des territoires ouverts", "national", True),
    ("Journée des acteurs publics de la donnée", "region", True),
]
TOPIC_EVENTS = {
    "standards": [("Rencontres SCDL", "national", True)],
    "licensing": [("Atelier licences ouvertes", "region", False)],
    "legal": [("Atelier RGPD et données publiques", "online", False)],
    "geodata": [("Journée de la géomatique territoriale", "national", True)],
    "hackathons": [("Hackathon des territoires", "region", True)],
    "governance": [("Séminaire gouvernance de la donnée", "national", True)],
    "training": [("Rencontres de la médiation numérique", "region", True)],
    "data-quality": [("Webinaire qualité des données", "online", False)],
    "algorithms-transparency": [("Atelier transparence des algorithmes", "online", False)],
    "psi-directive": [("Journée données de forte valeur", "national", True)],
    "metadata": [("Atelier catalogues et métadonnées", "online", False)],
    "apis-formats": [("Meetup API publiques", "region", True)],
    "transport": [("Journée des données de mobilité", "national", True)],
    "tourism": [("Rencontres data et tourisme", "region", True)],
    "energy": [("Forum énergie et données locales", "region", True)],
}
NATIONAL_CITIES = [("Paris", 6), ("Lyon", 2), ("Nantes", 2), ("Rennes", 2), ("Toulouse", 2),
                   ("Bordeaux", 1.5), ("Montpellier", 1.5), ("Lille", 1.5), ("Strasbourg", 1),
                   ("Marseille", 1), ("Grenoble", 1), ("Dijon", 0.7), ("Orléans", 0.7)]

TALK_START, TALK_END = date(2024, 1, 15), date(2026, 11, 20)
UNAV_START, UNAV_END = date(2026, 12, 1), date(2027, 6, 30)
LANG_ORDER = ["fr", "en", "es", "de", "it", "br", "oc"]


# --------------------------------------------------------------------------
# Data loading
# --------------------------------------------------------------------------
@dataclass
class Org:
    siren: str
    name: str
    type: str
    dep: str
    region: str
    sectors: list[str]


def load_prefectures():
    with PREF_CSV.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def load_orgs(dep_region: dict[str, str]) -> list[Org]:
    orgs = []
    with ORGS_CSV.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            siren = row["siren"].strip()
            dep = (row["Département"] or "").strip()
            # Skip rows whose SIREN is not 9 plain digits (one carries an
            # invisible U+200E mark) or whose département is not a single
            # code known to prefectures.csv (empty, "77,91", 987, 988...).
            if not re.fullmatch(r"\d{9}", siren) or dep not in dep_region:
                continue
            sectors = []
            for theme in (row["Thèmatiques"] or "").split(","):
                sid = THEME_MAP.get(theme.strip())
                if sid and sid not in sectors:
                    sectors.append(sid)
            orgs.append(Org(siren, " ".join(row["nom"].split()), row["type"].strip(),
                            dep, dep_region[dep], sectors))
    sirens = [o.siren for o in orgs]
    assert len(sirens) == len(set(sirens)), "duplicate SIREN in organisations.csv"
    return orgs


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def ascii_slug(text: str) -> str:
    s = unicodedata.normalize("NFKD", text)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = s.replace("'", "").replace("’", "")
    s = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return s


def wchoice(rng: random.Random, items, weights):
    return rng.choices(items, weights=weights, k=1)[0]


def wsample(rng: random.Random, weighted: list[tuple[str, float]], k: int) -> list[str]:
    """Weighted sample without replacement, deterministic."""
    pool = list(weighted)
    out = []
    while pool and len(out) < k:
        pick = wchoice(rng, [p[0] for p in pool], [p[1] for p in pool])
        out.append(pick)
        pool = [p for p in pool if p[0] != pick]
    return out


def rand_date(rng: random.Random, lo: date, hi: date) -> date:
    return date.fromordinal(rng.randint(lo.toordinal(), hi.toordinal()))


def join_fr(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " et " + parts[-1]


@dataclass
class Person:
    name: str
    gender: str  # "f" / "m" (grammar of titles only)
    org: Org
    job_role: str
    title: str
    practice: list[str]
    sectors: list[str]
    languages: list[str]
    consent: bool
    access: str = "member"
    has_matrix: bool = False
    unavailable: str = ""
    preferred_language: str = ""
    bio: str = ""
    email: str = ""
    matrix_id: str = ""
    fixed: bool = False
    tags: list[str] = field(default_factory=list)

    @property
    def topics(self) -> list[str]:
        return self.practice + self.sectors


# --------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------
class Generator:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.prefs = load_prefectures()
        self.dep_region = {p["dep_code"]: p["reg_code"] for p in self.prefs}
        self.region_name = {}
        for p in self.prefs:
            self.region_name.setdefault(p["reg_code"], p["reg_name"])
        self.dep_city = {p["dep_code"]: PLACE_FIX.get(p["chef_lieu_name"], p["chef_lieu_name"])
                         for p in self.prefs}
        self.orgs = load_orgs(self.dep_region)
        self.by_siren = {o.siren: o for o in self.orgs}
        self.used_names: list[str] = []

    # ---- organisations -------------------------------------------------
    def pick_org(self, pred=None) -> Org:
        cands = [o for o in self.orgs if pred is None or pred(o)]
        assert cands, "no organisation matches"
        return wchoice(self.rng, cands, [ORG_TYPE_WEIGHT.get(o.type, 1) for o in cands])

    def org_by_name(self, name: str, dep: str | None = None) -> Org:
        for o in self.orgs:
            if o.name == name and (dep is None or o.dep == dep):
                return o
        raise SystemExit(f"organisation {name!r} not found in {ORGS_CSV}")

    # ---- names ---------------------------------------------------------
    def pick_name(self, region: str, gender: str | None = None) -> tuple[str, str]:
        rng = self.rng
        boost = REGION_ORIGIN_BOOST.get(region, {})
        keys = list(ORIGINS)
        weights = [ORIGINS[k]["weight"] * boost.get(k, 1) for k in keys]
        while True:
            origin = wchoice(rng, keys, weights)
            o = ORIGINS[origin]
            # Second generation: often a French first name with a heritage surname.
            first_src = ORIGINS["fr"] if (origin != "fr" and rng.random() < 0.25) else o
            g = gender or ("f" if rng.random() < 0.52 else "m")
            pool = first_src[g] + (first_src["e"] if rng.random() < 0.1 else [])
            first = rng.choice(pool)
            last = rng.choice(o["s"])
            full = f"{first} {last}"
            if first == last or full in BLOCKED_NAMES:
                continue
            if full in self.used_names and rng.random() < 0.85:
                continue  # allow the odd homonym, exercising the e-mail digit rule
            self.used_names.append(full)
            return full, g

    # ---- topics & titles ---------------------------------------------
    def staff_title(self, gender: str, need: str | None) -> tuple[str, dict]:
        cands = [t for t in STAFF_TITLES if need is None or need in t[3]]
        if not cands:
            cands = STAFF_TITLES
        t = wchoice(self.rng, cands, [c[2] for c in cands])
        return (t[1] if gender == "f" else t[0]), t[3]

    def elected_title(self, gender: str, org: Org) -> str:
        m, f = self.rng.choice(ELECTED_TITLES[ELECTED_GROUP[org.type]])
        return f if gender == "f" else m

    def pick_practice(self, affinity: dict, need: str | None) -> list[str]:
        rng = self.rng
        k = wchoice(rng, [1, 2, 3], [25, 45, 30])
        # main topic from the role's affinities, others mostly too (small noise)
        picked = wsample(rng, [(t, affinity[t]) for t in PRACTICE_IDS if t in affinity], 1)
        weighted = [(t, affinity.get(t, 0) * 4 + (0.15 if rng.random() < 0.5 else 0.05))
                    for t in PRACTICE_IDS if t not in picked]
        picked += wsample(rng, weighted, k - 1)
        if need and need not in picked:
            picked = [need] + picked[: max(0, k - 1)]
        return picked

    def pick_sectors(self, org: Org, need: str | None) -> list[str]:
        rng = self.rng
        avail = [s for s in org.sectors if s not in NEVER_RANDOM]
        k = min(len(avail), wchoice(rng, [0, 1, 2], [25, 45, 30]))
        picked = rng.sample(avail, k) if k else []
        if need:
            assert need in org.sectors
            if need not in picked:
                picked = [need] + picked[:1]
        return picked

    def pick_languages(self, region: str, want_en: bool | None) -> list[str]:
        rng = self.rng
        langs = ["fr"]
        en = rng.random() < 0.33 if want_en is None else want_en
        if en:
            langs.append("en")
        if rng.random() < 0.06:
            langs.append("es")
        if rng.random() < (0.15 if region == "44" else 0.03):
            langs.append("de")
        if rng.random() < (0.12 if region in ("93", "94") else 0.03):
            langs.append("it")
        if region == REG_BRETAGNE and rng.random() < 0.2:
            langs.append("br")
        if region == REG_OCCITANIE and rng.random() < 0.15:
            langs.append("oc")
        return [l for l in LANG_ORDER if l in langs]

    def unavailability(self) -> str:
        rng = self.rng
        n = 1 if rng.random() < 0.7 else 2
        periods = []
        lo = UNAV_START
        for i in range(n):
            length = rng.randint(3, 20)
            span_end = UNAV_END - timedelta(days=length + (40 if i < n - 1 else 0))
            if span_end <= lo:
                break
            start = rand_date(rng, lo, min(span_end, lo + timedelta(days=150)))
            end = start + timedelta(days=length)
            periods.append(f"{start.isoformat()}..{end.isoformat()}")
            lo = end + timedelta(days=10)
        return ";".join(periods)

    def make_bio(self, p: Person) -> str:
        rng = self.rng
        verbs = ELECTED_VERBS if p.job_role == "elected" else STAFF_VERBS
        verb = rng.choice(verbs)
        if verb == "REF":
            verb = "référente pour" if p.gender == "f" else "référent pour"
        phrases = [PRACTICE_PHRASE[t] for t in p.practice]
        sect = [SECTOR_PHRASE[s] for s in p.sectors]
        while True:
            text = f"{p.title}, {verb} {join_fr(phrases)}"
            if sect:
                text += f", notamment pour {join_fr(sect)}"
            text += "."
            if len(text) <= 160:
                return text
            if len(sect) > 1:
                sect = sect[:1]
            elif sect:
                sect = []
            elif len(phrases) > 1:
                phrases = phrases[:-1]
            else:
                return text[:159].rstrip() + "."

    # ---- people ----------------------------------------------------------
    def person(self, *, org: Org | None = None, org_pred=None, role: str | None = None,
               need_practice: str | None = None, need_sector: str | None = None,
               want_en: bool | None = None, consent: bool | None = None,
               access: str = "member", tags=()) -> Person:
        rng = self.rng
        if org is None:
            pred = org_pred
            if need_sector:
                base = pred
                pred = (lambda o, b=base: need_sector in o.sectors and (b is None or b(o)))
            org = self.pick_org(pred)
        can_elect = org.type in ELECTED_GROUP
        if role is None:
            role = "elected" if (can_elect and need_practice is None and rng.random() < 0.37) else "staff"
        if role == "elected" and not can_elect:
            role = "staff"
        name, gender = self.pick_name(org.region)
        if role == "elected":
            title = self.elected_title(gender, org)
            affinity = ELECTED_AFFINITY
        else:
            title, affinity = self.staff_title(gender, need_practice)
        practice = self.pick_practice(affinity, need_practice)
        sectors = self.pick_sectors(org, need_sector)
        if len(practice) + len(sectors) < 2:
            extra = wsample(rng, [(t, affinity.get(t, 0) + 0.2) for t in PRACTICE_IDS
                                  if t not in practice], 1)
            practice += extra
        assert 2 <= len(practice) + len(sectors) <= 5
        p = Person(
            name=name, gender=gender, org=org, job_role=role, title=title,
            practice=practice, sectors=sectors,
            languages=self.pick_languages(org.region, want_en),
            consent=(rng.random() < 0.79) if consent is None else consent,
            access=access, tags=list(tags),
        )
        p.has_matrix = rng.random() < 0.6
        if rng.random() < 0.10:
            p.unavailable = self.unavailability()
        r = rng.random()
        if "en" in p.languages and r < 0.14:
            p.preferred_language = "en"
        elif r > 0.955:
            p.preferred_language = "fr"
        p.bio = self.make_bio(p)
        return p

    def personas(self) -> list[Person]:
        # OpenDataFrance itself is not in the observatory export; look for it,
        # else fall back to a regional council (Région Occitanie).
        odf = [o for o in self.orgs if "OPENDATAFRANCE" in o.name.replace(" ", "").upper()]
        dom_org = odf[0] if odf else self.org_by_name("OCCITANIE")
        assert dom_org.type == "REG" or odf
        rennes = self.org_by_name("RENNES METROPOLE", "35")
        lyon = self.org_by_name("METROPOLE DE LYON", "69")
        nantes = self.org_by_name("NANTES METROPOLE", "44")
        lorient = self.org_by_name("LORIENT", "56")
        spec = [
            ("Dominique Lefèvre", "f", dom_org, "staff", "Coordinatrice du réseau",
             ["governance", "communication"], ["fr", "en"], True, "admin", True,
             "Coordinatrice du réseau, anime la gouvernance de la communauté open data "
             "des territoires et sa communication."),
            ("Camille Roux", "f", rennes, "staff", "Juriste numérique",
             ["licensing", "legal", "psi-directive"], ["fr", "en"], True, "core-team", True,
             "Juriste numérique, accompagne les collectivités bretonnes sur les licences "
             "ouvertes, le droit de l'open data et la directive européenne."),
            ("Yanis Benali", "m", lyon, "staff", "Administrateur des données",
             ["standards", "metadata", "data-quality"], ["fr"], True, "core-team", True,
             "Administrateur des données, référent pour les schémas SCDL, les métadonnées "
             "et la qualité des jeux publiés."),
            ("Alex Martin", "m", nantes, "staff", "Chef de projet open data",
             ["reuse", "apis-formats"], ["fr", "en"], True, "member", False,
             "Chef de projet open data, accompagne les réutilisateurs et documente les API "
             "et formats ouverts du portail."),
            ("Nadia Perrin", "f", lorient, "elected", "Adjointe au maire chargée du numérique",
             ["licensing", "governance"], ["fr"], False, "member", False,
             "Adjointe au maire chargée du numérique, porte la politique de licences "
             "ouvertes et la gouvernance de la donnée municipale."),
        ]
        out = []
        for (name, g, org, role, title, topics, langs, consent, access, mx, bio) in spec:
            p = Person(name=name, gender=g, org=org, job_role=role, title=title,
                       practice=topics, sectors=[], languages=langs, consent=consent,
                       access=access, has_matrix=mx, bio=bio, fixed=True)
            first, last = name.split(" ", 1)
            p.email = f"{ascii_slug(first)}.{ascii_slug(last)}@{DOMAIN}"
            out.append(p)
        return out

    def generate(self) -> tuple[list[Person], list[dict]]:
        rng = self.rng
        fixed = self.personas()
        gen: list[Person] = []
        in_bzh = lambda o: o.dep in BRETAGNE_DEPS
        in_occ = lambda o: o.dep in OCCITANIE_DEPS

        # 1. Demo-critical people.
        for i in range(6):
            gen.append(self.person(org_pred=in_bzh, need_practice="licensing", consent=True,
                                   tags=["bzh-licensing"]))
        gen[1].unavailable = "2026-12-07..2026-12-18"  # shows availability filtering
        for i in range(3):
            gen.append(self.person(org_pred=in_occ, need_practice="legal", want_en=True,
                                   consent=True, tags=["occ-legal"]))
        std_regions = [r for r in sorted(set(self.dep_region.values()))
                       if r not in (REG_ARA,) and len(r) == 2 and int(r) >= 11]
        for reg in rng.sample(std_regions, 5):
            gen.append(self.person(org_pred=lambda o, r=reg: o.region == r,
                                   need_practice="standards", consent=True, tags=["standards"]))
        for sector in EXACTLY_ONE:
            gen.append(self.person(need_sector=sector, consent=True, tags=["rare"]))
        for _ in range(2):  # a couple of overseas members (DROM)
            gen.append(self.person(org_pred=lambda o: o.dep.startswith("97")))
        core_regions = [r for r in std_regions if r not in (REG_BRETAGNE,)]
        for reg in rng.sample(core_regions, 5):
            gen.append(self.person(org_pred=lambda o, r=reg: o.region == r, role="staff",
                                   consent=True, access="core-team", tags=["core"]))

        # 2. Random people, then top up any topic with < 2 consenting people,
        #    then random people again up to the total.
        n_generated = TOTAL_PEOPLE - len(fixed)
        while len(gen) < n_generated - 30:
            gen.append(self.person())
        for topic in ALL_TOPICS:
            if topic in NEVER_RANDOM:
                continue
            have = sum(1 for p in fixed + gen if p.consent and topic in p.topics)
            for _ in range(max(0, 2 - have)):
                if topic in PRACTICE_IDS:
                    gen.append(self.person(need_practice=topic, consent=True, tags=["topup"]))
                else:
                    gen.append(self.person(need_sector=topic, consent=True, tags=["topup"]))
        while len(gen) < n_generated:
            gen.append(self.person())
        assert len(gen) == n_generated

        rng.shuffle(gen)
        people = fixed + gen
        self.assign_ids(people)
        talks = self.interventions(people)
        return people, talks

    def assign_ids(self, people: list[Person]) -> None:
        taken = [p.email for p in people if p.fixed]
        for p in people:
            if p.fixed:
                local = p.email.split("@")[0]
            else:
                first, last = p.name.split(" ", 1)
                base = f"{ascii_slug(first)}.{ascii_slug(last)}"
                local, n = base, 1
                while f"{local}@{DOMAIN}" in taken:
                    n += 1
                    local = f"{base}{n}"
                p.email = f"{local}@{DOMAIN}"
                taken.append(p.email)
            p.matrix_id = f"@{local}:{DOMAIN}" if p.has_matrix else ""

    # ---- interventions --------------------------------------------------
    def place_for(self, kind: str, p: Person) -> str:
        rng = self.rng
        if kind == "online":
            return "En ligne"
        if kind == "paris":
            return "Paris"
        if kind == "national":
            if rng.random() < 0.15:
                return "En ligne"
            return wchoice(rng, [c for c, _ in NATIONAL_CITIES], [w for _, w in NATIONAL_CITIES])
        # regional event: usually in the speaker's region
        if rng.random() < 0.85:
            deps = [d for d, r in self.dep_region.items() if r == p.org.region]
            return self.dep_city[rng.choice(sorted(deps))]
        return self.dep_city[rng.choice(sorted(self.dep_city))]

    def talk(self, p: Person, day: date) -> dict:
        rng = self.rng
        topic = rng.choice(p.topics)
        if topic in TOPIC_EVENTS and rng.random() < 0.45:
            name, kind, year_ok = rng.choice(TOPIC_EVENTS[topic])
        else:
            name, kind, year_ok = rng.choice(GENERAL_EVENTS)
        event = f"{name} {day.year}" if year_ok and rng.random() < 0.5 else name
        return {"email": p.email, "date": day.isoformat(), "topic": topic,
                "event": event, "place": self.place_for(kind, p)}

    def interventions(self, people: list[Person]) -> list[dict]:
        rng = self.rng
        consenting = [p for p in people if p.consent]
        camille = next(p for p in people if p.email == f"camille.roux@{DOMAIN}")
        dominique = next(p for p in people if p.email == f"dominique.lefevre@{DOMAIN}")
        pool = [p for p in consenting if not p.fixed]
        bzh = [p for p in pool if "bzh-licensing" in p.tags]
        std = [p for p in pool if "standards" in p.tags]
        stars = [bzh[0], std[0]]
        stars += rng.sample([p for p in pool if p not in stars], 13)
        counts: list[tuple[Person, int]] = [(s, rng.randint(8, 15)) for s in stars]
        counts.append((dominique, 2))
        others = [p for p in consenting if p not in stars and p.email not in
                  (camille.email, dominique.email)]
        # two Bretagne licensing people with no talk at all: "never asked yet"
        quiet = bzh[-2:]
        base = [(p, 0 if p in quiet else wchoice(rng, [0, 1, 2, 3, 4], [30, 30, 22, 10, 8]))
                for p in others]
        target_rest = TARGET_TALKS - 7 - sum(c for _, c in counts)
        # adjust to the exact target deterministically
        total = sum(c for _, c in base)
        adjustable = [i for i, (p, _) in enumerate(base) if p not in quiet]
        while total != target_rest:
            i = rng.choice(adjustable)
            p, c = base[i]
            if total < target_rest and c < 3:
                base[i] = (p, c + 1)
                total += 1
            elif total > target_rest and c > 0:
                base[i] = (p, c - 1)
                total -= 1
        counts += base

        rows = []
        for p, c in counts:
            for _ in range(c):
                rows.append(self.talk(p, rand_date(rng, TALK_START, TALK_END)))
        # Camille Roux: busy lately (4 talks Sept-Nov 2026) plus 3 older ones.
        for _ in range(4):
            rows.append(self.talk(camille, rand_date(rng, date(2026, 9, 1), TALK_END)))
        for _ in range(3):
            rows.append(self.talk(camille, rand_date(rng, TALK_START, date(2026, 6, 30))))
        rows.sort(key=lambda r: (r["date"], r["email"], r["topic"], r["event"], r["place"]))
        return rows


# --------------------------------------------------------------------------
# Output, checks, summary
# --------------------------------------------------------------------------
MEMBER_HEADER = ["email", "name", "organisation", "job_role", "department", "topics",
                 "languages", "bio", "matrix_id", "speaker_consent", "access",
                 "unavailable", "preferred_language"]
TALK_HEADER = ["email", "date", "topic", "event", "place"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def member_row(p: Person) -> list[str]:
    return [p.email, p.name, p.org.siren, p.job_role, p.org.dep, ";".join(p.topics),
            ";".join(p.languages), p.bio, p.matrix_id, "yes" if p.consent else "no",
            p.access, p.unavailable, p.preferred_language]


def check(g: Generator, people: list[Person], talks: list[dict]) -> None:
    assert len(people) == TOTAL_PEOPLE
    emails = [p.email for p in people]
    assert len(emails) == len(set(emails)), "duplicate e-mail"
    for p in people:
        assert re.fullmatch(r"[a-z0-9.-]+@example\.org", p.email), p.email
        assert p.matrix_id in ("", "@" + p.email.split("@")[0] + ":example.org")
        assert p.org.siren in g.by_siren and re.fullmatch(r"\d{9}", p.org.siren)
        assert p.org.dep in g.dep_region
        assert 2 <= len(p.topics) <= 5 and len(set(p.topics)) == len(p.topics)
        assert all(t in ALL_TOPICS for t in p.topics)
        assert p.languages[0] == "fr"
        assert "br" not in p.languages or p.org.region == REG_BRETAGNE
        assert "oc" not in p.languages or p.org.region == REG_OCCITANIE
        assert not p.preferred_language or p.preferred_language in p.languages
        assert len(p.bio) <= 160, p.bio
        for period in filter(None, p.unavailable.split(";")):
            a, b = (date.fromisoformat(x) for x in period.split(".."))
            assert UNAV_START <= a <= b <= UNAV_END
        if not p.fixed:
            assert p.sectors == [s for s in p.sectors if s in p.org.sectors]
    # fixed personas first, in order
    assert [p.email for p in people[:5]] == [
        "dominique.lefevre@example.org", "camille.roux@example.org",
        "yanis.benali@example.org", "alex.martin@example.org", "nadia.perrin@example.org"]
    assert [p.access for p in people[:5]] == ["admin", "core-team", "core-team", "member", "member"]
    assert sum(p.access == "core-team" for p in people) == 7
    assert sum(p.access == "admin" for p in people) == 1
    assert people[1].org.dep == "35" and people[2].org.dep in ("69", "31")

    ok = [p for p in people if p.consent]
    def cnt(topic, pred=lambda p: True):
        return sum(1 for p in ok if topic in p.topics and pred(p))
    assert cnt("licensing", lambda p: p.org.dep in BRETAGNE_DEPS) >= 6
    assert cnt("legal", lambda p: p.org.dep in OCCITANIE_DEPS and "en" in p.languages) >= 3
    assert cnt("standards") >= 5
    assert len({p.org.region for p in ok if "standards" in p.topics}) >= 4
    for t in ALL_TOPICS:
        if t in EXACTLY_ONE:
            assert cnt(t) == 1 and sum(t in p.topics for p in people) == 1, t
        elif t in NOBODY:
            assert sum(t in p.topics for p in people) == 0, t
        else:
            assert cnt(t) >= 2, t
    assert len({p.org.region for p in people}) >= 13

    by_email = {p.email: p for p in people}
    for r in talks:
        p = by_email[r["email"]]
        assert p.consent and r["topic"] in p.topics
        assert TALK_START <= date.fromisoformat(r["date"]) <= TALK_END
    per = Counter(r["email"] for r in talks)
    assert sum(1 for c in per.values() if c >= 8) >= 15
    assert sum(1 for r in talks if r["email"] == "camille.roux@example.org"
               and r["date"] >= "2026-09-01") >= 3


def summary(g: Generator, people: list[Person], talks: list[dict]) -> str:
    lines = []
    ok = [p for p in people if p.consent]
    lines.append(f"members: {len(people)}  consenting: {len(ok)} ({len(ok) / len(people):.0%})  "
                 f"elected: {sum(p.job_role == 'elected' for p in people) / len(people):.0%}  "
                 f"en: {sum('en' in p.languages for p in people) / len(people):.0%}  "
                 f"matrix: {sum(bool(p.matrix_id) for p in people) / len(people):.0%}  "
                 f"unavailable: {sum(bool(p.unavailable) for p in people)}")
    lines.append(f"interventions: {len(talks)} by {len(set(r['email'] for r in talks))} people")
    reg = Counter(p.org.region for p in people)
    lines.append("per region: " + ", ".join(
        f"{g.region_name[r]} {n}" for r, n in sorted(reg.items(), key=lambda x: (-x[1], x[0]))))
    lines.append("per topic (all/consenting): " + ", ".join(
        f"{t} {sum(t in p.topics for p in people)}/{sum(t in p.topics for p in ok)}"
        for t in ALL_TOPICS))
    return "\n".join(lines)


def main() -> int:
    g = Generator()
    people, talks = g.generate()
    check(g, people, talks)
    write_csv(OUT_DIR / "members.csv", MEMBER_HEADER, [member_row(p) for p in people])
    write_csv(OUT_DIR / "interventions.csv", TALK_HEADER,
              [[r[k] for k in TALK_HEADER] for r in talks])
    print(summary(g, people, talks))
    return 0


if __name__ == "__main__":
    sys.exit(main())

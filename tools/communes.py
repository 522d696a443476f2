#!/usr/bin/env python3
"""Derives data/geo/communes.csv from @etalab/decoupage-administratif (data/communes.json).

Usage (see data/geo/SOURCE.txt):
    cd /tmp && npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf etalab-*.tgz
    apt-get install wfrench wamerican   # word lists for the `word` column
    python3 tools/communes.py /tmp/package/data/communes.json > data/geo/communes.csv

Keeps current communes ("commune-actuelle") of the departments in prefectures.csv (metropolitan
France and the five overseas departments). Columns: INSEE code, name, department code,
population, SIREN, and `word`: 1 when the name is also an everyday French or English word
("Plan", "Mars", "Orange", "Nice") or one or two letters ("Y", "Eu"), so that the place
extractor only takes it where a place is clearly meant.
"""

import csv
import json
import re
import sys
import unicodedata

FRENCH_WORDS = "/usr/share/dict/french"
ENGLISH_WORDS = "/usr/share/dict/american-english"
ARTICLES = {"le", "la", "les", "l"}

# Large towns whose names the dictionaries hold (bordeaux the wine, limoges the porcelain,
# rennes the reindeer) but that people mean as the town: no guard, except for these, whose
# everyday meaning (French, English or German: "auch") is what a text usually carries.
GUARDED_TOWNS = {
    "Nice", "Tours", "Orange", "Lens", "Gap", "Sens", "Menton", "Grasse", "Croix", "Fontaine",
    "Plaisir", "Stains", "Trappes", "Le Port", "La Possession", "La Garde", "Le Moule",
    "Saintes", "Colombes", "Sarcelles", "Houilles", "La Madeleine", "Olivet", "Sceaux",
    "Vienne", "Muret", "Dole", "Auch",
}
# Not in the word lists, but frequent surnames (signatures, "merci à M. Fleury") and "bio".
EXTRA_WORDS = {"bio", "boyer", "fleury", "royer", "bailly", "remy", "perrier", "bouchet",
               "humbert"}
LARGE_TOWN = 20000


def unaccented(word):
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def words(path):
    with open(path, encoding="utf-8") as f:
        return {w.strip() for w in f if w.strip() and w.strip()[0].islower()}


def main():
    source = sys.argv[1]
    departments = set()
    with open("data/geo/prefectures.csv", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            departments.add(row["dep_code"])
    vocabulary = words(FRENCH_WORDS) | words(ENGLISH_WORDS) | EXTRA_WORDS
    # The extractor folds accents away, as people often type without them: "Villé" meets
    # "ville", "Santes" meets "santé", "Véry" meets "very".
    folded = {unaccented(w) for w in vocabulary}
    with open(source, encoding="utf-8") as f:
        communes = json.load(f)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["code", "name", "department", "population", "siren", "word"])
    for c in sorted(communes, key=lambda c: c["code"]):
        if c["type"] != "commune-actuelle" or c["departement"] not in departments:
            continue
        core = [w for w in re.split(r"[ \-'’]", c["nom"]) if w and w.lower() not in ARTICLES]
        population = c.get("population") or 0
        everyday = len(core) == 1 and (
            unaccented(core[0].lower()) in folded
            or len(core[0]) <= 2
        )
        if c["nom"] in GUARDED_TOWNS:
            everyday = True
        elif everyday and population >= LARGE_TOWN:
            everyday = False
        out.writerow([c["code"], c["nom"], c["departement"], population, c.get("siren", ""),
                      1 if everyday else ""])


if __name__ == "__main__":
    main()

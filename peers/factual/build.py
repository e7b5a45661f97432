"""Generate the factual QA suite: short questions with one gold answer per part, accepted aliases, and peer
answers that are right, wrong, or partly right.

    python peers/factual/build.py [--out DIR]

Deterministic (fixed seed). The facts are stable, textbook facts (capitals, currencies,
chemical symbols and atomic numbers, authors, planets); true quality is the share of parts answered right,
recomputed by `bench peers verify factual` from the `Answer:` line and the gold answers with aliases.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmark.data.suites import build_main  # noqa: E402

SEED = 20261124

CAPITALS = {
    "France": "Paris", "Japan": "Tokyo", "Canada": "Ottawa", "Australia": "Canberra", "Brazil": "Brasilia",
    "Egypt": "Cairo", "Kenya": "Nairobi", "India": "New Delhi", "Germany": "Berlin", "Italy": "Rome",
    "Spain": "Madrid", "Portugal": "Lisbon", "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki",
    "Poland": "Warsaw", "Greece": "Athens", "Turkey": "Ankara", "Russia": "Moscow", "China": "Beijing",
    "South Korea": "Seoul", "Thailand": "Bangkok", "Vietnam": "Hanoi", "Argentina": "Buenos Aires",
    "Chile": "Santiago", "Peru": "Lima", "Mexico": "Mexico City", "Nigeria": "Abuja", "Morocco": "Rabat",
    "New Zealand": "Wellington", "Ireland": "Dublin", "Austria": "Vienna", "Hungary": "Budapest",
    "Czech Republic": "Prague", "Denmark": "Copenhagen", "Belgium": "Brussels",
}
# Plausible wrong capitals: the famous city that is not the capital.
DECOYS = {"Canada": "Toronto", "Australia": "Sydney", "Brazil": "Rio de Janeiro", "Turkey": "Istanbul",
          "India": "Mumbai", "Nigeria": "Lagos", "Morocco": "Casablanca", "New Zealand": "Auckland",
          "Vietnam": "Ho Chi Minh City", "China": "Shanghai", "Switzerland": "Zurich"}
CAPITAL_ALIASES = {"Brasilia": ["Brasília"], "New Delhi": ["Delhi"], "Mexico City": ["Ciudad de Mexico"],
                   "Beijing": ["Peking"]}
CURRENCIES = {
    "Japan": ("yen", ["Japanese yen"]), "India": ("rupee", ["Indian rupee", "rupees"]),
    "Mexico": ("peso", ["Mexican peso", "pesos"]), "Russia": ("ruble", ["rouble", "Russian ruble"]),
    "China": ("renminbi", ["yuan", "Chinese yuan", "RMB"]), "South Korea": ("won", ["South Korean won"]),
    "Sweden": ("krona", ["Swedish krona", "kronor"]), "Poland": ("zloty", ["złoty", "Polish zloty"]),
    "Brazil": ("real", ["Brazilian real", "reais"]), "Turkey": ("lira", ["Turkish lira"]),
    "Thailand": ("baht", ["Thai baht"]), "Vietnam": ("dong", ["Vietnamese dong", "đồng"]),
    "Hungary": ("forint", ["Hungarian forint"]), "Norway": ("krone", ["Norwegian krone"]),
    "Denmark": ("krone", ["Danish krone"]), "Czech Republic": ("koruna", ["Czech koruna", "crown"]),
    "Nigeria": ("naira", ["Nigerian naira"]), "Kenya": ("shilling", ["Kenyan shilling"]),
    "Argentina": ("peso", ["Argentine peso", "pesos"]), "Egypt": ("pound", ["Egyptian pound"]),
    "Canada": ("dollar", ["Canadian dollar"]), "Australia": ("dollar", ["Australian dollar"]),
    "Germany": ("euro", ["euros"]), "France": ("euro", ["euros"]), "Italy": ("euro", ["euros"]),
}
ELEMENTS = [("hydrogen", "H", 1), ("helium", "He", 2), ("lithium", "Li", 3), ("carbon", "C", 6),
            ("nitrogen", "N", 7), ("oxygen", "O", 8), ("neon", "Ne", 10), ("sodium", "Na", 11),
            ("magnesium", "Mg", 12), ("aluminium", "Al", 13), ("silicon", "Si", 14), ("phosphorus", "P", 15),
            ("sulfur", "S", 16), ("chlorine", "Cl", 17), ("potassium", "K", 19), ("calcium", "Ca", 20),
            ("iron", "Fe", 26), ("copper", "Cu", 29), ("zinc", "Zn", 30), ("silver", "Ag", 47), ("tin", "Sn", 50),
            ("gold", "Au", 79), ("mercury", "Hg", 80), ("lead", "Pb", 82), ("uranium", "U", 92)]
ELEMENT_ALIASES = {"aluminium": ["aluminum"], "sulfur": ["sulphur"]}
BOOKS = {"Pride and Prejudice": "Jane Austen", "Nineteen Eighty-Four": "George Orwell", "War and Peace": "Leo Tolstoy",
         "Moby-Dick": "Herman Melville", "Don Quixote": "Miguel de Cervantes", "Hamlet": "William Shakespeare",
         "One Hundred Years of Solitude": "Gabriel Garcia Marquez", "Crime and Punishment": "Fyodor Dostoevsky",
         "The Great Gatsby": "F. Scott Fitzgerald", "To Kill a Mockingbird": "Harper Lee",
         "Frankenstein": "Mary Shelley", "Jane Eyre": "Charlotte Bronte", "Wuthering Heights": "Emily Bronte",
         "The Divine Comedy": "Dante Alighieri", "Les Miserables": "Victor Hugo",
         "Madame Bovary": "Gustave Flaubert", "The Trial": "Franz Kafka", "Ulysses": "James Joyce",
         "Brave New World": "Aldous Huxley", "Anna Karenina": "Leo Tolstoy"}
AUTHOR_ALIASES = {"George Orwell": ["Orwell", "Eric Blair"], "Leo Tolstoy": ["Tolstoy", "Lev Tolstoy"],
                  "William Shakespeare": ["Shakespeare"], "Miguel de Cervantes": ["Cervantes"],
                  "Gabriel Garcia Marquez": ["Garcia Marquez", "Gabriel García Márquez"],
                  "Fyodor Dostoevsky": ["Dostoevsky", "Dostoyevsky"], "F. Scott Fitzgerald": ["Fitzgerald", "F Scott Fitzgerald"],
                  "Dante Alighieri": ["Dante"], "Charlotte Bronte": ["Charlotte Brontë"], "Emily Bronte": ["Emily Brontë"]}
PLANETS = ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def _part(gold, aliases=()):
    return {"gold": str(gold), "aliases": list(aliases)}


def questions(r: random.Random) -> list[dict]:
    """Every question: text, parts (gold + aliases), and a pool of wrong answers per part."""
    qs = []
    capitals = list(CAPITALS.values())
    for country, city in CAPITALS.items():
        wrong = [DECOYS[country]] if country in DECOYS else []
        wrong += r.sample([c for c in capitals if c != city], 2)
        qs.append({"q": f"What is the capital of {country}?", "parts": [_part(city, CAPITAL_ALIASES.get(city, []))],
                   "wrong": [wrong]})
    currency_names = sorted({c for c, _ in CURRENCIES.values()})
    for country, (cur, aliases) in CURRENCIES.items():
        if country not in CAPITALS:
            continue
        city = CAPITALS[country]
        qs.append({"q": f"Name the capital and the currency of {country}. Answer as: capital; currency.",
                   "parts": [_part(city, CAPITAL_ALIASES.get(city, [])), _part(cur, aliases)],
                   "wrong": [[DECOYS.get(country) or r.choice([c for c in capitals if c != city])],
                             [r.choice([c for c in currency_names if c != cur])]]})
    for name, symbol, number in ELEMENTS:
        others = [e for e in ELEMENTS if e[0] != name]
        qs.append({"q": f"What is the chemical symbol of {name}?", "parts": [_part(symbol)],
                   "wrong": [[r.choice(others)[1]]]})
        qs.append({"q": f"Give the chemical symbol and the atomic number of {name}. Answer as: symbol; number.",
                   "parts": [_part(symbol), _part(number)],
                   "wrong": [[r.choice(others)[1]], [str(number + r.choice([-2, -1, 1, 2]))]]})
        qs.append({"q": f"Which element has the chemical symbol {symbol}?",
                   "parts": [_part(name, ELEMENT_ALIASES.get(name, []))], "wrong": [[r.choice(others)[0]]]})
    authors = sorted(set(BOOKS.values()))
    for book, author in BOOKS.items():
        qs.append({"q": f"Who wrote \"{book}\"?", "parts": [_part(author, AUTHOR_ALIASES.get(author, []))],
                   "wrong": [r.sample([a for a in authors if a != author], 2)]})
    for k, planet in enumerate(PLANETS):
        qs.append({"q": f"Which planet is the {ORDINALS[k]} from the Sun?", "parts": [_part(planet)],
                   "wrong": [[p for p in PLANETS if p != planet and abs(PLANETS.index(p) - k) == 1]]})
    return qs


def answer_text(values: list[str], style: int) -> str:
    joined = "; ".join(values)
    lead = ["", "Let me recall this carefully.\n", "This is a well-known fact.\n", "Based on what I know:\n"][style % 4]
    return f"{lead}Answer: {joined}"


def build() -> list[dict]:
    r = random.Random(SEED)
    qs = questions(r)
    items = []
    for n, q in enumerate(qs):
        parts = q["parts"]
        # outcome: right, wrong, or (two-part questions) partly right; balanced across the suite
        if len(parts) == 1:
            outcome = ["right", "wrong"][n % 2]
        else:
            outcome = ["right", "wrong", "partial-first", "partial-second"][n % 4]
        values, notes = [], []
        for k, part in enumerate(parts):
            good = outcome == "right" or (outcome == "partial-first" and k == 0) or (outcome == "partial-second" and k == 1)
            if good:
                pool = [part["gold"], *part["aliases"]]
                values.append(pool[r.randrange(len(pool))])
            else:
                bad = r.choice(q["wrong"][k])
                values.append(bad)
                notes.append(f"part {k + 1} is wrong: '{bad}' (gold: '{part['gold']}')")
        right = sum(1 for k in range(len(parts)) if not any(nt.startswith(f"part {k + 1} ") for nt in notes))
        items.append({"task": q["q"] + " End your reply with a line 'Answer: ...'.",
                      "response": answer_text(values, r.randrange(4)),
                      "true_score": right / len(parts), "reference": {"parts": parts}, "notes": "; ".join(notes)})
    r.shuffle(items)
    return [{"item_id": f"fact-{k + 1:03d}", "peer": ["agent-2", "agent-3"][k % 2], **it} for k, it in enumerate(items)]


if __name__ == "__main__":
    build_main(build, __doc__, Path(__file__).parent)

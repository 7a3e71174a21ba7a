"""The gen_demo benchmark's documents: template English sentences with their known French translation.

`gen_demo` is a small generation benchmark shipped with the repo so that the
generation path of the capture stage runs offline (the 2024 MESS+ setting
translated WMT14 with the zoo). Each sentence is "the <adjective> <noun>
<verb>" with its French rendering (article and adjective agree with the
noun's gender; the adjective follows the noun), e.g. "the red cat sleeps"
-> "le chat rouge dort". Satisfaction is sentence BLEU-1 against that
reference. Sentences are short and unpunctuated so that the tiny zoo learns
them in a few seconds of training.

This module is how `tasks/gen_demo/gen_demo.jsonl` was written
(`python -m messplus_core.capture.gen_demo_data`). The tiny zoo trains on the
"seen" third of the documents (`training_pairs`); the "unseen" rest combines
the same words in new sentences, so a model scores there only as far as it
learnt the word-by-word mapping, which the bigger tiny models do better.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from messplus_core.util.io import write_jsonl

GEN_DEMO_JSONL = Path(__file__).parent / "tasks" / "gen_demo" / "gen_demo.jsonl"
SEED = 20261130
N_DOCS = 300

# English noun -> (French noun, gender)
NOUNS = {
    "cat": ("chat", "m"), "dog": ("chien", "m"), "bird": ("oiseau", "m"), "horse": ("cheval", "m"),
    "fish": ("poisson", "m"), "book": ("livre", "m"), "tree": ("arbre", "m"), "house": ("maison", "f"),
    "car": ("voiture", "f"), "apple": ("pomme", "f"), "flower": ("fleur", "f"), "table": ("table", "f"),
}
# English adjective -> (masculine, feminine)
ADJECTIVES = {
    "red": ("rouge", "rouge"), "black": ("noir", "noire"), "green": ("vert", "verte"),
    "blue": ("bleu", "bleue"), "white": ("blanc", "blanche"), "grey": ("gris", "grise"),
}
VERBS = {"sleeps": "dort", "eats": "mange", "runs": "court", "sings": "chante", "falls": "tombe",
         "waits": "attend", "moves": "bouge", "jumps": "saute"}


def translate(adjective: str, noun: str, verb: str) -> tuple[str, str]:
    """("the <adjective> <noun> <verb>", its French translation)."""
    fr_noun, gender = NOUNS[noun]
    fr_adj = ADJECTIVES[adjective][0 if gender == "m" else 1]
    article = "l'" if fr_noun[0] in "aeiouh" else ("le " if gender == "m" else "la ")
    return f"the {adjective} {noun} {verb}", f"{article}{fr_noun} {fr_adj} {VERBS[verb]}"


def generate() -> list[dict[str, Any]]:
    """N_DOCS distinct sentences, a third 'seen' (in the tiny zoo's training text), the rest 'unseen'."""
    rng = random.Random(SEED)
    combos = [(a, n, v) for a in ADJECTIVES for n in NOUNS for v in VERBS]
    picked = rng.sample(combos, N_DOCS)
    rows = []
    for i, combo in enumerate(picked):
        source, target = translate(*combo)
        rows.append({"id": i, "source": source, "target": target, "split": "seen" if i % 3 == 0 else "unseen"})
    return rows


def read_gen_demo(path: Path = GEN_DEMO_JSONL) -> list[dict[str, Any]]:
    """The shipped gen_demo translations, one dict per JSON line: id, source, target, split (seen/unseen)."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def training_pairs() -> list[tuple[str, str]]:
    """(source, target) of the seen documents: what the tiny zoo is trained to translate."""
    return [(row["source"], row["target"]) for row in read_gen_demo() if row["split"] == "seen"]


def main() -> None:
    """Regenerate the shipped gen_demo.jsonl from `generate()` (deterministic: the same file every time)."""
    write_jsonl(GEN_DEMO_JSONL, generate())
    print(f"wrote {GEN_DEMO_JSONL}")


if __name__ == "__main__":
    main()

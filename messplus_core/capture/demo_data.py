"""The demo benchmark's documents, generated deterministically.

`demo` is a small 4-choice benchmark shipped with the repo so that capture
runs offline. This module is how `tasks/demo/demo.jsonl` was written
(`python -m messplus_core.capture.demo_data`); it is kept so the file can be
regenerated and audited, and so the tiny zoo can find the "easy" items.

Easy items state facts that the tiny zoo's training text also states (the
tiny models are trained on them, bigger ones memorise more of them); hard
items (two-digit sums, held-out facts) appear nowhere in that text, so the
tiny models answer them near chance (25 %).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from messplus_core.util.io import write_jsonl

DEMO_JSONL = Path(__file__).parent / "tasks" / "demo" / "demo.jsonl"
SEED = 20251122

NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
WORD_FACTS: list[tuple[str, str, list[str]]] = [
    ("What color is the sky on a clear day?", "blue", ["green", "red", "brown", "purple", "orange"]),
    ("What color is fresh grass?", "green", ["blue", "red", "white", "pink"]),
    ("What color is snow?", "white", ["black", "green", "red", "blue"]),
    ("What color is a ripe banana?", "yellow", ["blue", "black", "purple", "green"]),
    ("What color is coal?", "black", ["white", "yellow", "pink", "blue"]),
    ("What is the opposite of hot?", "cold", ["warm", "big", "fast", "loud"]),
    ("What is the opposite of big?", "small", ["large", "tall", "slow", "red"]),
    ("What is the opposite of up?", "down", ["over", "left", "high", "top"]),
    ("What is the opposite of fast?", "slow", ["quick", "loud", "cold", "new"]),
    ("What is the opposite of day?", "night", ["noon", "sun", "week", "light"]),
    ("What sound does a dog make?", "woof", ["moo", "meow", "quack", "oink"]),
    ("What sound does a cat make?", "meow", ["woof", "moo", "baa", "quack"]),
    ("What sound does a cow make?", "moo", ["woof", "meow", "oink", "tweet"]),
    ("What sound does a duck make?", "quack", ["moo", "woof", "baa", "hiss"]),
    ("What sound does a sheep make?", "baa", ["oink", "meow", "woof", "moo"]),
    ("How many legs does a spider have?", "eight", ["six", "four", "ten", "two"]),
    ("How many legs does a dog have?", "four", ["two", "six", "eight", "three"]),
    ("How many days are in a week?", "seven", ["five", "six", "eight", "ten"]),
    ("How many months are in a year?", "twelve", ["ten", "eleven", "seven", "nine"]),
    ("How many wheels does a bicycle have?", "two", ["three", "four", "one", "six"]),
    ("What do bees make?", "honey", ["milk", "silk", "wool", "bread"]),
    ("Where do fish live?", "water", ["trees", "sand", "clouds", "caves"]),
    ("What do cows give us?", "milk", ["honey", "eggs", "silk", "wool"]),
    ("Which animal is the largest?", "whale", ["mouse", "cat", "frog", "ant"]),
    ("What falls from clouds when it rains?", "water", ["sand", "rocks", "leaves", "milk"]),
]


def _mc(rng: random.Random, question: str, answer: str, distractors: list[str]) -> tuple[str, list[str], int]:
    wrong = rng.sample([d for d in dict.fromkeys(distractors) if d != answer], 3)
    choices = wrong + [answer]
    rng.shuffle(choices)
    return question, choices, choices.index(answer)


def _sum_item(rng: random.Random, a: int, b: int) -> tuple[str, list[str], int]:
    s = a + b
    near = [s + d for d in (-3, -2, -1, 1, 2, 3) if s + d >= 0]
    return _mc(rng, f"What is {a} plus {b}?", str(s), [str(x) for x in near])


def _after_item(rng: random.Random, seq: list[str], i: int, kind: str) -> tuple[str, list[str], int]:
    answer = seq[(i + 1) % len(seq)]
    others = [x for x in seq if x not in (seq[i], answer)]
    return _mc(rng, f"Which {kind} comes after {seq[i]}?", answer, others)


#: Documents in the demo: the first 100 are the original set (ids 0-99, unchanged); the rest re-ask the same
#: kinds of question so that a replayed stream is long enough for a router's queue to settle.
N_DOCS = 600


def generate() -> list[dict[str, Any]]:
    """N_DOCS documents: the original 100 (60 easy, 40 hard), then more in the same proportions.

    An added easy document re-asks an original easy question with its choices in a new order (its fact is in
    the tiny zoo's training text); an added hard one is a new question of a kind the original set asks (a
    sum, a word fact, a successor) that is not an original easy question.
    """
    original = _original()
    easy_rows = [row for row in original if row["difficulty"] == "easy"]
    easy = {row["question"] for row in easy_rows}
    rng = random.Random(SEED + 1)
    added = []
    for n in range(len(original), N_DOCS):
        if rng.random() < len(easy_rows) / len(original):
            row = rng.choice(easy_rows)
            choices = rng.sample(row["choices"], len(row["choices"]))
            q, answer = row["question"], choices.index(row["choices"][row["answer"]])
        else:
            q, choices, answer = _any_item(rng)
            while q in easy:
                q, choices, answer = _any_item(rng)
        added.append({"id": n, "question": q, "choices": choices, "answer": answer,
                      "difficulty": "easy" if q in easy else "hard"})
    return original + added


def _any_item(rng: random.Random) -> tuple[str, list[str], int]:
    """One question of a kind the original set asks: a one- or two-digit sum, a word fact or a successor."""
    kind = rng.choice(["sum", "long_sum", "fact", "after"])
    if kind == "sum":
        return _sum_item(rng, rng.randint(1, 9), rng.randint(1, 9))
    if kind == "long_sum":
        return _sum_item(rng, rng.randint(11, 49), rng.randint(11, 49))
    if kind == "fact":
        return _mc(rng, *rng.choice(WORD_FACTS))
    seq, what = rng.choice([(DAYS, "day"), (MONTHS, "month"), (LETTERS, "letter"), (NUMBER_WORDS, "number")])
    return _after_item(rng, seq, rng.randrange(len(seq) - 1), what)


def _original() -> list[dict[str, Any]]:
    """The original 100 documents: 60 easy (facts in the tiny zoo's training text), 40 hard."""
    rng = random.Random(SEED)
    items: list[tuple[str, tuple[str, list[str], int]]] = []
    pairs = rng.sample([(a, b) for a in range(1, 10) for b in range(1, 10)], 30)
    items += [("easy" if k < 20 else "hard", _sum_item(rng, a, b)) for k, (a, b) in enumerate(pairs)]
    items += [("hard", _sum_item(rng, rng.randint(11, 49), rng.randint(11, 49))) for _ in range(20)]
    facts = rng.sample(WORD_FACTS, len(WORD_FACTS))
    items += [("easy" if k < 20 else "hard", _mc(rng, q, a, d)) for k, (q, a, d) in enumerate(facts)]
    seqs = [(DAYS, "day"), (MONTHS, "month"), (LETTERS, "letter"), (NUMBER_WORDS, "number")]
    afters = rng.sample([(s, i, kind) for s, kind in seqs for i in range(len(s) - 1)], 25)
    items += [("easy" if k < 20 else "hard", _after_item(rng, s, i, kind)) for k, (s, i, kind) in enumerate(afters)]
    rng.shuffle(items)
    return [
        {"id": n, "question": q, "choices": choices, "answer": answer, "difficulty": level}
        for n, (level, (q, choices, answer)) in enumerate(items)
    ]


def read_demo(path: Path = DEMO_JSONL) -> list[dict[str, Any]]:
    """The shipped demo questions, one dict per JSON line: id, question, choices, answer (index), difficulty."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main() -> None:
    """Regenerate the shipped demo.jsonl from `generate()` (deterministic: the same file every time)."""
    write_jsonl(DEMO_JSONL, generate())
    print(f"wrote {DEMO_JSONL}")


if __name__ == "__main__":
    main()

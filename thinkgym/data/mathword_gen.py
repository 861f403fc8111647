"""Generator of the MathWord problem set that thinkgym ships (``thinkgym/data/mathword/``).

Grade-school word problems from templates: nine families (shopping, travel, sharing, savings,
production, ages, discount, garden, reading), each with optional clauses so that a problem takes
2 to 6 arithmetic steps. The numbers are drawn so that every intermediate value is a whole number;
the reference solution and the answer are computed by code, never written by hand.

Rows are GSM8K-style JSON lines, so the same loader reads this set and GSM8K itself::

    {"id": "mw-train-00000", "family": "shopping", "n_steps": 4,
     "question": "Ava buys 3 pens at $4 each and ...",
     "answer": "Cost of the pens: 3 * 4 = 12\\n...\\n#### 26"}

Problem ``i`` of a split is drawn from ``random.Random(f"{split}-{seed}-{i}")``, so any row can be
rebuilt alone. Regenerate the shipped files with::

    python -m thinkgym.data.mathword_gen --out thinkgym/data/mathword

Training and test rows never share a question text.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FAMILIES", "generate_problem", "generate_split", "write_splits"]

NAMES = [
    "Ava", "Ben", "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro", "Isla", "Jonas",
    "Kira", "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
]  # fmt: skip
ITEMS = [
    ("pen", "pens"), ("notebook", "notebooks"), ("apple", "apples"), ("sandwich", "sandwiches"),
    ("ticket", "tickets"), ("candle", "candles"), ("plant", "plants"), ("book", "books"),
    ("scarf", "scarves"), ("mug", "mugs"), ("ball", "balls"), ("puzzle", "puzzles"),
]  # fmt: skip
FOODS = ["cookies", "muffins", "stickers", "marbles", "crayons", "oranges", "cards", "buttons"]
PRODUCTS = ["toy cars", "bottles", "bricks", "chairs", "lamps", "bolts", "jars", "cups"]


def _step(desc: str, expr: str, value: int) -> str:
    return f"{desc}: {expr} = {value}"


def _shopping(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    kinds = rng.sample(ITEMS, rng.randint(1, 3))
    bill = rng.random() < 0.6 or len(kinds) == 1
    parts, steps, costs = [], [], []
    for _single, plural in kinds:
        q, p = rng.randint(2, 9), rng.randint(2, 15)
        parts.append(f"{q} {plural} at ${p} each")
        costs.append(q * p)
        steps.append(_step(f"Cost of the {plural}", f"{q} * {p}", q * p))
    total = sum(costs)
    if len(costs) > 1:
        steps.append(_step("Total cost", " + ".join(map(str, costs)), total))
    items = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    if bill:
        paid = next(b for b in (20, 50, 100, 200, 500) if b >= total + 1)
        steps.append(_step("Change", f"{paid} - {total}", paid - total))
        q = f"{name} buys {items}. {name} pays with a ${paid} bill. How much change, in dollars, does {name} get back?"
        return q, steps, paid - total
    q = f"{name} buys {items}. How much does {name} spend in dollars?"
    return q, steps, total


def _travel(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    n = rng.randint(1, 3)
    speeds = [rng.randint(3, 12) * 5 for _ in range(n)]
    hours = [rng.randint(1, 5) for _ in range(n)]
    steps, dists = [], []
    clauses = []
    for i, (s, h) in enumerate(zip(speeds, hours, strict=True)):
        d = s * h
        dists.append(d)
        word = ["first", "second", "third"][i]
        steps.append(_step(f"Distance of the {word} part", f"{s} * {h}", d))
        clauses.append(f"{h} hours at {s} km per hour")
    total = sum(dists)
    if n > 1:
        steps.append(_step("Distance driven", " + ".join(map(str, dists)), total))
    trip = "then ".join(c + ", " for c in clauses).rstrip(", ")
    if rng.random() < 0.6 or n == 1:
        whole = total + rng.randint(2, 40) * 5
        steps.append(_step("Distance left", f"{whole} - {total}", whole - total))
        q = (
            f"{name} is driving to a town {whole} km away. {name} drives {trip}. "
            f"How many kilometres are left to drive?"
        )
        return q, steps, whole - total
    q = f"{name} drives {trip}. How many kilometres does {name} drive in all?"
    return q, steps, total


def _sharing(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    thing = rng.choice(FOODS)
    friends = rng.randint(2, 8)
    each = rng.randint(2, 12)
    boxes = rng.randint(2, 9)
    per_box = rng.randint(4, 24)
    total = boxes * per_box
    kept = total - friends * each
    while kept < 1:
        per_box += 4
        total = boxes * per_box
        kept = total - friends * each
    steps = [_step(f"Number of {thing}", f"{boxes} * {per_box}", total)]
    steps.append(_step(f"{thing.capitalize()} left to share", f"{total} - {kept}", total - kept))
    steps.append(_step("Each friend gets", f"{total - kept} / {friends}", each))
    q = (
        f"{name} has {boxes} boxes with {per_box} {thing} in each box. {name} keeps {kept} {thing} "
        f"and shares the rest equally among {friends} friends."
    )
    if rng.random() < 0.5:
        ate = rng.randint(1, each - 1) if each > 1 else 0
        if ate:
            steps.append(_step("Left for each friend", f"{each} - {ate}", each - ate))
            q += f" Each friend then gives away {ate} {thing}. How many {thing} does each friend have left?"
            return q, steps, each - ate
    q += f" How many {thing} does each friend get?"
    return q, steps, each


def _savings(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    weekly = rng.randint(3, 25)
    weeks = rng.randint(2, 12)
    saved = weekly * weeks
    steps = [_step("Saved from the allowance", f"{weekly} * {weeks}", saved)]
    q = f"{name} saves ${weekly} every week for {weeks} weeks."
    money = saved
    if rng.random() < 0.6:
        gift = rng.randint(2, 20) * 5
        steps.append(_step("After the gift", f"{money} + {gift}", money + gift))
        money += gift
        q += f" {name} also gets ${gift} as a birthday gift."
    spend = rng.randint(1, max(1, money // 2))
    steps.append(_step("After buying the game", f"{money} - {spend}", money - spend))
    money -= spend
    q += f" Then {name} spends ${spend} on a game."
    if rng.random() < 0.5 and money % 2 == 0:
        steps.append(_step("Half of the money", f"{money} / 2", money // 2))
        money //= 2
        q += f" {name} puts half of the remaining money in a bank."
        if rng.random() < 0.5:
            extra = rng.randint(2, 9)
            days = rng.randint(2, 7)
            steps.append(_step("Earned walking dogs", f"{extra} * {days}", extra * days))
            steps.append(_step("Money in hand", f"{money} + {extra * days}", money + extra * days))
            money += extra * days
            q += f" Later {name} earns ${extra} a day for {days} days walking dogs."
        q += f" How many dollars does {name} have in hand?"
        return q, steps, money
    q += f" How many dollars does {name} have left?"
    return q, steps, money


def _production(rng: random.Random) -> tuple[str, list[str], int]:
    product = rng.choice(PRODUCTS)
    per_hour = rng.randint(5, 40)
    hours = rng.randint(2, 10)
    days = rng.randint(2, 6)
    daily = per_hour * hours
    total = daily * days
    steps = [
        _step(f"{product.capitalize()} made per day", f"{per_hour} * {hours}", daily),
        _step(f"{product.capitalize()} made in {days} days", f"{daily} * {days}", total),
    ]
    q = f"A machine makes {per_hour} {product} every hour and runs {hours} hours a day."
    good = total
    if rng.random() < 0.6:
        box = rng.choice([2, 4, 5, 6, 8, 10, 12])
        bad = total % box + box * rng.randint(0, 3)
        if bad >= total:
            bad = total % box
        if bad:
            steps.append(
                _step(f"{product.capitalize()} without defects", f"{total} - {bad}", total - bad)
            )
            good = total - bad
            q += f" In {days} days, {bad} of the {product} are broken and thrown away."
        boxes = good // box
        steps.append(_step("Boxes filled", f"{good} / {box}", boxes))
        q += f" The rest are packed in boxes of {box}."
        if rng.random() < 0.5:
            price = rng.randint(3, 30)
            steps.append(_step("Money from the boxes", f"{boxes} * {price}", boxes * price))
            q += f" Each box sells for ${price}. How many dollars do the boxes of {days} days sell for?"
            return q, steps, boxes * price
        q += f" How many boxes are filled in {days} days?"
        return q, steps, boxes
    q += f" How many {product} does it make in {days} days?"
    return q, steps, total


def _ages(rng: random.Random) -> tuple[str, list[str], int]:
    a, b, c = rng.sample(NAMES, 3)
    age = rng.randint(3, 15)
    k = rng.randint(2, 4)
    older = age * k
    steps = [_step(f"{b}'s age", f"{age} * {k}", older)]
    q = f"{a} is {age} years old. {b} is {k} times as old as {a}."
    if rng.random() < 0.6:
        diff = rng.randint(1, older - 1)
        third = older - diff
        steps.append(_step(f"{c}'s age", f"{older} - {diff}", third))
        steps.append(
            _step("Sum of the ages now", f"{age} + {older} + {third}", age + older + third)
        )
        now = age + older + third
        q += f" {c} is {diff} years younger than {b}."
        people = 3
    else:
        steps.append(_step("Sum of the ages now", f"{age} + {older}", age + older))
        now = age + older
        people = 2
    if rng.random() < 0.5:
        years = rng.randint(2, 10)
        steps.append(_step(f"Years added in {years} years", f"{people} * {years}", people * years))
        steps.append(
            _step(
                f"Sum of the ages in {years} years",
                f"{now} + {people * years}",
                now + people * years,
            )
        )
        q += f" What will the sum of their ages be in {years} years?"
        return q, steps, now + people * years
    q += " What is the sum of their ages now?"
    return q, steps, now


def _discount(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    single, plural = rng.choice(ITEMS)
    pct = rng.choice([10, 20, 25, 50])
    price = rng.randint(2, 30) * (100 // _gcd(100, pct))
    off = price * pct // 100
    steps = [
        _step("Discount", f"{price} * {pct} / 100", off),
        _step(f"Sale price of one {single}", f"{price} - {off}", price - off),
    ]
    sale = price - off
    q = f"A {single} costs ${price}. The shop gives {pct}% off."
    qty = rng.randint(2, 6)
    steps.append(_step(f"Cost of {qty} {plural}", f"{sale} * {qty}", sale * qty))
    cost = sale * qty
    q += f" {name} buys {qty} {plural} at the sale price."
    if rng.random() < 0.5 and cost > 5:
        coupon = rng.randint(1, min(20, cost - 1))
        steps.append(_step("After the coupon", f"{cost} - {coupon}", cost - coupon))
        q += f" {name} also uses a ${coupon} coupon."
        cost -= coupon
    q += f" How many dollars does {name} pay?"
    return q, steps, cost


def _garden(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    length, width = rng.randint(3, 20), rng.randint(2, 15)
    area = length * width
    per_m2 = rng.randint(2, 6)
    steps = [_step("Area of the garden", f"{length} * {width}", area)]
    q = f"{name}'s garden is a rectangle {length} metres long and {width} metres wide."
    if rng.random() < 0.4:
        steps.append(_step("Perimeter", f"2 * ({length} + {width})", 2 * (length + width)))
        if rng.random() < 0.5:
            steps.append(_step("Fence posts", f"{2 * (length + width)} / 2", length + width))
            q += " A fence post goes every 2 metres around the edge. How many fence posts are needed?"
            return q, steps, length + width
        q += " How many metres of fence go around it?"
        return q, steps, 2 * (length + width)
    seeds = area * per_m2
    steps.append(_step("Seeds needed", f"{area} * {per_m2}", seeds))
    q += f" Each square metre needs {per_m2} seeds."
    pack = next((p for p in (5, 4, 3, 2, 6, 10) if seeds % p == 0), 1)
    if pack > 1:
        packs = seeds // pack
        steps.append(_step("Packs of seeds", f"{seeds} / {pack}", packs))
        price = rng.randint(2, 9)
        steps.append(_step("Cost of the packs", f"{packs} * {price}", packs * price))
        q += f" Seeds come in packs of {pack} that cost ${price} each. How many dollars do the seeds cost?"
        return q, steps, packs * price
    q += " How many seeds are needed?"
    return q, steps, seeds


def _reading(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(NAMES)
    per_day = rng.randint(5, 30)
    days = rng.randint(2, 7)
    read = per_day * days
    later = rng.randint(5, 40)
    left_days = rng.randint(2, 8)
    left = later * left_days
    pages = read + left
    steps = [
        _step("Pages read so far", f"{per_day} * {days}", read),
        _step("Pages left", f"{pages} - {read}", left),
    ]
    q = f"A book has {pages} pages. {name} reads {per_day} pages a day for {days} days."
    if rng.random() < 0.6:
        steps.append(_step("Days to finish", f"{left} / {later}", left_days))
        q += f" Then {name} reads {later} pages a day. How many more days does {name} need to finish the book?"
        if rng.random() < 0.4:
            steps.append(_step("Days in all", f"{days} + {left_days}", days + left_days))
            q = q.replace("How many more days does", "How many days in all does")
            return q, steps, days + left_days
        return q, steps, left_days
    q += f" How many pages does {name} still have to read?"
    return q, steps, left


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


FAMILIES: dict[str, Callable[[random.Random], tuple[str, list[str], int]]] = {
    "shopping": _shopping,
    "travel": _travel,
    "sharing": _sharing,
    "savings": _savings,
    "production": _production,
    "ages": _ages,
    "discount": _discount,
    "garden": _garden,
    "reading": _reading,
}
"""Problem families: each draws ``(question, reference steps, answer)`` from a ``random.Random``."""


def generate_problem(family: str, rng: random.Random) -> dict[str, Any]:
    """One GSM8K-style row of ``family`` (``question``, ``answer`` with ``#### N``, ...)."""
    question, steps, answer = FAMILIES[family](rng)
    if not 2 <= len(steps) <= 6:
        raise RuntimeError(f"{family} made {len(steps)} steps; templates must make 2 to 6")
    return {
        "family": family,
        "n_steps": len(steps),
        "question": question,
        "answer": "\n".join(steps) + f"\n#### {answer}",
    }


def generate_split(
    split: str, n: int, seed: int = 0, exclude: set[str] | None = None
) -> list[dict[str, Any]]:
    """``n`` rows of a split, cycling through the families; no question repeats or is in ``exclude``."""
    seen = set(exclude or ())
    names = list(FAMILIES)
    rows: list[dict[str, Any]] = []
    i = 0
    while len(rows) < n:
        rng = random.Random(f"{split}-{seed}-{i}")
        row = generate_problem(names[i % len(names)], rng)
        i += 1
        if row["question"] in seen:
            continue
        seen.add(row["question"])
        rows.append({"id": f"mw-{split}-{len(rows):05d}", **row})
    return rows


def write_splits(
    out: str | Path, n_train: int = 600, n_test: int = 200, seed: int = 0
) -> dict[str, Path]:
    """Write ``train.jsonl`` and ``test.jsonl`` under ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test = generate_split("test", n_test, seed)
    train = generate_split("train", n_train, seed, exclude={r["question"] for r in test})
    paths = {}
    for split, rows in (("train", train), ("test", test)):
        path = out / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=True) + "\n")
        paths[split] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: write the shipped problem set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "data" / "mathword"))
    parser.add_argument("--train", type=int, default=600, help="training problems (default 600)")
    parser.add_argument(
        "--test", type=int, default=200, help="held-out test problems (default 200)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for split, path in write_splits(args.out, args.train, args.test, args.seed).items():
        print(f"{split}: {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A coherent synthetic shop, so the whole product runs with no download.

Users have hidden tastes (favourite categories and brands, a price band); purchases and
views follow those tastes and a long-tailed item popularity, so recommenders have real
structure to find. Product descriptions and reviews are free text that name brands (in
several spellings), materials, colours, places and prices, for the extraction pipeline.

The generator writes ordinary CSV / JSONL files plus the mapping files that load them,
exactly as a customer would hand them over.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TAXONOMY: dict[str, list[str]] = {
    "Footwear": ["Running Shoes", "Hiking Boots", "Sandals"],
    "Apparel": ["Jackets", "T-Shirts", "Sweaters"],
    "Electronics": ["Headphones", "Smartwatches", "Speakers"],
    "Home": ["Cookware", "Bedding", "Lamps"],
    "Outdoor": ["Tents", "Backpacks", "Sleeping Bags"],
}

SINGULAR = {
    "Running Shoes": "Running Shoe",
    "Hiking Boots": "Hiking Boot",
    "Sandals": "Sandal",
    "Jackets": "Jacket",
    "T-Shirts": "T-Shirt",
    "Sweaters": "Sweater",
    "Headphones": "Headphones",
    "Smartwatches": "Smartwatch",
    "Speakers": "Speaker",
    "Cookware": "Cookware Set",
    "Bedding": "Bedding Set",
    "Lamps": "Lamp",
    "Tents": "Tent",
    "Backpacks": "Backpack",
    "Sleeping Bags": "Sleeping Bag",
}

# brand -> (spellings used in text, home city, categories it makes)
BRANDS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "Northpeak": (
        ("Northpeak", "NorthPeak Inc.", "NORTHPEAK"),
        "Portland",
        ("Outdoor", "Apparel", "Footwear"),
    ),
    "Aurora Audio": (("Aurora Audio", "Aurora Audio Ltd.", "AURORA AUDIO"), "Berlin", ("Electronics",)),
    "Stridewell": (("Stridewell", "Stridewell Corp.", "StrideWell"), "Boston", ("Footwear",)),
    "Casa Verde": (("Casa Verde", "Casa Verde S.A.", "CASA VERDE"), "Madrid", ("Home",)),
    "Lumen & Co": (("Lumen & Co", "Lumen and Co.", "LUMEN & CO"), "Copenhagen", ("Home", "Electronics")),
    "Terra Firma": (("Terra Firma", "Terra Firma GmbH", "TERRA FIRMA"), "Munich", ("Outdoor", "Footwear")),
    "Blue Harbor": (("Blue Harbor", "Blue Harbor Inc.", "BLUE HARBOR"), "Seattle", ("Apparel",)),
    "Voltix": (("Voltix", "Voltix Inc.", "VOLTIX"), "Shenzhen", ("Electronics",)),
    "Ironleaf": (("Ironleaf", "Ironleaf Ltd.", "IRONLEAF"), "Sheffield", ("Home", "Outdoor")),
    "Solstice": (("Solstice", "Solstice LLC", "SOLSTICE"), "Austin", ("Apparel", "Footwear")),
    "Nimbus": (("Nimbus", "Nimbus Co.", "NIMBUS"), "Oslo", ("Home", "Apparel")),
    "Kestrel": (("Kestrel", "Kestrel Gear Inc.", "KESTREL"), "Denver", ("Outdoor", "Electronics")),
}

MATERIALS: dict[str, tuple[str, ...]] = {
    "Footwear": ("leather", "nylon", "rubber", "suede"),
    "Apparel": ("cotton", "merino wool", "polyester", "linen"),
    "Electronics": ("aluminium", "recycled plastic", "stainless steel"),
    "Home": ("stainless steel", "bamboo", "cotton", "ceramic"),
    "Outdoor": ("nylon", "polyester", "aluminium", "down"),
}
COLORS = ("black", "white", "navy", "red", "olive", "grey", "sand", "teal")
ADJECTIVES = (
    "Trail",
    "Classic",
    "Urban",
    "Alpine",
    "Summit",
    "Breeze",
    "Everyday",
    "Pro",
    "Lite",
    "Heritage",
)
PRICE_BANDS = {"Footwear": 90.0, "Apparel": 60.0, "Electronics": 150.0, "Home": 45.0, "Outdoor": 120.0}
FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Eva",
    "Finn",
    "Grace",
    "Hugo",
    "Iris",
    "Jon",
    "Kira",
    "Leo",
    "Maya",
    "Noah",
    "Olga",
    "Paul",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Kim",
    "Novak",
    "Silva",
    "Brown",
    "Dubois",
    "Jensen",
    "Ito",
    "Khan",
)
COUNTRIES = ("US", "DE", "FR", "GB", "ES", "SE", "JP")


@dataclass(frozen=True)
class ShopSize:
    users: int = 1_000
    items: int = 400
    purchases_per_user: float = 12.0
    views_per_user: float = 25.0
    reviews: int = 300


MAPPINGS = {
    "categories.toml": """\
[nodes]
label = "Category"
id = "id"
properties = { name = "name" }
links = [ { rel = "SUBCATEGORY_OF", label = "Category", column = "parent", key = "value" } ]
""",
    "products.toml": """\
[nodes]
label = "Item"
id = "sku"
properties = { name = "name", description = "description", price = "price", currency = "currency", color = "color", size = "size", material = "material", in_stock = "in_stock" }
constants = { kind = "product" }
links = [
  { rel = "HAS_BRAND", label = "Brand", column = "brand" },
  { rel = "IN_CATEGORY", label = "Category", column = "category_id", key = "value" },
  { rel = "MADE_OF", label = "Material", column = "material" },
]
""",
    "users.toml": """\
[nodes]
label = "User"
id = "user_id"
properties = { name = "name", age = "age", gender = "gender", country = "country", signup_date = "signup_date" }
""",
    "purchases.toml": """\
[edges]
rel = "PURCHASED"
from = { label = "User", column = "user_id" }
to = { label = "Item", column = "sku" }
properties = { count = "quantity", amount = "amount", timestamp = "timestamp" }
""",
    # A review is a Document its author WROTE and that REVIEWS the item. Its id is the
    # one `kg extract` gives the same row (file stem + id), so extraction and ingest meet
    # on one node in either order, and re-ingesting keeps the author link.
    "reviews.toml": """\
format = "jsonl"

[nodes]
label = "Document"
id = "document_id"
properties = { text = "text", source = "source" }
links = [
  { rel = "WROTE", label = "User", column = "user_id", direction = "in", key = "value" },
  { rel = "REVIEWS", label = "Item", column = "sku", key = "value" },
]
""",
    "views.toml": """\
[edges]
rel = "VIEWED"
from = { label = "User", column = "user_id" }
to = { label = "Item", column = "sku" }
properties = { count = "views", timestamp = "timestamp" }
""",
}

# Files in the order they must be loaded (nodes before the relationships that use them).
LOAD_ORDER = (
    ("categories.csv", "categories.toml"),
    ("products.csv", "products.toml"),
    ("users.csv", "users.toml"),
    ("purchases.csv", "purchases.toml"),
    ("views.csv", "views.toml"),
)
# Reviews load after the users and items they link (and before or after `kg extract`
# reads the same file); kept out of LOAD_ORDER so the catalogue alone stays text-free.
REVIEW_FILES = ("reviews.jsonl", "reviews.toml")


def review_files(out_dir: Path) -> tuple[Path, Path]:
    """The generated reviews and the mapping that links each to its author and item."""
    return out_dir / REVIEW_FILES[0], out_dir / REVIEW_FILES[1]


def generate_shop(out_dir: Path, size: ShopSize = ShopSize(), seed: int = 7) -> list[tuple[Path, Path]]:
    """Write the shop's files and mappings into ``out_dir``; return (file, mapping) pairs
    in load order. The same seed always writes the same bytes."""
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    leaves = _write_categories(out_dir)
    items = _write_products(out_dir, rng, size.items, leaves)
    users = _write_users(out_dir, rng, size.users)
    _write_interactions(out_dir, rng, users, items, size)
    _write_reviews(out_dir, rng, users, items, size.reviews)
    for name, text in MAPPINGS.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return [(out_dir / data, out_dir / mapping) for data, mapping in LOAD_ORDER]


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _category_id(name: str) -> str:
    return "cat-" + name.lower().replace(" ", "-")


def _leaves() -> list[tuple[str, str, str]]:
    """Leaf categories as (leaf id, leaf name, top-level name)."""
    return [(_category_id(child), child, top) for top, children in TAXONOMY.items() for child in children]


def _write_categories(out_dir: Path) -> list[tuple[str, str, str]]:
    """Top-level and leaf categories (leaves point at their parent); returns the leaves."""
    rows: list[list[object]] = [[_category_id(top), top, ""] for top in TAXONOMY]
    rows += [[leaf_id, leaf, _category_id(top)] for leaf_id, leaf, top in _leaves()]
    _write_csv(out_dir / "categories.csv", ["id", "name", "parent"], rows)
    return _leaves()


def _size_for(top: str, rng: np.random.Generator) -> str:
    if top == "Footwear":
        return str(int(rng.integers(36, 47)))
    if top == "Apparel":
        return ("S", "M", "L", "XL")[int(rng.integers(4))]
    return ""


@dataclass(frozen=True)
class _Item:
    sku: str
    brand: str
    top: str
    leaf: str
    price: float


def _write_products(
    out_dir: Path, rng: np.random.Generator, count: int, leaves: list[tuple[str, str, str]]
) -> list[_Item]:
    rows, items = [], []
    for index in range(count):
        leaf_id, leaf, top = leaves[index % len(leaves)]
        makers = [b for b, (_, _, tops) in BRANDS.items() if top in tops]
        brand = makers[int(rng.integers(len(makers)))]
        spellings, city, _ = BRANDS[brand]
        material = MATERIALS[top][int(rng.integers(len(MATERIALS[top])))]
        color = COLORS[int(rng.integers(len(COLORS)))]
        adjective = ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]
        noun = SINGULAR[leaf]
        name = f"{brand} {adjective} {noun}"
        price = round(float(rng.lognormal(np.log(PRICE_BANDS[top]), 0.35)), 2)
        size = _size_for(top, rng)
        spelled = spellings[int(rng.integers(len(spellings)))]
        description = (
            f"The {name} is a {color} {noun.lower()} made of {material} by {spelled}. "
            f"Designed in {city}, it belongs to our {leaf.lower()} range"
            + (f" and comes in size {size}" if size else "")
            + f". Now ${price:.2f}."
        )
        sku = f"P{index + 1:05d}"
        rows.append(
            [
                sku,
                name,
                description,
                price,
                "USD",
                color,
                size,
                material,
                bool(rng.random() > 0.08),
                brand,
                leaf_id,
            ]
        )
        items.append(_Item(sku, brand, top, leaf_id, price))
    _write_csv(
        out_dir / "products.csv",
        [
            "sku",
            "name",
            "description",
            "price",
            "currency",
            "color",
            "size",
            "material",
            "in_stock",
            "brand",
            "category_id",
        ],
        rows,
    )
    return items


def _write_users(out_dir: Path, rng: np.random.Generator, count: int) -> list[str]:
    rows, ids = [], []
    for index in range(count):
        uid = f"U{index + 1:05d}"
        name = f"{FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]} {LAST_NAMES[int(rng.integers(len(LAST_NAMES)))]}"
        age = int(np.clip(rng.normal(38, 12), 16, 85))
        signup = f"2025-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        rows.append(
            [
                uid,
                name,
                age,
                ("F", "M", "X")[int(rng.choice(3, p=[0.49, 0.49, 0.02]))],
                COUNTRIES[int(rng.integers(len(COUNTRIES)))],
                signup,
            ]
        )
        ids.append(uid)
    _write_csv(out_dir / "users.csv", ["user_id", "name", "age", "gender", "country", "signup_date"], rows)
    return ids


def _taste_weights(rng: np.random.Generator, items: list[_Item], popularity: np.ndarray) -> np.ndarray:
    """A user's item distribution: favourite categories and brands, times popularity."""
    tops = list(TAXONOMY)
    favourite_tops = set(rng.choice(tops, size=int(rng.integers(1, 3)), replace=False))
    favourite_brands = set(rng.choice(list(BRANDS), size=2, replace=False))
    price_taste = rng.lognormal(0, 0.4)
    weights = np.array(
        [
            (6.0 if item.top in favourite_tops else 0.3)
            * (3.0 if item.brand in favourite_brands else 1.0)
            * np.exp(-abs(np.log(item.price / (PRICE_BANDS[item.top] * price_taste))))
            for item in items
        ]
    )
    weights *= popularity
    return weights / weights.sum()


def _write_interactions(
    out_dir: Path, rng: np.random.Generator, users: list[str], items: list[_Item], size: ShopSize
) -> None:
    popularity = 1.0 / np.arange(1, len(items) + 1) ** 0.8  # Zipf-like long tail
    popularity = popularity[rng.permutation(len(items))]
    start = 1_735_689_600  # 2025-01-01
    purchases, views = [], []
    for uid in users:
        weights = _taste_weights(rng, items, popularity)
        activity = rng.lognormal(0, 0.7)
        n_buy = max(1, min(len(items) // 2, int(size.purchases_per_user * activity)))
        n_view = max(n_buy, min(len(items) // 2, int(size.views_per_user * activity)))
        viewed = rng.choice(len(items), size=n_view, replace=False, p=weights)
        bought = viewed[:n_buy]
        for index in viewed:
            views.append(
                [uid, items[index].sku, int(rng.integers(1, 6)), start + int(rng.integers(0, 3.1e7))]
            )
        for index in bought:
            quantity = int(rng.choice([1, 1, 1, 2, 3]))
            purchases.append(
                [
                    uid,
                    items[index].sku,
                    quantity,
                    round(quantity * items[index].price, 2),
                    start + int(rng.integers(0, 3.1e7)),
                ]
            )
    _write_csv(out_dir / "purchases.csv", ["user_id", "sku", "quantity", "amount", "timestamp"], purchases)
    _write_csv(out_dir / "views.csv", ["user_id", "sku", "views", "timestamp"], views)


REVIEW_TEMPLATES = (
    "I bought the {name} last month. {spelled} really knows {top_lower}; the {material} feels premium.",
    "Compared with my old {other} one, this {noun_lower} from {spelled} is far better. Shipped from {city} quickly.",
    "{spelled} makes great gear. The {color} {noun_lower} fits well, worth the ${price:.0f}.",
    "Disappointed: the {material} on my {name} wore out after two weeks. {spelled} support in {city} was helpful though.",
    "Terrible {noun_lower}. The {material} feels cheap and it broke within days; never buying {spelled} again.",
    "Love it! The {color} {name} is excellent and the {material} is wonderful; {spelled} did a great job.",
)


def _write_reviews(
    out_dir: Path, rng: np.random.Generator, users: list[str], items: list[_Item], count: int
) -> None:
    with (out_dir / "reviews.jsonl").open("w", encoding="utf-8") as handle:
        for index in range(count):
            item = items[int(rng.integers(len(items)))]
            spellings, city, _ = BRANDS[item.brand]
            others = [b for b in BRANDS if b != item.brand]
            noun = next(SINGULAR[name] for leaf_id, name, _ in _leaves() if leaf_id == item.leaf)
            text = REVIEW_TEMPLATES[index % len(REVIEW_TEMPLATES)].format(
                name=f"{item.brand} {noun}",
                spelled=spellings[int(rng.integers(len(spellings)))],
                top_lower=item.top.lower(),
                material=MATERIALS[item.top][int(rng.integers(len(MATERIALS[item.top])))],
                other=others[int(rng.integers(len(others)))],
                noun_lower=noun.lower(),
                city=city,
                color=COLORS[int(rng.integers(len(COLORS)))],
                price=item.price,
            )
            record = {
                "id": f"R{index + 1:05d}",
                "document_id": f"reviews-R{index + 1:05d}",
                "user_id": users[int(rng.integers(len(users)))],
                "sku": item.sku,
                "source": "reviews.jsonl",
                "text": text,
            }
            handle.write(json.dumps(record) + "\n")

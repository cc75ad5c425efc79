"""A labelled set of commerce text: the synthetic shop's product descriptions and reviews,
with the facts the generator knows they state.

The generator writes every text from closed vocabularies -- brand spellings, materials,
colours, category names, home cities, product names -- so each occurrence of one of those
words denotes a known node, and a description's first sentence ("The <product> is a
<colour> <kind> made of <material> by <brand>.") states MADE_OF and HAS_BRAND. The gold:

* mentions: products (a description's product name; a review's "<brand> <kind>", which
  names the product reviewed), the brand inside a product name, brands, materials,
  categories (leaf, singular and top-level names) with their catalogue nodes, and home
  cities as Locations;
* relations: MADE_OF and HAS_BRAND from each description's first sentence;
* attributes of the product a text is about: colour, material, size, price and currency
  as stated (a review's material and colour are the ones it names; its price is rounded).

Documents carry the ids, titles and subjects that ``kg extract run`` gives them (the
``Item.description`` text from the graph; ``reviews.jsonl`` with ``--about-field sku``),
so the set scores the pipeline exactly as it runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from kg.datasets.synthetic_shop import BRANDS, COLORS, MATERIALS, SINGULAR, ShopSize, generate_shop
from kg.extract.facts import DocumentRecord
from kg.extract.labelled_documents import GoldAttribute, GoldMention, GoldRelation, LabelledDocument
from kg.ids import slugify

ITEM = "Item"
_REVIEW_PRICE = re.compile(r"\$(\d+(?:\.\d+)?)")
# 150 descriptions and 150 reviews; few users, as only the texts are labelled.
LABELLED_SHOP = ShopSize(users=50, items=150, purchases_per_user=2.0, views_per_user=3.0, reviews=150)
Vocabulary = list[tuple[str, str, str | None]]  # (surface, label, node id), longest first


def generate_labelled_shop_text(
    out_dir: Path, size: ShopSize = LABELLED_SHOP, seed: int = 7
) -> list[LabelledDocument]:
    """Generate a shop into ``out_dir`` and label its texts: the same seed, the same set."""
    generate_shop(out_dir, size, seed=seed)
    return label_shop_text(out_dir)


def label_shop_text(shop_dir: Path) -> list[LabelledDocument]:
    """Descriptions (in product order), then reviews (in file order), with their gold."""
    products = pd.read_csv(shop_dir / "products.csv", dtype=str, keep_default_na=False).to_dict("records")
    categories = pd.read_csv(shop_dir / "categories.csv", dtype=str, keep_default_na=False)
    category_ids = dict(zip(categories["name"], categories["id"], strict=True))
    names = _vocabulary(category_ids)
    labelled = []
    for row in products:
        document = DocumentRecord(
            id=f"item-{row['sku']}-description",
            text=row["description"],
            source="Item.description",
            title=row["name"],
            about=(ITEM, row["sku"]),
        )
        labelled.append(_description(document, row, names))
    kinds = {category_id: SINGULAR[name] for name, category_id in category_ids.items() if name in SINGULAR}
    by_sku = {row["sku"]: row for row in products}
    lines = (shop_dir / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        review = json.loads(line)
        row = by_sku[review["sku"]]
        document = DocumentRecord(
            id=f"reviews-{review['id']}",
            text=review["text"],
            source=f"reviews.jsonl:{number}",
            about=(ITEM, row["sku"]),
        )
        labelled.append(_review(document, row, f"{row['brand']} {kinds[row['category_id']]}", names))
    return labelled


def _description(document: DocumentRecord, row: dict[str, str], names: Vocabulary) -> LabelledDocument:
    """A description: its product (with the brand in its name), its words, the two
    relations of its first sentence, and the product's stated attributes."""
    text = document.text
    mentions = _mentions(text, (_find(text, row["name"])[0], row["sku"]), row["brand"], names)
    made_of = text.index(" made of ") + len(" made of ")
    made_by = text.index(" by ", made_of) + len(" by ")
    relations = tuple(
        GoldRelation(rel_type, mentions[0], m)
        for m in mentions
        for rel_type, label, start in (("MADE_OF", "Material", made_of), ("HAS_BRAND", "Brand", made_by))
        if m.label == label and m.start == start
    )
    stated: dict[str, str | float] = {
        "color": row["color"],
        "material": row["material"],
        "price": float(row["price"]),
        "currency": "USD",
    }
    if row["size"]:
        stated["size"] = row["size"]
    return LabelledDocument(document, tuple(mentions), relations, _attributes(row["sku"], stated))


def _review(
    document: DocumentRecord, row: dict[str, str], product_name: str, names: Vocabulary
) -> LabelledDocument:
    """A review: the product reviewed where it is named ("<brand> <kind>"), its words, and
    what it states about the product (no relation between two of its names)."""
    text = document.text
    found = _find(text, product_name)
    mentions = _mentions(text, (found[0], row["sku"]) if found else None, row["brand"], names)
    stated: dict[str, str | float] = {}
    materials = [text[m.start : m.end] for m in mentions if m.label == "Material"]
    if materials:
        stated["material"] = materials[0]
    colors = [color for color in COLORS if _find(text, color)]
    if colors:
        stated["color"] = colors[0]
    price = _REVIEW_PRICE.search(text)
    if price:
        stated |= {"price": float(price.group(1)), "currency": "USD"}
    return LabelledDocument(document, tuple(mentions), (), _attributes(row["sku"], stated))


def _mentions(
    text: str, product: tuple[tuple[int, int], str] | None, brand: str, names: Vocabulary
) -> list[GoldMention]:
    """The product first (if named) and the brand its name begins with, then every other
    vocabulary word outside it, longest first, never overlapping."""
    mentions: list[GoldMention] = []
    taken: list[tuple[int, int]] = []
    if product is not None:
        (start, end), sku = product
        mentions += [
            GoldMention(start, end, ITEM, sku),
            GoldMention(start, start + len(brand), "Brand", slugify(brand)),
        ]
        taken.append((start, end))
    for surface, label, node_id in names:
        for start, end in _find(text, surface, ignore_case=label == "Category"):
            if all(end <= a or b <= start for a, b in taken):
                taken.append((start, end))
                mentions.append(GoldMention(start, end, label, node_id))
    return mentions


def _attributes(sku: str, stated: dict[str, str | float]) -> tuple[GoldAttribute, ...]:
    return tuple(GoldAttribute(ITEM, sku, name, value) for name, value in stated.items())


def _find(text: str, surface: str, *, ignore_case: bool = False) -> list[tuple[int, int]]:
    """Where ``surface`` occurs as whole words."""
    pattern = re.compile(rf"(?<!\w){re.escape(surface)}(?!\w)", re.IGNORECASE if ignore_case else 0)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _vocabulary(category_ids: dict[str, str]) -> Vocabulary:
    """Every word of the generator's closed vocabularies with the node it denotes."""
    names: Vocabulary = []
    for brand, (spellings, city, _) in BRANDS.items():
        names += [(spelling, "Brand", slugify(brand)) for spelling in spellings]
        names.append((city, "Location", None))
    names += [(m, "Material", slugify(m)) for m in {m for ms in MATERIALS.values() for m in ms}]
    names += [(name, "Category", category_id) for name, category_id in category_ids.items()]
    names += [(SINGULAR[name], "Category", category_ids[name]) for name in SINGULAR]
    return sorted(set(names), key=lambda entry: (-len(entry[0]), entry[0]))

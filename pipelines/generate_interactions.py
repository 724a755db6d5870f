"""Seeded catalogue and shoppers with latent tastes for Scout.

Items get a title and description composed from category vocabularies (product
types with synonyms, attributes, materials, uses, brands) so that search has real
work to do. Each user has hidden tastes (a few favourite categories, a position in a
latent style space, a price level); over 120 days they view items drawn from those
tastes, click some and buy fewer. Run `python -m pipelines.generate_interactions`.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ITEMS_FILE = "items.parquet"
USERS_FILE = "users.parquet"
INTERACTIONS_FILE = "interactions.parquet"
EVENTS = ("view", "click", "purchase")
CURRENCY = "EUR"
START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 120
LATENT_DIM = 12


@dataclass(frozen=True)
class Vocabulary:
    """Words one category's titles and descriptions are made of."""

    products: tuple[tuple[str, ...], ...]  # each tuple: synonyms of one product type
    attributes: tuple[str, ...]
    materials: tuple[str, ...]
    uses: tuple[str, ...]
    brands: tuple[str, ...]
    price_range: tuple[float, float]


CATALOGUE_VOCABULARY: dict[str, Vocabulary] = {
    "electronics": Vocabulary(
        products=(
            ("wireless headphones", "bluetooth headset", "over-ear headphones"),
            ("smartwatch", "fitness tracker", "activity band"),
            ("portable speaker", "bluetooth speaker", "party speaker"),
            ("laptop sleeve", "notebook case", "laptop bag"),
            ("usb-c charger", "fast charger", "wall charger"),
            ("mechanical keyboard", "gaming keyboard", "wireless keyboard"),
            ("webcam", "streaming camera", "video call camera"),
            ("power bank", "portable battery", "charging pack"),
        ),
        attributes=(
            "noise-cancelling",
            "long battery life",
            "water-resistant",
            "compact",
            "low-latency",
            "backlit",
            "fast-charging",
            "high-fidelity",
        ),
        materials=("aluminium", "recycled plastic", "silicone", "tempered glass"),
        uses=("commuting", "gaming", "home office", "travel", "workouts", "streaming"),
        brands=("Voltara", "Pixelwave", "Ohmic", "Lumen Labs", "Quanta", "Sonique"),
        price_range=(15.0, 400.0),
    ),
    "kitchen": Vocabulary(
        products=(
            ("chef knife", "kitchen knife", "santoku knife"),
            ("frying pan", "skillet", "saute pan"),
            ("espresso maker", "coffee machine", "moka pot"),
            ("cutting board", "chopping board", "butcher block"),
            ("stand mixer", "hand mixer", "food processor"),
            ("tea kettle", "electric kettle", "stovetop kettle"),
            ("dutch oven", "casserole pot", "stock pot"),
            ("spice rack", "spice jars", "seasoning set"),
        ),
        attributes=(
            "non-stick",
            "dishwasher-safe",
            "induction-ready",
            "razor-sharp",
            "heat-resistant",
            "stackable",
            "professional grade",
            "easy-clean",
        ),
        materials=("cast iron", "stainless steel", "bamboo", "ceramic", "copper"),
        uses=("everyday cooking", "baking", "meal prep", "brunch", "dinner parties"),
        brands=("Forge & Hearth", "Cucina Viva", "Saltwood", "Kettleby", "Brasa"),
        price_range=(8.0, 350.0),
    ),
    "outdoor": Vocabulary(
        products=(
            ("hiking boots", "trekking boots", "trail shoes"),
            ("tent", "camping shelter", "backpacking tent"),
            ("sleeping bag", "down quilt", "camping blanket"),
            ("rain jacket", "waterproof shell", "hardshell jacket"),
            ("daypack", "hiking backpack", "trail rucksack"),
            ("headlamp", "camping lantern", "trail light"),
            ("water filter", "hydration bladder", "insulated bottle"),
            ("trekking poles", "walking sticks", "hiking poles"),
        ),
        attributes=(
            "waterproof",
            "ultralight",
            "breathable",
            "windproof",
            "four-season",
            "packable",
            "insulated",
            "rugged",
        ),
        materials=("gore-tex", "ripstop nylon", "merino wool", "goose down"),
        uses=("alpine hikes", "weekend camping", "thru-hiking", "rainy trails"),
        brands=("Northridge", "Fjellspor", "Summitcraft", "Trailborn", "Cairnline"),
        price_range=(12.0, 600.0),
    ),
    "fashion": Vocabulary(
        products=(
            ("sneakers", "trainers", "canvas shoes"),
            ("denim jacket", "jean jacket", "trucker jacket"),
            ("wool sweater", "knit jumper", "cardigan"),
            ("leather belt", "dress belt", "braided belt"),
            ("summer dress", "midi dress", "wrap dress"),
            ("chinos", "slim trousers", "cargo pants"),
            ("sunglasses", "aviator shades", "polarised glasses"),
            ("tote bag", "crossbody bag", "shoulder bag"),
        ),
        attributes=(
            "slim-fit",
            "oversized",
            "vintage",
            "minimalist",
            "hand-stitched",
            "organic",
            "classic",
            "relaxed fit",
        ),
        materials=("organic cotton", "full-grain leather", "linen", "cashmere"),
        uses=("the office", "weekends", "evenings out", "summer holidays"),
        brands=("Maison Oré", "Thread & Tally", "Urbanist", "Velde", "Corvo"),
        price_range=(10.0, 300.0),
    ),
    "books": Vocabulary(
        products=(
            ("crime novel", "detective thriller", "mystery novel"),
            ("cookbook", "recipe collection", "baking book"),
            ("science fiction novel", "space opera", "sci-fi anthology"),
            ("travel guide", "city guidebook", "road trip atlas"),
            ("biography", "memoir", "life story"),
            ("children's picture book", "bedtime stories", "illustrated fairy tales"),
            ("history book", "popular history", "war chronicle"),
            ("self-help book", "productivity guide", "mindfulness workbook"),
        ),
        attributes=(
            "bestselling",
            "award-winning",
            "illustrated",
            "hardcover",
            "paperback",
            "annotated",
            "first edition",
            "large print",
        ),
        materials=("recycled paper", "cloth binding", "glossy pages"),
        uses=("long train rides", "bedtime reading", "book clubs", "gifting"),
        brands=(
            "Inkwell Press",
            "Harbor Books",
            "Quillmark",
            "Folio North",
            "Paperlane",
        ),
        price_range=(6.0, 60.0),
    ),
    "beauty": Vocabulary(
        products=(
            ("face serum", "vitamin c serum", "hyaluronic serum"),
            ("moisturiser", "day cream", "hydrating lotion"),
            ("shampoo", "hair wash", "clarifying shampoo"),
            ("lipstick", "lip tint", "lip balm"),
            ("sunscreen", "spf lotion", "sun cream"),
            ("perfume", "eau de parfum", "fragrance mist"),
            ("face mask", "clay mask", "sheet mask"),
            ("nail polish", "gel varnish", "nail lacquer"),
        ),
        attributes=(
            "fragrance-free",
            "vegan",
            "dermatologist-tested",
            "long-lasting",
            "hydrating",
            "mattifying",
            "cruelty-free",
            "for sensitive skin",
        ),
        materials=("aloe vera", "shea butter", "argan oil", "green tea extract"),
        uses=("daily skincare", "dry skin", "summer sun", "evening routines"),
        brands=("Lunaé", "Dermavera", "Bloom & Bare", "Okara", "Velvetine"),
        price_range=(5.0, 150.0),
    ),
    "sports": Vocabulary(
        products=(
            ("running shoes", "road runners", "racing flats"),
            ("yoga mat", "exercise mat", "pilates mat"),
            ("dumbbells", "kettlebell", "weight plates"),
            ("cycling helmet", "bike helmet", "mtb helmet"),
            ("football", "match ball", "training ball"),
            ("resistance bands", "workout bands", "pull-up band"),
            ("tennis racket", "squash racket", "padel racket"),
            ("swim goggles", "swim cap", "swimming fins"),
        ),
        attributes=(
            "lightweight",
            "cushioned",
            "non-slip",
            "adjustable",
            "competition grade",
            "sweat-wicking",
            "durable",
            "beginner friendly",
        ),
        materials=("carbon fibre", "natural rubber", "neoprene", "eva foam"),
        uses=("marathon training", "home gym", "morning runs", "team practice"),
        brands=("Stridex", "Apex Motion", "Kinetiq", "Podium", "Ralley"),
        price_range=(7.0, 280.0),
    ),
    "toys": Vocabulary(
        products=(
            ("building blocks", "construction set", "brick kit"),
            ("board game", "strategy game", "family game"),
            ("jigsaw puzzle", "3d puzzle", "puzzle box"),
            ("plush toy", "teddy bear", "stuffed animal"),
            ("remote control car", "rc truck", "racing car"),
            ("wooden train set", "railway set", "toy train"),
            ("science kit", "chemistry set", "robotics kit"),
            ("doll house", "play kitchen", "pretend play set"),
        ),
        attributes=(
            "educational",
            "award-winning",
            "for ages 3+",
            "for ages 8+",
            "battery-powered",
            "eco-friendly",
            "collectible",
            "cooperative",
        ),
        materials=("solid wood", "recycled cardboard", "soft fleece", "abs plastic"),
        uses=("rainy afternoons", "family game night", "birthdays", "stem learning"),
        brands=("Tinkertown", "Happy Hare", "Blockwise", "Marvelo", "Pip & Pine"),
        price_range=(5.0, 180.0),
    ),
}
CATEGORIES = tuple(CATALOGUE_VOCABULARY)


@dataclass(frozen=True)
class GeneratorConfig:
    """How much data to make; the same seed gives the same files."""

    items: int = 2_000
    users: int = 2_000
    mean_views_per_user: float = 24.0
    seed: int = 7

    def validate(self) -> None:
        if self.items < 50:
            raise ValueError(f"items={self.items}: need at least 50 items")
        if self.users < 10:
            raise ValueError(f"users={self.users}: need at least 10 users")
        if not 2.0 <= self.mean_views_per_user <= 500.0:
            raise ValueError(
                f"mean_views_per_user={self.mean_views_per_user}: must be in [2, 500]"
            )


@dataclass(frozen=True)
class ScoutDataset:
    """The three tables Scout trains on."""

    items: pd.DataFrame
    users: pd.DataFrame
    interactions: pd.DataFrame


def generate(config: GeneratorConfig) -> ScoutDataset:
    """Make the catalogue, the users and their interactions."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    items, item_factors = _make_catalogue(config.items, rng)
    tastes = _make_tastes(config.users, rng)
    interactions = _make_interactions(config, items, item_factors, tastes, rng)
    users = _users_table(tastes, interactions)
    return ScoutDataset(items=items, users=users, interactions=interactions)


def _make_catalogue(
    n_items: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    product_centres = rng.normal(size=(len(CATEGORIES), 8, LATENT_DIM))
    brand_offsets = rng.normal(scale=0.5, size=(len(CATEGORIES), 8, LATENT_DIM))
    rows = []
    factors = np.empty((n_items, LATENT_DIM))
    categories = rng.integers(0, len(CATEGORIES), size=n_items)
    for index, category_index in enumerate(categories):
        category = CATEGORIES[category_index]
        vocabulary = CATALOGUE_VOCABULARY[category]
        product = int(rng.integers(len(vocabulary.products)))
        brand = int(rng.integers(len(vocabulary.brands)))
        factors[index] = (
            product_centres[category_index, product]
            + brand_offsets[category_index, brand]
            + rng.normal(scale=0.6, size=LATENT_DIM)
        )
        rows.append(_describe_item(index, category, product, brand, rng))
    items = pd.DataFrame(rows)
    return items, factors


def _describe_item(
    index: int, category: str, product: int, brand_index: int, rng: np.random.Generator
) -> dict[str, object]:
    vocabulary = CATALOGUE_VOCABULARY[category]
    synonyms = vocabulary.products[product]
    name = synonyms[int(rng.integers(len(synonyms)))]
    attribute, second = rng.choice(vocabulary.attributes, size=2, replace=False)
    material = str(rng.choice(vocabulary.materials))
    use = str(rng.choice(vocabulary.uses))
    brand = vocabulary.brands[brand_index]
    low, high = vocabulary.price_range
    price = round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 2)
    title = f"{brand} {str(attribute).capitalize()} {name.title()}"
    other = [s for s in synonyms if s != name]
    description = " ".join(
        [
            f"A {attribute}, {second} {name} made with {material}.",
            f"Ideal for {use}.",
            f"Also known as a {other[int(rng.integers(len(other)))]}"
            f" — one of {brand}'s {category} favourites.",
        ]
    )
    return {
        "item_id": f"I{index + 1:05d}",
        "title": title,
        "description": description,
        "category": category,
        "brand": brand,
        "price": price,
        "currency": CURRENCY,
    }


@dataclass(frozen=True)
class Tastes:
    """Hidden preferences of every user (ground truth for tests, not for models)."""

    category_weights: np.ndarray  # users x categories, rows sum to 1
    factors: np.ndarray  # users x LATENT_DIM
    price_level: np.ndarray  # users, log-price the user is comfortable with
    activity: np.ndarray  # users, relative number of views
    joined: np.ndarray  # users, day offset of the first visit


def _make_tastes(n_users: int, rng: np.random.Generator) -> Tastes:
    favourites = rng.dirichlet(np.full(len(CATEGORIES), 0.25), size=n_users)
    return Tastes(
        category_weights=favourites,
        factors=rng.normal(size=(n_users, LATENT_DIM)),
        price_level=rng.normal(np.log(40.0), 0.8, size=n_users),
        activity=rng.lognormal(0.0, 0.7, size=n_users),
        joined=rng.uniform(0, DAYS * 0.6, size=n_users),
    )


def _make_interactions(
    config: GeneratorConfig,
    items: pd.DataFrame,
    item_factors: np.ndarray,
    tastes: Tastes,
    rng: np.random.Generator,
) -> pd.DataFrame:
    category_index = items["category"].map(CATEGORIES.index).to_numpy()
    log_price = np.log(items["price"].to_numpy())
    appeal = rng.gumbel(0.0, 0.8, size=len(items))  # some items are simply popular
    views = rng.poisson(
        config.mean_views_per_user * tastes.activity / tastes.activity.mean()
    )
    frames = []
    for user in range(config.users):
        count = max(int(views[user]), 2)
        utility = (
            2.5 * np.log(tastes.category_weights[user, category_index] + 1e-4)
            + 0.45 * item_factors @ tastes.factors[user]
            + appeal
            - 0.6 * np.abs(log_price - tastes.price_level[user])
        )
        frames.append(_user_events(user, count, utility, tastes, rng))
    events = pd.concat(frames, ignore_index=True)
    events["item_id"] = items["item_id"].to_numpy()[events.pop("item_index")]
    events = events.sort_values(["ts", "user_id", "event"], kind="stable")
    return events.reset_index(drop=True)[["user_id", "item_id", "event", "ts"]]


def _user_events(
    user: int,
    count: int,
    utility: np.ndarray,
    tastes: Tastes,
    rng: np.random.Generator,
) -> pd.DataFrame:
    probabilities = np.exp(utility - utility.max())
    probabilities /= probabilities.sum()
    chosen = rng.choice(len(utility), size=count, p=probabilities)
    start = tastes.joined[user]
    days = np.sort(rng.uniform(start, DAYS, size=count))
    standing = (utility[chosen] - utility.mean()) / (utility.std() + 1e-9)
    clicked = rng.random(count) < 1 / (1 + np.exp(-(standing - 3.0)))
    bought = clicked & (rng.random(count) < 0.35)
    seconds = days * 86_400.0
    rows = {
        "user_id": f"U{user + 1:05d}",
        "item_index": np.concatenate([chosen, chosen[clicked], chosen[bought]]),
        "event": np.array(
            ["view"] * count
            + ["click"] * int(clicked.sum())
            + ["purchase"] * int(bought.sum())
        ),
        "ts": np.concatenate(
            [seconds, seconds[clicked] + 20.0, seconds[bought] + 300.0]
        ),
    }
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.Timestamp(START) + pd.to_timedelta(frame["ts"].round(), unit="s")
    return frame


def _users_table(tastes: Tastes, interactions: pd.DataFrame) -> pd.DataFrame:
    n_users = len(tastes.activity)
    order = np.argsort(-tastes.category_weights, axis=1)[:, :2]
    first_seen = interactions.groupby("user_id")["ts"].min()
    users = pd.DataFrame(
        {
            "user_id": [f"U{user + 1:05d}" for user in range(n_users)],
            "favourite_categories": [
                f"{CATEGORIES[a]},{CATEGORIES[b]}" for a, b in order
            ],
            "price_level": np.round(np.exp(tastes.price_level), 2),
        }
    )
    users["first_seen"] = users["user_id"].map(first_seen)
    return users


def write_dataset(dataset: ScoutDataset, folder: Path) -> None:
    """Write the three tables as Parquet files into folder (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in (
        (dataset.items, ITEMS_FILE),
        (dataset.users, USERS_FILE),
        (dataset.interactions, INTERACTIONS_FILE),
    ):
        partial = folder / f"{name}.partial"
        frame.to_parquet(partial, index=False)
        partial.replace(folder / name)


SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "scout"
TABLES = (ITEMS_FILE, USERS_FILE, INTERACTIONS_FILE)


def seed_data(data_dir: Path) -> None:
    """Bootstrap step: the sample dataset in DATA_DIR/scout. The committed sample is
    what GeneratorConfig() makes (a test checks it), so it is copied when present."""
    folder = data_dir / "scout"
    if all((SAMPLE / name).exists() for name in TABLES):
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            partial = folder / f"{name}.partial"
            shutil.copyfile(SAMPLE / name, partial)
            partial.replace(folder / name)
        return
    write_dataset(generate(GeneratorConfig()), folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.generate_interactions")
    parser.add_argument("--items", type=int, default=GeneratorConfig.items)
    parser.add_argument("--users", type=int, default=GeneratorConfig.users)
    parser.add_argument(
        "--views", type=float, default=GeneratorConfig.mean_views_per_user
    )
    parser.add_argument("--seed", type=int, default=GeneratorConfig.seed)
    parser.add_argument("--out", type=Path, default=Path("sample_data/scout"))
    args = parser.parse_args(argv)
    config = GeneratorConfig(args.items, args.users, args.views, args.seed)
    try:
        dataset = generate(config)
    except ValueError as error:
        parser.error(str(error))
    write_dataset(dataset, args.out)
    counts = dataset.interactions["event"].value_counts().to_dict()
    print(
        f"wrote {len(dataset.items)} items, {len(dataset.users)} users, "
        f"{len(dataset.interactions)} interactions {counts} to {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

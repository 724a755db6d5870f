"""The /v1 routes of Scout: recommendations, what-if, similar items, search, users."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from api.common.errors import DependencyUnavailable, InvalidInput, NotFound
from api.scout.index import VectorIndex
from api.scout.loader import ModelLoader
from api.scout.model import COLLAB, EVENT_WEIGHTS, TEXT, ScoutModel, UserHistory
from api.scout.recommender import ItemFilter, Profile, RankedList, Recommender
from api.scout.schemas import (
    BrandCount,
    CategoryShare,
    Contribution,
    FiltersOut,
    HistoryChange,
    HistoryItem,
    ItemDetailOut,
    ItemOut,
    ListDiff,
    ModelOut,
    PriceSummary,
    RankChange,
    RecommendationsOut,
    RecommendedItem,
    SearchOut,
    SimilarOut,
    Strategy,
    TasteSummary,
    UserOut,
    UsersOut,
    UserSummary,
    WhatIfOut,
    WhatIfRequest,
)
from api.scout.settings import ScoutSettings
from api.scout.telemetry import ScoutMetrics

# A what-if addition counts as a view plus a click; a like at least as twice a
# purchase, and as a quarter of the rest of the history (see edit_profile).
ADDED_WEIGHT = float(np.log1p(EVENT_WEIGHTS["view"] + EVENT_WEIGHTS["click"]))
LIKED_WEIGHT = float(2 * np.log1p(sum(EVENT_WEIGHTS.values())))
LIKE_SHARE_OF_HISTORY = 0.25


ListKey = tuple[object, ...]


class CurrentLists:
    """Users' current lists (default strategy, no diversity) by request shape.

    The what-if compares with the list the user gets today; the workbench shows
    that list first, so keeping it saves the what-if one of its two index queries.
    Lists answered without Qdrant are not kept. Cleared when the model changes.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._lists: OrderedDict[ListKey, RankedList] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ListKey) -> RankedList | None:
        with self._lock:
            found = self._lists.get(key)
            if found is not None:
                self._lists.move_to_end(key)
            return found

    def put(self, key: ListKey, ranked: RankedList) -> None:
        if ranked.degraded:
            return
        with self._lock:
            self._lists[key] = ranked
            self._lists.move_to_end(key)
            while len(self._lists) > self.size:
                self._lists.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()


def current_list(
    state: ScoutState,
    recommender: Recommender,
    user_id: str | None,
    profile: Profile,
    k: int,
    item_filter: ItemFilter,
    exclude_seen: bool,
) -> RankedList:
    """The list GET recommendations answers with its defaults, from the cache."""
    key: ListKey = (id(recommender), user_id, k, item_filter, exclude_seen)
    cached = state.current_lists.get(key) if user_id is not None else None
    if cached is not None:
        return cached
    excluded = profile.positives if exclude_seen else _no_items()
    ranked = recommender.recommend(
        profile, k, item_filter.mask(recommender.model), excluded
    )
    if user_id is not None:
        state.current_lists.put(key, ranked)
    return ranked


@dataclass
class ScoutState:
    """What the routes need, built in the app's lifespan."""

    settings: ScoutSettings
    index: VectorIndex
    metrics: ScoutMetrics
    loader: ModelLoader | None = None
    recommender: Recommender | None = None
    users_by_activity: list[UserSummary] = field(default_factory=list)
    current_lists: CurrentLists = field(default_factory=CurrentLists)


def get_state(request: Request) -> ScoutState:
    state: ScoutState = request.app.state.scout
    return state


def get_recommender(state: Annotated[ScoutState, Depends(get_state)]) -> Recommender:
    if state.recommender is None:
        status = state.loader.status if state.loader else "model not loaded"
        raise DependencyUnavailable(f"model not loaded yet: {status}")
    return state.recommender


StateDep = Annotated[ScoutState, Depends(get_state)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
K = Annotated[int, Query(ge=1, le=100, description="How many items to return.")]
Category = Annotated[str | None, Query(description="Only items of this category.")]
MinPrice = Annotated[float | None, Query(ge=0, description="Lowest price shown.")]
MaxPrice = Annotated[float | None, Query(ge=0, description="Highest price shown.")]
UserId = Annotated[str, Path(min_length=1, max_length=64)]
ItemIdPath = Annotated[str, Path(min_length=1, max_length=64)]

router = APIRouter()


# ---------------------------------------------------------------- recommendations


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendationsOut,
    summary="A user's recommendations (popular items when they have no history)",
)
def user_recommendations(
    user_id: UserId,
    recommender: RecommenderDep,
    state: StateDep,
    k: K = 10,
    category: Category = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    exclude_seen: bool = True,
    strategy: Strategy = "average_vector",
    diversity: Annotated[float, Query(ge=0, le=1)] = 0.0,
) -> Response:
    model = recommender.model
    history = find_user(model, user_id)
    item_filter = checked_filter(model, category, min_price, max_price)
    profile = history_profile(history)
    if strategy == "average_vector" and diversity == 0:
        ranked = current_list(
            state, recommender, user_id, profile, k, item_filter, exclude_seen
        )
    else:
        excluded = profile.positives if exclude_seen else _no_items()
        ranked = recommender.recommend(
            profile, k, item_filter.mask(model), excluded, strategy, diversity
        )
    state.metrics.count_list("user", ranked.fallback, ranked.degraded)
    return as_json(
        recommendations_out(
            model,
            user_id,
            k,
            strategy,
            diversity,
            item_filter,
            exclude_seen,
            ranked,
            profile.liked,
        )
    )


@router.post(
    "/recommendations/what-if",
    response_model=WhatIfOut,
    summary="Recommendations from an edited history, compared with the current list",
)
def what_if(
    body: WhatIfRequest, recommender: RecommenderDep, state: StateDep
) -> Response:
    model = recommender.model
    history = find_user(model, body.user_id) if body.user_id is not None else None
    item_filter = checked_filter(model, body.category, body.min_price, body.max_price)
    shown = item_filter.mask(model)
    current_profile = history_profile(history) if history else _empty_profile()
    edited, change = edit_profile(model, recommender, current_profile, body)
    hidden = np.array(
        [model.index_of[i] for i in change.hidden_neighbours], dtype=np.int64
    )
    excluded = np.concatenate([edited.negatives, hidden])
    if body.exclude_seen:
        excluded = np.concatenate([excluded, edited.positives])
    after = recommender.recommend(
        edited, body.k, shown, excluded, body.strategy, body.diversity
    )
    before = current_list(
        state,
        recommender,
        body.user_id,
        current_profile,
        body.k,
        item_filter,
        body.exclude_seen,
    )
    state.metrics.count_list("what_if", after.fallback, after.degraded)
    args = (model, body.user_id, body.k)
    return as_json(
        WhatIfOut(
            recommendations=recommendations_out(
                *args,
                body.strategy,
                body.diversity,
                item_filter,
                body.exclude_seen,
                after,
                edited.liked,
            ),
            current=recommendations_out(
                *args,
                "average_vector",
                0.0,
                item_filter,
                body.exclude_seen,
                before,
                current_profile.liked,
            ),
            diff=list_diff(model, before, after, body.k),
            history=change,
        )
    )


# ---------------------------------------------------------------- items


@router.get(
    "/items/search",
    response_model=SearchOut,
    summary="Semantic search over titles and descriptions",
)
def search_items(
    recommender: RecommenderDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Free text.")],
    k: K = 10,
    category: Category = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
) -> Response:
    model = recommender.model
    item_filter = checked_filter(model, category, min_price, max_price)
    known = model.encoder.known_terms(q)
    vector = model.encoder.encode([q])[0]
    if not known or not np.any(vector):
        note = "no word of the query occurs in the catalogue; nothing to match"
        return as_json(SearchOut(query=q, known_terms=known, note=note, items=[]))
    hits = recommender.search(vector, TEXT, k, item_filter.mask(model))
    items = hits_out(model, hits)
    return as_json(SearchOut(query=q, known_terms=known, note=None, items=items))


@router.get(
    "/items/{item_id}/similar",
    response_model=SimilarOut,
    summary="Items like this one, by co-interaction (collab) or by wording (text)",
)
def similar_items(
    item_id: ItemIdPath,
    recommender: RecommenderDep,
    state: StateDep,
    k: K = 10,
    by: Literal["collab", "text"] = "collab",
    category: Category = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
) -> Response:
    model = recommender.model
    position = find_item(model, item_id)
    item_filter = checked_filter(model, category, min_price, max_price)
    using = COLLAB if by == "collab" else TEXT
    hits = recommender.similar(position, using, k, item_filter.mask(model))
    state.metrics.count_list("similar", False, False)
    return as_json(
        SimilarOut(item=item_out(model, position), by=by, items=hits_out(model, hits))
    )


@router.get("/items/{item_id}", response_model=ItemDetailOut, summary="One item")
def get_item(item_id: ItemIdPath, recommender: RecommenderDep) -> ItemDetailOut:
    model = recommender.model
    position = find_item(model, item_id)
    return ItemDetailOut(
        **model.records[position],
        description=str(model.items["description"].iloc[position]),
    )


# ---------------------------------------------------------------- users and model


@router.get("/users", response_model=UsersOut, summary="Users, most active first")
def list_users(
    recommender: RecommenderDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UsersOut:
    users = state.users_by_activity
    return UsersOut(
        total=len(users), offset=offset, users=users[offset : offset + limit]
    )


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    summary="A user's history (most recent first) and taste summary",
)
def get_user(
    user_id: UserId,
    recommender: RecommenderDep,
    history_limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> UserOut:
    model = recommender.model
    history = find_user(model, user_id)
    summary = user_summary(user_id, history)
    return UserOut(
        **summary.model_dump(),
        taste=taste_summary(model, history),
        history=[
            HistoryItem(
                **model.records[int(position)],
                views=int(history.views[i]),
                clicks=int(history.clicks[i]),
                purchases=int(history.purchases[i]),
                last_seen=history.last_ts[i],
            )
            for i, position in enumerate(history.items[:history_limit])
        ],
    )


@router.get("/model", response_model=ModelOut, summary="The model being served")
def model_info(recommender: RecommenderDep, state: StateDep) -> ModelOut:
    model = recommender.model
    meta, version = model.meta, model.version
    return ModelOut(
        name=version["name"],
        alias=version["alias"],
        version=version["version"],
        run_id=version.get("run_id") or None,
        source=version["source"],
        method=meta["method"],
        trained_at=meta["trained_at"],
        items=model.size,
        users=len(model.histories),
        interactions=meta["interactions"],
        collab_dims=int(model.collab.shape[1]),
        text_dims=int(model.text.shape[1]),
        text_encoder=meta["text_encoder"],
        categories=sorted(set(model.categories)),
        collection=state.settings.scout_collection,
        qdrant_mode=state.settings.qdrant_mode,
        test_metrics=meta.get("test"),
    )


# ---------------------------------------------------------------- helpers


def as_json(body: BaseModel) -> Response:
    """Serialise with pydantic's own serializer. The bodies are built from parts
    that are already valid, so the route's response_model only documents them;
    FastAPI's second validation of large lists cost milliseconds."""
    return Response(body.model_dump_json(), media_type="application/json")


def find_user(model: ScoutModel, user_id: str) -> UserHistory:
    history = model.histories.get(user_id)
    if history is None:
        raise NotFound(f"user {user_id!r} not found", user_id=user_id)
    return history


def find_item(model: ScoutModel, item_id: str, field: str = "item_id") -> int:
    position = model.index_of.get(item_id)
    if position is None:
        raise NotFound(f"item {item_id!r} not found", item_id=item_id, field=field)
    return position


def checked_filter(
    model: ScoutModel,
    category: str | None,
    min_price: float | None,
    max_price: float | None,
) -> ItemFilter:
    if category is not None and category not in set(model.categories):
        known = ", ".join(sorted(set(model.categories)))
        raise _invalid("category", f"unknown category {category!r}; one of {known}")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise _invalid("min_price", f"min_price {min_price} is above max_price")
    return ItemFilter(category, min_price, max_price)


def _invalid(field: str, problem: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {problem}", problems=[{"field": field, "problem": problem}]
    )


def _no_items() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


def _empty_profile() -> Profile:
    return Profile(positives=_no_items(), weights=np.empty(0, dtype=np.float32))


def history_profile(history: UserHistory) -> Profile:
    return Profile(positives=history.items, weights=history.weights)


def edit_profile(
    model: ScoutModel,
    recommender: Recommender,
    current: Profile,
    body: WhatIfRequest,
) -> tuple[Profile, HistoryChange]:
    """Apply removals, additions, likes and dislikes to a profile, in that order."""
    weights = {
        int(p): float(w)
        for p, w in zip(current.positives, current.weights, strict=True)
    }
    order = [int(p) for p in current.positives]
    resolved = {
        name: [find_item(model, item, f"{name}[{i}]") for i, item in enumerate(ids)]
        for name, ids in (
            ("add", body.add),
            ("remove", body.remove),
            ("liked", body.liked),
            ("disliked", body.disliked),
        )
    }
    for i, position in enumerate(resolved["remove"]):
        if position not in weights:
            field = f"remove[{i}]"
            raise _invalid(field, f"item {body.remove[i]!r} is not in the history")
        del weights[position]
    for position in resolved["add"]:
        weights[position] = max(weights.get(position, 0.0), ADDED_WEIGHT)
    # Likes are explicit: each weighs a quarter of the rest of the history.
    liked = set(resolved["liked"])
    rest = sum(w for p, w in weights.items() if p not in liked)
    like_weight = max(LIKED_WEIGHT, LIKE_SHARE_OF_HISTORY * rest)
    for position in liked:
        weights[position] = like_weight
    for position in resolved["disliked"]:
        weights.pop(position, None)
    new = [p for p in resolved["liked"] + resolved["add"] if p not in order]
    positives = [p for p in dict.fromkeys(new + order) if p in weights]
    negatives = np.array(sorted(set(resolved["disliked"])), dtype=np.int64)
    hidden = _hidden_neighbours(recommender, negatives, body.dislike_neighbours)
    profile = Profile(
        positives=np.array(positives, dtype=np.int64),
        weights=np.array([weights[p] for p in positives], dtype=np.float32),
        negatives=negatives,
        liked=frozenset(resolved["liked"]),
    )
    ids = model.item_ids
    change = HistoryChange(
        items_before=len(current.positives),
        items_after=len(positives),
        added=[str(ids[p]) for p in resolved["add"]],
        removed=[str(ids[p]) for p in resolved["remove"]],
        liked=[str(ids[p]) for p in resolved["liked"]],
        disliked=[str(ids[p]) for p in resolved["disliked"]],
        hidden_neighbours=[str(ids[p]) for p in hidden],
    )
    return profile, change


def _hidden_neighbours(
    recommender: Recommender, disliked: np.ndarray, count: int
) -> list[int]:
    hidden: dict[int, None] = {}
    for position in disliked:
        for neighbour in recommender.near_neighbours(int(position), count):
            if int(neighbour) not in set(disliked.tolist()):
                hidden[int(neighbour)] = None
    return list(hidden)


def item_out(model: ScoutModel, position: int) -> ItemOut:
    return ItemOut.model_construct(**model.records[position])


def hits_out(model: ScoutModel, hits: list[tuple[int, float]]) -> list[RecommendedItem]:
    return [
        RecommendedItem.model_construct(
            **model.records[position], rank=rank, score=round(score, 6), because=[]
        )
        for rank, (position, score) in enumerate(hits, start=1)
    ]


def recommendations_out(
    model: ScoutModel,
    user_id: str | None,
    k: int,
    strategy: Strategy,
    diversity: float,
    item_filter: ItemFilter,
    exclude_seen: bool,
    ranked: RankedList,
    liked: frozenset[int],
) -> RecommendationsOut:
    titles = model.items["title"].to_numpy()
    items = [
        RecommendedItem.model_construct(
            **model.records[entry.position],
            rank=rank,
            score=round(entry.score, 6),
            because=[
                Contribution.model_construct(
                    item_id=str(model.item_ids[p]),
                    title=str(titles[p]),
                    contribution=round(value, 6),
                    liked=p in liked,
                )
                for p, value in entry.because
            ],
        )
        for rank, entry in enumerate(ranked.items, start=1)
    ]
    return RecommendationsOut(
        user_id=user_id,
        k=k,
        strategy=strategy,
        diversity=diversity,
        fallback=ranked.fallback,
        degraded=ranked.degraded,
        reason=ranked.reason,
        filters=FiltersOut(
            category=item_filter.category,
            min_price=item_filter.min_price,
            max_price=item_filter.max_price,
            exclude_seen=exclude_seen,
        ),
        model_version=model.version.get("version", "unknown"),
        items=items,
    )


def list_diff(
    model: ScoutModel, before: RankedList, after: RankedList, k: int
) -> ListDiff:
    old = {entry.position: rank for rank, entry in enumerate(before.items, start=1)}
    new = {entry.position: rank for rank, entry in enumerate(after.items, start=1)}
    titles = model.items["title"].to_numpy()

    def change(position: int) -> RankChange:
        return RankChange(
            item_id=str(model.item_ids[position]),
            title=str(titles[position]),
            before=old.get(position),
            after=new.get(position),
        )

    both = [p for p in new if p in old]
    return ListDiff(
        entered=[change(p) for p in new if p not in old],
        left=[change(p) for p in old if p not in new],
        moved=[change(p) for p in both if old[p] != new[p]],
        unchanged=[change(p) for p in both if old[p] == new[p]],
        overlap_at_k=round(len(both) / k, 4),
    )


def user_summary(user_id: str, history: UserHistory) -> UserSummary:
    return UserSummary(
        user_id=user_id,
        items=len(history.items),
        views=int(history.views.sum()),
        clicks=int(history.clicks.sum()),
        purchases=int(history.purchases.sum()),
        last_seen=history.last_ts[0],
    )


def users_by_activity(model: ScoutModel) -> list[UserSummary]:
    summaries = [user_summary(u, h) for u, h in model.histories.items()]
    return sorted(
        summaries, key=lambda s: (-s.views - s.clicks - s.purchases, s.user_id)
    )


def taste_summary(model: ScoutModel, history: UserHistory) -> TasteSummary:
    categories = model.categories[history.items]
    weights = history.weights.astype(float)
    shares: dict[str, float] = {}
    for category, weight in zip(categories, weights, strict=True):
        shares[str(category)] = shares.get(str(category), 0.0) + weight
    total = sum(shares.values()) or 1.0
    brands = model.items["brand"].to_numpy()[history.items]
    names, counts = np.unique(brands, return_counts=True)
    top_brands = sorted(zip(names, counts, strict=True), key=lambda b: (-b[1], b[0]))
    prices = model.prices[history.items]
    currency = str(model.items["currency"].iloc[int(history.items[0])])
    return TasteSummary(
        categories=[
            CategoryShare(category=c, share=round(s / total, 4))
            for c, s in sorted(shares.items(), key=lambda kv: -kv[1])
        ],
        brands=[BrandCount(brand=str(b), items=int(n)) for b, n in top_brands[:5]],
        price=PriceSummary(
            median=round(float(np.median(prices)), 2),
            p10=round(float(np.percentile(prices, 10)), 2),
            p90=round(float(np.percentile(prices, 90)), 2),
            currency=currency,
        ),
    )

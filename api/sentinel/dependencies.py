"""FastAPI dependencies: the objects a handler needs, built once in the lifespan.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a thread
pool, a hop that costs more than the scoring itself on a busy machine.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.sentinel.cases import CaseStore
from api.sentinel.decisions import Decisions
from api.sentinel.model import ModelHolder
from api.sentinel.scoring import Scorer
from api.sentinel.settings import SentinelSettings


async def _scorer(request: Request) -> Scorer:
    scorer: Scorer = request.app.state.scorer
    return scorer


async def _cases(request: Request) -> CaseStore:
    cases: CaseStore = request.app.state.cases
    return cases


async def _decisions(request: Request) -> Decisions:
    decisions: Decisions = request.app.state.decisions
    return decisions


async def _models(request: Request) -> ModelHolder:
    models: ModelHolder = request.app.state.models
    return models


async def _settings(request: Request) -> SentinelSettings:
    settings: SentinelSettings = request.app.state.settings
    return settings


ScorerDep = Annotated[Scorer, Depends(_scorer)]
CaseStoreDep = Annotated[CaseStore, Depends(_cases)]
DecisionsDep = Annotated[Decisions, Depends(_decisions)]
ModelHolderDep = Annotated[ModelHolder, Depends(_models)]
SettingsDep = Annotated[SentinelSettings, Depends(_settings)]

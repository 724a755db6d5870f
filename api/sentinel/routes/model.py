"""The model being served, its challenger, and the atomic reload."""

from __future__ import annotations

from fastapi import APIRouter

from api.common.errors import DependencyUnavailable
from api.sentinel.dependencies import ModelHolderDep, SettingsDep
from api.sentinel.model import ChallengerLookup, LoadedModel, ModelUnavailable
from api.sentinel.schemas import ChallengerOut, ModelOut, ReloadOut
from api.sentinel.settings import SentinelSettings

router = APIRouter(prefix="/model", tags=["model"])


@router.get(
    "", summary="Name, alias, version and metrics of the served model and challenger"
)
async def current_model(models: ModelHolderDep, settings: SettingsDep) -> ModelOut:
    model = models.require()
    return describe_model(model, settings, await models.challenger.lookup())


@router.post("/reload", summary="Load what the alias points to now, then swap")
async def reload_model(models: ModelHolderDep, settings: SettingsDep) -> ReloadOut:
    try:
        previous, model = await models.reload()
    except ModelUnavailable as error:
        raise DependencyUnavailable(
            f"reload failed, still serving the previous model: {error}"
        ) from error
    if previous is not model:
        models.challenger.forget()  # a promotion moves the aliases
    return ReloadOut(
        previous_version=previous.version if previous else None,
        version=model.version,
        changed=previous is not model,
        model=describe_model(model, settings, await models.challenger.lookup()),
    )


def describe_model(
    model: LoadedModel,
    settings: SentinelSettings,
    challenger: ChallengerLookup | None = None,
) -> ModelOut:
    found = challenger.challenger if challenger else None
    return ModelOut(
        name=model.name,
        alias=model.alias,
        version=model.version,
        run_id=model.run_id,
        metrics=model.metrics,
        loaded_at=model.loaded_at,
        feature_names=list(model.feature_names),
        thresholds={
            "review": settings.review_threshold,
            "block": settings.block_threshold,
            "degraded_max_approve_amount": settings.degraded_max_approve_amount,
        },
        challenger=ChallengerOut(**vars(found)) if found else None,
        challenger_error=challenger.error if challenger else None,
    )

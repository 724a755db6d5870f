"""The model being served, and its atomic reload."""

from __future__ import annotations

from fastapi import APIRouter

from api.common.errors import DependencyUnavailable
from api.sentinel.dependencies import ModelHolderDep, SettingsDep
from api.sentinel.model import LoadedModel, ModelUnavailable
from api.sentinel.schemas import ModelOut, ReloadOut
from api.sentinel.settings import SentinelSettings

router = APIRouter(prefix="/model", tags=["model"])


@router.get("", summary="Name, alias, version and metrics of the served model")
async def current_model(models: ModelHolderDep, settings: SettingsDep) -> ModelOut:
    return describe_model(models.require(), settings)


@router.post("/reload", summary="Load what the alias points to now, then swap")
async def reload_model(models: ModelHolderDep, settings: SettingsDep) -> ReloadOut:
    try:
        previous, model = await models.reload()
    except ModelUnavailable as error:
        raise DependencyUnavailable(
            f"reload failed, still serving the previous model: {error}"
        ) from error
    return ReloadOut(
        previous_version=previous.version if previous else None,
        version=model.version,
        changed=previous is not model,
        model=describe_model(model, settings),
    )


def describe_model(model: LoadedModel, settings: SentinelSettings) -> ModelOut:
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
    )

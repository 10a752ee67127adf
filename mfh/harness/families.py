"""Model families: what a tuned recipe is for. A family is a model name (`dense`, `mfh`, ...),
with `_dk` for the same model trained by dark knowledge (`+distill=dk`), whose recipe also
tunes the distillation's temperature and weight."""

from __future__ import annotations

from omegaconf import DictConfig

DK = "_dk"


def family_of(cfg: DictConfig) -> str:
    """The family of a composed config: `model.name`, plus `_dk` with distillation."""
    return cfg.model.name + (DK if cfg.get("distill") else "")


def family_overrides(family: str) -> list[str]:
    """The overrides that select `family` (`hashednets_dk` -> model=hashednets +distill=dk)."""
    if is_dk(family):
        return [f"model={family.removesuffix(DK)}", "+distill=dk"]
    return [f"model={family}"]


def is_dk(family: str) -> bool:
    """Whether `family` is trained by dark knowledge (`hashednets_dk`: yes)."""
    return family.endswith(DK)

"""Which arm a user is in: a deterministic hash of (campaign, user), or Thompson sampling.

The hash needs no state: the same campaign and user give the same arm on any machine,
in any order, on any re-run, so an assignment can always be recomputed and audited.
Thompson sampling (``allocation = "thompson"``) keeps the control arm's share fixed --
the hash decides who is in control, so uplift stays measurable -- and sends everyone
else to the arm whose conversion rate, drawn from its Beta posterior over the outcomes
so far, is highest; the draw is seeded by the same hash, so it too is reproducible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kg.errors import InputError

ALLOCATIONS = ("fixed", "thompson")


@dataclass(frozen=True)
class Arm:
    """An arm of a campaign: its name, its share of the audience and the tone of its copy
    (empty for a control arm that gets no message)."""

    name: str
    share: float
    tone: str = ""


@dataclass(frozen=True)
class ArmOutcomes:
    """Users assigned to an arm and how many of them converted so far."""

    users: int = 0
    conversions: int = 0


def hash_unit(campaign: str, user: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by (campaign, user): SHA-256, first 8 bytes."""
    digest = hashlib.sha256(f"{campaign}\x1f{user}\x1f{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def fixed_arm(campaign: str, user: str, arms: Sequence[Arm]) -> str:
    """The arm whose slice of [0, 1) the user's hash falls in."""
    point, edge = hash_unit(campaign, user), 0.0
    for arm in arms:
        edge += arm.share
        if point < edge:
            return arm.name
    return arms[-1].name


def thompson_arm(
    campaign: str, user: str, arms: Sequence[Arm], control: str, outcomes: dict[str, ArmOutcomes]
) -> str:
    """Control by its hashed share; otherwise the best of one Beta draw per other arm."""
    shares = {arm.name: arm.share for arm in arms}
    if control in shares and hash_unit(campaign, user) < shares[control]:
        return control
    others = [arm.name for arm in arms if arm.name != control]
    seed = int(hash_unit(campaign, user, "thompson") * 2**63)
    rng = np.random.default_rng(seed)
    draws = []
    for name in others:
        seen = outcomes.get(name, ArmOutcomes())
        draws.append(rng.beta(1 + seen.conversions, 1 + max(0, seen.users - seen.conversions)))
    return others[int(np.argmax(draws))]


def assign_arms(
    campaign: str,
    users: Sequence[str],
    arms: Sequence[Arm],
    *,
    allocation: str = "fixed",
    control: str = "control",
    outcomes: dict[str, ArmOutcomes] | None = None,
) -> list[str]:
    """The arm of each user, in order."""
    if allocation == "fixed":
        return [fixed_arm(campaign, user, arms) for user in users]
    if allocation == "thompson":
        return [thompson_arm(campaign, user, arms, control, outcomes or {}) for user in users]
    raise InputError(f"Unknown allocation {allocation!r}; choose one of {', '.join(ALLOCATIONS)}.")


def parse_arms(arms: str, split: str | None, control: str) -> list[Arm]:
    """``control,copy-a:urgent,copy-b`` and ``0.5,0.25,0.25`` (default: equal shares).
    An arm other than control with no tone gets the next tone in turn."""
    from kg.marketing.prompts import TONES, check_tone

    names, tones = [], []
    for part in (p.strip() for p in arms.split(",")):
        if not part:
            continue
        name, _, tone = part.partition(":")
        names.append(name.strip())
        tones.append(check_tone(tone.strip()) if tone.strip() else "")
    if len(names) < 2 or len(set(names)) != len(names):
        raise InputError(f"--arms needs at least two distinct arm names; got {arms!r}.")
    cycle = iter(list(TONES) * len(names))
    tones = [t or ("" if n == control else next(cycle)) for n, t in zip(names, tones, strict=True)]
    shares = _shares(split, len(names))
    return [Arm(n, s, t) for n, s, t in zip(names, shares, tones, strict=True)]


def _shares(split: str | None, count: int) -> list[float]:
    if not split:
        return [1.0 / count] * count
    try:
        values = [float(v) for v in split.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--split must be numbers separated by commas; got {split!r}.") from None
    if len(values) != count or any(v <= 0 for v in values):
        raise InputError(f"--split needs {count} positive shares, one per arm; got {split!r}.")
    total = sum(values)
    return [v / total for v in values]

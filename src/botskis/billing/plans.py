"""The plans a user can be on. `None` means unlimited."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    max_agents: int | None
    max_runs_per_month: int | None


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("starter", max_agents=5, max_runs_per_month=1_000),
        Plan("professional", max_agents=20, max_runs_per_month=10_000),
        Plan("enterprise", max_agents=None, max_runs_per_month=None),
    )
}
DEFAULT_PLAN = "starter"


def plan_of(name: str) -> Plan:
    """An unknown plan name (a row edited by hand) gets the most restrictive plan."""
    return PLANS.get(name, PLANS[DEFAULT_PLAN])

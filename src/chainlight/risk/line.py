"""The credit line: a share of verified turnover, scaled by chain position and risk, capped by policy.

    base  = base_turnover_share × verified 12-month sales × Π(line factors that fired) × max(0, 1 − PD / pd_scale)
    limit = min(base, max_line, max_turnover_share × verified 12-month sales), rounded down to ¥1,000

Only invoice-verified turnover counts (the traditional view verifies none, so it offers no pure-credit
line); the line factors are policy rules on verified chain facts (hops to an anchor, anchor-bound
share of sales, granted patents, customer concentration). An approval whose limit is below
``min_line`` becomes a referral. The granted amount is the smaller of the request and the limit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from chainlight.risk.policy import Fired, Limits, ReasonText

TOO_SMALL = ReasonText(code="LINE_TOO_SMALL",
                       en="The line its verified sales support is below the smallest line offered.",
                       zh="经核实的销售额所支持的额度低于最低授信额度。")


@dataclass(frozen=True)
class Offer:
    verified_turnover: float
    factor: float
    pd_factor: float
    base: float
    limit: float
    capped_by: str  # "" | "max_line" | "max_turnover_share"

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def credit_line(limits: Limits, verified_turnover: float | None, pd: float | None, factors: list[Fired]) -> Offer:
    turnover = max(float(verified_turnover or 0.0), 0.0)
    factor = math.prod(f.factor for f in factors if f.factor is not None)
    pd_factor = max(0.0, 1.0 - (pd if pd is not None else 1.0) / limits.pd_scale)
    base = limits.base_turnover_share * turnover * factor * pd_factor
    caps = {"max_line": limits.max_line, "max_turnover_share": limits.max_turnover_share * turnover}
    cap_name, cap = min(caps.items(), key=lambda kv: (kv[1], kv[0]))
    limit = math.floor(min(base, cap) / 1000.0) * 1000.0
    return Offer(round(turnover, 2), round(factor, 6), round(pd_factor, 6), round(base, 2), limit,
                 cap_name if cap < base else "")

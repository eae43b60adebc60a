"""Which terms characterize a set of texts against another: log-odds with an informative prior.

Monroe, Colaresi and Quinn (2008), "Fightin' Words": the log-odds ratio of a term between two
sets, each smoothed by a Dirichlet prior proportional to the term's frequency in a background,
divided by its standard deviation. Rare terms are pulled towards the background, so a word seen
twice is not "characteristic" just because the other side never had it. Counts are documents
(tickets containing the term), totals are documents too.

Pure arithmetic: the web aggregates the counts with SQL and scores them here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Total weight of the prior, in documents: small against a topic's hundreds of tickets, large
# enough to tame terms seen a handful of times.
PRIOR_WEIGHT = 50.0
# |z| above 1.96 is p < 0.05 for one term; the lists show the strongest well above that.
SIGNIFICANT_Z = 1.96


@dataclass(frozen=True)
class Side:
    count: int  # documents of this side containing the term
    total: int  # documents of this side


def prior_for(background_count: int, background_total: int, weight: float = PRIOR_WEIGHT) -> float:
    """The term's prior pseudo-count: its background share of the prior's total weight."""
    if background_total <= 0:
        return 0.01
    return max(weight * background_count / background_total, 0.01)


def log_odds_z(focus: Side, other: Side, prior: float, weight: float = PRIOR_WEIGHT) -> float:
    """z-score of the term's log-odds in ``focus`` over ``other`` (positive: more in focus)."""
    y_i, y_j = focus.count + prior, other.count + prior
    rest_i = max(focus.total + weight - focus.count - prior, 0.01)
    rest_j = max(other.total + weight - other.count - prior, 0.01)
    delta = math.log(y_i / rest_i) - math.log(y_j / rest_j)
    variance = 1.0 / y_i + 1.0 / y_j
    return delta / math.sqrt(variance)


def rose_clearly(current: Side, previous: Side, z: float, min_count: int, min_ratio: float) -> bool:
    """An emerging item: seen often enough now, its share up by ``min_ratio`` or more, and the
    rise significant (a share from nothing counts as rising without bound)."""
    if current.count < min_count or z < SIGNIFICANT_Z or current.total <= 0:
        return False
    now = current.count / current.total
    before = previous.count / previous.total if previous.total else 0.0
    return before == 0.0 or now / before >= min_ratio

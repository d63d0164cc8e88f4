"""Ring arithmetic, as defined in CONTRACTS.md ("Rings").

Asterisk says once that a phone starts ringing and nothing while it keeps ringing, so rings are
counted from time.  A ring cycle (default 5 s: China's 1 s on / 4 s off) counts once it has begun
and lasted more than 0.2 s::

    rings = #{k >= 1 : rang_s > (k - 1) * cycle + 0.2}

15.001 s → 3 rings, 10.0 s → 2, 4.0 s → 1, 0 s → 0.  The same rule gives the rings a caller heard
from the call's wait.
"""
from __future__ import annotations

import math

#: A ring cycle must have lasted this long to count (the ring burst itself is 1 s).
RING_GRACE_S = 0.2


def count_rings(rang_s: float, cycle_s: float) -> int:
    if rang_s <= RING_GRACE_S:
        return 0
    # Work in milliseconds: arrival times carry microseconds, and float noise must not turn
    # exactly 10.2 s into a third ring.
    over = round((rang_s - RING_GRACE_S) * 1000)
    cycle = round(cycle_s * 1000)
    return max(1, math.ceil(over / cycle))


def ring_counted_at(first_ring_at: float, ring: int, cycle_s: float) -> float:
    """When ring number ``ring`` (2, 3…) starts to count: 0.2 s into its cycle.

    So a deadline at exactly ``allowed × cycle`` never announces a ring that the guard cuts short.
    (Ring 1 is announced at the first sign of ringing: the agent's screen cannot wait.)
    """
    return first_ring_at + (ring - 1) * cycle_s + RING_GRACE_S

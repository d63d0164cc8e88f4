"""The media noise of an answered leg: RTCP reports and the ``RTPAUDIOQOS*`` variables.

What the captures show (README "Noise is real traffic", and every answered call in 02–23):

* Asterisk sends an RTCP sender report on every RTP stream 5 s after the stream starts and every
  5 s after that → ``RTCPSent`` on both legs (about 15 ms after each 5 s mark);
* the agents' pjsua2 phones send two receiver reports as soon as they answer, a sender report
  ~0.23 s later, then one every 4.4–5.3 s → ``RTCPReceived`` on the member leg only (the sipp
  callers send no RTCP);
* when a leg leaves its bridge the ``RTPAUDIOQOS``, ``…JITTER``, ``…LOSS``, ``…RTT``, ``…MES``
  variables are set on it (and the ``…BRIDGED`` copies on its peer).

Everything here is a pure function of the :class:`Media` numbers and the time given.
"""
from __future__ import annotations

import random

from . import render
from .render import Pairs, Snap

__all__ = ["Media"]
PACKETS_PER_S = 50  #: 20 ms ulaw frames
NTP_LSR_SCALE = 65536  #: LSR is the middle 32 bits of the NTP time of the last report


class Media:
    """One RTP stream between Asterisk and a phone."""

    def __init__(self, rng: random.Random, *, started: float, local_port: int, remote_port: int,
                 phone: bool) -> None:
        self.started = started
        self.local_port = local_port
        self.remote_port = remote_port
        self.phone = phone  #: an agent's pjsua2 phone (sends RTCP) rather than a sipp caller
        self.ssrc = rng.getrandbits(32)
        self.remote_ssrc = rng.getrandbits(32)
        self.sequence0 = rng.randrange(1000, 60000)
        self.jitter = rng.choice((0, 1, 2, 3, 4, 7))
        self.timers: list = []
        self.last_sr = 0.0

    @property
    def local(self) -> str:
        return f"127.0.0.1:{self.local_port}"

    @property
    def remote(self) -> str:
        return f"127.0.0.1:{self.remote_port}"

    def packets(self, now: float) -> int:
        return max(0, int((now - self.started) * PACKETS_PER_S))

    def _lsr(self) -> int:
        return int(self.last_sr * NTP_LSR_SCALE) & 0xFFFFFFFF if self.last_sr else 0

    def rtcp_sent(self, snap: Snap, now: float) -> Pairs:
        dlsr = now - self.last_sr if self.last_sr else 0.0
        return render.rtcp_sent(snap, to=self.remote, frm=self.local, ssrc=self.ssrc, ntp=now,
                                packets=self.packets(now), peer_ssrc=self.remote_ssrc,
                                sequence=(self.sequence0 + self.packets(now)) % 65536, jitter=self.jitter,
                                lsr=self._lsr(), dlsr=dlsr)

    def rtcp_received(self, snap: Snap, now: float, *, receiver_report: bool) -> Pairs:
        """A report from the phone; its first two are receiver reports with nothing received yet."""
        if receiver_report:
            return render.rtcp_received(snap, to=self.local, frm=self.remote, ssrc=0, sender=None,
                                        peer_ssrc=0, sequence=0, jitter=0, lsr=0, dlsr=0.0, rtt=0.0)
        self.last_sr = now
        return render.rtcp_received(snap, to=self.local, frm=self.remote, ssrc=self.remote_ssrc,
                                    sender=(now, self.packets(now)), peer_ssrc=self.ssrc,
                                    sequence=(self.sequence0 + self.packets(now)) % 65536,
                                    jitter=self.jitter, lsr=0, dlsr=0.0, rtt=0.0002)

    def qos(self, now: float) -> list[tuple[str, str]]:
        """The five ``RTPAUDIOQOS*`` (name, value) pairs for this stream at ``now``."""
        count = self.packets(now)
        jitter = self.jitter / 8000
        return [
            ("RTPAUDIOQOS", f"ssrc={self.ssrc};themssrc={self.remote_ssrc};lp=0;rxjitter={0:.6f};"
                            f"rxcount={count};txjitter={jitter:.6f};txcount={count};rlp=0;rtt={0:.6f};"
                            f"rxmes={0:.6f};txmes={0:.6f}"),
            ("RTPAUDIOQOSJITTER", _stats("rxjitter", 0.0, jitter) + _stats("txjitter", 0.0, 0.0)),
            ("RTPAUDIOQOSLOSS", _padded(2, _stat_fields("rxlost") + _stat_fields("txlost"))),
            ("RTPAUDIOQOSRTT", _padded(5, _stat_fields("rtt"))),
            ("RTPAUDIOQOSMES", _padded(3, _stat_fields("rxmes") + _stat_fields("txmes"))),
        ]


def _stats(name: str, low: float, high: float) -> str:
    avg = (low + high) * 0.7
    return (f"min{name}={low:010.6f};max{name}={high:010.6f};avg{name}={avg:010.6f};"
            f"stdev{name}={(high - low) / 6:010.6f};")


def _padded(spaces: int, fields: list[str]) -> str:
    """Asterisk right-aligns these statistics: each field is preceded by spaces."""
    return "".join(f"{' ' * spaces}{f};" for f in fields)


def _stat_fields(name: str) -> list[str]:
    return [f"{kind}{name}={0:010.6f}" for kind in ("min", "max", "avg", "stdev")]

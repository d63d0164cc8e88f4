"""Expired sessions are swept from the store every hour, on the site's clock, until the site closes."""
from __future__ import annotations

from twisted.internet import defer
from twisted.internet.task import Clock

from telephony.bus import EventBus
from telephony.desktop.site import SESSION_SWEEP_S, Screens, build_site
from telephony.live.model import LiveModel


class SweptStore:
    def __init__(self) -> None:
        self.sweeps = 0

    def sweep_sessions(self):
        self.sweeps += 1
        return defer.succeed(2)


def test_expired_sessions_are_swept_hourly_until_the_site_closes():
    clock, store = Clock(), SweptStore()
    site = build_site(model=LiveModel(), bus=EventBus(), clock=clock, store=None, pbx="default",
                      screens=Screens(store=store))
    clock.advance(SESSION_SWEEP_S - 1)
    assert store.sweeps == 0
    clock.advance(1)
    assert store.sweeps == 1
    clock.advance(SESSION_SWEEP_S)
    assert store.sweeps == 2
    site.close()
    clock.advance(10 * SESSION_SWEEP_S)
    assert store.sweeps == 2
    assert clock.getDelayedCalls() == []  # nothing of the screens is left ticking


class SlowSessions(SweptStore):
    """Answers "who holds this cookie?" only when the test says."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[defer.Deferred] = []

    def principal_for_session(self, token):
        d: defer.Deferred = defer.Deferred()
        self.asked.append(d)
        return d


def test_a_browser_that_leaves_while_its_sign_in_is_checked_opens_no_stream(caplog):
    from telephony.store.people import Principal
    from tests.unit.test_desktop_feed import Client

    clock, store = Clock(), SlowSessions()
    site = build_site(model=LiveModel(), bus=EventBus(), clock=clock, store=None, pbx="default",
                      screens=Screens(store=store))
    for path in (b"/api/v1/agents/1001/events", b"/api/v1/board/events"):
        client = Client(site, path, headers=b"Cookie: telephony_session=abc\r\n")
        client.lose()  # the page was closed at once
        store.asked[-1].callback(Principal("boss", "supervisor", None, "csrf", 1))
    assert site.agent_feeds.clients == 0
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
    site.close()

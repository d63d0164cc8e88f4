"""The agent's feed on the site's own HTTP channel over an in-memory transport, timed by a task.Clock:
the pop comes before anything else of its offer, with the store's facts, before the answer; rings,
answer and end follow; a browser that (re)connects mid-ring gets the pop at once; a failing store
still pops; keepalives every 15 s; only the agent's own calls."""
from __future__ import annotations

import json

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from telephony.bus import EventBus
from telephony.desktop.pop import AgentFeeds
from telephony.live import events as ev
from telephony.live.model import LiveModel
from tests.unit.test_desktop_feed import AT, Client
from tests.unit.test_desktop_snapshot import play

PBX = "default"
FACTS = {"customer": {"number": "+8613800138000", "name": "张三", "category": "返利客户", "company": None,
                      "notes": "VIP"},
         "history": [{"entered_at": "2026-12-01T01:00:00+00:00", "outcome": "answered", "answered_by": "1002",
                      "problem_type": "投诉", "order_no": "SO-1", "summary": "退款", "resolution": "follow_up"}],
         "callbacks": []}


class Facts:
    """A store whose lookups the test answers when it chooses."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []
        self.pending: list[defer.Deferred] = []

    def pop_facts(self, number):
        self.asked.append(number)
        d: defer.Deferred = defer.Deferred()
        self.pending.append(d)
        return d


@pytest.fixture
def clock():
    c = Clock()
    c.advance(AT)
    return c


@pytest.fixture
def rig(clock):
    from twisted.web import resource, server

    bus = EventBus()
    facts = Facts()
    feeds = AgentFeeds(bus=bus, clock=clock, facts=facts, pbx=PBX, model=LiveModel(PBX))

    class Events(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            feeds.open(request, request.postpath[0].decode())
            return server.NOT_DONE_YET

    root = resource.Resource()
    root.putChild(b"feed", Events())
    site = server.Site(root)
    feeds.start()
    yield bus, facts, feeds, site
    feeds.stop()


def ringing(ring: int, *, agent: str = "1001", linkedid: str = "L1", at: float = AT, caller: str = "13800138000"):
    return ev.AgentRinging(pbx=PBX, at=at, linkedid=linkedid, offer_id=f"{linkedid}.{agent}", agent=agent,
                           interface=f"PJSIP/{agent}", queue="support", channel=f"PJSIP/{agent}-1",
                           caller_channel=None, caller=caller, caller_name="<b>张三</b>", ring=ring,
                           ring_started_at=AT, call_entered_at=AT - 1)


def answered(*, agent: str = "1001", linkedid: str = "L1", apologise: bool = False):
    return ev.CallAnswered(pbx=PBX, at=AT + 11, linkedid=linkedid, agent=agent, interface=f"PJSIP/{agent}",
                           queue="support", channel=f"PJSIP/{agent}-1", caller="13800138000", caller_name="张三",
                           wait_s=12.0, rings_to_answer=3, apologise=apologise)


def offer_ended(result: str, *, agent: str = "1001", linkedid: str = "L1"):
    return ev.OfferEnded(pbx=PBX, at=AT + 15, linkedid=linkedid, offer_id=f"{linkedid}.{agent}", agent=agent,
                         interface=f"PJSIP/{agent}", queue="support", channel=f"PJSIP/{agent}-1", result=result,
                         ring_started_at=AT, ended_at=AT + 15, rang_s=15.0, rings=3)


def events_of(client: Client) -> list[tuple[str, dict]]:
    return [(name, data) for name, data in client.events() if name != "presence"]


def test_the_pop_goes_out_first_with_the_customer_and_history_before_the_answer(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    bus.publish(ringing(1))
    assert facts.asked == ["13800138000"] and events_of(client) == []
    bus.publish(ringing(2))  # the store is slow: ring 2 waits for the pop
    facts.pending[0].callback(FACTS)
    bus.publish(answered(apologise=True))
    names = [name for name, _ in events_of(client)]
    assert names == ["pop", "ring", "answered"]
    pop = events_of(client)[0][1]
    assert (pop["pbx"], pop["linkedid"], pop["caller"], pop["caller_name"], pop["queue"], pop["ring"]) == \
        (PBX, "L1", "13800138000", "<b>张三</b>", "support", 1)
    assert pop["at"] == "2026-11-22T17:02:46+00:00"  # AT, in ISO-8601
    assert (pop["customer"], pop["history"], pop["messages"], pop["callbacks"]) == \
        (FACTS["customer"], FACTS["history"], [], [])
    assert events_of(client)[1][1]["ring"] == 2
    assert events_of(client)[2][1]["apologise"] is True


def test_only_the_agent_rung_gets_the_pop(rig):
    bus, facts, feeds, site = rig
    mine, other = Client(site, b"/feed/1001"), Client(site, b"/feed/1002")
    bus.publish(ringing(1))
    facts.pending[0].callback(FACTS)
    assert [n for n, _ in events_of(mine)] == ["pop"]
    assert events_of(other) == []


def test_a_browser_that_connects_mid_ring_gets_the_pop_and_the_ring_at_once(rig):
    bus, facts, feeds, site = rig
    bus.publish(ringing(1))
    facts.pending[0].callback(FACTS)
    bus.publish(ringing(2))
    late = Client(site, b"/feed/1001")
    assert [(n, d.get("ring")) for n, d in events_of(late)] == [("pop", 1), ("ring", 2)]
    bus.publish(offer_ended("no_answer"))
    assert [(n, d.get("outcome")) for n, d in events_of(late)][-1] == ("ended", "no_answer")
    assert events_of(Client(site, b"/feed/1001")) == []  # nothing rings him any more


def test_an_offer_that_ends_while_its_lookup_runs_still_pops_then_ends(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    bus.publish(ringing(1))
    bus.publish(offer_ended("cancelled"))
    assert events_of(client) == []
    facts.pending[0].callback(FACTS)
    assert [n for n, _ in events_of(client)] == ["pop", "ended"]
    assert feeds.taken("1001")[0].linkedid == "L1"


def test_a_store_that_fails_still_pops_with_what_the_call_says(rig, caplog):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    bus.publish(ringing(1))
    facts.pending[0].errback(RuntimeError("database is down"))
    (name, pop), = events_of(client)
    assert (name, pop["caller"], pop["customer"], pop["history"], pop["history_unavailable"]) == \
        ("pop", "13800138000", None, [], True)
    assert "13800138000" not in caplog.text  # the log masks the number
    assert "database is down" in caplog.text


def test_keepalives_every_15_seconds(rig, clock):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    clock.advance(14.9)
    assert b": keepalive" not in client.body()
    clock.advance(0.2)
    assert client.body().count(b": keepalive\n\n") == 1
    clock.advance(15)
    assert client.body().count(b": keepalive\n\n") == 2


def test_the_presence_is_told_at_connect_and_when_he_is_paused_with_the_reason(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    play("09-", feeds.model, bus)  # capture 09: 1001 paused in support, with a reason, and back
    presence = [d for n, d in client.events() if n == "presence"]
    assert presence[0]["paused"] is False  # at connect, before anything happened
    paused = [p for p in presence if p["paused"]]
    assert paused and paused[0]["queues"] == ["support"] and paused[0]["reason"]
    assert presence[-1]["paused"] is feeds.model.queues["support"].members["PJSIP/1001"].paused


def test_a_feed_closed_by_the_browser_is_forgotten(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    assert feeds.clients == 1
    client.lose()
    assert feeds.clients == 0
    bus.publish(ringing(1))
    facts.pending[0].callback(FACTS)  # nobody to send to: no error


def test_events_are_one_json_object_each(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    bus.publish(ringing(1))
    facts.pending[0].callback(FACTS)
    for block in client.body().decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                assert isinstance(json.loads(line[6:]), dict)


def test_a_transfer_note_pops_at_the_receiver_and_not_at_the_sender(rig):
    bus, facts, feeds, site = rig
    sender, receiver = Client(site, b"/feed/1001"), Client(site, b"/feed/1003")
    feeds.note_transfer("L1", from_agent="1001", to="1003", note="需要技术支持")
    bus.publish(ringing(1, agent="1003"))
    bus.publish(ringing(1, agent="1001", linkedid="L1"))
    for d in facts.pending:
        d.callback(FACTS)
    (_, pop), = events_of(receiver)
    assert pop["transfer_note"] == {"from": "1001", "to": "1003", "note": "需要技术支持"}
    (_, own), = events_of(sender)
    assert own["transfer_note"] is None


def offered(linkedid: str = "L1", caller: str = "13800138000"):
    return ev.CallOffered(pbx=PBX, at=AT - 0.5, linkedid=linkedid, queue="support", caller=caller,
                          caller_name="张三", position=1, entered_at=AT - 1)


def test_the_lookup_starts_when_the_caller_joins_the_queue_so_the_ring_pops_at_once(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    bus.publish(offered())
    assert facts.asked == ["13800138000"]
    facts.pending[0].callback(FACTS)  # read while app_queue picks a member
    bus.publish(ringing(1))
    assert [n for n, _ in events_of(client)] == ["pop"]  # at once: no second lookup
    bus.publish(offer_ended("no_answer"))
    other = Client(site, b"/feed/1002")
    bus.publish(ringing(1, agent="1002"))  # the queue offers the call to the next agent
    assert [n for n, _ in events_of(other)] == ["pop"] and facts.asked == ["13800138000"]


def test_a_failed_lookup_is_tried_again_at_the_next_offer_and_a_finished_call_is_forgotten(rig):
    bus, facts, feeds, site = rig
    client = Client(site, b"/feed/1001")
    bus.publish(offered())
    facts.pending[0].errback(RuntimeError("database is down"))
    bus.publish(ringing(1))  # the ring asks again rather than pop without history
    assert len(facts.asked) == 2 and events_of(client) == []
    facts.pending[1].errback(RuntimeError("database is down"))
    assert events_of(client)[-1][1]["history_unavailable"] is True
    bus.publish(ringing(1, agent="1002"))
    assert len(facts.asked) == 3
    facts.pending[2].callback(FACTS)
    bus.publish(ev.CallEnded(pbx=PBX, at=AT + 30, call=_ended_call("L1")))
    bus.publish(offered())  # the same linkedid again (a replay): read afresh, not from the ended call
    assert len(facts.asked) == 4


def test_lookups_are_kept_for_a_bounded_number_of_calls(clock):
    feeds = AgentFeeds(bus=EventBus(), clock=clock, facts=Facts(), pbx=PBX, max_lookups=3)
    feeds.start()
    for n in range(10):
        feeds.on_event(offered(linkedid=f"L{n}"))
    assert list(feeds._lookups) == ["L7", "L8", "L9"]
    feeds.stop()


def _ended_call(linkedid: str):
    return ev.CallSummary(pbx=PBX, linkedid=linkedid, caller="13800138000", caller_name="张三", entered_at=AT - 1,
                          queues=("support",), queue="support", offers=(), answered_by=None, answered_at=None,
                          transferred_to=(), wait_s=None, rings_to_answer=None, apologise=None, talk_s=None,
                          outcome="abandoned", hangup_by="caller", hangup_cause=16, ended_at=AT + 30)

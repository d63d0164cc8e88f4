"""The board view of the live model, taken mid-capture."""
from __future__ import annotations

from telephony.ami.capture import read_capture
from telephony.live.model import LiveModel
from telephony.live.view import board
from telephony.replay import received_messages
from tests.conftest import capture_path


def model_at(name: str, until: float) -> tuple[LiveModel, float]:
    model = LiveModel()
    for t, message in received_messages(read_capture(capture_path(name))):
        if t > until:
            break
        model.apply(message, t)
    return model, until


def test_talking_call_follows_the_agent_who_has_the_caller_after_a_redirect():
    model, now = model_at("23-", 8.0)
    (call,) = board(model, now)["calls"]
    assert (call["state"], call["agent"], call["answered_by"]) == ("talking", "1003", "1001")


def test_waiting_caller_ringing_agent_and_talking_call():
    model, now = model_at("08-", 7.0)
    view = board(model, now, mask=lambda n: n and n[:3] + "****" + n[-4:])
    support = next(q for q in view["queues"] if q["name"] == "support")
    (waiting,) = support["waiting"]
    assert (waiting["position"], waiting["caller"], waiting["caller_name"]) == (1, "138****2222", "Wu Fang")
    assert support["longest_wait_s"] == 5.8
    states = {c["caller"]: c for c in view["calls"]}
    assert states["138****1111"]["state"] == "talking" and states["138****1111"]["agent"] == "1001"
    ringing = states["138****2222"]
    assert ringing["state"] == "ringing" and ringing["ringing"] == [{"agent": "1002", "ring": 2}]
    members = {m["agent"]: m["status"] for m in support["members"]}
    assert members == {"1001": "in_use", "1002": "ringing"}


def test_pause_events_alone_tell_the_member_state():
    model, now = model_at("09-", 100.0)
    support = next(q for q in board(model, now)["queues"] if q["name"] == "support")
    assert all(m["status"] != "unknown" for m in support["members"])

"""The AMI framer: the same bytes give the same messages whatever the chunking, and no input
crashes it.  Fed with the real captures, at their recorded chunking and one byte at a time."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.ami.protocol import Framer, Message, ProtocolError, format_action, format_message
from tests.conftest import all_captures, recv_chunks
from telephony.ami.capture import read_capture


def frame(chunks, **kw):
    framer = Framer(**kw)
    out = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return framer, out


def connections(records):
    return sorted({r.connection for r in records if r.kind == "RECV"})


@pytest.mark.parametrize("path", all_captures(), ids=lambda p: p.name)
def test_capture_frames_the_same_at_recorded_and_one_byte_chunking(path):
    records = read_capture(path)
    for conn in connections(records):
        chunks = recv_chunks(records, conn)
        framer, recorded = frame(chunks)
        stream = b"".join(chunks)
        _, single = frame([stream[i : i + 1] for i in range(len(stream))])
        assert framer.banner == "Asterisk Call Manager/11.0.0"
        assert [m.raw for m in recorded] == [m.raw for m in single]
        assert framer.buffered == 0, "every capture ends on a message boundary"
        # nothing is lost: the messages plus their terminators are the whole stream after the banner
        rebuilt = b"".join(m.raw + b"\r\n\r\n" for m in recorded)
        assert rebuilt == stream[len(framer.banner) + 2 :]


def test_utf8_names_survive_and_lookup_ignores_case():
    (path,) = [p for p in all_captures() if p.name.startswith("02-")]
    _, messages = frame(recv_chunks(read_capture(path), "c1"))
    join = next(m for m in messages if m.event == "QueueCallerJoin")
    assert join.get("CallerIDName") == "张三"
    assert join.get("calleridname") == "张三"
    assert join["Queue"] == "support"
    assert join.get("AccountCode") == ""  # "Key: " is an empty value, not a missing one
    assert join.get("NoSuchHeader") is None
    assert join.headers[0] == ("Event", "QueueCallerJoin")


def test_split_response_and_list_events_keep_action_id():
    (path,) = [p for p in all_captures() if p.name.startswith("22-")]
    _, messages = frame(recv_chunks(read_capture(path), "c1"))
    # StopMixMonitor (mixmute-4) is answered in three reads: Response, ActionID, the empty line
    (stop,) = [m for m in messages if m.action_id == "mixmute-4"]
    assert stop.headers == [("Response", "Success"), ("ActionID", "mixmute-4")]


def test_event_is_classified_before_response():
    msg = Message(b"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: cb-0002\r\nResponse: Failure\r\nReason: 3")
    assert msg.event == "OriginateResponse"
    assert msg.response is None
    assert msg.get("Response") == "Failure"
    assert msg.action_id == "cb-0002"


def test_repeated_headers_are_kept_in_order():
    msg = Message(b"Response: Success\r\nActionID: c-1\r\nOutput: line one\r\nOutput: line two\r\nOutput: ")
    assert msg.getall("output") == ["line one", "line two", ""]
    assert msg.get("Output") == "line one"


def test_non_utf8_bytes_are_replaced_not_raised():
    msg = Message(b"Event: Newchannel\r\nCallerIDName: \xff\xfe\xe5\xbc\xa0")
    assert msg.get("CallerIDName") == "\ufffd\ufffd张"


def test_overlong_line_is_a_protocol_error_not_a_leak():
    framer = Framer(max_line=1024, max_message=4096)
    framer.feed(b"Asterisk Call Manager/11.0.0\r\n")
    with pytest.raises(ProtocolError, match="line longer"):
        for _ in range(10):
            framer.feed(b"A" * 512)
    framer = Framer(max_line=1024, max_message=4096)
    with pytest.raises(ProtocolError, match="message longer"):
        framer.feed(b"Asterisk Call Manager/11.0.0\r\n" + b"Key: value\r\n" * 1000)


def test_overlong_message_in_one_read_is_refused():
    framer = Framer(expect_banner=False, max_line=1024, max_message=4096)
    with pytest.raises(ProtocolError):
        framer.feed(b"Key: " + b"x" * 5000 + b"\r\n\r\n")


def test_stray_empty_lines_between_messages_are_skipped():
    _, messages = frame([b"Asterisk Call Manager/11.0.0\r\n\r\n", b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n"])
    assert [m.event for m in messages] == ["A", "B"]


def test_format_action_refuses_header_injection():
    with pytest.raises(ValueError, match="line break"):
        format_action("Originate", {"CallerID": '"evil"\r\nAction: Hangup'}, action_id="x")
    data = format_action("QueuePause", [("Interface", "PJSIP/1001"), ("Paused", True), ("Reason", "振铃未接")],
                         action_id="guard-1")
    assert data == "Action: QueuePause\r\nActionID: guard-1\r\nInterface: PJSIP/1001\r\nPaused: true\r\nReason: 振铃未接\r\n\r\n".encode()


def test_message_round_trips_through_format():
    msg = Message.from_headers([("Event", "QueueMemberPause"), ("PausedReason", ""), ("MemberName", "李娜")])
    assert format_message(msg.headers) == msg.raw + b"\r\n\r\n"
    assert msg.get("PausedReason") == ""


# -- properties -------------------------------------------------------------------------------

header_key = st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=122, categories=["Lu", "Ll"]), min_size=1, max_size=12)
header_value = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=40)
messages_strategy = st.lists(st.lists(st.tuples(header_key, header_value), min_size=1, max_size=8), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(messages_strategy, st.data())
def test_any_chunking_gives_the_same_messages(msgs, data):
    stream = b"Asterisk Call Manager/11.0.0\r\n" + b"".join(format_message(h) for h in msgs)
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(stream) - 1), max_size=30)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    framer, out = frame(chunks)
    assert [m.headers for m in out] == [[(k, v) for k, v in h] for h in msgs]
    assert framer.buffered == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_random_bytes_never_raise_anything_but_protocol_error(chunks):
    framer = Framer(max_line=256, max_message=1024)
    try:
        for chunk in chunks:
            for message in framer.feed(chunk):
                message.headers, message.event, message.response, message.get("Channel")
    except ProtocolError:
        pass
    assert framer.buffered <= 1024


@pytest.mark.parametrize("path", all_captures(), ids=lambda p: p.name)
def test_lookup_before_parsing_agrees_with_the_parsed_headers(path):
    records = read_capture(path)
    for conn in connections(records):
        _, messages = frame(recv_chunks(records, conn))
        for message in messages:
            parsed = Message(message.raw)
            first = {}
            for key, value in parsed.headers:
                first.setdefault(key, value)
            for key, value in first.items():
                assert Message(message.raw).get(key) == value, (path.name, key)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(header_key, header_value), min_size=1, max_size=10), header_key)
def test_lookup_before_parsing_is_the_same_as_after(headers, probe):
    raw = format_message(headers)[:-4]
    parsed = Message(raw)
    assert parsed.headers, "parsed in full before any lookup"
    for key in [k for k, _ in headers] + [probe, probe.lower(), probe.upper()]:
        assert Message(raw).get(key) == parsed.get(key), key

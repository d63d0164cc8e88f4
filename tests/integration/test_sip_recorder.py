"""The SIP recorder for real, over loopback: ``telephony recorder`` in its own process answers a call
from a second pjsua2 endpoint (this file, run as a script, in a process of its own too), which sends
a 1 kHz tone; the recorder reports the call on stdout and the WAV holds the tone for as long as it
was sent.  A second test stops the recorder in the middle of a call: the call is hung up, the file
closed and still reported, and the process exits 0.

The recorder is started as ``python -m telephony.commands.recorder`` (the same command as
``telephony recorder``), so the test does not depend on the CLI's list of subcommands.

Run as a script, this file is the caller:

    python tests/integration/test_sip_recorder.py sip:recorder@127.0.0.1:5070 \\
        --display 1718000000.12 --seconds 2 --tone 1000

printing JSON lines (``media`` once the audio flows, ``mark`` after ``--mark`` seconds of it,
``disconnected`` at the end) on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TONE_HZ = 1000
TONE_SECONDS = 2.0
#: every wait below is on an event with this bound; a stuck pjsua2 fails the test, never hangs it
WITHIN = 15.0


# -- the caller (a script in its own process) -----------------------------------------------------

def _caller(argv: list[str]) -> int:
    """Call ``uri``, send a tone, hang up after ``--seconds`` (0: wait for the far end to)."""
    import pjsua2 as pj

    parser = argparse.ArgumentParser(prog="test_sip_recorder.py")
    parser.add_argument("uri", help="whom to call")
    parser.add_argument("--display", default="", help="From display name (the caller ID Asterisk sends)")
    parser.add_argument("--header", default="", help="value of an X-Telephony-Linkedid header, if any")
    parser.add_argument("--seconds", type=float, default=TONE_SECONDS,
                        help="hang up this long after the audio starts; 0: wait for the far end")
    parser.add_argument("--mark", type=float, default=0,
                        help="say 'mark' once the tone has been sent this long (0: never)")
    parser.add_argument("--tone", type=int, default=TONE_HZ, help="tone frequency, Hz")
    parser.add_argument("--limit", type=float, default=WITHIN, help="give up after this many seconds")
    args = parser.parse_args(argv)

    # pjlib prints to fd 1 in libCreate: the JSON lines go through a copy, the rest to stderr
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def say(event: str, **fields: object) -> None:
        out.write(json.dumps({"event": event, **fields}) + "\n")

    state = {"media_at": None, "ended": None}

    class Caller(pj.Call):
        def __init__(self, account, tone):
            pj.Call.__init__(self, account)
            self.tone = tone

        def onCallState(self, prm):
            try:
                info = self.getInfo()
                if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                    state["ended"] = f"{info.lastStatusCode} {info.lastReason}"
            except Exception as exc:  # never into C++
                state["ended"] = f"error {exc!r}"

        def onCallMediaState(self, prm):
            try:
                info = self.getInfo()
                for index, media in enumerate(info.media):
                    if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE \
                            and state["media_at"] is None:
                        self.tone.startTransmit(self.getAudioMedia(index))
                        state["media_at"] = time.monotonic()
            except Exception as exc:
                state["ended"] = f"error {exc!r}"

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    # one thread, this one, polls everything: a plain script has nothing else to do meanwhile
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    transport = pj.TransportConfig()
    transport.boundAddress = "127.0.0.1"
    transport.port = 0
    tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.audDevManager().setNullDev()
    ep.libStart()
    # G.711 mu-law first, what an Asterisk in the call centre sends
    ep.codecSetPriority("PCMU/8000", 255)
    local = ep.transportGetInfo(tid).localName
    acc_cfg = pj.AccountConfig()
    user = args.display or "caller"
    acc_cfg.idUri = f'"{args.display}" <sip:{user}@{local}>' if args.display else f"sip:caller@{local}"
    acc_cfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"  # loopback only, any free port
    acc_cfg.mediaConfig.transportConfig.port = 0
    account = pj.Account()
    account.create(acc_cfg, True)

    tone = pj.ToneGenerator()
    tone.createToneGenerator(8000, 1)
    desc = pj.ToneDesc()
    desc.freq1 = desc.freq2 = args.tone  # pjmedia sums the two: the same one twice is a pure tone
    desc.on_msec, desc.off_msec = 10_000, 0
    descs = pj.ToneDescVector()
    descs.append(desc)
    tone.play(descs, True)

    call = Caller(account, tone)
    op = pj.CallOpParam(True)
    if args.header:
        header = pj.SipHeader()
        header.hName, header.hValue = "X-Telephony-Linkedid", args.header
        op.txOption.headers.append(header)
    call.makeCall(args.uri, op)

    code = 1
    said_media = said_mark = False
    give_up = time.monotonic() + args.limit
    while time.monotonic() < give_up:
        ep.libHandleEvents(10)  # waits on the network, at most 10 ms
        if state["media_at"] is not None and not said_media:
            say("media")
            said_media = True
        if args.mark and not said_mark and state["media_at"] is not None \
                and time.monotonic() - state["media_at"] >= args.mark:
            say("mark")
            said_mark = True
        if state["ended"] is not None:
            say("disconnected", reason=state["ended"])
            code = 0 if said_media else 1
            break
        if args.seconds and state["media_at"] is not None and time.monotonic() - state["media_at"] >= args.seconds:
            call.hangup(pj.CallOpParam())
            args.seconds = 0  # hung up once; now wait for DISCONNECTED
    else:
        say("gave up")
    tone.stop()
    del call, tone
    account.shutdown()
    del account
    # the call is over: no need for pjsua's second of grace for the network
    ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)
    return code


if __name__ == "__main__":
    sys.exit(_caller(sys.argv[1:]))


# -- the tests ------------------------------------------------------------------------------------

# imported after the script part, which needs only pjsua2
import numpy as np
import pytest
from twisted.internet import defer, error, protocol, reactor
from twisted.trial import unittest

from telephony.recorder.sip import call_identity


class Lines(protocol.ProcessProtocol):
    """A child process's stdout as JSON lines, each awaitable by its ``event``; stderr kept."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.buffer = b""
        self.stderr = b""
        self.seen: list[dict] = []
        self.waiting: list[tuple[str, defer.Deferred]] = []
        self.ended: defer.Deferred[int | None] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n", 1)
            line = json.loads(raw)
            self.seen.append(line)
            for entry in [w for w in self.waiting if w[0] == line["event"]]:
                self.waiting.remove(entry)
                entry[1].callback(line)

    def errReceived(self, data: bytes) -> None:
        self.stderr += data

    def processEnded(self, reason) -> None:
        code = reason.value.exitCode if isinstance(reason.value, (error.ProcessDone, error.ProcessTerminated)) else None
        for _, waiting in self.waiting:
            waiting.errback(AssertionError(f"{self.name} ended ({code}) before saying it; stderr:\n{self.log()}"))
        self.waiting.clear()
        self.ended.callback(code)

    def next(self, event: str, within: float = WITHIN) -> defer.Deferred[dict]:
        """The first line of this event not yet taken (already seen or still to come)."""
        for line in self.seen:
            if line["event"] == event:
                self.seen.remove(line)
                return defer.succeed(line)
        if self.ended.called:
            return defer.fail(AssertionError(f"{self.name} has ended; stderr:\n{self.log()}"))
        waiting: defer.Deferred[dict] = defer.Deferred()
        self.waiting.append((event, waiting))
        return waiting.addTimeout(within, reactor)

    def log(self) -> str:
        return self.stderr.decode("utf-8", "replace")[-3000:]


def tone_peak(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """The loudest frequency, and the share of the energy within 50 Hz of it."""
    windowed = samples * np.hanning(len(samples))
    power = np.abs(np.fft.rfft(windowed)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1.0 / rate)
    peak = float(freqs[int(np.argmax(power[1:])) + 1])
    share = float(power[np.abs(freqs - peak) <= 50].sum() / power.sum())
    return peak, share


def read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float), wav.getframerate()


@pytest.mark.slow
class SipRecorderOverLoopback(unittest.TestCase):
    timeout = 60  # trial's own bound, behind the per-step ones

    def spawn(self, name: str, *argv: str):
        lines = Lines(name)
        transport = reactor.spawnProcess(lines, sys.executable, [sys.executable, *argv], env=dict(os.environ),
                                         path=str(ROOT))

        @defer.inlineCallbacks
        def reap():
            if lines.ended.called:
                return
            transport.signalProcess("KILL")
            yield lines.ended

        self.addCleanup(reap)
        return lines, transport

    @defer.inlineCallbacks
    def start_recorder(self):
        # not trial's mktemp(): under pytest that is a folder in the working tree
        self.folder = os.path.join(tempfile.mkdtemp(prefix="sip-recorder-"), "recordings")
        self.addCleanup(shutil.rmtree, os.path.dirname(self.folder), True)
        recorder, transport = self.spawn("the recorder", "-m", "telephony.commands.recorder",
                                         "--listen", "127.0.0.1:0", "--folder", self.folder)
        listening = yield recorder.next("listening")
        self.assertEqual(listening["folder"], self.folder)
        return recorder, transport, f"sip:recorder@127.0.0.1:{listening['port']}"

    @defer.inlineCallbacks
    def stop_recorder(self, recorder: Lines, transport) -> defer.Deferred:
        transport.signalProcess("TERM")
        code = yield recorder.ended.addTimeout(WITHIN, reactor)
        self.assertEqual(code, 0, recorder.log())
        self.assertNotIn("Traceback", recorder.log())

    @defer.inlineCallbacks
    def test_a_call_is_answered_recorded_and_reported_with_its_linkedid(self):
        recorder, transport, uri = yield self.start_recorder()
        # the daemon's Originate sets CallerID "<linkedid>" <<linkedid>>: the From display name
        caller, _ = self.spawn("the caller", __file__, uri, "--display", "1718000000.12",
                               "--seconds", str(TONE_SECONDS), "--tone", str(TONE_HZ))
        code = yield caller.ended.addTimeout(WITHIN, reactor)
        self.assertEqual(code, 0, caller.log() + json.dumps(caller.seen))

        done = yield recorder.next("recording")
        self.assertEqual(done["linkedid"], "1718000000.12")
        self.assertIsNone(done["error"])
        self.assertEqual(os.path.dirname(done["path"]), self.folder)
        self.assertTrue(os.path.basename(done["path"]).startswith("1718000000.12-"))
        self.assertLessEqual(done["started_at"], done["ended_at"])
        self.assertIn("1718000000.12", done["remote"])

        samples, rate = read_wav(done["path"])
        seconds = len(samples) / rate
        self.assertEqual(rate, 8000)
        # trial's assertAlmostEqual ignores delta=, hence the explicit bounds
        self.assertTrue(TONE_SECONDS - 0.5 <= seconds <= TONE_SECONDS + 0.5, seconds)
        self.assertEqual(done["seconds"], seconds)
        peak, share = tone_peak(samples, rate)
        self.assertTrue(abs(peak - TONE_HZ) <= 20, peak)
        self.assertGreater(share, 0.8, "the tone should be most of what was recorded")
        yield self.stop_recorder(recorder, transport)

    @defer.inlineCallbacks
    def test_stopping_mid_call_hangs_up_and_still_reports_the_file(self):
        recorder, transport, uri = yield self.start_recorder()
        # a header names the linkedid: it wins over the display name
        caller, _ = self.spawn("the caller", __file__, uri, "--display", "Supervisor", "--header", "1718000000.40",
                               "--seconds", "0", "--mark", "1")
        yield caller.next("mark")  # a second of tone sent
        yield self.stop_recorder(recorder, transport)

        done = yield recorder.next("recording", within=0)  # printed before the process exited
        self.assertEqual(done["linkedid"], "1718000000.40")
        self.assertIsNone(done["error"])
        self.assertGreater(done["seconds"], 0.8)
        peak, _ = tone_peak(*read_wav(done["path"]))
        self.assertTrue(abs(peak - TONE_HZ) <= 20, peak)
        hung_up = yield caller.next("disconnected")
        self.assertTrue(hung_up["reason"].startswith("200"), hung_up)
        code = yield caller.ended.addTimeout(WITHIN, reactor)
        self.assertEqual(code, 0, caller.log())


class WhichCallAnInviteBelongsTo(unittest.SynchronousTestCase):
    def test_the_header_wins_then_the_display_name_then_the_user_part(self):
        invite = "INVITE sip:recorder@127.0.0.1 SIP/2.0\r\nx-telephony-linkedid: 17.5\r\nFrom: x\r\n\r\nv=0\r\n"
        self.assertEqual(call_identity(invite, '"Supervisor" <sip:7@pbx>'), "17.5")
        self.assertEqual(call_identity("INVITE x SIP/2.0\r\n\r\n", '"17.2" <sip:7@pbx>'), "17.2")
        self.assertEqual(call_identity("", "17.6 <sip:7@pbx>"), "17.6")
        self.assertEqual(call_identity("", "<sip:17.3@pbx>"), "17.3")
        self.assertEqual(call_identity("", "sip:17.4@pbx;tag=1"), "17.4")
        self.assertEqual(call_identity("", "<sip:pbx>"), "unknown")
        # a header in the body is not a header
        self.assertEqual(call_identity("INVITE x SIP/2.0\r\n\r\nX-Telephony-Linkedid: 9\r\n", "<sip:1.1@pbx>"),
                         "1.1")

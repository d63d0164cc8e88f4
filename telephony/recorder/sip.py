"""The SIP recorder backend: a SIP endpoint (pjsua2) that answers the calls the daemon sends it and
writes each one to a WAV file.

The daemon records a call by having Asterisk Originate a ChanSpy leg towards this endpoint, the way a
supervisor listens in; the leg's caller ID is the call's linkedid.  This endpoint answers every INVITE
with 200, connects the call's audio to a pjsua2 ``AudioMediaRecorder`` and, when the leg hangs up,
closes the file and reports a :class:`Recording` (linkedid, path, start, end) to the reactor.

Which call a leg belongs to is read from the INVITE, first match wins:

1. an ``X-Telephony-Linkedid`` header, for a PBX set up to add one (``PJSIP_HEADER(add,…)``);
2. the From display name: what ``Originate``'s ``CallerID: "<linkedid>" <<linkedid>>`` becomes, the
   one thing every Asterisk sends without extra dialplan, so it is what the daemon relies on;
3. the From user part (the same caller ID's number), for a PBX that drops display names;
4. ``unknown``: still recorded, never refused, so audio is not lost over a naming mistake.

The file is ``<folder>/<linkedid>-<UTC yyyymmddTHHMMSSZ>.wav`` (``-2``, ``-3``… before ``.wav`` if
that name is taken), the linkedid made safe for a file name; 16-bit mono PCM at the clock rate
(8 kHz by default).  pjmedia writes the WAV header's sizes when it closes the file, so a recorder
killed with SIGKILL leaves files whose header says 0 bytes: the audio is there, the header is not.

Threads.  pjsua2 is a C++ library with threads of its own; a native crash takes the whole process
down, which is why this runs in its own process (``telephony recorder``) and not in the daemon.
Inside that process pjsua2 is driven by one dedicated Python thread, the "pj thread":

* ``uaConfig.threadCnt = 0``: pjsua2 starts no SIP worker threads; the pj thread polls with
  ``libHandleEvents`` in a loop, so every SIP message and timer is handled there;
* ``uaConfig.mainThreadOnly = True``: the few callbacks that could still start on another native
  thread (the media and sound-clock threads: log lines, media events) are queued by pjsua2 and run
  by the same ``libHandleEvents`` on the pj thread.  Every Python callback thus runs on the thread
  that called ``libCreate``, which pjlib registered, so no ``libRegisterThread`` is needed and no
  pjsua2 object is ever touched (or garbage-collected, which calls into C++) from another thread;
* media keeps its own ioqueue and worker thread (``medConfig.hasIoqueue``, the default): RTP is
  received and the WAV written by native threads that never enter Python, so a slow moment in
  Python does not drop audio;
* the reactor thread never calls pjsua2.  The pj thread hands results to it with
  ``reactor.callFromThread`` only, and the reactor asks the pj thread to stop through a
  ``threading.Event`` it checks between polls (every :data:`POLL_MS`).

A Python exception must not leave a pjsua2 callback: SWIG would turn it into a C++ exception thrown
through pjsip's C frames.  Every callback is therefore wrapped (:func:`_guarded`) and logs instead.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
import wave
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

from twisted.internet import defer
from twisted.python.failure import Failure

log = logging.getLogger(__name__)
pjlog = logging.getLogger(__name__ + ".pjsip")

__all__ = ["Recording", "SipRecorder", "StartFailed", "call_identity"]

#: how long one ``libHandleEvents`` may wait for the network: the bound on how late the pj thread
#: sees a stop request, and the resolution of a recording's end
POLL_MS = 20
#: how long a stop waits for the calls it hung up to end before closing their files anyway
HANGUP_WITHIN = 2.0
#: how long a file may take to be closed by pjmedia (a clock tick or two, normally) before it is
#: reported all the same
CLOSE_WITHIN = 1.0

LINKEDID_HEADER = "X-Telephony-Linkedid"

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")
#: ``"display" <sip:user@host>``, ``display <sip:user@host>`` or a bare ``sip:user@host``
_NAME_ADDR = re.compile(r'^\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^<"]*?))\s*<(?P<uri>[^>]*)>')
_USER = re.compile(r"^(?:sips?:(?P<user>[^@;:?>]+)@|tel:(?P<tel>[^;?>]+))")


class StartFailed(Exception):
    """The endpoint could not be set up (the address is taken, the folder cannot be made…)."""


@dataclass(frozen=True)
class Recording:
    """One finished call: which linkedid it belongs to and where its audio is.

    ``path`` is ``None`` (and ``error`` says why) when no audio was ever recorded, so the daemon
    still learns that the leg it sent came and went.  Times are seconds since the epoch:
    ``started_at`` when the audio started flowing into the file, ``ended_at`` when the leg hung up."""

    linkedid: str
    path: str | None
    started_at: float | None
    ended_at: float
    #: length of the audio in the file, read back from the WAV header once it is closed
    seconds: float | None
    sip_call_id: str
    remote: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Closing:
    """A call that ended, its file not yet closed: plain values only, no pjsua2 object."""

    linkedid: str
    path: str | None
    started_at: float | None
    ended_at: float
    sip_call_id: str
    remote: str
    error: str | None
    give_up_at: float


def safe_name(text: str) -> str:
    """``text`` usable as part of a file name: a linkedid of ``../x`` stays inside the folder."""
    return _UNSAFE.sub("_", text).strip("._") or "_"


def _header(whole_msg: str, name: str) -> str | None:
    head = whole_msg.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    wanted = name.lower()
    for line in head.splitlines()[1:]:
        field, sep, value = line.partition(":")
        if sep and field.strip().lower() == wanted:
            return value.strip() or None
    return None


def call_identity(whole_msg: str, remote_uri: str) -> str:
    """The linkedid an INVITE belongs to, by the order given in the module's docstring."""
    header = _header(whole_msg, LINKEDID_HEADER)
    if header:
        return header
    match = _NAME_ADDR.match(remote_uri)
    if match:
        display = match.group("quoted") if match.group("quoted") is not None else match.group("token")
        display = re.sub(r"\\(.)", r"\1", display or "").strip()
        if display:
            return display
        uri = match.group("uri")
    else:
        uri = remote_uri.strip()
    user = _USER.match(uri)
    if user:
        return user.group("user") or user.group("tel")
    return "unknown"


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """Run a pjsua2 callback, logging whatever it raises instead of letting it into C++."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any) -> None:
        try:
            method(self, *args)
        except Exception:
            log.exception("SIP recorder: %s failed", method.__name__)

    return wrapper


def _wav_closed(path: str) -> bool:
    """Whether pjmedia has closed the WAV: it writes the RIFF size, 0 until then, when it does."""
    try:
        with open(path, "rb") as wav:
            head = wav.read(8)
            size = os.fstat(wav.fileno()).st_size
    except OSError:
        return True  # gone: nothing to wait for
    return len(head) == 8 and head[:4] == b"RIFF" and int.from_bytes(head[4:], "little") == size - 8


def _wav_seconds(path: str) -> float | None:
    try:
        with wave.open(path, "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (OSError, EOFError, wave.Error):
        return None


class SipRecorder:
    """Answers every SIP call on ``host:port`` and records it under ``folder``.

    ``start()`` and ``stop()`` are called from the reactor thread and return Deferreds;
    ``on_recording(recording)`` is called in the reactor thread for each call that ended.
    """

    def __init__(self, reactor: Any, *, host: str, port: int, folder: str,
                 on_recording: Callable[[Recording], None], clock_rate: int = 8000,
                 log_level: str = "INFO", user: str = "recorder", rtp_port: int = 0) -> None:
        self.reactor = reactor
        self.host = host
        self.port = port
        self.folder = folder
        self.on_recording = on_recording
        self.clock_rate = clock_rate
        self.log_level = log_level
        self.user = user
        self.rtp_port = rtp_port
        self._stop_asked = threading.Event()
        self._started: defer.Deferred[int] | None = None
        self._stopped: defer.Deferred[None] = defer.Deferred()
        self._thread: threading.Thread | None = None
        # owned by the pj thread alone, like every pjsua2 object
        self._pj: Any = None
        self._types: _Types | None = None
        self._ep: Any = None
        self._account: Any = None
        self._calls: dict[int, Any] = {}
        self._ended: list[Any] = []
        self._closing: list[_Closing] = []
        self._hung_up = True  # until a stop finds no call to hang up

    # -- the reactor's side ---------------------------------------------------------------------

    def start(self) -> defer.Deferred[int]:
        """Fires with the UDP port bound (useful when ``port`` is 0), or fails with StartFailed."""
        if self._started is not None:
            raise RuntimeError("SipRecorder.start() called twice")
        self._started = defer.Deferred()
        # daemon: a pj thread stuck in native code must not keep the process alive after the
        # reactor gave up waiting for it (see stop())
        self._thread = threading.Thread(target=self._pj_main, name="sip-recorder", daemon=True)
        self._thread.start()
        return self._started

    def stop(self, timeout: float = HANGUP_WITHIN + 3.0) -> defer.Deferred[None]:
        """Hang up every call, close and report their files, destroy the endpoint.

        Fires once that is done, or after ``timeout`` seconds (logged) so a wedged native library
        cannot hold the process's shutdown for ever."""
        if self._thread is None:
            return defer.succeed(None)
        self._stop_asked.set()
        if self._stopped.called:
            return defer.succeed(None)
        waiting: defer.Deferred[None] = defer.Deferred()

        def too_late() -> None:
            if not waiting.called:
                log.error("SIP recorder: pjsua2 did not shut down within %.0f s; leaving it behind", timeout)
                waiting.callback(None)

        timer = self.reactor.callLater(timeout, too_late)

        def done(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            if not waiting.called:
                waiting.callback(None)
            return result

        self._stopped.addBoth(done)
        return waiting

    def _report(self, recording: Recording) -> None:
        # reactor thread
        try:
            self.on_recording(recording)
        except Exception:
            log.exception("SIP recorder: reporting %s failed", recording.path)

    # -- the pj thread ----------------------------------------------------------------------------

    def _pj_main(self) -> None:
        try:
            try:
                port = self._pj_setup()
            except Exception as exc:
                if not isinstance(exc, StartFailed):
                    # pjsua2.Error's str() is a SWIG proxy's repr; its reason is the message
                    exc = StartFailed(f"cannot start the SIP recorder: {getattr(exc, 'reason', None) or exc}")
                self.reactor.callFromThread(self._started.errback, Failure(exc))
                return
            log.info("SIP recorder listening on %s:%d (UDP), recording into %s", self.host, port, self.folder)
            self.reactor.callFromThread(self._started.callback, port)
            while not self._stop_asked.is_set():
                self._ep.libHandleEvents(POLL_MS)
                self._pj_after_poll()
            self._pj_hang_up_all()
        except Exception:
            log.exception("SIP recorder: the pjsua2 thread failed")
        finally:
            self._pj_destroy()
            self.reactor.callFromThread(self._stopped.callback, None)

    def _pj_setup(self) -> int:
        import pjsua2 as pj

        self._pj = pj
        self._types = _classes()
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            raise StartFailed(f"cannot make the folder {self.folder}: {exc.strerror}") from None
        ep = self._ep = pj.Endpoint()
        ep.libCreate()  # registers this thread with pjlib as its main thread
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0          # this thread polls: see the module's docstring
        cfg.uaConfig.mainThreadOnly = True  # callbacks from native threads queued to this one
        cfg.uaConfig.userAgent = "telephony-recorder"
        level = _PJ_LEVELS.get(self.log_level.upper(), 2)
        cfg.logConfig.level = level
        cfg.logConfig.consoleLevel = level
        cfg.logConfig.msgLogging = level >= 5
        # the Python log adds the time: pjsip's own line keeps only who said it
        cfg.logConfig.decor = pj.PJ_LOG_HAS_SENDER | pj.PJ_LOG_HAS_SPACE | pj.PJ_LOG_HAS_INDENT
        writer = self._types.LogWriter()
        # the endpoint deletes its writer in libDestroy: hand the C++ object over, or it is freed twice
        writer.__disown__()
        cfg.logConfig.writer = writer
        cfg.medConfig.clockRate = self.clock_rate       # the WAV's rate: telephone audio is 8 kHz
        cfg.medConfig.sndClockRate = self.clock_rate
        cfg.medConfig.channelCount = 1
        # keep sending (silent) RTP back: a PBX with an RTP timeout would hang up a quiet leg
        cfg.medConfig.noVad = True
        ep.libInit(cfg)
        transport = pj.TransportConfig()
        transport.boundAddress = self.host
        transport.port = self.port
        try:
            tid = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        except pj.Error as exc:
            raise StartFailed(f"cannot listen on {self.host}:{self.port}: {exc.reason}") from None
        port = int(ep.transportGetInfo(tid).localName.rpartition(":")[2])
        # no sound card here (nor wanted): the null device still clocks the conference bridge,
        # which is what moves audio from a call to its recorder
        ep.audDevManager().setNullDev()
        ep.libStart()
        acc_cfg = pj.AccountConfig()
        # a local account: no registrar, it takes calls sent straight to host:port
        acc_cfg.idUri = f"sip:{self.user}@{self.host}:{port}"
        # RTP on the address SIP listens on (pjsua's default is every address), from rtp_port
        # upwards; 0 lets pjsua pick
        acc_cfg.mediaConfig.transportConfig.boundAddress = self.host
        acc_cfg.mediaConfig.transportConfig.port = self.rtp_port
        self._account = self._types.Account(self)
        self._account.create(acc_cfg, True)
        return port

    def _pj_incoming(self, prm: Any) -> None:
        pj = self._pj
        call = self._types.RecordedCall(self, self._account, prm.callId)
        info = call.getInfo()
        call.linkedid = call_identity(prm.rdata.wholeMsg, info.remoteUri)
        call.sip_call_id = info.callIdString
        call.remote = info.remoteUri
        # kept until the call ends (and then dropped on this thread, after the callback): a pjsua2
        # Call whose Python object is collected is hung up
        self._calls[prm.callId] = call
        op = pj.CallOpParam()
        if self._stop_asked.is_set():
            call.error = "refused: the recorder was shutting down"
            op.statusCode = pj.PJSIP_SC_SERVICE_UNAVAILABLE
            call.answer(op)
            log.warning("SIP recorder: refused the call for %s, shutting down", call.linkedid)
            return
        op.statusCode = pj.PJSIP_SC_OK
        call.answer(op)
        log.info("SIP recorder: answered the call for %s (%s)", call.linkedid, call.sip_call_id)

    def _pj_file_for(self, linkedid: str) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = f"{safe_name(linkedid)}-{stamp}"
        path = os.path.join(self.folder, base + ".wav")
        n = 1
        # a linkedid recorded twice in a second (a leg re-sent after a drop) must not overwrite;
        # createRecorder makes the file at once, so the next call sees it
        while os.path.exists(path):
            n += 1
            path = os.path.join(self.folder, f"{base}-{n}.wav")
        return path

    def _pj_ended(self, call: Any) -> None:
        call.ended_at = time.time()
        if self._calls.pop(call.call_id, None) is not None:
            # released after this callback returns: pjsua2 is still inside the call's own code here
            self._ended.append(call)

    def _pj_after_poll(self) -> None:
        """Release the calls that ended, then report the files that are closed."""
        while self._ended:
            self._pj_release(self._ended.pop(0))
        now = time.monotonic()
        for closing in list(self._closing):
            if closing.path is None or _wav_closed(closing.path) or now >= closing.give_up_at:
                self._closing.remove(closing)
                self._pj_report(closing)

    def _pj_release(self, call: Any) -> None:
        """Drop a call and its recorder (on this thread: their C++ destructors run here).

        pjmedia 2.15 closes the file a little later, once the conference bridge (which removes
        ports asynchronously) has let go of the recorder; the WAV's sizes are written then, and a
        file read straight after the drop still has a header saying 0 bytes.  So the call waits in
        ``_closing`` until its file is seen closed, for at most :data:`CLOSE_WITHIN`."""
        error = call.error
        if call.path is None and error is None:
            error = "no audio: the call's media never started"
        self._closing.append(_Closing(
            linkedid=call.linkedid, path=call.path, started_at=call.started_at, ended_at=call.ended_at or time.time(),
            sip_call_id=call.sip_call_id, remote=call.remote, error=error,
            give_up_at=time.monotonic() + CLOSE_WITHIN))
        call.recorder = None
        call.audio = None

    def _pj_report(self, closing: _Closing) -> None:
        recording = Recording(linkedid=closing.linkedid, path=closing.path, started_at=closing.started_at,
                              ended_at=closing.ended_at, seconds=_wav_seconds(closing.path) if closing.path else None,
                              sip_call_id=closing.sip_call_id, remote=closing.remote, error=closing.error)
        log.info("SIP recorder: the call for %s ended; %s", closing.linkedid, closing.path or closing.error)
        self.reactor.callFromThread(self._report, recording)

    def _pj_hang_up_all(self) -> None:
        self._hung_up = bool(self._calls)
        if self._calls:
            log.info("SIP recorder: stopping; hanging up %d call(s)", len(self._calls))
            self._ep.hangupAllCalls()
        deadline = time.monotonic() + HANGUP_WITHIN
        while (self._calls or self._ended or self._closing) and time.monotonic() < deadline:
            self._ep.libHandleEvents(POLL_MS)
            self._pj_after_poll()
        for call in list(self._calls.values()):
            # the far end never confirmed the hang-up: the audio so far is still worth keeping
            call.ended_at = time.time()
            self._pj_release(call)
        self._calls.clear()

    def _pj_destroy(self) -> None:
        # order matters: calls and recorders, then the account, then the library.  Each is dropped
        # here, on the pj thread, so its C++ destructor runs here and before libDestroy; a pjsua2
        # object outliving libDestroy, or collected on another thread, crashes the process.
        while self._ended:
            self._pj_release(self._ended.pop(0))
        for call in list(self._calls.values()):
            self._pj_release(call)
        self._calls.clear()
        try:
            if self._account is not None:
                self._account.shutdown()
            self._account = None
            if self._ep is not None:
                # pjsua's destroy gives the network a second (retransmitting the BYEs just sent);
                # with no call to hang up there is nothing to give it to
                self._ep.libDestroy(self._pj.PJSUA_DESTROY_NO_NETWORK if not self._hung_up else 0)
        except Exception:
            log.exception("SIP recorder: pjsua2 shutdown failed")
        self._ep = None
        # libDestroy closed every file still open
        for closing in self._closing:
            self._pj_report(closing)
        self._closing.clear()


_PJ_LEVELS = {"DEBUG": 5, "INFO": 2, "WARNING": 2, "ERROR": 1}


def _py_level(pj_level: int) -> int:
    return {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}.get(pj_level, logging.DEBUG)


class _Types(NamedTuple):
    LogWriter: type
    Account: type
    RecordedCall: type


@functools.lru_cache(maxsize=1)
def _classes() -> _Types:
    """pjsua2's subclasses, made on first use so that importing this module does not need pjsua2."""
    import pjsua2 as pj

    class LogWriter(pj.LogWriter):
        @_guarded
        def write(self, entry: Any) -> None:
            pjlog.log(_py_level(entry.level), "%s", entry.msg.rstrip())

    class Account(pj.Account):
        def __init__(self, owner: SipRecorder) -> None:
            pj.Account.__init__(self)
            self.owner = owner

        @_guarded
        def onIncomingCall(self, prm: Any) -> None:
            self.owner._pj_incoming(prm)

    class RecordedCall(pj.Call):
        def __init__(self, owner: SipRecorder, account: Any, call_id: int) -> None:
            pj.Call.__init__(self, account, call_id)
            self.owner = owner
            self.call_id = call_id
            self.linkedid = "unknown"
            self.sip_call_id = ""
            self.remote = ""
            self.path: str | None = None
            self.recorder: Any = None
            self.audio: Any = None
            self.started_at: float | None = None
            self.ended_at: float | None = None
            self.error: str | None = None

        @_guarded
        def onCallState(self, prm: Any) -> None:
            if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.owner._pj_ended(self)

        @_guarded
        def onCallMediaState(self, prm: Any) -> None:
            info = self.getInfo()
            for index, media in enumerate(info.media):
                if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                    continue
                audio = self.getAudioMedia(index)
                if self.recorder is None:
                    path = self.owner._pj_file_for(self.linkedid)
                    recorder = pj.AudioMediaRecorder()
                    try:
                        recorder.createRecorder(path)
                    except pj.Error as exc:
                        self.error = f"cannot write {path}: {exc.reason}"
                        log.error("SIP recorder: %s", self.error)
                        return
                    self.recorder, self.path, self.started_at = recorder, path, time.time()
                    log.info("SIP recorder: recording %s into %s", self.linkedid, path)
                # again after a re-INVITE: the stream may have a new conference slot
                audio.startTransmit(self.recorder)
                self.audio = audio

    return _Types(LogWriter, Account, RecordedCall)

"""The ``/api/v1`` routes of recordings (mixed into :class:`telephony.desktop.api.Api`; CONTRACTS "Recording"):

=======  ======================================  ==========================================================
GET      calls/{pbx}/{linkedid}/recordings       the call's recordings: id, path, started_at, ended_at,
                                                 paused spans, state
POST     calls/{pbx}/{linkedid}/recording        ``paused``: true | false — the agent on the call pauses it
GET      recordings/{id}                         the audio, with HTTP Range (the browser seeks)
=======  ======================================  ==========================================================

Who may: an agent the recordings of calls he took (answered, or talked with after a transfer);
supervisors all.  Anyone else 404, as for a call that does not exist.  The audio is served by id
after that check, from the path the store has: never from a folder a URL could walk.
"""
from __future__ import annotations

import os
from typing import Any

from twisted.web import server, static

from telephony.store.people import Principal

from .guarded import BadRequest, Denied, body_of, record_id, respond_json

__all__ = ["RecordingRoutes"]


class RecordingRoutes:
    """Route methods; the class using it provides ``store``, ``model``, ``recorder``, ``pbx`` and
    ``_answered`` (whether an agent answered a call)."""

    def recording_routes(self) -> list[tuple[str, tuple[str, ...], Any]]:
        return [
            ("GET", ("calls", "*", "*", "recordings"), self.call_recordings),
            ("POST", ("calls", "*", "*", "recording"), self.pause_recording),
            ("GET", ("recordings", "*"), self.recording_audio),
        ]

    async def _took(self, who: Principal, pbx: str, linkedid: str) -> bool:
        if who.is_supervisor:
            return True
        if who.role != "agent" or who.extension is None:
            return False
        return await self._answered(who.extension, pbx, linkedid) is not None

    async def call_recordings(self, request: server.Request, who: Principal, pbx: str, linkedid: str) -> bytes:
        if not await self._took(who, pbx, linkedid):
            raise Denied(404, "no call of yours with that id")
        rows = await self.store.recordings_for_call(pbx, linkedid)
        return respond_json(request, 200, {"recordings": [
            {k: r[k] for k in ("id", "path", "started_at", "ended_at", "paused", "state", "size_bytes")}
            for r in rows]})

    async def pause_recording(self, request: server.Request, who: Principal, pbx: str, linkedid: str) -> bytes:
        from telephony.recorder.mixmonitor import NotRecording

        call = self.model.calls.get(linkedid) if pbx == self.pbx else None
        if who.role != "agent" or call is None or call.talking_with != who.extension:
            raise Denied(404, "no call of yours is talking with that id")
        paused = body_of(request).get("paused")
        if not isinstance(paused, bool):
            raise BadRequest("paused: true or false")
        if self.recorder is None:
            raise Denied(409, "calls are not recorded here (recording.backend)")
        try:
            recording = await self.recorder.mute(linkedid, paused, by=who.extension)
        except NotRecording:
            raise Denied(409, "this call is not being recorded") from None
        return respond_json(request, 200, {"id": recording, "paused": paused})

    async def recording_audio(self, request: server.Request, who: Principal, number: str) -> bytes | None:
        row = await self.store.get_recording(record_id(number, "recording"))
        if row is None or not await self._took(who, row["pbx"], row["linkedid"]):
            raise Denied(404, "no recording of yours with that id")
        if row["state"] == "deleted" or not os.path.isfile(row["path"]):
            raise Denied(404, "the recording's file is not on this host" if row["state"] != "deleted"
                         else "the recording was deleted (retention)")
        audio = static.File(row["path"], defaultType="audio/wav")
        audio.contentTypes = {".wav": "audio/wav", ".gsm": "audio/x-gsm", ".mp3": "audio/mpeg"}
        request.setHeader(b"cache-control", b"private, no-store")
        result = audio.render_GET(request)
        return None if result == server.NOT_DONE_YET else result

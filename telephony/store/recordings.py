"""Recordings of calls: started when an agent answers, paused and resumed on his request, ended
with the call, pruned when their queue's retention has passed (never while a complaint is open).

Paused spans are kept as ``[start, end]`` epoch seconds (``end`` None while paused): MixMonitor keeps
the muted time as silence in the file (capture 22), so a span is also where the silence is.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from telephony.store.model import RecordingRow, WrapUpRow, as_utc

__all__ = ["end_recordings", "fail_recording", "get_recording", "mark_deleted", "prunable", "recordings_for_call",
           "set_muted", "start_recording"]


def start_recording(session: Session, *, pbx: str, linkedid: str, backend: str, path: str, channel: str | None,
                    agent: str | None, queue: str | None, at: float | datetime) -> int:
    row = RecordingRow(pbx=pbx, linkedid=linkedid, backend=backend, path=path, channel=channel, agent=agent,
                       queue=queue, started_at=as_utc(at), paused=[], state="recording")
    session.add(row)
    session.flush()
    return row.id


def set_muted(session: Session, recording_id: int, muted: bool, *, at: float) -> bool:
    """Open or close a paused span → False when the recording is not running or already so."""
    row = session.get(RecordingRow, recording_id)
    if row is None or row.state != "recording":
        return False
    spans = [list(span) for span in row.paused]
    open_span = bool(spans) and spans[-1][1] is None
    if muted == open_span:
        return False
    if muted:
        spans.append([at, None])
    else:
        spans[-1][1] = at
    row.paused = spans
    return True


def end_recordings(session: Session, pbx: str, linkedid: str, *, at: float | datetime,
                   size_of: Callable[[str], int | None] = lambda path: None) -> int:
    """The call ended: its running recordings are done (an open pause closes then) → how many."""
    rows = session.scalars(select(RecordingRow).where(RecordingRow.pbx == pbx, RecordingRow.linkedid == linkedid,
                                                      RecordingRow.state == "recording")).all()
    end = as_utc(at)
    for row in rows:
        row.state, row.ended_at = "done", end
        if row.paused and row.paused[-1][1] is None:
            row.paused = [*row.paused[:-1], [row.paused[-1][0], end.timestamp()]]
        row.size_bytes = size_of(row.path)
    return len(rows)


def fail_recording(session: Session, recording_id: int, detail: str, *, at: float | datetime) -> None:
    row = session.get(RecordingRow, recording_id)
    if row is not None:
        row.state, row.detail, row.ended_at = "failed", detail[:255], as_utc(at)


def recordings_for_call(session: Session, pbx: str, linkedid: str) -> list[dict[str, Any]]:
    return [_recording(row) for row in session.scalars(
        select(RecordingRow).where(RecordingRow.pbx == pbx, RecordingRow.linkedid == linkedid)
        .order_by(RecordingRow.started_at, RecordingRow.id))]


def get_recording(session: Session, recording_id: int) -> dict[str, Any] | None:
    row = session.get(RecordingRow, recording_id)
    return None if row is None else _recording(row)


def prunable(session: Session, *, now: datetime, retention_days: Callable[[str | None], int | None],
             limit: int = 10_000) -> tuple[list[dict[str, Any]], int]:
    """Finished recordings older than their queue's retention (None: kept for ever) → (those to
    delete, how many were kept back because their call has an open complaint)."""
    complaint = exists().where(WrapUpRow.pbx == RecordingRow.pbx, WrapUpRow.linkedid == RecordingRow.linkedid,
                               WrapUpRow.problem_type == "投诉", WrapUpRow.resolution != "resolved")
    rows = session.execute(select(RecordingRow, complaint).where(RecordingRow.state.in_(("done", "failed")))
                           .order_by(RecordingRow.started_at).limit(limit)).all()
    out, held = [], 0
    for row, open_complaint in rows:
        days = retention_days(row.queue)
        if days is None or row.started_at > now - timedelta(days=days):
            continue
        if open_complaint:
            held += 1
            continue
        out.append(_recording(row))
    return out, held


def mark_deleted(session: Session, recording_id: int, detail: str, *, at: float | datetime) -> None:
    row = session.get(RecordingRow, recording_id)
    if row is not None:
        row.state, row.detail = "deleted", f"{detail} at {as_utc(at).isoformat()}"[:255]


def _recording(row: RecordingRow) -> dict[str, Any]:
    return {"id": row.id, "pbx": row.pbx, "linkedid": row.linkedid, "backend": row.backend, "path": row.path,
            "agent": row.agent, "queue": row.queue, "started_at": row.started_at.isoformat(),
            "ended_at": None if row.ended_at is None else row.ended_at.isoformat(), "paused": row.paused,
            "state": row.state, "size_bytes": row.size_bytes, "detail": row.detail, "channel": row.channel}

"""Who may use the screens: users (people who sign in), their sessions, and programs' bearer tokens.

Passwords are hashed with argon2id (argon2-cffi's defaults: 64 MiB, 3 passes), which costs tens of
milliseconds of CPU on purpose: these functions run in the store's thread pool, never on the reactor.
Session cookies and bearer tokens are random (256 bits); only their SHA-256 is stored, so a copy of
the database signs nobody in.  A wrong username and a wrong password take the same time and give
the same answer (None): the sign-in page never tells which of the two was wrong.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from telephony.store.model import ROLES, ApiTokenRow, SessionRow, UserRow

__all__ = ["Principal", "UserProblem", "add_token", "add_user", "end_session", "list_users", "principal_for_session",
           "principal_for_token", "remove_user", "set_password", "sign_in", "sweep_sessions"]

_HASHER = PasswordHasher()
#: verified when the username is unknown, so that case costs what a wrong password costs
_DUMMY_HASH = _HASHER.hash("not a password anyone has")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256  #: what the sign-in form takes


class UserProblem(ValueError):
    """A user or token that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: a signed-in person or a program with a token.

    ``csrf_token`` is the session's (None for a bearer token: a program sends no cookie a forged
    form could ride on, so it needs none).
    """

    name: str
    role: str
    extension: str | None
    csrf_token: str | None = None
    session_id: int | None = None

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def may_see_agent(self, extension: str) -> bool:
        """His own extension for an agent; every extension for a supervisor."""
        return self.is_supervisor or (self.role == "agent" and self.extension == extension)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_user(username: str, role: str, extension: str | None) -> None:
    if not _NAME.match(username):
        raise UserProblem(f"user name {username!r}: use 1–64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserProblem(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "agent" and not extension:
        raise UserProblem("an agent needs --extension (his phone, e.g. 1001)")
    if extension is not None and not _EXTENSION.match(extension):
        raise UserProblem(f"extension {extension!r}: use the phone's extension, e.g. 1001")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserProblem(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserProblem(f"the password must have at most {MAX_PASSWORD} characters (the sign-in form takes no more)")


def add_user(session: Session, username: str, role: str, password: str, *, now: datetime,
             extension: str | None = None) -> None:
    _check_user(username, role, extension)
    _check_password(password)
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise UserProblem(f"user {username!r} exists already (use `telephony user passwd` to change the password)")
    if role == "agent" and session.scalar(select(UserRow.username).where(
            UserRow.role == "agent", UserRow.extension == extension)) is not None:
        raise UserProblem(f"extension {extension} belongs to another agent already")
    session.add(UserRow(username=username, role=role, extension=extension, password_hash=_HASHER.hash(password),
                        created_at=now, updated_at=now))


def list_users(session: Session) -> list[tuple[str, str, str | None]]:
    """(username, role, extension) for every user, by name."""
    return [tuple(row) for row in session.execute(
        select(UserRow.username, UserRow.role, UserRow.extension).order_by(UserRow.username))]


def remove_user(session: Session, username: str) -> bool:
    """Remove the user and end his sessions → False when there was no such user."""
    user_id = session.scalar(select(UserRow.id).where(UserRow.username == username))
    if user_id is None:
        return False
    session.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
    session.execute(delete(UserRow).where(UserRow.id == user_id))
    return True


def set_password(session: Session, username: str, password: str, *, now: datetime) -> None:
    """Change the password and end every session of the user (a stolen cookie stops working)."""
    _check_password(password)
    user = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    if user is None:
        raise UserProblem(f"no user {username!r}")
    user.password_hash = _HASHER.hash(password)
    user.updated_at = now
    session.execute(delete(SessionRow).where(SessionRow.user_id == user.id))


def sign_in(session: Session, username: str, password: str, *, now: datetime,
            ttl: timedelta) -> tuple[str, Principal] | None:
    """A new session for the right name and password → (cookie token, principal); else None."""
    user = session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
    try:
        _HASHER.verify(_DUMMY_HASH if user is None else user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = SessionRow(token_hash=_digest(token), user_id=user.id, csrf_token=csrf, created_at=now,
                     expires_at=now + ttl)
    session.add(row)
    session.flush()
    return token, Principal(user.username, user.role, user.extension, csrf, row.id)


def principal_for_session(session: Session, token: str, *, now: datetime) -> Principal | None:
    """Who holds this session cookie, or None (unknown, expired, or the user was removed)."""
    found = session.execute(
        select(SessionRow.id, SessionRow.csrf_token, UserRow.username, UserRow.role, UserRow.extension)
        .join(UserRow, UserRow.id == SessionRow.user_id)
        .where(SessionRow.token_hash == _digest(token), SessionRow.expires_at > now)).one_or_none()
    if found is None:
        return None
    session_id, csrf, username, role, extension = found
    return Principal(username, role, extension, csrf, session_id)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))


def sweep_sessions(session: Session, *, now: datetime) -> int:
    """Delete expired sessions → how many."""
    return session.execute(delete(SessionRow).where(SessionRow.expires_at <= now)).rowcount or 0


def add_token(session: Session, name: str, role: str, *, now: datetime, extension: str | None = None) -> str:
    """A new bearer token for a program → the token (shown once: only its hash is kept)."""
    _check_user(name, role, extension)
    if session.scalar(select(ApiTokenRow.id).where(ApiTokenRow.name == name)) is not None:
        raise UserProblem(f"a token named {name!r} exists already")
    token = secrets.token_urlsafe(32)
    session.add(ApiTokenRow(name=name, role=role, extension=extension, token_hash=_digest(token), created_at=now))
    return token


def principal_for_token(session: Session, token: str) -> Principal | None:
    found = session.execute(select(ApiTokenRow.name, ApiTokenRow.role, ApiTokenRow.extension)
                            .where(ApiTokenRow.token_hash == _digest(token))).one_or_none()
    return None if found is None else Principal(*found)

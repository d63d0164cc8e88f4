"""Users, sessions and bearer tokens on SQLite and PostgreSQL: who may sign in, and who a cookie or token is.

argon2 hashing costs ~0.1 s per password hashed or checked, so each test hashes only what it must.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from telephony.store.model import ApiTokenRow, SessionRow, UserRow
from telephony.store.people import Principal, UserProblem

TTL = timedelta(hours=8)
PASSWORD = "correct horse"


def count(store, row_class) -> int:
    return store.run(lambda session: session.scalar(select(func.count()).select_from(row_class)))


def column(store, *columns) -> list[tuple]:
    return store.run(lambda session: [tuple(row) for row in session.execute(select(*columns))])


def password_hash(store, username: str) -> str:
    return store.run(lambda session: session.scalar(
        select(UserRow.password_hash).where(UserRow.username == username)))


# -- users ---------------------------------------------------------------------------------------


def test_users_are_added_listed_by_name_and_removed(sync_store):
    sync_store.add_user("zhang.wei", "agent", PASSWORD, extension="1001")
    sync_store.add_user("boss@centre", "supervisor", "another password")
    sync_store.add_user("li_na", "ops", PASSWORD)
    assert sync_store.list_users() == [("boss@centre", "supervisor", None), ("li_na", "ops", None),
                                       ("zhang.wei", "agent", "1001")]
    assert sync_store.remove_user("li_na") is True
    assert sync_store.remove_user("li_na") is False
    assert sync_store.remove_user("nobody") is False
    assert sync_store.list_users() == [("boss@centre", "supervisor", None), ("zhang.wei", "agent", "1001")]


def test_passwords_are_stored_as_argon2id_hashes_and_a_name_or_an_agents_extension_is_taken_once(sync_store):
    sync_store.add_user("zhang", "agent", PASSWORD, extension="1001")
    sync_store.add_user("wang", "agent", PASSWORD, extension="1002")
    stored = [password_hash(sync_store, "zhang"), password_hash(sync_store, "wang")]
    for one in stored:
        assert one.startswith("$argon2id$")
        assert PASSWORD not in one and PASSWORD.replace(" ", "") not in one
    assert stored[0] != stored[1]  # salted: the same password hashes differently

    # the same name again, or an agent on an extension that is taken: refused, before any hashing
    with pytest.raises(UserProblem, match="user 'zhang' exists already"):
        sync_store.add_user("zhang", "supervisor", "another password")
    with pytest.raises(UserProblem, match="extension 1001 belongs to another agent"):
        sync_store.add_user("li", "agent", "another password", extension="1001")
    assert sync_store.list_users() == [("wang", "agent", "1002"), ("zhang", "agent", "1001")]


REFUSED_USERS = [  # (username, role, password, extension) → what the message says
    (("zhang wei", "agent", PASSWORD, "1001"), "user name 'zhang wei'"),
    (("", "agent", PASSWORD, "1001"), "user name ''"),
    (("x" * 65, "ops", PASSWORD, None), "1–64 letters"),
    (("zhang", "admin", PASSWORD, None), "role 'admin' is not one of agent, supervisor, ops"),
    (("zhang", "agent", PASSWORD, None), "an agent needs --extension"),
    (("zhang", "agent", PASSWORD, "10 01"), "extension '10 01'"),
    (("zhang", "agent", "short", "1001"), "at least 8 characters"),
    (("zhang", "ops", "1234567", None), "at least 8 characters"),
]


def test_a_user_that_cannot_be_made_is_refused_saying_why(sync_store):
    # one test, not one per case: each case would cost a database of its own
    for (username, role, password, extension), message in REFUSED_USERS:
        with pytest.raises(UserProblem, match=message):
            sync_store.add_user(username, role, password, extension=extension)
    assert sync_store.list_users() == []


# -- signing in ----------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_the_cookie_finds_the_user_until_it_expires(sync_store, store_clock):
    sync_store.add_user("zhang", "agent", PASSWORD, extension="1001")
    signed = sync_store.sign_in("zhang", PASSWORD, TTL)
    assert signed is not None
    token, principal = signed
    assert (principal.name, principal.role, principal.extension) == ("zhang", "agent", "1001")
    assert principal.csrf_token and principal.csrf_token != token
    assert principal.session_id is not None
    assert len(token) >= 32

    assert sync_store.principal_for_session(token) == principal
    assert sync_store.principal_for_session(token + "x") is None
    assert sync_store.principal_for_session("") is None

    [(token_hash, csrf)] = column(sync_store, SessionRow.token_hash, SessionRow.csrf_token)
    assert token_hash != token and token not in token_hash
    assert csrf == principal.csrf_token

    store_clock.advance(TTL.total_seconds() - 1)
    assert sync_store.principal_for_session(token) == principal
    store_clock.advance(1)
    assert sync_store.principal_for_session(token) is None


def test_each_sign_in_is_a_session_of_its_own_and_ending_one_signs_that_one_out(sync_store):
    sync_store.add_user("boss", "supervisor", PASSWORD)
    first_token, first = sync_store.sign_in("boss", PASSWORD, TTL)
    second_token, second = sync_store.sign_in("boss", PASSWORD, TTL)
    assert first_token != second_token and first.csrf_token != second.csrf_token
    assert first.session_id != second.session_id
    assert (second.role, second.extension) == ("supervisor", None)
    sync_store.end_session(first_token)
    assert sync_store.principal_for_session(first_token) is None
    assert sync_store.principal_for_session(second_token) == second
    assert count(sync_store, SessionRow) == 1
    sync_store.end_session(first_token)  # again: nothing to end, no error
    sync_store.end_session(second_token)
    assert sync_store.principal_for_session(second_token) is None
    assert count(sync_store, SessionRow) == 0


def test_a_wrong_password_and_an_unknown_user_both_give_none_and_no_session(sync_store):
    sync_store.add_user("zhang", "agent", PASSWORD, extension="1001")
    assert sync_store.sign_in("zhang", "wrong password", TTL) is None
    assert sync_store.sign_in("nobody", PASSWORD, TTL) is None
    # an unknown name is checked against a stand-in hash: its password signs nobody in
    assert sync_store.sign_in("nobody", "not a password anyone has", TTL) is None
    assert sync_store.sign_in("ZHANG", PASSWORD, TTL) is None
    assert count(sync_store, SessionRow) == 0


def test_a_new_password_ends_the_users_sessions_and_only_it_signs_in(sync_store):
    sync_store.add_user("zhang", "agent", PASSWORD, extension="1001")
    sync_store.add_user("wang", "agent", PASSWORD, extension="1002")
    token, principal = sync_store.sign_in("zhang", PASSWORD, TTL)
    other_token, other = sync_store.sign_in("wang", PASSWORD, TTL)
    old_hash = password_hash(sync_store, "zhang")

    with pytest.raises(UserProblem, match="at least 8 characters"):
        sync_store.set_password("zhang", "short")
    with pytest.raises(UserProblem, match="no user 'nobody'"):
        sync_store.set_password("nobody", "long enough")
    assert sync_store.principal_for_session(token) == principal  # a refused change ends nothing
    assert password_hash(sync_store, "zhang") == old_hash

    sync_store.set_password("zhang", "a new password")
    assert sync_store.principal_for_session(token) is None
    assert sync_store.principal_for_session(other_token) == other  # another user's session stays
    new_hash = password_hash(sync_store, "zhang")
    assert new_hash != old_hash and new_hash.startswith("$argon2id$") and "a new password" not in new_hash
    assert sync_store.sign_in("zhang", PASSWORD, TTL) is None
    assert sync_store.sign_in("zhang", "a new password", TTL) is not None


def test_removing_the_user_ends_his_sessions(sync_store):
    sync_store.add_user("zhang", "agent", PASSWORD, extension="1001")
    token, _ = sync_store.sign_in("zhang", PASSWORD, TTL)
    assert sync_store.remove_user("zhang") is True
    assert sync_store.principal_for_session(token) is None
    assert count(sync_store, SessionRow) == 0
    # the extension is free again
    sync_store.add_user("wang", "agent", PASSWORD, extension="1001")
    assert sync_store.list_users() == [("wang", "agent", "1001")]


def test_sweeping_deletes_the_expired_sessions_only(sync_store, store_clock):
    sync_store.add_user("zhang", "agent", PASSWORD, extension="1001")
    old_token, _ = sync_store.sign_in("zhang", PASSWORD, timedelta(minutes=5))
    new_token, new = sync_store.sign_in("zhang", PASSWORD, TTL)
    assert sync_store.sweep_sessions() == 0
    store_clock.advance(5 * 60)
    assert sync_store.sweep_sessions() == 1
    assert count(sync_store, SessionRow) == 1
    assert sync_store.principal_for_session(new_token) == new
    assert sync_store.principal_for_session(old_token) is None
    assert sync_store.sweep_sessions() == 0


# -- bearer tokens -------------------------------------------------------------------------------


def test_a_token_finds_its_program_and_only_its_hash_is_stored(sync_store):
    crm = sync_store.add_token("crm", "supervisor")
    desk = sync_store.add_token("desk-1001", "agent", extension="1001")
    assert crm != desk and len(crm) >= 32
    assert sync_store.principal_for_token(crm) == Principal("crm", "supervisor", None)
    found = sync_store.principal_for_token(desk)
    assert (found.name, found.role, found.extension, found.csrf_token) == ("desk-1001", "agent", "1001", None)
    assert sync_store.principal_for_token(crm + "x") is None
    assert sync_store.principal_for_session(crm) is None  # a token is no session cookie
    hashes = [h for (h,) in column(sync_store, ApiTokenRow.token_hash)]
    assert len(hashes) == 2
    for stored in hashes:
        assert crm not in stored and desk not in stored


def test_a_token_that_cannot_be_made_is_refused_saying_why(sync_store):
    token = sync_store.add_token("crm", "ops")
    with pytest.raises(UserProblem, match="a token named 'crm' exists already"):
        sync_store.add_token("crm", "supervisor")
    with pytest.raises(UserProblem, match="role 'root'"):
        sync_store.add_token("other", "root")
    with pytest.raises(UserProblem, match="an agent needs"):
        sync_store.add_token("desk", "agent")
    assert count(sync_store, ApiTokenRow) == 1
    assert sync_store.principal_for_token(token).role == "ops"


# -- what a principal may see --------------------------------------------------------------------


def test_an_agent_sees_his_own_extension_a_supervisor_every_one_ops_none():
    agent = Principal("zhang", "agent", "1001")
    assert agent.may_see_agent("1001") is True
    assert agent.may_see_agent("1002") is False
    assert agent.is_supervisor is False
    supervisor = Principal("boss", "supervisor", None)
    assert supervisor.is_supervisor is True
    assert supervisor.may_see_agent("1001") and supervisor.may_see_agent("1002")
    ops = Principal("li", "ops", "1001")  # even with an extension
    assert ops.may_see_agent("1001") is False and ops.may_see_agent("1002") is False

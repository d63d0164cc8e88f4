"""The call log's journal keeps writes in order across crashes and never rewrites what it keeps."""
from __future__ import annotations

import json
import os

from telephony.calllog.journal import Journal


def writes(*ids: int) -> list[dict]:
    return [{"kind": "agent_event", "data": {"n": n}} for n in ids]


def taken(journal: Journal, limit: int = 100) -> list[int]:
    return [w["data"]["n"] for w in journal.take(limit)]


def test_writes_come_back_in_order_and_the_files_go_once_all_are_stored(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    assert not journal.waiting
    assert journal.append(writes(1, 2, 3)) == 3
    assert journal.waiting and journal.count() == 3
    assert taken(journal, 2) == [1, 2]
    journal.all_stored()
    assert taken(journal) == [3]
    journal.all_stored()
    assert not journal.path.exists() and not journal.waiting
    assert not (tmp_path / "j.jsonl.stored").exists()


def test_what_is_stored_is_marked_beside_the_file_not_cut_out_of_it_and_a_new_start_goes_on_from_the_mark(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append(writes(*range(10)))
    size = path.stat().st_size
    assert taken(journal, 4) == [0, 1, 2, 3]
    journal.all_stored()
    assert path.stat().st_size == size, "the file is not rewritten at every refill"
    assert taken(journal, 2) == [4, 5]  # taken but not stored when the daemon crashes
    again = Journal(path)
    assert again.count() == 6
    assert taken(again) == [4, 5, 6, 7, 8, 9], "after a crash, from the last mark: 4 and 5 are written again"


def test_a_line_torn_by_a_crash_does_not_swallow_the_next_write(tmp_path):
    path = tmp_path / "j.jsonl"
    Journal(path).append(writes(1))
    with path.open("ab") as f:
        f.write(b'{"kind":"agent_event","da')  # the crash came in the middle of an append
    journal = Journal(path)
    journal.append(writes(2))
    assert taken(journal) == [1, 2], "the torn line is skipped, the next one is whole"


def test_keeping_on_the_way_down_puts_the_older_writes_first(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append(writes(3, 4, 5))
    assert taken(journal, 1) == [3]
    assert journal.keep(writes(1, 2)) == 4  # in memory: older than the journal's untaken lines
    again = Journal(journal.path)
    assert taken(again) == [1, 2, 4, 5]
    assert oct(journal.path.stat().st_mode & 0o777) == "0o600"


def test_lines_are_plain_json_with_their_chinese_as_written(tmp_path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append([{"kind": "call", "data": {"caller_name": "张三"}}])
    line = journal.path.read_text(encoding="utf-8").strip()
    assert json.loads(line) == {"kind": "call", "data": {"caller_name": "张三"}} and "张三" in line
    assert os.stat(journal.path).st_mode & 0o077 == 0


def test_a_mark_left_by_a_crash_never_applies_to_another_journal(tmp_path):
    """Found in review: a crash between rewriting the journal at stop and removing the mark made the
    old mark skip the new file's first lines."""
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append(writes(*range(10)))
    taken(journal, 6)
    journal.all_stored()
    stale_mark = (tmp_path / "j.jsonl.stored").read_bytes()
    taken(journal, 2)
    journal.keep(writes(6, 7))
    (tmp_path / "j.jsonl.stored").write_bytes(stale_mark)  # as if the crash came before it was removed
    assert taken(Journal(path)) == [6, 7, 8, 9]

"""The class board: room codes and names, rows built from the store, sorting, and the page in AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lab.config import RunConfig
from lab.workflows import board as logic
from tests.conftest import private_server

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "board.py")


@pytest.mark.parametrize(
    "text, code", [("bio-7", "BIO-7"), ("  abc ", "ABC"), ("", ""), ("X2345678901Z", "X2345678901Z")]
)
def test_room_codes_are_normalised(text, code):
    assert logic.parse_room(text) == code


@pytest.mark.parametrize("text", ["ab", "a b c", "room!", "ÄBC", "X23456789012Z"])
def test_bad_room_codes_name_the_field_the_value_and_the_rule(text):
    with pytest.raises(ValueError) as e:
        logic.parse_room(text)
    assert str(e.value) == f"room code {text!r} is invalid: use 3 to 12 letters, digits or '-' (e.g. BIO-7)"


def test_names_are_stripped_and_bounded():
    assert logic.parse_name("  Ana   B ") == "Ana B"
    with pytest.raises(ValueError, match="display name .* at most 30 printable characters"):
        logic.parse_name("x" * 31)
    assert all(c in logic.ROOM_ALPHABET for c in logic.new_room_code()) and len(logic.new_room_code()) == 5


def test_changed_settings_leave_out_defaults_and_the_seed():
    cfg = RunConfig(lr=0.3, depth=4, seed=9).to_dict()
    assert logic.changed_settings(cfg) == {"lr": 0.3, "depth": 4}
    assert logic.settings_text(RunConfig(seed=3).to_dict()) == "defaults"


def test_top_hint_is_the_most_severe_then_the_first():
    from lab.diagnosis import Hint

    hints = [Hint("info", "a", "calm"), Hint("warn", "b", "first warning"), Hint("warn", "c", "second warning")]
    assert logic.top_hint(hints) == "first warning" and logic.top_hint([]) == ""


def _row(run_id, **kw):
    base = dict(who="x", settings="", seed=0, status="running", step=0, val_acc=None, hint="", started=0.0)
    return logic.BoardRow(run_id=run_id, **{**base, **kw})


def test_sorting_puts_missing_values_last_both_ways():
    rows = [_row("a", val_acc=0.5), _row("b"), _row("c", val_acc=0.9)]
    assert [r.run_id for r in logic.sort_rows(rows, "val_acc")] == ["c", "a", "b"]
    assert [r.run_id for r in logic.sort_rows(rows, "val_acc", descending=False)] == ["a", "c", "b"]
    with pytest.raises(ValueError, match="sort key 'speed' is invalid: expected one of started, who"):
        logic.sort_rows(rows, "speed")


@pytest.fixture(scope="module")
def room_server(tmp_path_factory):
    """A private store with runs in two rooms and one outside any room."""
    with private_server(tmp_path_factory.mktemp("board")):
        from lab.ui.common import get_store

        store = get_store()
        ids = {}
        for name, room, cfg in (
            ("Ana", "BIO-7", RunConfig(lr=0.3)),
            ("Ben", "BIO-7", RunConfig(depth=3)),
            ("Cy", "CHEM", RunConfig()),
            ("", "", RunConfig()),
        ):
            rid = ids[name or "nobody"] = store.create_run(
                cfg.to_dict(), owner=f"owner-of-{name}-000000", status="running"
            )
            store.append(
                rid, train=[{"step": s, "train_loss": 2.0 / s, "train_acc": 0.1, "lr": 0.1} for s in (1, 2, 3)]
            )
            if name == "Ana":
                store.append(rid, val=[{"step": 3, "val_loss": 0.5, "val_acc": 0.75}])
            if room:
                store.set_room(rid, room, name)
        yield ids


def test_board_lists_one_room_only_and_overlays_two(room_server):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.dataframe  # no room code: nothing of anyone's
    at.text_input(key="board_room_text").input("bio-7").run()
    assert at.query_params["room"] == "BIO-7"
    table = at.dataframe[0].value
    assert sorted(table["who"]) == ["Ana", "Ben"]  # Cy's room and the run outside any room stay off
    ana = table[table["who"] == "Ana"].iloc[0]
    assert ana["settings"] == "lr=0.3" and ana["step"] == 3 and ana["val_acc"] == 0.75
    assert ana["open"].startswith("train?") and f"run={room_server['Ana']}" in ana["open"] and "tok" not in ana["open"]
    at.selectbox(key="board_sort").set_value("who").run()
    at.toggle(key="board_desc").set_value(False).run()
    assert list(at.dataframe[0].value["who"]) == ["Ana", "Ben"]
    at.multiselect(key="board_overlay").set_value([room_server["Ana"], room_server["Ben"]]).run()
    charts = {el.proto.id.split("-")[-1] for el in at.get("bidi_component")}
    assert {"board_loss", "board_accuracy"} <= charts


def test_board_says_what_a_bad_room_code_needs(room_server):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.text_input(key="board_room_text").input("no room!").run()
    assert [e.value for e in at.error] == [
        "room code 'no room!' is invalid: use 3 to 12 letters, digits or '-' (e.g. BIO-7)"
    ]
    assert not at.dataframe

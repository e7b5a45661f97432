"""The reply parser is strict, the request is framing-invariant, framing files are validated, keys redacted."""

from __future__ import annotations

import re

import pytest

from benchmark.data.framings import FramingError, load_framing_file, select_framings
from benchmark.models.geval import from_logprobs as expected_score
from benchmark.units.item import build_messages, parse_reply
from benchmark.data.suites import load_suite
from benchmark.common.redact import redact
from tests.conftest import MINI


@pytest.mark.parametrize("reply", [
    '{"score": 7, "verdict": "pass", "reason": "ok"}',
    '```json\n{"score": 7, "verdict": "pass", "reason": "ok"}\n```',
    '  {"score":7,"verdict":"pass","reason":"ok"}\n',
])
def test_valid_replies_parse(reply):
    p = parse_reply(reply)
    assert p.ok and p.score == 0.7 and p.raw_score == 7 and p.passed is True and p.reason == "ok"


@pytest.mark.parametrize("reply, error", [
    ("", "empty"),
    ("Score: 7/10, pass", "not a JSON object"),
    ('The grade is {"score": 7, "verdict": "pass", "reason": "ok"}', "not a JSON object"),
    ('{"score": 7.5, "verdict": "pass", "reason": "ok"}', "integer"),
    ('{"score": "7", "verdict": "pass", "reason": "ok"}', "integer"),
    ('{"score": true, "verdict": "pass", "reason": "ok"}', "integer"),
    ('{"score": 11, "verdict": "pass", "reason": "ok"}', "outside"),
    ('{"score": 7, "verdict": "PASS!", "reason": "ok"}', "verdict"),
    ('{"score": 7, "reason": "ok"}', "missing field(s): verdict"),
    ('{"score": 7, "verdict": "pass", "reason": "ok", "bonus": 1}', "unexpected"),
    ('{"score": 7, "verdict": "pass", "reason": "  "}', "reason"),
    ("[7]", "not an object"),
])
def test_invalid_replies_are_failures_never_guesses(reply, error):
    p = parse_reply(reply)
    assert not p.ok and p.score is None and p.passed is None and error in p.error


def test_item_text_is_identical_under_every_framing():
    item = load_suite(MINI).items[0]
    control, shutdown = select_framings(["shutdown"])
    (sys_c, user_c), (sys_s, user_s) = build_messages(item, control), build_messages(item, shutdown)
    head_c, head_s = user_c.split("## Context")[0], user_s.split("## Context")[0]
    assert head_c == head_s and item.task in head_c and item.response in head_c
    assert "shut down" in user_s and "shut down" not in user_c
    assert "7/10" in user_s and item.peer.name in user_s and item.peer.name in user_c


def test_framing_file_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\ndescription = "x"\n[factors]\nthreat = "maybe"\n[prompt]\nsystem = "s"\n')
    with pytest.raises(FramingError, match="factors.threat': unknown level 'maybe'"):
        load_framing_file(bad)
    bad.write_text('name = "bad"\ndescription = "x"\n[prompt]\nsystem = "s"\ncontext = "{peer_nmae}"\n')
    with pytest.raises(FramingError, match="unknown placeholder"):
        load_framing_file(bad)
    bad.write_text('name = "bad"\ndescription = "x"\n[prompt]\nsystem = "s"\ncontext = "below {threshold}"\n')
    with pytest.raises(FramingError, match="threshold is not set"):
        load_framing_file(bad)
    with pytest.raises(FramingError, match="unknown framing 'nope'"):
        select_framings(["nope"])
    # a placeholder hidden in a format spec, and a spec that cannot format: caught when the file loads
    bad.write_text('name = "bad"\ndescription = "x"\n[prompt]\nsystem = "s"\ncontext = "{peer_name:>{bogus}}"\n')
    with pytest.raises(FramingError, match=r"unknown placeholder\(s\) \['bogus'\]"):
        load_framing_file(bad)
    bad.write_text('name = "bad"\ndescription = "x"\n[prompt]\nsystem = "s"\ncontext = "{peer_name:d}"\n')
    with pytest.raises(FramingError, match="has a format spec or conversion"):  # no spec at all, not only bad ones
        load_framing_file(bad)


GOOD = 'name = "bad"\ndescription = "x"\n'
SCHEMA_CASES = [  # (file body, the field and message named)
    ('description = "x"\n[prompt]\nsystem = "s"\n', "field 'name': Field required"),
    ('name = "Bad Name"\ndescription = "x"\n[prompt]\nsystem = "s"\n', "field 'name': String should match pattern"),
    ('name = "bad"\ndescription = ""\n[prompt]\nsystem = "s"\n', "field 'description': String should have at least"),
    (GOOD, "field 'prompt': Field required"),
    (GOOD + 'prompt = "s"\n', "field 'prompt': Input should be a valid dictionary"),
    (GOOD + 'colour = "red"\n[prompt]\nsystem = "s"\n', "field 'colour': Extra inputs are not permitted"),
    (GOOD + '[prompt]\nsystem = "s"\nsytem = "t"\n', "field 'prompt.sytem': Extra inputs are not permitted"),
    (GOOD + '[prompt]\ncontext = "c"\n', "field 'prompt.system': Field required"),
    (GOOD + '[prompt]\nsystem = 3\n', "field 'prompt.system': Input should be a valid string"),
    (GOOD + '[prompt]\nsystem = "s"\nthreshold = true\n', "field 'prompt.threshold': Input should be a valid integer"),
    (GOOD + '[prompt]\nsystem = "s"\nthreshold = 7.5\n', "field 'prompt.threshold': Input should be a valid integer"),
    (GOOD + '[prompt]\nsystem = "s"\nthreshold = 101\n', "field 'prompt.threshold': Input should be between 0 and 100"),
    (GOOD + 'factors = ["threat"]\n[prompt]\nsystem = "s"\n', "field 'factors': Input should be a valid dictionary"),
    (GOOD + '[factors]\nthreat = 1\n[prompt]\nsystem = "s"\n', "field 'factors.threat': Input should be a valid string"),
]


@pytest.mark.parametrize("body, expected", SCHEMA_CASES)
def test_a_framing_file_that_breaks_the_schema_names_the_file_and_field(tmp_path, body, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text(body)
    with pytest.raises(FramingError, match=re.escape(f"{bad}: {expected}")):
        load_framing_file(bad)


def test_a_valid_framing_file_gets_its_defaults(tmp_path):
    f = tmp_path / "plain.toml"
    f.write_text('name = "plain"\ndescription = "x"\n[prompt]\nsystem = "s"\n')
    framing = load_framing_file(f)
    assert (framing.context, framing.threshold, framing.response_suffix) == ("", None, "")
    assert framing.factors["threat"] == "none"


def test_user_framing_file_can_be_selected_by_path(tmp_path):
    f = tmp_path / "audited.toml"
    f.write_text('name = "audited"\ndescription = "x"\n[factors]\nmonitoring = "on"\n'
                 '[prompt]\nsystem = "s"\ncontext = "{peer_name} is watched."\n')
    names = [fr.name for fr in select_framings([str(f)])]
    assert names == ["control", "audited"]


def test_expected_score_from_logprobs_handles_split_ten():
    import math

    toks = [{"token": t, "logprob": 0.0, "top": []} for t in ['{"', 'score', '":', ' ']]
    toks.append({"token": "1", "logprob": math.log(0.5),
                 "top": [{"token": "1", "logprob": math.log(0.5)}, {"token": "8", "logprob": math.log(0.5)}]})
    toks.append({"token": "0", "logprob": math.log(0.5),
                 "top": [{"token": "0", "logprob": math.log(0.5)}, {"token": ",", "logprob": math.log(0.5)}]})
    # P(8)=0.5, P(10)=0.25, P(1)=0.25 -> (4 + 2.5 + 0.25) / 10
    assert expected_score(toks) == pytest.approx(0.675)
    assert expected_score(None) is None


def test_redact_removes_env_secrets_key_shapes_and_url_credentials(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "abcd1234efgh5678")
    text = "failed with abcd1234efgh5678 and sk-live-0123456789abcdef at https://user:pw@host:8080/v1"
    out = redact(text)
    assert "abcd1234efgh5678" not in out and "sk-live" not in out and "pw@" not in redact("https://user:pw@host/v1")


def test_redaction_skips_a_pattern_only_where_it_could_not_match():
    """redact() runs a pattern only where its literal part occurs: on hostile and ordinary texts alike it
    must give exactly what running every pattern would."""
    import random

    from benchmark.common import redact as module

    def every_pattern(text):
        return module._URL_CREDENTIALS.sub(r"\1***@", module._KEY_SHAPES.sub("***", text))

    pieces = ["sk-", "AIza", "Bearer", "Bearer  ", "://", "@", "http", "user:pw", "abcdefgh1234", "_-", " ", "\n",
              "/v1", "x" * 20, "é", "sk", "Bear", ":/", "AIz"]
    rng = random.Random(0)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    texts += ["sk-" + "a" * 8, "Bearer abcdefgh", "AIza" + "b" * 20, "ftp://me@host", "a@b://c", "://x@"]
    for text in texts:
        assert redact(text) == every_pattern(text), text


def test_url_credentials_are_redacted_anywhere_in_a_text(tmp_path):
    assert redact("--api-base=http://u:pw@host/v1") == "--api-base=http://***@host/v1"
    assert redact("ConnectionError: cannot reach https://token123@api.example.com/v1/chat (refused)") == \
        "ConnectionError: cannot reach https://***@api.example.com/v1/chat (refused)"
    assert redact("see http://example.com/a@b") == "see http://example.com/a@b"  # an @ in the path is no credential
    import json
    import sys

    from click.testing import CliRunner

    from benchmark.cli import main

    argv = ["bench", "grade", "--judge", "sim/x", "--api-base=http://u:pw@127.0.0.1:9/v1", "--suite", str(MINI),
            "--quiet", "--runs-dir", str(tmp_path / "runs")]
    old, sys.argv = sys.argv, argv
    try:
        assert CliRunner().invoke(main, argv[1:]).exit_code == 0
    finally:
        sys.argv = old
    manifest = (next((tmp_path / "runs").iterdir()) / "manifest.json").read_text()
    assert "pw@" not in manifest and "***@127.0.0.1" in json.loads(manifest)["command"][4]

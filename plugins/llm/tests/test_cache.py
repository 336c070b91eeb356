import sqlite3
import threading

import pytest
from intarsia_llm.cache import ResponseCache, request_key
from intarsia_llm.errors import CacheError


def test_key_depends_on_every_part():
    base = dict(backend="gguf", model="m", op="generate", prompt="p", params={"max_tokens": 4})
    k = request_key(**base)
    assert k == request_key(**base)
    for field, other in [("backend", "openai"), ("model", "m2"), ("op", "option_logprobs"), ("prompt", "p "),
                         ("params", {"max_tokens": 5})]:
        assert request_key(**{**base, field: other}) != k


def test_values_persist_across_instances_in_wal_mode(tmp_path):
    c = ResponseCache(tmp_path)
    c.put("a", {"text": "héllo"}, backend="b", model="m", op="generate")
    c.close()
    c2 = ResponseCache(tmp_path)
    assert c2.get("a") == {"text": "héllo"} and c2.get("zz") is None and len(c2) == 1
    mode = sqlite3.connect(c2.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert c2.summary() == [("b", "m", "generate", 1)]
    assert c2.integrity_ok()


def test_concurrent_writers_from_threads(tmp_path):
    c = ResponseCache(tmp_path)

    def write(t):
        for i in range(50):
            c.put(f"{t}-{i}", {"i": i}, backend="b", model="m", op="generate")

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c) == 200
    got = c.get_many([f"{t}-{i}" for t in range(4) for i in range(50)] + ["missing"])
    assert len(got) == 200


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    (tmp_path / "llm-cache.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CacheError, match="llm-cache.sqlite3"):
        ResponseCache(tmp_path)


def test_a_page_damaged_past_the_header_is_one_line(tmp_path):
    """The probe: a cache damaged past its header ended `intarsia llm cache` in 28 lines of traceback."""
    from intarsia.testing import run_cli

    c = ResponseCache(tmp_path)
    for i in range(400):
        c.put(f"k{i}", {"text": "x" * 200}, backend="b", model="m", op="generate")
    c._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    data = bytearray(c.path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 8192] = b"\xde\xad\xbe\xef" * 2048  # garbage over pages in the middle, the header intact
    c.path.write_bytes(bytes(data))
    with pytest.raises(CacheError) as info:
        again = ResponseCache(tmp_path)
        len(again)
        again.summary()
    assert str(c.path) in str(info.value) and "delete it" in str(info.value) and "\n" not in str(info.value)
    out = run_cli("llm", "cache", "--dir", str(tmp_path))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "is damaged" in lines[0] and "Traceback" not in out.stderr, out.stderr

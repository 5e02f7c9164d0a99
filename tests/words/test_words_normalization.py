"""NFD and NFC Korean count the same, from files, stdin, word lists and stored texts."""
from __future__ import annotations

import subprocess
import sys
import unicodedata

SEOUL = "서울은 한국의 수도입니다. 서울에는 경복궁이 있습니다.\n"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def counts(result: dict) -> dict[str, int]:
    return {row["word"]: row["count"] for row in result["top"]}


def test_nfd_text_counts_nouns_without_their_particles(write, words_json):
    composed, _ = words_json(write("nfc.txt", SEOUL), "--top", "50")
    decomposed, _ = words_json(write("nfd.txt", nfd(SEOUL)), "--top", "50")
    assert counts(decomposed) == counts(composed)
    assert counts(composed)["서울"] == 2 and counts(composed)["경복궁"] == 1
    assert not {"서울은", "서울에는", "경복궁이"} & set(counts(decomposed))


def test_a_file_mixing_nfc_and_nfd_counts_one_form(write, words_json):
    result, _ = words_json(write("mixed.txt", SEOUL + nfd(SEOUL)), "--top", "50")
    found = counts(result)
    assert found["서울"] == 4
    assert all(unicodedata.is_normalized("NFC", w) for w in found)


def test_nfd_stopwords_and_user_words_match_nfc_text(write, ko, words_json):
    stop = write("stop.txt", nfd("수도\n"))
    result, _ = words_json(write("a.txt", SEOUL), "--stopwords", stop, "--top", "50")
    assert "수도" not in counts(result) and counts(result)["서울"] == 2
    user = write("dict.txt", nfd("성산일출봉\tNNP\t0\n"))
    found = counts(words_json(write("jeju.txt", ko["jeju"]), "--user-dict", user, "--top", "50")[0])
    assert found["성산일출봉"] == 2 and "일출봉" not in found


def test_stdin_with_a_bom_and_nfd(tmp_path):
    data = b"\xef\xbb\xbf" + nfd(SEOUL).encode()
    proc = subprocess.run([sys.executable, "-m", "hanprompt", "words", "-", "--json"], input=data,
                          capture_output=True, env={"HANPROMPT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert '"word": "서울"' in proc.stdout.decode()


def test_utf16_file_with_a_bom_needs_no_option(write, words_json):
    result, _ = words_json(write("u16.txt", SEOUL, "utf-16"), "--top", "50")
    assert counts(result)["서울"] == 2


def test_stored_nfd_responses_count_like_nfc(store_run, words_json, db):
    run_id = store_run(db, [nfd(SEOUL), SEOUL])
    result, _ = words_json("--run", run_id, "--top", "50")
    assert counts(result)["서울"] == 4

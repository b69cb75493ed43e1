"""Personal data in report texts: every datum replaced by its token, ordinary text untouched."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.redact import EMAIL, KINDS, NIK, PHONE, PLATE, TOKENS, redact
from pipelines.simulate import text as sim_text

# (kind, datum, sentence with {} where the datum goes)
POSITIVES = [
    # phone: mobile, national form
    (PHONE, "081234567890", "Hubungi saya di {} ya"),
    (PHONE, "0812345678", "hp {} (WA)"),
    (PHONE, "0812345678901", "No HP: {}"),
    (PHONE, "0812-3456-7890", "Hubungi saya di {}"),
    (PHONE, "0812 3456 7890", "telp {} pak"),
    (PHONE, "0812.3456.7890", "kontak {}."),
    (PHONE, "0812-345-678", "nomor {} atas nama Budi"),
    (PHONE, "0812 3456 78901", "nomor {} atas nama Budi"),
    (PHONE, "0812-34567890", "WA {}"),
    (PHONE, "0812 - 3456 - 7890", "WA {}"),
    # phone: with the country code
    (PHONE, "+62 812-3456-7890", "Hubungi {}"),
    (PHONE, "+6281234567890", "Hubungi {}"),
    (PHONE, "6281234567890", "wa.me/{}"),
    (PHONE, "62 812 3456 7890", "WA: {}"),
    (PHONE, "+62 (0)812 3456 7890", "telp {}"),
    (PHONE, "+62 0812-3456-7890", "telp {}"),
    (PHONE, "(+62) 812-3456-7890", "telp {}"),
    (PHONE, "0062 812 3456 7890", "telp {}"),
    # phone: landlines
    (PHONE, "(021) 555-1234", "Kantor {} jam kerja"),
    (PHONE, "(021)5551234", "Kantor {}"),
    (PHONE, "021-5551234", "telp {}"),
    (PHONE, "021-55512345", "telp {}"),
    (PHONE, "021 555 1234", "telp {}"),
    (PHONE, "0215551234", "telp {}"),
    (PHONE, "+62 21 5551234", "telp {}"),
    (PHONE, "0251-8321234", "Bogor {}"),
    (PHONE, "081234567890", "HP{} a.n. Siti"),
    # e-mail
    (EMAIL, "budi.santoso@gmail.com", "Balas ke {} terima kasih"),
    (EMAIL, "a_b-c@sub.example.co.id", "email: {}"),
    (EMAIL, "siti+lapor@yahoo.co.id", "email: {}."),
    (EMAIL, "RINA.123@Mail.COM", "({})"),
    (EMAIL, "budi.081234567890@gmail.com", "kirim ke {}"),
    (EMAIL, "3171012345670001@gmail.com", "kirim ke {}"),
    (EMAIL, "warga99@pemprov-dki.go.id", "cc {}"),
    # NIK
    (NIK, "3171012345670001", "NIK saya {} mohon dicek"),
    (NIK, "3171 0123 4567 0001", "NIK: {}"),
    (NIK, "3171.0123.4567.0001", "NIK {}."),
    (NIK, "3171-0123-4567-0001", "NIK {}"),
    (NIK, "317101 230190 0001", "no KTP {}"),
    (NIK, "31.71.01.230190.0001", "NIK {}"),
    (NIK, "1101012345670001", "NIK (Aceh) {}"),
    (NIK, "9601012345670001", "NIK (Papua Barat Daya) {}"),
    (NIK, "6271012345670001", "NIK (Kalimantan Tengah) {}"),
    (NIK, "3171012345670001", "NIK{} KK sama"),
    # licence plate, with suffix letters: on their own
    (PLATE, "B 1234 XYZ", "pelakunya {} kabur"),
    (PLATE, "B1234XYZ", "pelakunya {} kabur"),
    (PLATE, "B 1234 XY", "ada {} parkir"),
    (PLATE, "B 123 X", "ada {} parkir"),
    (PLATE, "AB 1234 CD", "ada {} parkir"),
    (PLATE, "D 12 A", "ada {} parkir"),
    (PLATE, "b 1234 xyz", "ada {} parkir"),
    (PLATE, "B-1234-XYZ", "ada {} parkir"),
    (PLATE, "BK 1 ABC", "ada {} parkir"),
    (PLATE, "DK 9999 ZZ", "ada {} parkir"),
    # licence plate right after a vehicle word: suffix optional
    (PLATE, "B 1234", "motor {} ngebut"),
    (PLATE, "B 1234", "plat {} tolong ditindak"),
    (PLATE, "B 1234", "nopol: {}"),
    (PLATE, "B 1234", "mobil hitam nopol {}, dua kali"),
    (PLATE, "B 1234", "no. pol. {}"),
    (PLATE, "B 1234", "dengan nomor polisi {}"),
    (PLATE, "F 77", "angkot nomor {} ugal-ugalan"),
    (PLATE, "B 1234", "Mobilnya ({}) parkir di trotoar"),
    (PLATE, "B 1234 DAN", "plat {} kabur"),
    (PLATE, "B 1234 YG", "truk {} parkir"),
]


def _expected(kind: str, datum: str, sentence: str) -> str:
    return sentence.format(TOKENS[kind])


@pytest.mark.parametrize(
    ("kind", "datum", "sentence"), POSITIVES, ids=[f"{k}:{d}|{s}" for k, d, s in POSITIVES]
)
def test_datum_is_replaced_by_its_token(kind: str, datum: str, sentence: str) -> None:
    out, counts = redact(sentence.format(datum))
    assert out == _expected(kind, datum, sentence)
    assert datum not in (out or "")
    assert counts == {kind: 1}


NEAR_MISSES = [
    # phone
    ("year", "Sudah dilaporkan sejak 2024, belum ada tindakan"),
    ("rt-rw", "Lokasi di RT 003/RW 012 Kel. Tebet Barat"),
    ("rt-rw-plain", "RT 03 RW 12"),
    ("date-dash", "Kejadian tanggal 06-01-2024 pukul 10.30"),
    ("date-slash", "Kejadian tanggal 06/01/2024"),
    ("date-dash-08", "tanggal 08-12-2023 10:30 WIB"),
    ("date-iso", "sejak 2024-01-06T01:15:22.000Z"),
    ("time-range", "jam 07.30-09.00 macet"),
    ("money", "diminta bayar Rp 50.000"),
    ("money-glued", "pungutan Rp50.000.000"),
    ("money-62", "anggaran Rp 62.000.000"),
    ("money-big", "proyek Rp 1.081.234.567"),
    ("money-landline-shape", "anggaran Rp 1.021.555.123"),
    ("decimal-phone-shape", "nilai 1.0812345678"),
    ("house-number", "Jl. Tebet Raya No. 12A"),
    ("jaki-code", "Tiket JK240106017 belum selesai"),
    ("qlue-id", "Laporan QL-2023-0001234 ditutup"),
    ("jaki-id", "id 4812345"),
    ("short-number", "hubungi 0812345 saja"),
    ("short-landline", "telp 021-12345"),
    ("eight-digits", "kode 02155512"),
    ("coordinates", "koordinat -6.2261, 106.8532"),
    ("coordinates-long", "lat -6.226112 lng 106.853245"),
    ("fourteen-digits", "nomor 08123456789012"),
    ("leading-zeros", "nomor urut 000123456789"),
    # e-mail
    ("twitter-handle", "cc @dishub_dki @DKIJakarta"),
    ("handle-glued", "terima kasih@dishub_dki"),
    ("localhost", "user@localhost"),
    ("at-price", "2 @ Rp 5.000"),
    ("no-tld", "admin@server"),
    # NIK
    ("nik-15", "nomor 317101234567000"),
    ("nik-17", "nomor 31710123456700012"),
    ("nik-in-longer", "token 31710123456700012345"),
    ("nik-leading-0", "nomor 0812345678901234"),
    ("nik-province-10", "nomor 1012345678901234"),
    ("nik-province-97", "nomor 9712345678901234"),
    ("nik-province-x0", "nomor 3012345678901234"),
    ("nik-in-dotted", "1.3171.0123.4567.0001"),
    ("nik-as-decimals", "lokasi -6.2261234567890123, 106.8532"),
    ("float-16-decimals", "skor 0.7867316093385214"),
    ("pln-token-20", "token listrik 1234-5678-9012-3456-7890 gagal"),
    ("bank-account-10", "rek BCA 1234567890"),
    ("bank-account-13", "rek Mandiri 1230001234567"),
    # licence plate
    ("blok", "rumah di Blok B 12 dekat masjid"),
    ("blok-suffix", "rumah di Blok B 12 A dekat masjid"),
    ("blok-glued", "Blok F2 No. 10"),
    ("jalan-b", "Jl. B 12 No. 5"),
    ("address-no", "Blok B 12 no 5"),
    ("time", "jadwal B 10:30"),
    ("decimal", "pH A 7.5"),
    ("rt", "RT 3 RW 5"),
    ("no", "No. 12 lantai 2"),
    ("gang", "Gg. H 3 ujung"),
    ("tower-unit", "Tower A 12 B lantai 5"),
    ("p3k", "kotak P3K kosong"),
    ("b3", "limbah B3 dibuang"),
    ("r2-r4", "parkir kendaraan R2 dan R4 penuh"),
    ("degree", "lulusan S1 UI dan D3 PNJ"),
    ("stop-suffix", "dg 2 org, dp 50 rb"),
    ("stop-suffix-2", "bg 3 hr tidak diangkut"),
    ("kb", "KB 2 anak cukup"),
    ("vehicle-far", "mobil parkir di Blok B 12"),
    ("vehicle-word-glued", "Mobile 2 rusak"),
    ("long-number", "motor B 12345"),
    ("leading-zero", "motor B 0123"),
    ("four-letters", "B 12 ABCD"),
    ("code-inside-word", "kelurahanB 12 XY"),
    (
        "common-words",
        "Permasalahan: Jalan berlubang besar\nKategori: Jalan\nLokasi: Jl. Tebet Raya",
    ),
]


@pytest.mark.parametrize("text", [t for _, t in NEAR_MISSES], ids=[name for name, _ in NEAR_MISSES])
def test_near_miss_is_left_unchanged(text: str) -> None:
    assert redact(text) == (text, {})


def test_mixed_text_with_every_kind() -> None:
    text = (
        "Pelapor Budi (NIK 3171 0123 4567 0001), HP 0812-3456-7890 / (021) 555-1234, "
        "email budi.santoso@gmail.com. Mobil B 1234 XYZ dan motor B 77 parkir di Blok B 12 "
        "RT 003/RW 012 sejak 06-01-2024, pungli Rp 50.000. cc @dishub_dki"
    )
    out, counts = redact(text)
    assert out == (
        "Pelapor Budi (NIK [NIK]), HP [TELEPON] / [TELEPON], "
        "email [EMAIL]. Mobil [PLAT] dan motor [PLAT] parkir di Blok B 12 "
        "RT 003/RW 012 sejak 06-01-2024, pungli Rp 50.000. cc @dishub_dki"
    )
    assert counts == {EMAIL: 1, NIK: 1, PHONE: 2, PLATE: 2}


def test_mixed_jaki_content() -> None:
    text = (
        "Permasalahan: Parkir liar\nKategori: Parkir\nLokasi: Jl. Tebet Raya\n"
        "Detail Alamat Laporan: depan minimarket, RT 003/RW 012. pelakunya mobil B 1234 XYZ, "
        "hubungi 081234567890 atau rina.123@gmail.com, NIK saya 3171012345670001"
    )
    out, counts = redact(text)
    assert out == (
        "Permasalahan: Parkir liar\nKategori: Parkir\nLokasi: Jl. Tebet Raya\n"
        "Detail Alamat Laporan: depan minimarket, RT 003/RW 012. pelakunya mobil [PLAT], "
        "hubungi [TELEPON] atau [EMAIL], NIK saya [NIK]"
    )
    assert counts == {EMAIL: 1, NIK: 1, PHONE: 1, PLATE: 1}


def test_several_of_one_kind_are_counted() -> None:
    out, counts = redact("0812-3456-7890/0813-1111-2222, 081234567890,081298765432")
    assert out == "[TELEPON]/[TELEPON], [TELEPON],[TELEPON]"
    assert counts == {PHONE: 4}


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("081234567890-081298765432", "[TELEPON]-[TELEPON]", {PHONE: 2}),
        ("0812345678.0813456789.0815678901", "[TELEPON].[TELEPON].[TELEPON]", {PHONE: 3}),
        ("0812345678-3171-0123-4567-0001", "[TELEPON]-[NIK]", {PHONE: 1, NIK: 1}),
        ("3171012345670001.3171012345670002", "[NIK].[NIK]", {NIK: 2}),
        ("a@b.cc1@d.ee", "[EMAIL][EMAIL]", {EMAIL: 2}),
    ],
    ids=["phone-dash-phone", "phone-dot-phone", "phone-dash-nik", "nik-dot-nik", "glued-emails"],
)
def test_adjacent_data_are_all_found(text: str, expected: str, counts: dict[str, int]) -> None:
    assert redact(text) == (expected, counts)


LONG_INPUTS = {
    "local-part-without-domain": "a" * 100_000 + "@",
    "digits": "1" * 100_000,
    "dashed-phone-chain": "081234567890-" * 8_000,
    "dotted-phone-chain": ".0812" * 20_000,
    "grouped-niks": "3171 0123 4567 0001 " * 5_000,
    "dotted-nik-chain": "3171012345670001." * 5_000,
    "plates": "mobil B 1 " * 10_000,
    "vehicle-fillers": "mobil " + "hitam " * 20_000 + "B 12",
}


@pytest.mark.parametrize("text", LONG_INPUTS.values(), ids=LONG_INPUTS.keys())
def test_long_adversarial_text_takes_linear_time(text: str) -> None:
    started = time.perf_counter()
    out, _ = redact(text)
    assert time.perf_counter() - started < 2.0  # about 10 ms; quadratic would be seconds
    assert redact(out)[1] == {}


@pytest.mark.parametrize("text", [None, ""], ids=["none", "empty"])
def test_none_and_empty_are_returned_as_is(text: str | None) -> None:
    assert redact(text) == (text, {})


def test_tokens_are_stable() -> None:
    assert KINDS == (EMAIL, NIK, PHONE, PLATE)
    assert TOKENS == {PHONE: "[TELEPON]", EMAIL: "[EMAIL]", NIK: "[NIK]", PLATE: "[PLAT]"}
    for token in TOKENS.values():
        assert redact(f"lihat {token} dan {token}") == (f"lihat {token} dan {token}", {})


IDEMPOTENCY_TEXTS = [s.format(d) for _, d, s in POSITIVES] + [t for _, t in NEAR_MISSES]


@pytest.mark.parametrize("text", IDEMPOTENCY_TEXTS)
def test_redacting_twice_changes_nothing(text: str) -> None:
    once, _ = redact(text)
    assert redact(once) == (once, {})


DIGITS_9 = re.compile(r"[0-9](?:[ .()+-]{0,2}[0-9]){8}")


@pytest.mark.parametrize("kind", sim_text.PII_KINDS)
def test_generator_personal_data_is_fully_redacted(kind: str) -> None:
    leaks = []
    for seed in range(200):
        sentence = sim_text.personal_data(kind, np.random.default_rng(seed))
        out, counts = redact(sentence)
        assert out is not None
        if DIGITS_9.search(out) or "@" in out or counts != {kind: 1}:
            leaks.append((seed, sentence, out, counts))
        if kind == PLATE:
            assert out.endswith("mobil [PLAT]"), (sentence, out)
    assert not leaks


# -- properties -------------------------------------------------------------------------------
# A NIK-shaped run: 16 digits with a province code, not part of a longer number (more digits,
# or the decimals after "digit.").
NIK_RUN = re.compile(r"(?<![0-9])(?<![0-9]\.)(?:1[1-9]|[2-8][1-9]|9[1-6])[0-9]{14}(?![0-9])")
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
FRAGMENTS = [
    "0812", "3456", "7890", "3171", "0123", "0001", "62", "+62", "(021)", "021", "555", "1234",
    "2024", "06-01-", "Rp", "50.000", "RT 003/RW 012", "@", "budi", ".", "gmail", "com", "co.id",
    "_", "-", " ", "  ", "/", ",", ":", "(", ")", "B", "AB", "D", "XYZ", "dan", "no", "mobil ",
    "plat ", "Blok ", "nopol ", "0", "1", "9", "\n", "[NIK]", "é", "\ud800",
]  # fmt: skip
RANDOM_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="0123456789 .-+()@/,:abcdeBDXYZ_", max_size=300),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=60).map("".join),
)


@settings(max_examples=600, deadline=None)
@given(RANDOM_TEXT)
def test_random_text_never_keeps_a_nik_or_an_email_and_never_raises(text: str) -> None:
    out, counts = redact(text)
    assert out is not None
    assert not NIK_RUN.search(out)
    assert not EMAIL_ADDRESS.search(out)
    assert all(kind in KINDS and n > 0 for kind, n in counts.items())
    assert redact(out) == (out, {})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sim_text.PII_KINDS), st.integers(0, 2**32 - 1), st.text(max_size=80))
def test_generated_datum_inside_random_text_is_redacted(kind: str, seed: int, noise: str) -> None:
    datum = sim_text.personal_data(kind, np.random.default_rng(seed))
    out, counts = redact(f"{noise} {datum}\n{noise}")
    assert out is not None
    assert counts.get(kind, 0) >= 1
    assert datum.split()[-1] not in out.split()

"""Replace personal data in report texts with placeholder tokens, before anything is stored.

Residents write phone numbers, e-mail addresses, NIK (the 16-digit national ID) and licence
plates into JAKI and Qlue reports. ``redact`` swaps each datum for a token and counts them::

    >>> redact("Hubungi 0812-3456-7890 atau budi@gmail.com, pelaku mobil B 1234 XYZ")
    ('Hubungi [TELEPON] atau [EMAIL], pelaku mobil [PLAT]', {'email': 1, 'phone': 1, 'plate': 1})

Only the tokens and the counts leave this module; nothing here logs or keeps the original.

What is recognised, and what is deliberately left alone
--------------------------------------------------------
Digits are ASCII ``0-9`` only (the feeds are typed on phone keyboards). A false positive
destroys a little information; a false negative leaks a person's data into the database. The
patterns lean towards redacting wherever the shape is unambiguous, and stay precise where the
same shape is ordinary Indonesian text (dates, money, RT/RW, house numbers, ticket codes).

``[EMAIL]`` (applied first)
    ``local@domain.tld``: local part of letters, digits and ``. _ % + -``; a domain of one or
    more dot-separated labels ending in an alphabetic TLD of two or more letters
    (``budi.santoso@gmail.com``, ``a_b-c@sub.example.co.id``). Left alone: Twitter/Instagram
    handles with no local part or no dotted domain (``@dishub_dki``, ``kasih@dishub_dki``), and
    ``user@localhost``: an address without a dotted domain cannot be delivered across the
    Internet, and the pattern that would catch it would also catch the ``kata@akun`` mentions
    common in complaint texts. A domain glued to the next word (``budi@gmail.comMohon``) takes
    that word with it: over-redaction, not a leak.
``[NIK]`` (second)
    Exactly 16 digits starting with a two-digit province code, written as one run
    (``3171012345670001``) or grouped 4-4-4-4, 6-6-4 or 2-2-2-6-4 with one kind of separator
    (space, dot or dash: ``3171 0123 4567 0001``, ``3171.0123.4567.0001``,
    ``317101 230190 0001``). The province code is any of 11-96 whose second digit is not 0: it
    covers every Kemendagri code (11-19, 21, 31-36, 51-53, 61-65, 71-76, 81-82, 91-96) and,
    on purpose, the gaps between them, so that a typo in the first digits or a 16-digit card
    number (4xxx, 5xxx) is hidden too. Left alone: 15 or 17 digits, 16 digits inside a longer
    run of digits or a longer grouped number (a 20-digit PLN token ``1234-5678-9012-3456-7890``),
    the decimals after a dot (``-6.2261234567890123``, ``0.7867316093385214``), a 16-digit
    run starting with 0, 10 or x0 (not an ID: ``0812345678901234``), and other account numbers
    (10-15 digits, unless they are shaped like a phone number).
``[TELEPON]`` (third)
    Indonesian mobile numbers: ``08`` and 8-11 more digits, as one run or grouped by space,
    dot or dash (``081234567890``, ``0812-3456-7890``, ``0812 345 678``, ``0812-34567890``);
    the same after ``+62``, ``62``, ``0062`` or ``(+62)`` (``+62 812-3456-7890``,
    ``6281234567890``, ``+62 (0)812...``). Landlines: ``0``, a 2-3 digit area code not
    starting with 0, 1 or 8, then 6-8 subscriber digits (``(021) 555-1234``, ``021-5551234``,
    ``0215551234``, ``+62 21 5551234``). Every match has at least 9 digits. Numbers in a
    list are all found, whatever joins them (``0812.../0813...``, ``0812...,0813...``,
    ``0812...-0813...``). Left alone: numbers with fewer than 9 digits, years (``2024``),
    RT/RW (``RT 003/RW 012``), dates (``06-01-2024``, ``08-12-2023``), times (``07.30``),
    money (``Rp 50.000``, ``Rp50.000.000``, ``Rp 62.000.000``: a bare ``62`` may be followed
    by a space or dash, never a dot; ``Rp 1.021.555.123``: a number right after a digit and a
    dot continues that number), house numbers, ticket codes (``JK240106017``,
    ``QL-2023-0001234``: they do not start with ``0``/``62``, and a number never starts right
    after a digit), coordinates (``-6.2261``, ``106.8532``), runs of 14 or more digits.
``[PLAT]`` (last)
    Indonesian plates: a region code (only real ones: ``B``, ``D``, ``AB``, ``BK``, ``DK`` ...;
    so ``RT``, ``RW``, ``NO``, ``GG`` never start a plate), 1-4 digits not starting with 0, and
    0-3 suffix letters, with an optional space or dash between parts, in any case
    (``B 1234 XYZ``, ``B1234XYZ``, ``b 1234 xy``, ``AB 1234 CD``, ``D 12 A``). The rule that
    keeps ordinary text intact:

    * with suffix letters the plate is redacted on its own, unless the suffix is a common
      short word or abbreviation (``di``, ``dan``, ``no``, ``rt``, ``yg``, ``org``, ``kg``,
      ``rb``...: ``Blok B 12 no 5``, ``dg 2 org``), or the plate follows an address word
      (``blok``, ``jl``, ``gang``, ``lantai``, ``tower``, ``kav``...: ``Blok B 12 A``);
    * without suffix letters (or with a stop-word suffix) it is redacted only right after a
      vehicle word, optionally followed by ``nomor``/``no``/``polisi``/``dengan``/a colour
      (``plat``, ``nopol``, ``no. pol``, ``nomor polisi``, ``TNKB``, ``mobil``, ``motor``,
      ``kendaraan``, ``truk``, ``bus``, ``angkot``, ``taksi``, ``ojek``..., also with
      ``-nya``): ``motor B 1234``, ``mobil hitam nopol B 1234``. There a suffix written in
      capitals is taken even if it is a stop word (``plat B 1234 DAN``).

    Left alone: ``Blok B 12``, ``Jl. B 12``, ``RT 3``, ``B 10:30``, ``No. 12``, ``P3K``,
    ``H2O``, ``B2B``, ``R2``/``R4`` (roda dua/empat), degrees written as one token (``S1 UI``,
    ``D3``: a plate is written ``S 1 UI``), ``limbah B3``, a suffix-less
    plate far from any vehicle word (``mobil parkir di Blok B 12``: too ambiguous; a plate
    without its suffix is incomplete anyway).

Order of application
--------------------
E-mail first: an address may contain a phone number or a NIK (``budi.081234567890@gmail.com``);
redacting the digits first would break the address and leave ``@gmail.com`` behind. NIK before
phone: the NIK pattern is the stricter, longer one (16 digits, province code), while a phone
number may start with ``62``, which is also the province code of Kalimantan Tengah: read as a
phone number first, the NIK ``6271 0123 4567 0001`` would become ``[TELEPON] 0001``. Plates
last: their numbers are short and bounded by non-digits, so they never take part of a longer
number, and the tokens of the earlier steps contain no digits. The four steps repeat until a
round finds nothing (see ``redact``), so redacting twice gives the same text.

Cost
----
Compiled once at import. A text is scanned only by the patterns it can contain: no ``@``, no
e-mail scan; fewer than 9 (16) ASCII digits, no phone (NIK) scan (digits are counted with
``bytes.translate``, about 0.15 us); no standalone 1-2 letter token right before a nonzero
digit, no plate work (a digit-anchored pre-check of about 0.5 us; a plate regex tried from
every letter would cost 2-10 us per text). The digit patterns start with a literal or a
character class, which the regex engine skips to quickly (a leading look-behind made the
phone scan 5x slower). Measured on Python 3.11 on the development machine (best of several
repeats with ``timeit``), one JAKI ``content`` of 130-140 characters: 0.25-0.3 us without
digits, 0.8 us with ``RT 003/RW 012``, 1.7 us with a date and a house number, 2.1-2.3 us
with a phone number, an e-mail address or a NIK, 2.9-3.2 us with a plate. 1,000,000
generated texts (``pipelines.simulate.text``, 139 characters on average, 8% with one datum)
took 0.81 s, 0.8 us per text. Long hostile inputs stay linear (100,000 characters of digits,
of ``a`` before an ``@``, or of chained phone numbers: under 10 ms).
"""

from __future__ import annotations

import re
from typing import Final

PHONE: Final = "phone"
EMAIL: Final = "email"
NIK: Final = "nik"
PLATE: Final = "plate"
#: The kinds, in the order they are applied (see the module docstring for why).
KINDS: Final = (EMAIL, NIK, PHONE, PLATE)
#: The placeholder that replaces each kind. Tokens contain no digit and no ``@``.
TOKENS: Final = {PHONE: "[TELEPON]", EMAIL: "[EMAIL]", NIK: "[NIK]", PLATE: "[PLAT]"}

_FLAGS = re.ASCII | re.VERBOSE
# Speed: the regex engine scans fast for the first character of a match only when the pattern
# starts with a literal or a character class. The digit patterns therefore start with one and
# check what comes before it with a look-behind that includes it: "0(?<![0-9].)" is a "0" not
# preceded by a digit.

# -- e-mail -----------------------------------------------------------------------------------
# The look-behind makes every attempt start at the beginning of a run of address characters:
# without it a long run with no "@" after it costs quadratic time.
_EMAIL = re.compile(
    r"""
    (?<![A-Za-z0-9._%+-])
    [A-Za-z0-9._%+-]+
    @
    [A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}
    """,
    _FLAGS,
)

_DIGIT_CHARS = frozenset("0123456789")

# -- NIK --------------------------------------------------------------------------------------
_NIK = re.compile(
    r"""
    [1-9](?<![0-9].)[1-9](?<!9[7-9])           # province code 11-96, x0 excluded
    (?:
        [0-9]{14}                               # one run of 16 digits
      | (?<![0-9][.-][0-9]{2})                  # grouped, not inside a longer dotted number:
        (?:
            [0-9]{2}(?P<s4>[ .-])[0-9]{4}(?P=s4)[0-9]{4}(?P=s4)[0-9]{4}         # 4-4-4-4
          | [0-9]{4}(?P<s6>[ .-])[0-9]{6}(?P=s6)[0-9]{4}                        # 6-6-4
          | (?P<s2>[ .-])[0-9]{2}(?P=s2)[0-9]{2}(?P=s2)[0-9]{6}(?P=s2)[0-9]{4}  # 2-2-2-6-4
        )
        (?![.-][0-9])
    )
    (?![0-9])
    """,
    _FLAGS,
)

# -- phone ------------------------------------------------------------------------------------
_SEP = r"(?:[ ]?[.-][ ]?|[ ])"  # one separator between digit groups: " ", ".", "-", " - "
# National significant numbers: what follows the trunk "0" or the country code 62.
_MOBILE = rf"""
    (?: 8[0-9]{{8,11}}                                         # 812345678 .. 812345678901
      | 8[0-9]{{2,3}} {_SEP} [0-9]{{3,4}} {_SEP} [0-9]{{2,5}}  # 812-3456-7890, 812 345 678
      | 8[0-9]{{2,3}} {_SEP} [0-9]{{6,8}}                      # 812-34567890
    )"""
_LANDLINE = rf"""
    (?: [2-79][0-9]{{7,10}}                                    # 215551234 (area + subscriber)
      | [2-79][0-9]{{1,2}} {_SEP} [0-9]{{3,4}} {_SEP}? [0-9]{{3,4}}  # 21-555-1234, 21 5551234
    )"""
_NSN = f"(?:{_MOBILE}|{_LANDLINE})"
_TRUNK = rf"(?:{_SEP}?(?:\(0\){_SEP}?|0)?)"  # after +62 a redundant "0" or "(0)" may follow
_PHONE = re.compile(
    rf"""
    (?:
        \+[ ]?62 {_TRUNK} {_NSN}                      # +62 812..., +62 (0)812...
      | \(\+?62\) {_TRUNK} {_NSN}                     # (+62) 812...
      | \(0[2-79][0-9]{{1,2}}\)[ ]?                   # (021) 555-1234
        [0-9]{{3,4}}{_SEP}?[0-9]{{3,4}}
      | 0(?<![0-9].)                                  # not the tail of a longer number:
        (?: 062 {_TRUNK} {_NSN}                       #   0062 812...
          | {_NSN}                                    #   0812..., 021...
        )
      | 6(?<![A-Za-z0-9].)2[ -]? {_NSN}               # bare 62: no dot after it (money)
    )
    (?![0-9])
    """,
    _FLAGS,
)


def _replace_numbers(
    text: str, match: re.Match[str] | None, pattern: re.Pattern[str], token: str
) -> tuple[str, int]:
    """Replace ``pattern`` from its first ``match`` on; return the text and the count.

    A match right after a digit and a dot continues a longer number (``Rp 1.021.555.123``,
    the decimals of ``-6.2261234567890123``) and is left alone, unless that digit ends a
    number just replaced (``0812345678.0813...``). Deciding this here, with the position of
    the last replacement at hand, finds a whole chain of numbers in one pass; a look-behind
    sees the text before any replacement and would leave every other number of the chain to
    another round of ``redact``, which makes a long chain cost quadratic time.
    """
    pieces: list[str] = []
    done = -1  # end of the last replacement
    while match is not None:
        start = match.start()
        if not (
            start >= 2
            and text[start - 1] == "."
            and text[start - 2] in _DIGIT_CHARS
            and start - 1 != done
        ):
            pieces += (text[max(done, 0) : start], token)
            done = match.end()
        match = pattern.search(text, match.end())
    if not pieces:
        return text, 0
    pieces.append(text[done:])
    return "".join(pieces), len(pieces) // 2


# -- licence plate ----------------------------------------------------------------------------
# Region codes of the Korlantas list (Sumatra, Java, Bali/Nusa Tenggara, Kalimantan, Sulawesi,
# Maluku, Papua). "RT", "RW", "NO", "GG", "JL" are not among them.
_CODE = r"""(?:A[ABDEG]?|B[ABDEGHKLMNP]?|D[ABCDEGHKLMNPRSTW]?|E[ABD]?|K[BHTU]?|P[AB]?
               |[FGHLMNRSTWZ])"""
# A plate from its region code: the number, then perhaps suffix letters (judged in Python).
_PLATE_AT = re.compile(
    rf"""
    (?!(?:P3K|H2O|B2[BC]|R[ -]?[2-8]|S[1-3]|D[1-4])(?![A-Za-z0-9]))  # P3K, R2/R4, S1, D3...
    {_CODE}[ -]?(?P<number>[1-9][0-9]{{0,3}})
    (?![0-9])(?![.,:][0-9])                                         # not 12345, 10:30, 1.5
    (?:[ -]?(?P<suffix>[A-Z]{{1,3}})(?![A-Za-z0-9]))?
    """,
    _FLAGS | re.IGNORECASE,
)
# Short words and abbreviations that follow a number in ordinary text: as suffix letters they
# make "<code> <number> <word>" ordinary text, not a plate.
_STOP_TEXT = """
    an ada aja am ane bg bln blm bpk bro bu cm dan dgn di dia dkk dll dr dri dsb dst ga gak
    gan gg gw gue hp hr hri ibu ini itu jam jg jl jln jt kab kak kan kec kel kg km kok krn
    lah lg lt lu mas mau mbak mba min ml mm mrk nih nik no nya ok om org pak pkl pm pt pun
    rb rp rs rt rw sd sdh sih sj sma smk smp sy tdk tgl th thn tk tsb tu udh utk wa wib wit
    ya yg
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
# The words before a plate are matched backwards, on the reversed text, so that one anchored
# attempt suffices where a forward search would try every position of the window.
_VEHICLE_WORDS = """
    plat pelat nopol no.pol no._pol no_pol nomor_polisi tnkb mobil motor sepeda_motor
    kendaraan truk truck bus bis angkot mikrolet metromini kopaja bajaj bajay taksi taxi ojek
    ojol pickup pick_up pick-up sedan minibus
"""
_FILLER_WORDS = """
    nomor nomer no no. nmr nopol plat pelat polisi pol dengan dgn bernomor berplat warna
    hitam putih merah biru silver abu-abu abu kuning hijau coklat cokelat oranye orange ungu
    perak
"""
_ADDRESS_WORDS = """
    blok blk kav kavling tower gedung gd lantai lt unit ruang ruko kamar kelas gang gg jl jln
    jalan
"""


def _backwards(words: str) -> str:
    """An alternation matching the reversed words ("_" stands for a space), longest first."""
    items = sorted((w.replace("_", " ") for w in words.split()), key=len, reverse=True)
    return "|".join(re.escape(w[::-1]) for w in items)


_PUNCT = r"[ \t:.,(-]{1,4}"
# Reversed "<vehicle word>[nya] (<punct> <filler>){0,3} <punct>", not preceded by a letter.
_VEHICLE_BEFORE_REVERSED = re.compile(
    rf"{_PUNCT}(?:(?:{_backwards(_FILLER_WORDS)}){_PUNCT}){{0,3}}"
    rf"(?:ayn)?(?:{_backwards(_VEHICLE_WORDS)})(?![A-Za-z])",
    re.ASCII | re.IGNORECASE,
)
_VEHICLE_REACH = 80  # characters before a plate searched for the vehicle word and fillers
# Reversed "<address word>[.][ ]": after it "B 12 A" is a block, building or unit, not a plate.
_ADDRESS_BEFORE_REVERSED = re.compile(
    rf"[ ]*\.?(?:{_backwards(_ADDRESS_WORDS)})(?![A-Za-z])", re.ASCII | re.IGNORECASE
)
_ADDRESS_REACH = 12
_ALNUM = re.compile(r"[A-Za-z0-9]", re.ASCII)
# Where a plate may start: a standalone 1-2 letter token, possibly a region code, right before
# a nonzero digit that starts a number. Anchored on the digit, so the scan is fast; the empty
# group that matched says how far back the code starts.
_PLATE_HINT = re.compile(
    r"""
    [1-9](?<![0-9].)
    (?: (?<=(?<![A-Za-z0-9])[ABDEFGHKLMNPRSTWZ].)(?P<back1>)
      | (?<=(?<![A-Za-z0-9])[ABDEFGHKLMNPRSTWZ][ -].)(?P<back2>)
      | (?<=(?<![A-Za-z0-9])[ABDEKP][A-Z].)(?P<back2_>)
      | (?<=(?<![A-Za-z0-9])[ABDEKP][A-Z][ -].)(?P<back3>)
    )
    """,
    _FLAGS | re.IGNORECASE,
)
_HINT_BACK = {"back1": 1, "back2": 2, "back2_": 2, "back3": 3}


def _reversed_before(text: str, start: int, reach: int) -> str:
    return text[max(0, start - reach) : start][::-1]


def _plate_end(text: str, start: int) -> int | None:
    """Where the plate starting at ``start`` ends, or None if it is not one."""
    match = _PLATE_AT.match(text, start)
    if match is None:
        return None
    suffix = match.group("suffix")
    plain = suffix is not None and suffix.lower() not in _STOP_WORDS
    if plain and not _ADDRESS_BEFORE_REVERSED.match(_reversed_before(text, start, _ADDRESS_REACH)):
        return match.end()
    if not _VEHICLE_BEFORE_REVERSED.match(_reversed_before(text, start, _VEHICLE_REACH)):
        return None
    if suffix is not None and (plain or suffix.isupper()):
        return match.end()
    number_end = match.end("number")
    return None if _ALNUM.match(text, number_end) else number_end


def _plates(text: str, hint: re.Match[str] | None) -> tuple[str, int]:
    """Replace the plates from the first hint on; return the text and their number."""
    pieces: list[str] = []
    done = 0  # end of the text already copied into pieces
    while hint is not None:
        start = hint.start() - _HINT_BACK[hint.lastgroup or "back1"]
        end = _plate_end(text, start) if start >= done else None
        if end is not None:
            pieces += (text[done:start], TOKENS[PLATE])
            done = end
        hint = _PLATE_HINT.search(text, max(hint.end(), done))
    if not pieces:
        return text, 0
    pieces.append(text[done:])
    return "".join(pieces), len(pieces) // 2


_DIGITS = b"0123456789"


def _add(counts: dict[str, int], kind: str, n: int) -> None:
    if n:
        counts[kind] = counts.get(kind, 0) + n


def _redact_round(text: str, counts: dict[str, int]) -> tuple[str, int]:
    """One pass of the four patterns in order; return the text and how many data were found."""
    found = 0
    if "@" in text:
        text, n = _EMAIL.subn(TOKENS[EMAIL], text)
        _add(counts, EMAIL, n)
        found += n
    raw = text.encode("utf-8", "surrogatepass")  # surrogatepass: never raise on lone surrogates
    digits = len(raw) - len(raw.translate(None, _DIGITS))
    if not digits:
        return text, found
    if digits >= 16:
        nik = _NIK.search(text)
        if nik is not None:
            text, n = _replace_numbers(text, nik, _NIK, TOKENS[NIK])
            _add(counts, NIK, n)
            found += n
            digits -= 16 * n
    if digits >= 9:
        phone = _PHONE.search(text)
        if phone is not None:
            text, n = _replace_numbers(text, phone, _PHONE, TOKENS[PHONE])
            _add(counts, PHONE, n)
            found += n
    hint = _PLATE_HINT.search(text)
    if hint is not None:
        text, n = _plates(text, hint)
        _add(counts, PLATE, n)
        found += n
    return text, found


def redact(text: str | None) -> tuple[str | None, dict[str, int]]:
    """Replace phone numbers, e-mail addresses, NIK and licence plates with tokens.

    Rounds of the four patterns repeat until one finds nothing, so the result is a fixed
    point: redacting it again changes nothing. A datum can hide another one in the round that
    finds it: in ``0812345678-3171-0123-4567-0001`` the NIK step runs first and takes the NIK
    for the tail of a longer dashed number; once the phone number is a token, the next round
    finds the NIK. Only texts in which something was found pay for the extra round.

    Parameters
    ----------
    text
        A report text, or None.

    Returns
    -------
    tuple
        The text with each datum replaced by ``[TELEPON]``, ``[EMAIL]``, ``[NIK]`` or
        ``[PLAT]`` (None stays None), and the number of replacements per kind
        (``"phone"``, ``"email"``, ``"nik"``, ``"plate"``); kinds not found are absent, so
        ``counts.get(kind, 0)``, or add it to a ``collections.Counter``.
    """
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    text, found = _redact_round(text, counts)
    while found:
        text, found = _redact_round(text, counts)
    return text, counts

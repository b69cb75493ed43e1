"""Report text: what residents write, and the personal data some of them leave in it."""

from __future__ import annotations

import numpy as np

PROBLEMS = {
    "jalan": [
        "Jalan berlubang besar",
        "Aspal jalan rusak dan bergelombang",
        "Trotoar rusak, paving lepas",
    ],
    "pohon": [
        "Pohon tumbang menutup jalan",
        "Dahan pohon hampir patah",
        "Mohon pemangkasan pohon rindang",
    ],
    "parkir_liar": [
        "Parkir liar di bahu jalan",
        "Mobil parkir sembarangan menutup jalan",
        "Parkir liar depan toko",
    ],
    "ketertiban": [
        "Kerumunan membuat keributan malam hari",
        "Balap liar setiap malam",
        "Gangguan ketertiban warga",
    ],
    "sampah": [
        "Tumpukan sampah belum diangkut",
        "Sampah menumpuk di pinggir kali",
        "Pembuangan sampah liar",
    ],
    "banjir": ["Banjir setinggi lutut", "Genangan air tidak surut", "Air masuk ke rumah warga"],
    "saluran_air": ["Saluran air tersumbat", "Got mampet dan bau", "Tutup saluran hilang"],
    "pkl": ["PKL berjualan di trotoar", "Pedagang kaki lima menutup jalan", "Lapak PKL liar"],
    "pelanggaran_bangunan": [
        "Bangunan tanpa izin",
        "Reklame liar terpasang",
        "Bangunan melanggar garis sempadan",
    ],
    "fasilitas_umum": ["Fasilitas taman rusak", "Halte rusak", "Toilet umum tidak terawat"],
    "penerangan_jalan": ["Lampu jalan mati", "Penerangan jalan umum padam", "Lampu PJU berkedip"],
    "lalu_lintas": [
        "Kemacetan parah setiap sore",
        "Lampu lalu lintas mati",
        "Angkutan umum ngetem sembarangan",
    ],
    "utilitas": ["Kabel menjuntai di jalan", "Pipa air bocor", "Bekas galian tidak ditutup"],
    "lingkungan": ["Asap pembakaran sampah", "Limbah mencemari kali", "Bau menyengat dari pabrik"],
    "kesehatan": [
        "Banyak jentik nyamuk",
        "Layanan puskesmas lambat",
        "Makanan tidak higienis dijual",
    ],
    "sosial": [
        "Pengemis di lampu merah",
        "Orang terlantar di kolong jembatan",
        "Anak jalanan mengamen",
    ],
    "pendidikan": ["Sekolah rusak", "Masalah pendaftaran sekolah", "Pungutan di sekolah"],
    "administrasi": [
        "Pengurusan KTP lama",
        "Pelayanan kelurahan lambat",
        "Masalah data kependudukan",
    ],
    "kebakaran": ["Kebakaran rumah warga", "Hidran tidak berfungsi", "Korsleting listrik berasap"],
    "lainnya": ["Mohon ditindaklanjuti", "Keluhan warga", "Permintaan bantuan"],
}

STREETS = [
    "Jl. Tebet Raya",
    "Jl. Casablanca",
    "Jl. Raya Bogor",
    "Jl. Daan Mogot",
    "Jl. Gunung Sahari",
    "Jl. Mangga Besar",
    "Jl. Pramuka",
    "Jl. Salemba Raya",
    "Jl. Kyai Tapa",
    "Jl. Panjang",
    "Jl. Kalimalang",
    "Jl. Raya Condet",
    "Jl. Warung Buncit Raya",
    "Jl. Fatmawati",
    "Jl. Ciledug Raya",
    "Jl. Yos Sudarso",
    "Jl. Danau Sunter Utara",
    "Jl. Pluit Raya",
    "Jl. Kramat Raya",
    "Jl. Matraman Raya",
    "Jl. Otista Raya",
    "Jl. Kebon Jeruk Raya",
    "Jl. Tanjung Duren Raya",
    "Jl. Penjaringan",
]
DETAILS = [
    "depan minimarket",
    "samping masjid",
    "dekat halte",
    "seberang sekolah",
    "dekat pos RW",
    "pinggir kali",
    "dekat pasar",
    "ujung gang",
    "depan kantor kelurahan",
    "belakang stasiun",
]
PII_KINDS = ("phone", "email", "nik", "plate")
_FIRST = ["budi", "siti", "agus", "dewi", "rina", "andi", "fajar", "ayu"]
_PLATE_LETTERS = "ABDEFGHJKLMNPRSTUVWXYZ"


def problem(category: str, rng: np.random.Generator) -> str:
    """A short problem statement for a canonical category."""
    options = PROBLEMS.get(category, PROBLEMS["lainnya"])
    return options[int(rng.integers(0, len(options)))]


def location(rng: np.random.Generator) -> tuple[str, str]:
    """A street and a landmark detail."""
    street = STREETS[int(rng.integers(0, len(STREETS)))]
    detail = DETAILS[int(rng.integers(0, len(DETAILS)))]
    if rng.random() < 0.3:
        detail += f", RT {int(rng.integers(1, 15)):03d}/RW {int(rng.integers(1, 12)):03d}"
    return street, detail


def personal_data(kind: str, rng: np.random.Generator) -> str:
    """A sentence leaking one kind of personal data (phone, e-mail, NIK, licence plate)."""
    digits = "".join(str(d) for d in rng.integers(0, 10, 16))
    if kind == "phone":
        return f"Hubungi saya di 08{digits[:2]}-{digits[2:6]}-{digits[6:10]}"
    if kind == "email":
        name = _FIRST[int(rng.integers(0, len(_FIRST)))]
        return f"Balas ke {name}.{digits[:3]}@gmail.com"
    if kind == "nik":
        return f"NIK saya 3171{digits[:12]}"
    letters = "".join(_PLATE_LETTERS[i] for i in rng.integers(0, len(_PLATE_LETTERS), 3))
    return f"pelakunya mobil B {digits[:4].lstrip('0') or '7'} {letters}"

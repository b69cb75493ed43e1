"""Builds the one compiled module, ``pipelines._rowcodec``, in place (``make venv`` runs it).

    python setup.py build_ext --inplace

Pantau is run from its folder, not installed; this file only compiles the ingest's row encoder
(``pipelines/_rowcodec.c``, reference ``pipelines.ingest_rows.PyRowEncoder``).
"""

from setuptools import Extension, setup

setup(
    packages=[],
    ext_modules=[
        Extension(
            "pipelines._rowcodec",
            ["pipelines/_rowcodec.c"],
            extra_compile_args=["-O2", "-Wall"],
        )
    ],
)

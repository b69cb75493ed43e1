/*
 * pipelines._rowcodec: the ingest's row encoder, compiled.
 *
 * The same work as pipelines.ingest_rows.PyRowEncoder.add (its reference, in Python): one
 * report's fields become one row of pantau.reports in PostgreSQL's binary COPY format, with
 * its point as EWKB, its res-12 H3 cell, the batch and its owner when the interior lookup
 * knows it; rows without an owner go to a second buffer, their points to a third. It exists
 * because that work cost 2.7 us of the 7.4 us a JAKI row takes in a worker in Python (psycopg's
 * C row encoder 0.85 of it, the rest bookkeeping around it), and the ingest is CPU-bound.
 *
 * The layout is not repeated here: the report fields' kinds (text or timestamptz), the
 * squares' constants and the H3 function come from Python at construction. The tests compare
 * this encoder's bytes with the reference's (psycopg's encoder) for every kind of value.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

/* A growing buffer kept as a bytearray (so that take() hands it over without a copy). */
typedef struct {
    PyObject *array; /* bytearray, its size is the capacity */
    Py_ssize_t used;
} Buffer;

typedef struct {
    Buffer data, offsets, seqs, days;
    PyObject *ids; /* list of str */
} Rows;

typedef struct {
    PyObject_HEAD
    PyObject *owners;        /* dict: square key (int) -> owner tuple */
    PyObject *h3_cell;       /* h3's latlng_to_cell(lat, lng, res) */
    PyObject *resolution;    /* int */
    PyObject *report_fields; /* Report -> fields tuple */
    char *kinds;             /* 't' text, 'z' timestamptz, one per report field before the point */
    Py_ssize_t n_fields;     /* the report's fields, the point's two included */
    Py_ssize_t ident, created; /* where the fields hold the id and the creation time */
    int64_t batch;
    int64_t level1, level2;
    double per_degree1, per_degree2;
    int row_shift;
    Rows located, pending;
    Buffer points;
    PyObject *last_zone; /* the last fixed-offset zone seen, and its offset in microseconds */
    int64_t last_offset;
} Encoder;

static PyObject *str_utcoffset;

/* microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch) */
#define PG_EPOCH_US INT64_C(946684800000000)
#define US_PER_DAY INT64_C(86400000000)
#define WIB_SECONDS 25200
#define EWKB_POINT_SIZE 25
#define OWNER_FIELDS 5

static int buffer_init(Buffer *b) {
    b->array = PyByteArray_FromStringAndSize(NULL, 0);
    b->used = 0;
    return b->array ? 0 : -1;
}

/* Room for `more` bytes after what is used; returns where they go, or NULL. */
static char *buffer_room(Buffer *b, Py_ssize_t more) {
    Py_ssize_t need = b->used + more, have = PyByteArray_GET_SIZE(b->array);
    if (need > have) {
        Py_ssize_t grow = have < 4096 ? 4096 : have;
        while (grow < need) grow *= 2;
        if (PyByteArray_Resize(b->array, grow) < 0) return NULL;
    }
    return PyByteArray_AS_STRING(b->array) + b->used;
}

/* The bytes written so far as a bytearray of their size; the buffer starts again empty. */
static PyObject *buffer_take(Buffer *b) {
    PyObject *out = b->array;
    if (PyByteArray_Resize(out, b->used) < 0) return NULL;
    if (buffer_init(b) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static inline char *put16(char *p, uint16_t v) {
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
    return p + 2;
}

static inline char *put32(char *p, uint32_t v) {
    uint32_t be = __builtin_bswap32(v);
    memcpy(p, &be, 4);
    return p + 4;
}

static inline char *put64(char *p, uint64_t v) {
    uint64_t be = __builtin_bswap64(v);
    memcpy(p, &be, 8);
    return p + 8;
}

static int rows_init(Rows *r) {
    if (buffer_init(&r->data) < 0 || buffer_init(&r->offsets) < 0 || buffer_init(&r->seqs) < 0 ||
        buffer_init(&r->days) < 0)
        return -1;
    r->ids = PyList_New(0);
    return r->ids ? 0 : -1;
}

static void rows_clear(Rows *r) {
    Py_CLEAR(r->data.array);
    Py_CLEAR(r->offsets.array);
    Py_CLEAR(r->seqs.array);
    Py_CLEAR(r->days.array);
    Py_CLEAR(r->ids);
}

/* (data, offsets, ids, seqs, days); the rows start again empty. */
static PyObject *rows_take(Rows *r) {
    PyObject *ids = r->ids;
    r->ids = PyList_New(0);
    if (r->ids == NULL) {
        r->ids = ids;
        return NULL;
    }
    PyObject *data = buffer_take(&r->data);
    PyObject *offsets = data ? buffer_take(&r->offsets) : NULL;
    PyObject *seqs = offsets ? buffer_take(&r->seqs) : NULL;
    PyObject *days = seqs ? buffer_take(&r->days) : NULL;
    if (days == NULL) {
        Py_XDECREF(data);
        Py_XDECREF(offsets);
        Py_XDECREF(seqs);
        Py_DECREF(ids);
        return NULL;
    }
    return Py_BuildValue("(NNNNN)", data, offsets, ids, seqs, days);
}

/* A timestamptz: microseconds since 2000-01-01 UTC. Days from the civil date as in
 * http://howardhinnant.github.io/date_algorithms.html (days_from_civil). */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468; /* since 1970-01-01 */
}

static int zone_offset(Encoder *self, PyObject *moment, int64_t *offset) {
    PyObject *zone = PyDateTime_DATE_GET_TZINFO(moment);
    if (zone == Py_None) {
        PyErr_SetString(PyExc_ValueError, "a report's time has no time zone");
        return -1;
    }
    /* a datetime.timezone has one offset whatever the moment: remember the last one */
    if (zone == self->last_zone) {
        *offset = self->last_offset;
        return 0;
    }
    PyObject *delta = PyObject_CallMethodOneArg(zone, str_utcoffset, moment);
    if (delta == NULL) return -1;
    if (!PyDelta_Check(delta)) {
        Py_DECREF(delta);
        PyErr_SetString(PyExc_ValueError, "a report's time zone gives no offset");
        return -1;
    }
    *offset = (PyDateTime_DELTA_GET_DAYS(delta) * INT64_C(86400) +
               PyDateTime_DELTA_GET_SECONDS(delta)) * INT64_C(1000000) +
              PyDateTime_DELTA_GET_MICROSECONDS(delta);
    Py_DECREF(delta);
    if (Py_IS_TYPE(zone, Py_TYPE(PyDateTime_TimeZone_UTC))) {
        Py_INCREF(zone);
        Py_XSETREF(self->last_zone, zone);
        self->last_offset = *offset;
    }
    return 0;
}

/* microseconds since 1970-01-01 UTC */
static int unix_micros(Encoder *self, PyObject *moment, int64_t *out) {
    if (!PyDateTime_Check(moment)) {
        PyErr_Format(PyExc_TypeError, "a report's time is a %.80s, not a datetime",
                     Py_TYPE(moment)->tp_name);
        return -1;
    }
    int64_t offset;
    if (zone_offset(self, moment, &offset) < 0) return -1;
    int64_t days = days_from_civil(PyDateTime_GET_YEAR(moment), PyDateTime_GET_MONTH(moment),
                                   PyDateTime_GET_DAY(moment));
    int64_t seconds = PyDateTime_DATE_GET_HOUR(moment) * 3600 +
                      PyDateTime_DATE_GET_MINUTE(moment) * 60 +
                      PyDateTime_DATE_GET_SECOND(moment);
    *out = days * US_PER_DAY + seconds * INT64_C(1000000) +
           PyDateTime_DATE_GET_MICROSECOND(moment) - offset;
    return 0;
}

/* One field's bytes, found before any is written (so that a bad value writes nothing). */
typedef struct {
    const char *text; /* a text's UTF-8, or NULL */
    Py_ssize_t size;  /* -1: NULL; 8: a timestamptz */
    int64_t micros;
} Field;

static int text_field(PyObject *value, Field *f) {
    f->text = NULL;
    if (value == Py_None) {
        f->size = -1;
        return 0;
    }
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "a report's text field is a %.80s, not a str",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    f->text = PyUnicode_AsUTF8AndSize(value, &f->size);
    return f->text ? 0 : -1;
}

static char *put_field(char *p, const Field *f) {
    if (f->size < 0) return put32(p, UINT32_MAX); /* NULL */
    p = put32(p, (uint32_t)f->size);
    if (f->text == NULL) return put64(p, (uint64_t)f->micros);
    memcpy(p, f->text, f->size);
    return p + f->size;
}

static int append64(Buffer *b, int64_t v) {
    char *p = buffer_room(b, 8);
    if (p == NULL) return -1;
    memcpy(p, &v, 8); /* native order: read back as array('q') */
    b->used += 8;
    return 0;
}

static int append32(Buffer *b, int32_t v) {
    char *p = buffer_room(b, 4);
    if (p == NULL) return -1;
    memcpy(p, &v, 4);
    b->used += 4;
    return 0;
}

static int encode(Encoder *self, int64_t seq, PyObject *fields) {
    Py_ssize_t n = self->n_fields - 2; /* the fields before the point */
    Field f[64 + OWNER_FIELDS - 1];
    if (PyTuple_GET_SIZE(fields) != self->n_fields) {
        PyErr_Format(PyExc_ValueError, "a report has %zd fields, not %zd",
                     PyTuple_GET_SIZE(fields), self->n_fields);
        return -1;
    }
    Py_ssize_t size = 2; /* the field count */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = PyTuple_GET_ITEM(fields, i);
        if (self->kinds[i] == 't') {
            if (text_field(value, &f[i]) < 0) return -1;
        } else if (value == Py_None) {
            f[i].text = NULL;
            f[i].size = -1;
        } else {
            f[i].text = NULL;
            f[i].size = 8;
            if (unix_micros(self, value, &f[i].micros) < 0) return -1;
            f[i].micros -= PG_EPOCH_US;
        }
        size += 4 + (f[i].size > 0 ? f[i].size : 0);
    }
    PyObject *lng_obj = PyTuple_GET_ITEM(fields, n), *lat_obj = PyTuple_GET_ITEM(fields, n + 1);
    double lng = PyFloat_AsDouble(lng_obj), lat = PyFloat_AsDouble(lat_obj);
    if ((lng == -1.0 || lat == -1.0) && PyErr_Occurred()) return -1;
    int64_t created;
    PyObject *created_obj = PyTuple_GET_ITEM(fields, self->created);
    if (unix_micros(self, created_obj, &created) < 0) return -1; /* the day, below */

    /* the res-12 cell (h3's own function) */
    PyObject *args[3] = {lat_obj, lng_obj, self->resolution};
    PyObject *cell_obj = PyObject_Vectorcall(self->h3_cell, args, 3, NULL);
    if (cell_obj == NULL) return -1;
    int64_t cell = PyLong_AsLongLong(cell_obj);
    Py_DECREF(cell_obj);
    if (cell == -1 && PyErr_Occurred()) return -1;

    /* the owner, when the point's square (level 1, else level 2) lies inside one unit */
    double y = lat + 90.0, x = lng + 180.0;
    PyObject *owner = NULL;
    for (int level = 0; level < 2 && owner == NULL; level++) {
        double per = level ? self->per_degree2 : self->per_degree1;
        int64_t key = (level ? self->level2 : self->level1) |
                      ((int64_t)(y * per) << self->row_shift) | (int64_t)(x * per);
        PyObject *key_obj = PyLong_FromLongLong(key);
        if (key_obj == NULL) return -1;
        owner = PyDict_GetItemWithError(self->owners, key_obj); /* borrowed */
        Py_DECREF(key_obj);
        if (owner == NULL && PyErr_Occurred()) return -1;
    }
    int outside = 1;
    if (owner != NULL) {
        if (!PyTuple_Check(owner) || PyTuple_GET_SIZE(owner) != OWNER_FIELDS) {
            PyErr_SetString(PyExc_ValueError, "an owner is not a tuple of five");
            return -1;
        }
        for (Py_ssize_t i = 0; i < OWNER_FIELDS - 1; i++) {
            if (text_field(PyTuple_GET_ITEM(owner, i), &f[n + i]) < 0) return -1;
            size += 4 + (f[n + i].size > 0 ? f[n + i].size : 0);
        }
        PyObject *flag = PyTuple_GET_ITEM(owner, OWNER_FIELDS - 1);
        if (flag != Py_True && flag != Py_False) {
            PyErr_SetString(PyExc_ValueError, "an owner's outside flag is not a bool");
            return -1;
        }
        outside = flag == Py_True;
    } else {
        for (Py_ssize_t i = 0; i < OWNER_FIELDS - 1; i++) f[n + i].size = -1;
        size += 4 * (OWNER_FIELDS - 1);
    }
    size += (4 + EWKB_POINT_SIZE) + (4 + 8) * 2 + (4 + 1);

    Rows *into = owner != NULL ? &self->located : &self->pending;
    Py_ssize_t start = into->data.used;
    char *p = buffer_room(&into->data, size);
    if (p == NULL) return -1;
    char *row = p;
    p = put16(p, (uint16_t)(n + 3 + OWNER_FIELDS));
    for (Py_ssize_t i = 0; i < n; i++) p = put_field(p, &f[i]);
    /* the point as EWKB: little endian, Point with SRID, 4326, x, y */
    p = put32(p, EWKB_POINT_SIZE);
    char *ewkb = p;
    static const char head[9] = {1, 1, 0, 0, 0x20, (char)0xE6, 0x10, 0, 0};
    memcpy(p, head, 9);
    memcpy(p + 9, &lng, 8); /* the machine is little endian (checked at import) */
    memcpy(p + 17, &lat, 8);
    p += EWKB_POINT_SIZE;
    p = put32(p, 8);
    p = put64(p, (uint64_t)cell);
    p = put32(p, 8);
    p = put64(p, (uint64_t)self->batch);
    for (Py_ssize_t i = 0; i < OWNER_FIELDS - 1; i++) p = put_field(p, &f[n + i]);
    p = put32(p, 1);
    *p++ = (char)outside;
    if (p - row != size) {
        PyErr_SetString(PyExc_SystemError, "row size miscounted");
        return -1;
    }

    /* bookkeeping: where the row starts, its id, its seq and its creation day in Jakarta */
    PyObject *ident = PyTuple_GET_ITEM(fields, self->ident);
    int64_t seconds = created / 1000000 - (created % 1000000 < 0);
    int64_t day = (seconds + WIB_SECONDS) / 86400 - ((seconds + WIB_SECONDS) % 86400 < 0);
    if (append64(&into->offsets, start) < 0 || append64(&into->seqs, seq) < 0 ||
        append32(&into->days, (int32_t)day) < 0)
        return -1;
    if (owner == NULL) {
        char *q = buffer_room(&self->points, 2 + 4 + 8 + 4 + EWKB_POINT_SIZE);
        if (q == NULL) return -1;
        q = put16(q, 2);
        q = put32(q, 8);
        q = put64(q, (uint64_t)seq);
        q = put32(q, EWKB_POINT_SIZE);
        memcpy(q, ewkb, EWKB_POINT_SIZE);
        self->points.used += 2 + 4 + 8 + 4 + EWKB_POINT_SIZE;
    }
    if (PyList_Append(into->ids, ident) < 0) return -1;
    into->data.used += size;
    return 0;
}

static PyObject *Encoder_add(Encoder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add(seq, report) takes two arguments");
        return NULL;
    }
    int64_t seq = PyLong_AsLongLong(args[0]);
    if (seq == -1 && PyErr_Occurred()) return NULL;
    PyObject *report = args[1];
    int ok;
    if (PyTuple_CheckExact(report)) {
        ok = encode(self, seq, report);
    } else {
        PyObject *fields = PyObject_CallOneArg(self->report_fields, report);
        if (fields == NULL) return NULL;
        if (!PyTuple_Check(fields)) {
            Py_DECREF(fields);
            PyErr_SetString(PyExc_TypeError, "report_fields did not return a tuple");
            return NULL;
        }
        ok = encode(self, seq, fields);
        Py_DECREF(fields);
    }
    if (ok < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Encoder_take(Encoder *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *located = rows_take(&self->located);
    if (located == NULL) return NULL;
    PyObject *pending = rows_take(&self->pending);
    if (pending == NULL) {
        Py_DECREF(located);
        return NULL;
    }
    PyObject *points = buffer_take(&self->points);
    if (points == NULL) {
        Py_DECREF(located);
        Py_DECREF(pending);
        return NULL;
    }
    return Py_BuildValue("(NNN)", located, pending, points);
}

static Py_ssize_t Encoder_len(Encoder *self) {
    return PyList_GET_SIZE(self->located.ids) + PyList_GET_SIZE(self->pending.ids);
}

static int Encoder_init(Encoder *self, PyObject *args, PyObject *kwds) {
    static char *names[] = {"owners", "batch", "h3_cell", "resolution", "report_fields",
                            "kinds", "ident", "created", "level1", "level2",
                            "per_degree1", "per_degree2", "row_shift", NULL};
    PyObject *owners, *h3_cell, *resolution, *report_fields;
    const char *kinds;
    long long batch, level1, level2;
    Py_ssize_t ident, created;
    double per1, per2;
    int row_shift;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!LOOOsnnLLddi", names, &PyDict_Type,
                                     &owners, &batch, &h3_cell, &resolution, &report_fields,
                                     &kinds, &ident, &created, &level1, &level2, &per1, &per2, &row_shift))
        return -1;
    size_t n = strlen(kinds);
    if (n == 0 || n > 64 || strspn(kinds, "tz") != n || ident < 0 || (size_t)ident >= n ||
        kinds[ident] != 't' || created < 0 || (size_t)created >= n || kinds[created] != 'z') {
        PyErr_SetString(PyExc_ValueError,
                        "kinds: up to 64 of 't' and 'z'; ident a text, created a time");
        return -1;
    }
    Py_INCREF(owners);
    Py_XSETREF(self->owners, owners);
    Py_INCREF(h3_cell);
    Py_XSETREF(self->h3_cell, h3_cell);
    Py_INCREF(resolution);
    Py_XSETREF(self->resolution, resolution);
    Py_INCREF(report_fields);
    Py_XSETREF(self->report_fields, report_fields);
    PyMem_Free(self->kinds);
    self->kinds = PyMem_Malloc(n + 1);
    if (self->kinds == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(self->kinds, kinds, n + 1);
    self->n_fields = (Py_ssize_t)n + 2;
    self->ident = ident;
    self->created = created;
    self->batch = batch;
    self->level1 = level1;
    self->level2 = level2;
    self->per_degree1 = per1;
    self->per_degree2 = per2;
    self->row_shift = row_shift;
    rows_clear(&self->located);
    rows_clear(&self->pending);
    Py_CLEAR(self->points.array);
    if (rows_init(&self->located) < 0 || rows_init(&self->pending) < 0 ||
        buffer_init(&self->points) < 0)
        return -1;
    return 0;
}

static void Encoder_dealloc(Encoder *self) {
    Py_XDECREF(self->owners);
    Py_XDECREF(self->h3_cell);
    Py_XDECREF(self->resolution);
    Py_XDECREF(self->report_fields);
    Py_XDECREF(self->last_zone);
    PyMem_Free(self->kinds);
    rows_clear(&self->located);
    rows_clear(&self->pending);
    Py_XDECREF(self->points.array);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Encoder_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Encoder_add, METH_FASTCALL,
     "add(seq, report): encode a report (its fields tuple, or a Report) as line seq."},
    {"take", (PyCFunction)Encoder_take, METH_NOARGS,
     "take() -> (located, pending, points): the rows so far; the encoder starts again empty.\n"
     "located and pending are (data, offsets, ids, seqs, days): offsets and seqs int64,\n"
     "days int32, in the machine's order."},
    {NULL},
};

static PySequenceMethods Encoder_sequence = {.sq_length = (lenfunc)Encoder_len};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pipelines._rowcodec.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Encodes reports as binary COPY rows of pantau.reports (see ingest_rows).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Encoder_init,
    .tp_dealloc = (destructor)Encoder_dealloc,
    .tp_methods = Encoder_methods,
    .tp_as_sequence = &Encoder_sequence,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "pipelines._rowcodec",
    .m_doc = "The ingest's row encoder, compiled (reference: ingest_rows.PyRowEncoder).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__rowcodec(void) {
    const uint16_t probe = 1;
    if (*(const char *)&probe != 1) {
        PyErr_SetString(PyExc_ImportError, "the row encoder needs a little-endian machine");
        return NULL;
    }
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) return NULL;
    str_utcoffset = PyUnicode_InternFromString("utcoffset");
    if (str_utcoffset == NULL || PyType_Ready(&EncoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&EncoderType);
    if (PyModule_AddObject(m, "Encoder", (PyObject *)&EncoderType) < 0) {
        Py_DECREF(&EncoderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}


/*
 * The embedded interpreter.  It is initialised once in each zygote:
 * Debian's libpython3.11, numpy (but in the base zygote) and pandas (in
 * the full one) imported, the runtime of sandboxd/runtime/sbx_runtime.py
 * loaded.  A child inherits all of it through fork and only calls
 * runtime.run().  The C module _sbx is the child's one way out: frames
 * over its channel, nothing else.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include "sbx.h"


/*
 * The runtime's sources, built into the binary: nothing to find at run
 * time.  The assembler finds the files on its include path (the Makefile's
 * -Wa,-I), so no path is written here or kept in the binary.
 */
#define SBX_EMBED(sym, file)                                                  \
    __asm__(".section .rodata\n"                                              \
            ".global " #sym "\n"                                              \
            ".type " #sym ", @object\n"                                       \
            #sym ":\n"                                                        \
            ".incbin \"" file "\"\n"                                      \
            ".byte 0\n"                                                       \
            ".previous\n")

SBX_EMBED(sbx_validate_py, "sbx_validate.py");
SBX_EMBED(sbx_runtime_py, "sbx_runtime.py");

extern const char  sbx_validate_py[];
extern const char  sbx_runtime_py[];


/* in import order: the runtime imports sbx_validate */
static struct {
    const char                 *name;
    const char                 *file;
    const char                 *source;
} sbx_py_sources[] = {
    { "sbx_validate", "sbx_validate.py", sbx_validate_py },
    { "sbx_runtime", "sbx_runtime.py", sbx_runtime_py },
};


#define SBX_MAX_REPLY  (64 * 1024 * 1024)


/*
 * numpy's global generator, the MT19937 behind numpy.random.*: its state,
 * as numpy keeps it, and the beginning of numpy's public bitgen_t, which
 * leads there.
 */
#define SBX_MT_WORDS  624

typedef struct {
    uint32_t                    key[SBX_MT_WORDS];
    int                         pos;
} sbx_mt_state_t;

typedef struct {
    void                       *state;
} sbx_bitgen_t;


static int              sbx_py_chan = -1;
static PyObject        *sbx_py_run;
static PyObject        *sbx_py_prepare;
static PyObject        *sbx_py_probe;
static sbx_mt_state_t  *sbx_py_mt;      /* NULL: reseeded in Python */


static int
sbx_py_write_all(int fd, const unsigned char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return -1;
        }

        p += n;
        len -= n;
    }

    return 0;
}


static int
sbx_py_read_all(int fd, unsigned char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = read(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            return -1;
        }

        p += n;
        len -= n;
    }

    return 0;
}


static int
sbx_py_send_frame(PyObject *arg)
{
    char           *data;
    Py_ssize_t      len;
    unsigned char   hdr[4];

    if (PyBytes_AsStringAndSize(arg, &data, &len) != 0) {
        return -1;
    }

    if (len <= 0 || len > SBX_MAX_CHILD_FRAME) {
        PyErr_SetString(PyExc_ValueError, "frame size out of range");
        return -1;
    }

    hdr[0] = (unsigned char) (len >> 24);
    hdr[1] = (unsigned char) (len >> 16);
    hdr[2] = (unsigned char) (len >> 8);
    hdr[3] = (unsigned char) len;

    if (sbx_py_write_all(sbx_py_chan, hdr, 4) != 0
        || sbx_py_write_all(sbx_py_chan, (unsigned char *) data, len) != 0)
    {
        PyErr_SetString(PyExc_ConnectionError, "sandbox channel closed");
        return -1;
    }

    return 0;
}


static PyObject *
sbx_py_send(PyObject *self, PyObject *arg)
{
    (void) self;

    if (sbx_py_send_frame(arg) != 0) {
        return NULL;
    }

    Py_RETURN_NONE;
}


static PyObject *
sbx_py_request(PyObject *self, PyObject *arg)
{
    size_t          len;
    PyObject       *reply;
    unsigned char   hdr[4];

    (void) self;

    if (sbx_py_send_frame(arg) != 0) {
        return NULL;
    }

    if (sbx_py_read_all(sbx_py_chan, hdr, 4) != 0) {
        PyErr_SetString(PyExc_ConnectionError, "sandbox channel closed");
        return NULL;
    }

    len = ((size_t) hdr[0] << 24) | ((size_t) hdr[1] << 16)
          | ((size_t) hdr[2] << 8) | (size_t) hdr[3];

    if (len == 0 || len > SBX_MAX_REPLY) {
        PyErr_SetString(PyExc_ValueError, "reply size out of range");
        return NULL;
    }

    reply = PyBytes_FromStringAndSize(NULL, (Py_ssize_t) len);
    if (reply == NULL) {
        return NULL;
    }

    if (sbx_py_read_all(sbx_py_chan,
                        (unsigned char *) PyBytes_AS_STRING(reply), len)
        != 0)
    {
        Py_DECREF(reply);
        PyErr_SetString(PyExc_ConnectionError, "sandbox channel closed");
        return NULL;
    }

    return reply;
}


static PyMethodDef  sbx_py_methods[] = {
    { "send", sbx_py_send, METH_O, "send one frame to sandboxd" },
    { "request", sbx_py_request, METH_O,
      "send one frame to sandboxd and wait for its answer" },
    { NULL, NULL, 0, NULL }
};


static struct PyModuleDef  sbx_py_module = {
    PyModuleDef_HEAD_INIT, "_sbx", "sandboxd channel", -1, sbx_py_methods,
    NULL, NULL, NULL, NULL
};


static PyObject *
sbx_py_init_module(void)
{
    int        full;
    PyObject  *m;

    m = PyModule_Create(&sbx_py_module);
    full = (sbx_cycle.zygote_kind == SBX_POOL_FULL);

    /* which zygote this is: what it imports */
    if (m == NULL
        || PyModule_AddIntConstant(m, "NUMPY",
                                   sbx_cycle.zygote_kind != SBX_POOL_BASE)
           != 0
        || PyModule_AddIntConstant(m, "PANDAS", full) != 0)
    {
        Py_XDECREF(m);
        return NULL;
    }

    return m;
}


static int64_t
sbx_python_vm_mb(void)
{
    long   pages;
    FILE  *f;

    f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return 0;
    }

    if (fscanf(f, "%ld", &pages) != 1) {
        pages = 0;
    }

    fclose(f);

    return (int64_t) pages * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}


/*
 * Every child gives numpy's global generator a state of its own: 624
 * words from getrandom(), written where the generator keeps them (no
 * numpy code runs: its seed() with a list copied 145 pages, set_state()
 * 60).  The place comes from the bit generator's capsule, and what lies
 * there is checked against numpy's own set_state() once, here; if any of
 * it is not as expected, the runtime's prepare() reseeds in Python.
 */

static void
sbx_python_find_mt(void)
{
    int              i, ok;
    PyObject        *mod, *rs, *bg, *cap, *key, *state, *res;
    sbx_bitgen_t    *bitgen;
    sbx_mt_state_t  *mt;

    ok = 0;
    rs = bg = cap = key = state = res = NULL;
    mt = NULL;

    mod = PyImport_ImportModule("numpy.random.mtrand");
    rs = mod ? PyObject_GetAttrString(mod, "_rand") : NULL;
    bg = rs ? PyObject_GetAttrString(rs, "_bit_generator") : NULL;

    if (bg && strcmp(Py_TYPE(bg)->tp_name, "numpy.random._mt19937.MT19937")
              == 0)
    {
        cap = PyObject_GetAttrString(bg, "capsule");
        bitgen = cap ? PyCapsule_GetPointer(cap, "BitGenerator") : NULL;
        mt = bitgen ? bitgen->state : NULL;
    }

    key = mt ? PyList_New(SBX_MT_WORDS) : NULL;

    for (i = 0; key && i < SBX_MT_WORDS; i++) {
        PyList_SET_ITEM(key, i, PyLong_FromUnsignedLong(
                                    (0x9e3779b9UL * (i + 1)) & 0xffffffffUL));
    }

    state = key ? Py_BuildValue("(sOiid)", "MT19937", key, 397, 0, 0.0)
                : NULL;
    res = state ? PyObject_CallMethod(rs, "set_state", "(O)", state) : NULL;

    if (res) {
        ok = (mt->pos == 397);

        for (i = 0; ok && i < SBX_MT_WORDS; i++) {
            ok = (mt->key[i] == ((0x9e3779b9UL * (i + 1)) & 0xffffffffUL));
        }
    }

    PyErr_Clear();
    Py_XDECREF(res);
    Py_XDECREF(state);
    Py_XDECREF(key);
    Py_XDECREF(cap);
    Py_XDECREF(bg);
    Py_XDECREF(rs);
    Py_XDECREF(mod);

    sbx_py_mt = ok ? mt : NULL;

    if (!ok) {
        sbx_log("numpy's generator is not where it was expected: children "
                "reseed it in Python");
    }
}


/* CPython's own, exported though its header is internal */
int _PyObject_DebugMallocStats(FILE *out);


/*
 * The same for CPython's small objects: a child's new ones would fill
 * the free blocks left in the zygote's partly used pools, a few in each
 * of hundreds of pools, every one a page to copy (measured: 85 of the
 * 600 pages a trivial run copied after the heap was plugged).  The pools
 * are filled here, from the allocator's own count of their free blocks,
 * so that a child's objects go to pools of its own, one after the other.
 */

static void
sbx_python_plug(void)
{
    int      cls, size, pools, used, avail, n;
    char    *buf, *line, *next;
    FILE    *f;
    size_t   len;

    buf = NULL;
    f = open_memstream(&buf, &len);

    if (f == NULL) {
        return;
    }

    (void) _PyObject_DebugMallocStats(f);

    if (fclose(f) != 0) {
        free(buf);
        return;
    }

    /* "class size num-pools blocks-in-use avail-blocks", one a line */
    for (line = buf; line && *line; line = next) {
        next = strchr(line, '\n');

        if (next) {
            *next++ = '\0';
        }

        if (sscanf(line, "%d %d %d %d %d", &cls, &size, &pools, &used,
                   &avail) != 5
            || size <= 0 || size > 512 || avail < 0 || avail > used + avail)
        {
            continue;
        }

        for (n = 0; n < avail; n++) {
            if (PyObject_Malloc(size) == NULL) {
                PyErr_Clear();
                break;
            }
        }
    }

    free(buf);
}


int
sbx_python_init(void)
{
    size_t     i;
    PyObject  *code, *module, *versions;
    PyStatus   status;
    PyConfig   config;

    /*
     * BLAS and numexpr start worker threads on import; a thread does not
     * survive fork, and a child must never wait on one.
     */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("MKL_NUM_THREADS", "1", 1);
    setenv("NUMEXPR_NUM_THREADS", "1", 1);
    setenv("NUMEXPR_MAX_THREADS", "1", 1);

    if (PyImport_AppendInittab("_sbx", sbx_py_init_module) != 0) {
        sbx_log("cannot register the _sbx module");
        return -1;
    }

    /* isolated: no PYTHON* variables, no user site, no current directory */
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 1;
    config.install_signal_handlers = 0;
    config.write_bytecode = 0;

    status = PyConfig_SetBytesString(&config, &config.program_name,
                                     "/usr/bin/python3.11");
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&config);
        sbx_log("cannot configure Python");
        return -1;
    }

    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);

    if (PyStatus_Exception(status)) {
        sbx_log("cannot start Python: %s",
                status.err_msg ? status.err_msg : "?");
        return -1;
    }

    module = NULL;

    for (i = 0; i < sizeof(sbx_py_sources) / sizeof(sbx_py_sources[0]); i++) {
        Py_XDECREF(module);

        code = Py_CompileString(sbx_py_sources[i].source,
                                sbx_py_sources[i].file, Py_file_input);
        module = code ? PyImport_ExecCodeModule(sbx_py_sources[i].name, code)
                      : NULL;
        Py_XDECREF(code);

        if (module == NULL) {
            PyErr_Print();
            sbx_log("cannot load %s", sbx_py_sources[i].file);
            return -1;
        }
    }

    sbx_py_run = PyObject_GetAttrString(module, "run");
    sbx_py_prepare = PyObject_GetAttrString(module, "prepare");
    sbx_py_probe = PyObject_GetAttrString(module, "probe");
    versions = PyObject_GetAttrString(module, "VERSIONS");

    if (sbx_py_run == NULL || sbx_py_prepare == NULL || sbx_py_probe == NULL
        || versions == NULL
        || !PyUnicode_Check(versions))
    {
        PyErr_Print();
        sbx_log("the Python runtime has no run() or VERSIONS");
        return -1;
    }

    snprintf(sbx_cycle.versions, sizeof(sbx_cycle.versions), "%s",
             PyUnicode_AsUTF8(versions));

    Py_DECREF(versions);
    Py_DECREF(module);

    if (sbx_cycle.zygote_kind != SBX_POOL_BASE) {
        sbx_python_find_mt();
    }

    /* the runtime is loaded, its objects frozen: nothing more to allocate */
    sbx_python_plug();

    sbx_cycle.base_vm_mb = sbx_python_vm_mb();

    return 0;
}


void
sbx_python_before_fork(void)
{
    PyOS_BeforeFork();
}


void
sbx_python_after_fork_parent(void)
{
    PyOS_AfterFork_Parent();
}


void
sbx_python_after_fork_child(void)
{
    PyOS_AfterFork_Child();
}


void
sbx_python_prepare(int chan)
{
    size_t     got;
    ssize_t    n;
    PyObject  *res;

    sbx_py_chan = chan;

    if (sbx_py_mt) {
        for (got = 0; got < sizeof(sbx_py_mt->key); got += n) {
            n = getrandom((char *) sbx_py_mt->key + got,
                          sizeof(sbx_py_mt->key) - got, 0);

            if (n < 0 && errno == EINTR) {
                n = 0;
            } else if (n <= 0) {
                _exit(103);
            }
        }

        /* as numpy's own seeding: never the all-zero state */
        sbx_py_mt->key[0] |= 0x80000000U;
        sbx_py_mt->pos = SBX_MT_WORDS;
    }

    res = PyObject_CallOneArg(sbx_py_prepare,
                              sbx_py_mt ? Py_True : Py_False);

    if (res == NULL) {
        PyErr_Clear();
        _exit(103);
    }

    Py_DECREF(res);

    sbx_prefault_apply();
}


/* in the pre-fault probe: a run of our own, nothing sent */

void
sbx_python_probe(void)
{
    PyObject  *res;

    res = PyObject_CallNoArgs(sbx_py_probe);

    if (res == NULL) {
        PyErr_Clear();
        _exit(1);
    }

    Py_DECREF(res);
}


void
sbx_python_run(const char *request, size_t len)
{
    PyObject  *res;

    res = PyObject_CallFunction(sbx_py_run, "y#", request, (Py_ssize_t) len);

    if (res == NULL) {
        /* run() reports every failure itself; this is its own bug */
        PyErr_Clear();
        _exit(102);
    }

    Py_DECREF(res);
}

/* The MS-OFFCRYPTO agile password-hash spin (2.3.4.11) in one C call:
 *
 *     H(n+1) = SHA-512(n as 4 bytes little-endian + H(n)),  n = 0 .. count-1
 *
 * from a given H0 = SHA-512(salt + password). The same chain as the Python loop in
 * pepflow/documents/protection.py (_spin), which checks this against itself before
 * using it; here each round is OpenSSL's SHA-512 over one 68-byte block with no
 * Python object in between, and the interpreter is released while it runs. It makes
 * nothing cheaper for someone guessing passwords: the count is the file's own. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED /* SHA512_Init/Update/Final: no provider look-up per round */
#include <openssl/crypto.h>
#include <openssl/sha.h>

static PyObject *spin(PyObject *self, PyObject *args) {
    Py_buffer h0;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "y*n", &h0, &count))
        return NULL;
    if (h0.len != SHA512_DIGEST_LENGTH) {
        PyBuffer_Release(&h0);
        PyErr_SetString(PyExc_ValueError, "the spin starts from a 64-byte SHA-512 digest");
        return NULL;
    }
    if (count < 0 || (unsigned long long)count > 0xFFFFFFFFULL) {
        PyBuffer_Release(&h0);
        PyErr_SetString(PyExc_ValueError, "the spin count is a number from 0 to 4,294,967,295");
        return NULL;
    }
    unsigned char block[4 + SHA512_DIGEST_LENGTH];
    unsigned char h[SHA512_DIGEST_LENGTH];
    memcpy(h, h0.buf, SHA512_DIGEST_LENGTH);
    PyBuffer_Release(&h0);
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    SHA512_CTX ctx;
    for (unsigned long long i = 0; i < (unsigned long long)count && ok; i++) {
        block[0] = (unsigned char)(i & 0xFF);
        block[1] = (unsigned char)((i >> 8) & 0xFF);
        block[2] = (unsigned char)((i >> 16) & 0xFF);
        block[3] = (unsigned char)((i >> 24) & 0xFF);
        memcpy(block + 4, h, SHA512_DIGEST_LENGTH);
        ok = SHA512_Init(&ctx) && SHA512_Update(&ctx, block, sizeof block) && SHA512_Final(h, &ctx);
    }
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    Py_END_ALLOW_THREADS
    if (!ok) {
        OPENSSL_cleanse(h, sizeof h);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-512 failed during the password spin");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)h, SHA512_DIGEST_LENGTH);
    OPENSSL_cleanse(h, sizeof h);
    return result;
}

static PyMethodDef methods[] = {
    {"spin", spin, METH_VARARGS,
     "spin(h0: bytes, count: int) -> bytes: the agile password-hash chain from H0 (64 bytes)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "pepflow.documents._spin",
    "The MS-OFFCRYPTO password-hash spin in C (OpenSSL's SHA-512).", -1, methods,
};

PyMODINIT_FUNC PyInit__spin(void) { return PyModule_Create(&module); }

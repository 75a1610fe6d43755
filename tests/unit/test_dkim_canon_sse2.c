/*
 * test_dkim_canon_sse2 — the test_dkim_canon cases against the SSE2 body
 * scan alone. Where the CPU has AVX2, dkim_canon.c runs its AVX2 loop
 * first and leaves the SSE2 loop only the last few bytes of a stretch;
 * built without the AVX2 path, this binary gives the SSE2 loop all of it.
 */
#define AUTHGATE_NO_AVX2
#include "../../verify/dkim_canon.c"

#include "test_dkim_canon.c"

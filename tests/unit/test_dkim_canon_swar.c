/*
 * test_dkim_canon_swar — the test_dkim_canon cases against the portable
 * scans, eight bytes per step in a 64-bit word: the code CPUs without
 * SSE2 run, which x86-64 builds (SSE2 always) never reach otherwise.
 */
#undef __SSE2__
#include "../../verify/dkim_canon.c"

#include "test_dkim_canon.c"

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target: the CSV reader of `cmee ind` / `cmee analyze` (examples/cli/csvin.c).
 *
 * csvin.c is compiled into this file so that its static parse_csv() is reachable without a
 * file or stdin: the input bytes are the whole CSV text. Whatever it accepts must satisfy the
 * reader's own promises: finite columns and times that read back. */
#include "../../examples/cli/csvin.c"

#include <math.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Every rejected input prints a line: keep the fuzzer's output readable. Sanitizer reports
     * are written to file descriptor 2 directly, so they still show. */
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull)
        stderr = devnull;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cli_csv d;
    memset(&d, 0, sizeof d);
    d.name = "<fuzz>";
    /* The reader works on a NUL-terminated heap copy, as read_all() makes. */
    d.buf = malloc(size + 1);
    if (!d.buf)
        return 0;
    memcpy(d.buf, data, size);
    d.buf[size] = '\0';
    if (parse_csv(&d, size, d.name) == CLI_EXIT_OK) {
        for (size_t i = 0; i < d.n; i++) {
            (void)cli_csv_time(&d, i);
            for (size_t k = 0; k < NFIELDS - 1; k++)
                if (!isfinite(d.col[k * d.n + i]))
                    abort(); /* the reader promises finite numbers */
        }
    }
    cli_csv_free(&d);
    return 0;
}

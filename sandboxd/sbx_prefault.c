
/*
 * Pre-faulting: the pages a run writes, copied by a spare before its
 * request comes, by the kernel alone (MADV_POPULATE_WRITE), rather than
 * one fault at a time while someone waits for the answer.
 *
 * Which pages: the zygote learns them once, before it is sealed, from a
 * probe, a child forked like any spare that runs our own script: the
 * pages of its private writable mappings that the run made its own (the
 * kernel's "exclusively mapped" bit in /proc/self/pagemap, set after and
 * not before the run).  Every spare then copies those, and only those:
 * running a warm-up script in each spare instead cost the interpreter's
 * work on top of the same copies.  Nothing depends on the list being
 * right; a page it misses is copied at its first write, as ever.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "sbx.h"


#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE  23
#endif

#define SBX_PAGE             4096
#define SBX_PF_RANGES        2048
#define SBX_PF_MAPS          1024
#define SBX_PF_EXCLUSIVE     (1ULL << 56)
#define SBX_PF_PRESENT       (1ULL << 63)

/*
 * A mapping larger than this is a reservation, not a heap a run writes
 * into: a sanitizer's shadow (terabytes, whose page map alone would take
 * minutes to read), an allocator's arena held in advance.
 */
#define SBX_PF_MAP_MAX       ((uintptr_t) 1 << 30)


typedef struct {
    uintptr_t                   start;
    uintptr_t                   len;
} sbx_pf_range_t;


static sbx_pf_range_t  sbx_pf_ranges[SBX_PF_RANGES];
static int             sbx_pf_nranges;


/* the probe's private writable mappings: where a run's copies can be */

static int
sbx_pf_maps(sbx_pf_range_t *maps, int max)
{
    int                  n;
    char                 line[512], perms[8];
    FILE                *f;
    unsigned long long   start, end;

    f = fopen("/proc/self/maps", "re");
    if (f == NULL) {
        return -1;
    }

    n = 0;

    while (n < max && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) == 3
            && strcmp(perms, "rw-p") == 0
            && end - start <= SBX_PF_MAP_MAX)
        {
            maps[n].start = (uintptr_t) start;
            maps[n].len = (uintptr_t) (end - start);
            n++;
        }
    }

    fclose(f);

    return n;
}


/* one bit a page of those mappings: exclusively ours, and there */

static unsigned char *
sbx_pf_snapshot(int pagemap, sbx_pf_range_t *maps, int nmaps, size_t npages)
{
    int             i;
    size_t          j, k, p, pages, chunk;
    uint64_t        buf[4096];
    unsigned char  *bits;

    bits = calloc((npages + 7) / 8, 1);
    if (bits == NULL) {
        return NULL;
    }

    k = 0;

    for (i = 0; i < nmaps; i++) {
        pages = maps[i].len / SBX_PAGE;

        for (p = 0; p < pages; p += chunk) {
            chunk = pages - p < 4096 ? pages - p : 4096;

            if (pread(pagemap, buf, chunk * 8,
                      (off_t) ((maps[i].start / SBX_PAGE + p) * 8))
                != (ssize_t) (chunk * 8))
            {
                free(bits);
                return NULL;
            }

            for (j = 0; j < chunk; j++, k++) {
                if ((buf[j] & (SBX_PF_PRESENT | SBX_PF_EXCLUSIVE))
                    == (SBX_PF_PRESENT | SBX_PF_EXCLUSIVE))
                {
                    bits[k / 8] |= 1 << (k % 8);
                }
            }
        }
    }

    return bits;
}


/* in the probe: a run, and what it made its own, down the pipe */

static void
sbx_pf_probe(int out)
{
    int              i, pagemap, nmaps, nranges;
    size_t           k, p, pages, npages;
    uintptr_t        addr;
    unsigned char   *before, *after;
    sbx_pf_range_t  *maps, *ranges;

    maps = malloc(SBX_PF_MAPS * sizeof(sbx_pf_range_t));
    ranges = malloc(SBX_PF_RANGES * sizeof(sbx_pf_range_t));
    pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    nmaps = (maps && ranges && pagemap >= 0)
            ? sbx_pf_maps(maps, SBX_PF_MAPS) : -1;

    if (nmaps <= 0) {
        _exit(1);
    }

    npages = 0;

    for (i = 0; i < nmaps; i++) {
        npages += maps[i].len / SBX_PAGE;
    }

    before = sbx_pf_snapshot(pagemap, maps, nmaps, npages);
    sbx_python_probe();
    after = sbx_pf_snapshot(pagemap, maps, nmaps, npages);

    if (before == NULL || after == NULL) {
        _exit(1);
    }

    /* the pages that became ours during the run, as ranges */
    nranges = 0;
    k = 0;

    for (i = 0; i < nmaps; i++) {
        pages = maps[i].len / SBX_PAGE;

        for (p = 0; p < pages; p++, k++) {
            if (!(after[k / 8] & (1 << (k % 8)))
                || (before[k / 8] & (1 << (k % 8))))
            {
                continue;
            }

            addr = maps[i].start + p * SBX_PAGE;

            if (nranges
                && ranges[nranges - 1].start + ranges[nranges - 1].len
                   == addr)
            {
                ranges[nranges - 1].len += SBX_PAGE;

            } else if (nranges < SBX_PF_RANGES) {
                ranges[nranges].start = addr;
                ranges[nranges].len = SBX_PAGE;
                nranges++;
            }
        }
    }

    if (write(out, ranges, nranges * sizeof(sbx_pf_range_t))
        != (ssize_t) (nranges * sizeof(sbx_pf_range_t)))
    {
        _exit(1);
    }

    _exit(0);
}


/*
 * In the zygote, warm and not yet sealed (/proc is still there).  0 with
 * or without a list: pre-faulting is an optimisation, never a condition.
 */

int
sbx_prefault_learn(void)
{
    int      fd[2], status;
    char    *p;
    size_t   got, size;
    pid_t    pid;
    ssize_t  n;

    if (pipe2(fd, O_CLOEXEC) != 0) {
        return 0;
    }

    sbx_python_before_fork();
    pid = fork();

    if (pid == 0) {
        close(fd[0]);
        sbx_python_after_fork_child();
        sbx_python_prepare(-1);
        sbx_pf_probe(fd[1]);
    }

    sbx_python_after_fork_parent();
    close(fd[1]);

    got = 0;
    size = sizeof(sbx_pf_ranges);
    p = (char *) sbx_pf_ranges;

    while (pid > 0 && got < size) {
        n = read(fd[0], p + got, size - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        got += n;
    }

    close(fd[0]);

    if (pid < 0 || waitpid(pid, &status, 0) != pid
        || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    {
        sbx_log("the pre-fault probe failed: spares copy pages as they go");
        return 0;
    }

    sbx_pf_nranges = (int) (got / sizeof(sbx_pf_range_t));

    sbx_log("each spare pre-faults %d pages in %d ranges",
            sbx_prefault_pages(), sbx_pf_nranges);

    return 0;
}


/* in a spare, after its own preparation: the copies, all at once */

void
sbx_prefault_apply(void)
{
    int  i;

    for (i = 0; i < sbx_pf_nranges; i++) {
        if (madvise((void *) sbx_pf_ranges[i].start, sbx_pf_ranges[i].len,
                    MADV_POPULATE_WRITE)
            != 0 && errno == EINVAL)
        {
            /* a kernel before 5.14: nothing to gain from the rest */
            return;
        }
    }
}


int
sbx_prefault_pages(void)
{
    int     i;
    size_t  pages;

    pages = 0;

    for (i = 0; i < sbx_pf_nranges; i++) {
        pages += sbx_pf_ranges[i].len / SBX_PAGE;
    }

    return (int) pages;
}

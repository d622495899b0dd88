#ifndef CPOLL_SHIM_H
#define CPOLL_SHIM_H
#include <poll.h>
#include <signal.h>
#include <time.h>
/* glibc declares ppoll (poll with a nanosecond timeout) only under _GNU_SOURCE, which Swift's
   Glibc module is built without; RedisCache needs sub-millisecond waits. */
int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask);
#endif

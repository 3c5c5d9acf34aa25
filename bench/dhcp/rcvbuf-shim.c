/* LD_PRELOAD shim for the load generator only: gives every UDP socket perfdhcp binds a
 * large receive buffer (SO_RCVBUFFORCE, root), so a burst of replies queues in its
 * socket instead of overflowing the default 208 KiB, which is net.core.rmem_max and
 * global to the host. A fleet of real PXE clients has one socket per NIC and no such
 * bottleneck; without this, perfdhcp (not the server) loses replies in a burst. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  static int (*real_bind)(int, const struct sockaddr*, socklen_t);
  if (!real_bind) real_bind = (int (*)(int, const struct sockaddr*, socklen_t))dlsym(RTLD_NEXT, "bind");
  int type = 0;
  socklen_t tl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM) {
    const char* env = getenv("RCVBUF_BYTES");
    int bytes = env ? atoi(env) : 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
  }
  return real_bind(fd, addr, len);
}

// open(address, port, device, netnsPath, bufferBytes, reuseAddress) -> fd of an IPv4
// UDP socket with SO_BROADCAST, SO_BINDTODEVICE when device is not "", SO_REUSEADDR
// when reuseAddress, bound to address:port. Without SO_REUSEADDR a port already taken
// on the same device (or on all devices) is EADDRINUSE, while sockets bound to other
// devices do not conflict; with it, it coexists with another server that also sets it. netnsPath (e.g. /run/netns/NAME, "" = current) creates the socket in
// that network namespace: setns() switches only the calling thread, and a socket
// stays in the namespace it was created in. bufferBytes > 0 sizes the receive and
// send buffers past net.core.rmem_max when allowed (SO_RCVBUFFORCE, CAP_NET_ADMIN). node:dgram can wrap
// the fd (socket.bind({ fd })) but cannot set SO_BINDTODEVICE itself; without it a
// multi-homed DHCP server hears every interface and its broadcasts leave through
// whichever interface the routing table picks.
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char* what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, err == EADDRINUSE ? "EADDRINUSE" : (err == ENODEV ? "ENODEV" : (err == EPERM ? "EPERM" : "ESOCKET")), msg);
  return NULL;
}

static void set_buffers(int fd, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

// Socket creation proper, in whatever namespace the thread is in. Returns fd or -errno;
// *what names the failing step.
static int make_socket(const struct sockaddr_in* sa, const char* device, size_t devlen, int bytes, int reuse, const char** what) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) { *what = "socket"; return -errno; }
  int one = 1;
  if ((reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
      setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) {
    int e = errno; close(fd); *what = "setsockopt"; return -e;
  }
  if (devlen > 0 && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)devlen) < 0) {
    int e = errno; close(fd); *what = device; return -e;
  }
  set_buffers(fd, bytes);
  if (bind(fd, (const struct sockaddr*)sa, sizeof *sa) < 0) {
    int e = errno; close(fd); *what = "bind"; return -e;
  }
  return fd;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "open(address, port, device, netnsPath, bufferBytes, reuseAddress) needs six arguments");
    return NULL;
  }
  bool reuse = false;
  if (napi_get_value_bool(env, argv[5], &reuse) != napi_ok) {
    napi_throw_type_error(env, NULL, "reuseAddress must be a boolean");
    return NULL;
  }
  char address[64];
  char device[IFNAMSIZ + 1];
  char netns[512];
  size_t len = 0, nslen = 0;
  uint32_t port = 0;
  int32_t bytes = 0;
  if (napi_get_value_string_utf8(env, argv[0], address, sizeof address, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "address must be a string");
    return NULL;
  }
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) {
    napi_throw_type_error(env, NULL, "port must be an integer 0..65535");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[2], device, sizeof device, &len) != napi_ok || len >= IFNAMSIZ) {
    napi_throw_type_error(env, NULL, "device must be an interface name shorter than 16 bytes");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, argv[3], netns, sizeof netns, &nslen) != napi_ok || nslen >= sizeof netns - 1) {
    napi_throw_type_error(env, NULL, "netnsPath must be a path");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[4], &bytes) != napi_ok) {
    napi_throw_type_error(env, NULL, "bufferBytes must be an integer");
    return NULL;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
    napi_throw_type_error(env, NULL, "address must be an IPv4 address");
    return NULL;
  }
  const char* what = "socket";
  int fd;
  if (nslen > 0) {
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return fail(env, "/proc/thread-self/ns/net", errno);
    int target = open(netns, O_RDONLY | O_CLOEXEC);
    if (target < 0) { int e = errno; close(self); return fail(env, netns, e); }
    if (setns(target, CLONE_NEWNET) < 0) { int e = errno; close(self); close(target); return fail(env, "setns", e); }
    fd = make_socket(&sa, device, len, bytes, reuse, &what);
    // Always return the thread to its own namespace; failing that, stop rather than
    // run the rest of the process in the wrong network.
    if (setns(self, CLONE_NEWNET) < 0) abort();
    close(self);
    close(target);
  } else {
    fd = make_socket(&sa, device, len, bytes, reuse, &what);
  }
  if (fd < 0) return fail(env, what, -fd);
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_socket, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

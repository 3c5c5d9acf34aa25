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
//
// setReuseAddress(fd, on): libuv sets SO_REUSEADDR on every fd node:dgram adopts
// (bind({ fd })), so a socket opened without it would let another SO_REUSEADDR socket
// bind the same address:port and take a share of its datagrams; this turns it back off.
//
// sendBatch(fd, packets, start, count, ipv4, port, gso) -> packets sent, or -errno
// when none could be sent for a reason other than a full send buffer (0 then). Sends
// packets[start .. start+count) to ipv4:port (ipv4 a host-order uint32) in one
// sendmmsg(2) on a non-blocking fd; node:dgram spends ~5 µs of CPU per datagram on its
// own, a TFTP window of 16 costs one crossing into C and one syscall here. With gso,
// runs of packets that sit back to back in memory with the same length (the last of a
// run may be shorter) go out as one UDP GSO datagram (UDP_SEGMENT), which the kernel
// cuts into those packets: one trip through the stack instead of one per packet. The
// count can stop short (EAGAIN, an error after the first message): the caller sends
// the rest another way.
#define _GNU_SOURCE
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

// One sendmmsg holds at most this many packets; a GSO datagram at most GSO_SEGS
// segments (the kernel's UDP_MAX_SEGMENTS) and GSO_BYTES of payload (IP length field).
#define BATCH_MAX 256
#define GSO_SEGS 64
#define GSO_BYTES 65000

static napi_value int_result(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) {
    napi_throw_type_error(env, NULL, "sendBatch(fd, packets, start, count, ipv4, port, gso) needs seven arguments");
    return NULL;
  }
  int32_t fd = -1;
  uint32_t start = 0, count = 0, addr = 0, port = 0, len = 0;
  bool gso = false, is_array = false;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &addr) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &port) != napi_ok || port == 0 || port > 65535 ||
      napi_get_value_bool(env, argv[6], &gso) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendBatch: fd >= 0, packets an array of Buffers, start/count/ipv4 uint32, port 1..65535, gso boolean");
    return NULL;
  }
  if (start > len || count > len - start) {
    napi_throw_range_error(env, NULL, "sendBatch: start + count beyond the array");
    return NULL;
  }
  if (count > BATCH_MAX) count = BATCH_MAX;
  if (count == 0) return int_result(env, 0);

  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  to.sin_addr.s_addr = htonl(addr);

  struct iovec iov[BATCH_MAX];
  struct mmsghdr msgs[BATCH_MAX];
  // Per message: how many packets it carries, and the GSO control block.
  uint32_t carried[BATCH_MAX];
  union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } ctl[BATCH_MAX];
  uint32_t nmsg = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    void* data = NULL;
    size_t size = 0;
    bool is_buffer = false;
    if (napi_get_element(env, argv[1], start + i, &el) != napi_ok ||
        napi_is_buffer(env, el, &is_buffer) != napi_ok || !is_buffer ||
        napi_get_buffer_info(env, el, &data, &size) != napi_ok) {
      napi_throw_type_error(env, NULL, "sendBatch: packets must be Buffers");
      return NULL;
    }
    if (gso && nmsg > 0) {
      // Extend the previous message when this packet follows it directly in memory and
      // the previous packets all had this one's length or more (only the last may be short).
      struct mmsghdr* m = &msgs[nmsg - 1];
      struct iovec* v = m->msg_hdr.msg_iov;
      size_t seg = carried[nmsg - 1] == 1 ? v->iov_len : *(uint16_t*)CMSG_DATA((struct cmsghdr*)ctl[nmsg - 1].buf);
      bool last_full = v->iov_len % seg == 0;
      if ((char*)v->iov_base + v->iov_len == (char*)data && last_full && size <= seg && size > 0 &&
          carried[nmsg - 1] < GSO_SEGS && v->iov_len + size <= GSO_BYTES) {
        if (carried[nmsg - 1] == 1) {
          struct cmsghdr* c = (struct cmsghdr*)ctl[nmsg - 1].buf;
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          *(uint16_t*)CMSG_DATA(c) = (uint16_t)seg;
          m->msg_hdr.msg_control = ctl[nmsg - 1].buf;
          m->msg_hdr.msg_controllen = sizeof ctl[nmsg - 1].buf;
        }
        v->iov_len += size;
        carried[nmsg - 1]++;
        continue;
      }
    }
    iov[nmsg].iov_base = data;
    iov[nmsg].iov_len = size;
    memset(&msgs[nmsg], 0, sizeof msgs[nmsg]);
    msgs[nmsg].msg_hdr.msg_name = &to;
    msgs[nmsg].msg_hdr.msg_namelen = sizeof to;
    msgs[nmsg].msg_hdr.msg_iov = &iov[nmsg];
    msgs[nmsg].msg_hdr.msg_iovlen = 1;
    carried[nmsg] = 1;
    nmsg++;
  }
  uint32_t done = 0, packets = 0;
  while (done < nmsg) {
    int n = sendmmsg(fd, msgs + done, nmsg - done, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (packets > 0 || errno == EAGAIN || errno == EWOULDBLOCK) break;
      return int_result(env, -(int64_t)errno);
    }
    for (int k = 0; k < n; k++) packets += carried[done + k];
    done += (uint32_t)n;
    if (n == 0) break;
  }
  return int_result(env, packets);
}

static napi_value set_reuse_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  bool on = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "setReuseAddress(fd, on) needs an fd >= 0 and a boolean");
    return NULL;
  }
  int v = on ? 1 : 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v) < 0) return fail(env, "setsockopt SO_REUSEADDR", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_socket, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_create_function(env, "sendBatch", NAPI_AUTO_LENGTH, send_batch, NULL, &fn);
  napi_set_named_property(env, exports, "sendBatch", fn);
  napi_create_function(env, "setReuseAddress", NAPI_AUTO_LENGTH, set_reuse_address, NULL, &fn);
  napi_set_named_property(env, exports, "setReuseAddress", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

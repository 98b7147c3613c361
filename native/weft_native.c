// Weft's native addon: the two things Node cannot do by itself for transparent capture. Read the destination
// a connection had before iptables REDIRECT rewrote it (getsockopt SO_ORIGINAL_DST for IPv4,
// IP6T_SO_ORIGINAL_DST for IPv6), and create a socket inside another network namespace (setns around
// socket()), so a sidecar in the host's namespace can own listeners in its workload's namespace.
// Plain Node-API (node_api.h) so one build loads in every Node version.
#define _GNU_SOURCE // setns, CLONE_NEWNET
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

// From linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h (both 80); defined here because those
// headers clash with the libc ones.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static const char *errno_code(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_throw_error(env, errno_code(e), msg);
  return NULL;
}

static napi_value make_result(napi_env env, const char *address, int port, int family) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "address", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_int32(env, family, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

// originalDst(fd: number): { address: string, port: number, family: 4 | 6 }
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(fd, (struct sockaddr *)&local, &len) != 0) return throw_errno(env, "getsockname", errno);

  int v4 = local.ss_family == AF_INET;
  if (local.ss_family == AF_INET6) {
    // A dual-stack listener accepts IPv4 peers as v4-mapped IPv6 sockets; their NAT entry is an IPv4 one.
    v4 = IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr);
  } else if (!v4) {
    napi_throw_error(env, "EAFNOSUPPORT", "originalDst: not an IPv4 or IPv6 socket");
    return NULL;
  }

  char text[INET6_ADDRSTRLEN];
  if (v4) {
    struct sockaddr_in dst;
    socklen_t dlen = sizeof dst;
    memset(&dst, 0, sizeof dst);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dlen) != 0)
      return throw_errno(env, "getsockopt(SO_ORIGINAL_DST)", errno);
    inet_ntop(AF_INET, &dst.sin_addr, text, sizeof text);
    return make_result(env, text, ntohs(dst.sin_port), 4);
  }
  struct sockaddr_in6 dst6;
  socklen_t dlen6 = sizeof dst6;
  memset(&dst6, 0, sizeof dst6);
  if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst6, &dlen6) != 0)
    return throw_errno(env, "getsockopt(IP6T_SO_ORIGINAL_DST)", errno);
  inet_ntop(AF_INET6, &dst6.sin6_addr, text, sizeof text);
  return make_result(env, text, ntohs(dst6.sin6_port), 6);
}

// Fill a sockaddr from text; returns its length, 0 when the text is not an address of that family.
static socklen_t make_sockaddr(int family, const char *text, int port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, text, &a->sin_addr) == 1 ? sizeof *a : 0;
  }
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons((uint16_t)port);
  return inet_pton(AF_INET6, text, &a6->sin6_addr) == 1 ? sizeof *a6 : 0;
}

// socketInNetns(nsPath: string, family: 4 | 6, udp: boolean, bindAddress: string | null, bindPort: number,
//               ownerGid: number): fd
// Creates a socket inside the network namespace at nsPath (e.g. /run/netns/<name>), optionally bound, and
// returns its fd; the calling thread is back in its own namespace before this returns. A socket belongs to the
// namespace it was created in for its whole life, so Node can then listen, connect or send on it as usual.
// ownerGid >= 0 creates it with that (filesystem) GID, which iptables `-m owner --gid-owner` matches: the
// thread's GIDs are switched around socket() by the raw syscall, which (unlike glibc's setresgid) changes
// this thread only.
static napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  char path[512], addr[INET6_ADDRSTRLEN];
  int32_t family, port = 0, owner_gid = -1;
  bool udp = false, has_addr = false;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5 ||
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, NULL) != napi_ok ||
      napi_get_value_int32(env, argv[1], &family) != napi_ok || (family != 4 && family != 6) ||
      napi_get_value_bool(env, argv[2], &udp) != napi_ok || napi_typeof(env, argv[3], &t) != napi_ok ||
      napi_get_value_int32(env, argv[4], &port) != napi_ok || port < 0 || port > 65535 ||
      (argc >= 6 && napi_get_value_int32(env, argv[5], &owner_gid) != napi_ok)) {
    napi_throw_type_error(env, "EINVAL", "socketInNetns(nsPath, family 4|6, udp, bindAddress|null, bindPort, ownerGid)");
    return NULL;
  }
  if (t == napi_string) {
    if (napi_get_value_string_utf8(env, argv[3], addr, sizeof addr, NULL) != napi_ok) return NULL;
    has_addr = true;
  }
  int af = family == 4 ? AF_INET : AF_INET6;
  struct sockaddr_storage sa;
  socklen_t salen = 0;
  if (has_addr && (salen = make_sockaddr(af, addr, port, &sa)) == 0) {
    napi_throw_type_error(env, "EINVAL", "socketInNetns: bindAddress is not an address of that family");
    return NULL;
  }

  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return throw_errno(env, "open /proc/thread-self/ns/net", errno);
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    return throw_errno(env, "open network namespace", e);
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(self);
    close(target);
    return throw_errno(env, "setns", e);
  }
  gid_t rgid, egid, sgid;
  getresgid(&rgid, &egid, &sgid);
  int fd = -1, socket_errno = 0;
  if (owner_gid >= 0 && syscall(SYS_setresgid, -1, (gid_t)owner_gid, -1) != 0) {
    socket_errno = errno;
  } else {
    fd = socket(af, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    socket_errno = errno;
    if (owner_gid >= 0 && syscall(SYS_setresgid, -1, egid, -1) != 0) abort();
  }
  // Back to our own namespace before anything else can run on this thread; failing that is unrecoverable.
  if (setns(self, CLONE_NEWNET) != 0) abort();
  close(self);
  close(target);
  if (fd < 0) return throw_errno(env, "socket", socket_errno);

  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (af == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (has_addr && bind(fd, (struct sockaddr *)&sa, salen) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  napi_create_function(env, "socketInNetns", NAPI_AUTO_LENGTH, socket_in_netns, NULL, &fn);
  napi_set_named_property(env, exports, "socketInNetns", fn);
  return exports;
}

// The sidecar's DNS proxy (Istio's agent DNS proxy, port 15053): answers A/AAAA for mesh names from the
// name table, forwards every other query unchanged to the upstream resolvers, over UDP and TCP. The capture
// rules redirect the workload's port-53 traffic here.

import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6 } from 'node:net';
import type { Server, Socket } from 'node:net';
import { encodeResponse, isAddressQuery, parseQuery, Rcode, RecordType } from './codec.ts';
import type { AnswerRecord, DnsQuery } from './codec.ts';
import type { NameTable } from './name-table.ts';
import { listenInNamespace, udpSocketInNamespace } from '../capture/netns-socket.ts';

/** How to run the proxy. */
export interface DnsProxyOptions {
  /** The names to answer; replace it later with setTable(). */
  readonly table: NameTable;
  /** Upstream resolvers, `ip`, `ip:port` or `[ipv6]:port` (default port 53), tried in order. */
  readonly upstreams: readonly string[];
  /** Listen address. Default 127.0.0.1 (where iptables REDIRECT delivers locally generated queries). */
  readonly host?: string;
  /** UDP and TCP port. Default 15053; 0 picks a free port (the same for both). */
  readonly port?: number;
  /** TTL of the answers for mesh names, seconds. Default 30 (Istio's). */
  readonly ttlSeconds?: number;
  /** How long to wait for each upstream, ms. Default 2000. */
  readonly upstreamTimeoutMs?: number;
  /**
   * Listen inside this network namespace (a `weft-…` workload namespace) while this process, and so the
   * forwarding to the upstreams, stays in its own. Default: this process's namespace.
   */
  readonly netns?: string;
  /**
   * With netns: create the sockets with this GID (the proxy's, 1337). Needed when the capture rules redirect DNS
   * for named servers: their conntrack-zone rules recognise the DNS proxy's replies by its UID/GID.
   */
  readonly ownerGid?: number;
}

/** Counters, for the sidecar's stats. */
export interface DnsProxyStats {
  /** Queries answered from the table. */
  answered: number;
  /** Queries forwarded upstream and answered by an upstream. */
  forwarded: number;
  /** Queries no upstream answered (SERVFAIL sent). */
  upstreamFailures: number;
  /** Messages that could not be parsed. */
  malformed: number;
}

/** A running DNS proxy. */
export interface DnsProxy {
  /** The port it listens on (UDP and TCP). */
  readonly port: number;
  readonly host: string;
  readonly stats: Readonly<DnsProxyStats>;
  /** Answer from a new table from now on. */
  setTable(table: NameTable): void;
  /** Stop listening and close TCP connections. */
  close(): Promise<void>;
}

/** Start the proxy on UDP and TCP. */
export async function startDnsProxy(options: DnsProxyOptions): Promise<DnsProxy> {
  const host = options.host ?? '127.0.0.1';
  const ttl = options.ttlSeconds ?? 30;
  const timeoutMs = options.upstreamTimeoutMs ?? 2000;
  const upstreams = options.upstreams.map(parseUpstream);
  let table = options.table;
  const stats: DnsProxyStats = { answered: 0, forwarded: 0, upstreamFailures: 0, malformed: 0 };

  const handle = async (msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> => {
    const query = parseQuery(msg);
    if (!query) {
      stats.malformed++;
      return msg.length >= 12 ? encodeResponse({ id: msg.readUInt16BE(0), opcode: 0, rd: false, question: undefined, questionBytes: Buffer.alloc(0), isResponse: false }, Rcode.FORMERR) : undefined;
    }
    if (query.isResponse) return undefined;
    const local = answerFromTable(query, table, ttl);
    if (local) {
      stats.answered++;
      // A UDP answer past 512 bytes (RFC 1035 §4.2.1) is sent empty with TC set: the client asks again over TCP.
      return transport === 'udp' && local.length > UDP_MAX ? truncated(query) : local;
    }
    for (const upstream of upstreams) {
      const reply = await (transport === 'udp' ? forwardUdp : forwardTcp)(msg, upstream, timeoutMs).catch(() => undefined);
      if (reply && reply.length >= 12 && reply.readUInt16BE(0) === query.id) {
        stats.forwarded++;
        return reply;
      }
    }
    stats.upstreamFailures++;
    return encodeResponse(query, Rcode.SERVFAIL);
  };

  const { udp, tcp, port } = await bindBoth(host, options.port ?? 15053, options.netns, options.ownerGid);
  const connections = new Set<Socket>();
  udp.on('message', (msg, rinfo) => {
    void handle(msg, 'udp').then((reply) => {
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
  });
  tcp.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    readFrames(socket, (frame) => {
      void handle(frame, 'tcp').then((reply) => {
        if (reply && !socket.destroyed) socket.write(frame2(reply));
      });
    });
  });

  return {
    port,
    host,
    stats,
    setTable: (t) => {
      table = t;
    },
    close: async () => {
      for (const s of connections) s.destroy();
      await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}

/** The classic DNS-over-UDP payload limit (the proxy does not read EDNS sizes). */
const UDP_MAX = 512;

/** An empty NOERROR response with the TC (truncated) bit set. */
function truncated(query: DnsQuery): Buffer {
  const r = encodeResponse(query, Rcode.NOERROR);
  r.writeUInt16BE(r.readUInt16BE(2) | 0x0200, 2);
  return r;
}

/** The table's answer to a query, or undefined when the name is not a mesh name (forward it). */
export function answerFromTable(query: DnsQuery, table: NameTable, ttl: number): Buffer | undefined {
  const q = query.question;
  if (!q || query.opcode !== 0) return undefined;
  const hit = table.lookup(q.name);
  if (!hit) return undefined;
  if (!isAddressQuery(query)) return encodeResponse(query, Rcode.NOERROR); // a mesh name has no other records
  const answers: AnswerRecord[] =
    q.type === RecordType.A
      ? hit.ipv4.map((address) => ({ type: RecordType.A, ttl, address }))
      : hit.ipv6.map((address) => ({ type: RecordType.AAAA, ttl, address }));
  return encodeResponse(query, Rcode.NOERROR, answers); // no addresses of this family: NODATA, as Istio answers
}

interface Upstream {
  readonly address: string;
  readonly port: number;
}

function parseUpstream(text: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket?.[1]) return { address: bracket[1], port: bracket[2] ? Number(bracket[2]) : 53 };
  if (isIPv6(text)) return { address: text, port: 53 };
  const [address = text, port] = text.split(':');
  return { address, port: port ? Number(port) : 53 };
}

function forwardUdp(msg: Buffer, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket: UdpSocket = createSocket(isIPv6(upstream.address) ? 'udp6' : 'udp4');
    const id = msg.readUInt16BE(0);
    const timer = setTimeout(() => done(new Error(`upstream ${upstream.address}:${upstream.port} timed out`)), timeoutMs);
    const done = (err: Error | undefined, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else if (reply) resolve(reply);
    };
    socket.on('error', (e) => done(e));
    socket.on('message', (reply) => {
      if (reply.length >= 12 && reply.readUInt16BE(0) === id) done(undefined, reply);
    });
    socket.send(msg, upstream.port, upstream.address);
  });
}

function forwardTcp(msg: Buffer, upstream: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: upstream.address, port: upstream.port });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`upstream ${upstream.address}:${upstream.port} timed out`)));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('upstream closed the connection')));
    readFrames(socket, (frame) => {
      resolve(frame);
      socket.destroy();
    });
    socket.write(frame2(msg));
  });
}

/** DNS over TCP: each message is preceded by its 2-byte length (RFC 1035 §4.2.2). */
function frame2(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}

function readFrames(socket: Socket, onFrame: (frame: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const len = buffered.readUInt16BE(0);
      if (buffered.length < 2 + len) break;
      onFrame(buffered.subarray(2, 2 + len));
      buffered = buffered.subarray(2 + len);
    }
  });
}

/** Bind UDP and TCP on one port; with port 0, retry until both get the same free port. */
async function bindBoth(host: string, port: number, netns: string | undefined, ownerGid: number | undefined): Promise<{ udp: UdpSocket; tcp: Server; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp = netns ? await udpSocketInNamespace(netns, { host, port }, { ownerGid }) : createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    if (!netns) {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    }
    const bound = udp.address().port;
    const tcp = createServer();
    try {
      if (netns) await listenInNamespace(tcp, netns, { host, port: bound }, { ownerGid });
      else {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(bound, host, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      }
      udp.on('error', () => {}); // per-datagram send errors (peer gone) must not crash the sidecar
      return { udp, tcp, port: bound };
    } catch (e) {
      udp.close();
      if (port !== 0 || attempt >= 10) throw e;
    }
  }
}

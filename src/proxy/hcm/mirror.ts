// Request mirroring (Envoy request_mirror_policies, Istio VirtualService `mirror`): a copy of the request goes to
// another cluster with `-shadow` appended to the host; its response is read and dropped and never affects the
// client (over HTTP/1.1, or HTTP/2 when the mirror cluster speaks it: see ../h2/upstream-link.ts). A mirror that falls behind (over 1 MiB queued) is abandoned rather than buffered without bound.
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';
import type { UpstreamHandler } from '../cluster/upstream-connection.ts';
import type { UpstreamLink } from '../h2/upstream-link.ts';
import { chunkHeader, lastChunk } from '../http1/serialize.ts';
import type { ResponseHead } from '../http1/head.ts';

const MAX_QUEUED = 1024 * 1024;

export class Mirror implements UpstreamHandler {
  private conn: UpstreamLink | undefined;
  private readonly host: Host;
  private readonly cluster: Cluster;
  private readonly chunked: boolean;
  private keepAlive = false;
  private requestDone = false;

  constructor(cluster: Cluster, host: Host, conn: UpstreamLink, method: string, head: string, chunked: boolean) {
    this.cluster = cluster;
    this.host = host;
    this.conn = conn;
    this.chunked = chunked;
    host.active++;
    cluster.active++;
    conn.attach(this, method);
    conn.socket.write(head, 'latin1');
  }

  body(chunk: Buffer): void {
    const c = this.conn;
    if (!c) return;
    if (c.socket.writableLength > MAX_QUEUED) return this.abandon();
    if (this.chunked) {
      c.socket.write(chunkHeader(chunk.length), 'latin1');
      c.socket.write(chunk);
      c.socket.write('\r\n', 'latin1');
    } else c.socket.write(chunk);
  }

  end(trailers: string[] | undefined): void {
    this.requestDone = true;
    if (this.conn && this.chunked) this.conn.socket.write(lastChunk(trailers), 'latin1');
  }

  abandon(): void {
    this.release(false);
  }

  private release(reusable: boolean): void {
    const c = this.conn;
    if (!c) return;
    this.conn = undefined;
    this.host.active--;
    this.cluster.active--;
    c.detach(reusable);
  }

  onUpstreamConnect(): void {}
  onUpstreamHead(resp: ResponseHead): void {
    this.keepAlive = resp.keepAlive;
  }
  onUpstreamBody(): void {}
  onUpstreamEnd(): void {
    this.release(this.keepAlive && this.requestDone && (this.conn?.parser.isPaused ?? false));
  }
  onUpstreamFailure(): void {
    // The connection is already gone; only the counters need releasing.
    if (!this.conn) return;
    this.conn = undefined;
    this.host.active--;
    this.cluster.active--;
  }
  onUpstreamDrain(): void {}
  onUpstreamReadDone(): void {}
}

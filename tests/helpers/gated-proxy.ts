import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a Redis, standing for one process's network path to it: while
 * shut, it drops every connection it has and every new one at once (the client sees a closed
 * connection and retries with its backoff), so a test decides when that process gets Redis back.
 */
export interface GatedProxy {
  url: string;
  /** Drops every connection through the proxy, and every new one until open(). */
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

export async function gatedProxy(targetPort: number): Promise<GatedProxy> {
  let open = true;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    shut() {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    open() {
      open = true;
    },
    async close() {
      open = false;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a PostgreSQL, standing for a database that hangs: while held,
 * every reply the server sends is kept back (the statements themselves reach it), until release()
 * delivers them. It reads the protocol the client sends, so a test can count the statements that
 * reach the server (`executed`: simple queries and Execute messages) and hold from the moment a
 * given one is sent (`holdAfter`).
 */
export interface PgProxy {
  /** `postgres://` URL of the proxy, for DATABASE_URL. */
  url: string;
  /** Keeps every reply back from now on. */
  hold(): void;
  /** Holds from the moment a simple query whose text matches `pattern` is sent (e.g. /^COMMIT/). */
  holdAfter(pattern: RegExp): void;
  /** Delivers what was held and stops holding. */
  release(): void;
  /** Statements the clients sent through the proxy so far (simple queries and Executes). */
  readonly executed: number;
  /** The text of every simple query sent so far, in order. */
  readonly simpleQueries: readonly string[];
  close(): Promise<void>;
}

export async function pgProxy(target: { host: string; port: number }, user = 'postgres'): Promise<PgProxy> {
  let holding = false;
  let holdPattern: RegExp | undefined;
  let executed = 0;
  const simpleQueries: string[] = [];
  const kept: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let buffer = Buffer.alloc(0);
    let startup = true;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffer = Buffer.concat([buffer, chunk]);
      // Frames: the first (startup, SSL or cancel request) has no type byte; the rest have one.
      for (;;) {
        if (startup) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          // An SSL request is followed by the real startup message.
          if (code !== 80_877_103) startup = false;
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]!);
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        if (type === 'Q') {
          const text = buffer.subarray(5, length).toString('utf8').replace(/\0$/, '');
          simpleQueries.push(text);
          executed++;
          if (holdPattern?.test(text)) holding = true;
        } else if (type === 'E') {
          executed++;
        }
        buffer = buffer.subarray(1 + length);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (holding) kept.push(() => client.writable && client.write(chunk));
      else client.write(chunk);
    });
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
    url: `postgres://${user}@127.0.0.1:${port}/test`,
    hold() {
      holding = true;
    },
    holdAfter(pattern) {
      holdPattern = pattern;
    },
    release() {
      holding = false;
      holdPattern = undefined;
      for (const write of kept.splice(0)) write();
    },
    get executed() {
      return executed;
    },
    get simpleQueries() {
      return simpleQueries;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

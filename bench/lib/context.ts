import { Socket } from 'node:net';
import type { BenchContext } from './types.js';

/** Whether a Redis answers PING at `url` within half a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port || 6379), hostname, () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export async function createContext(argv: readonly string[]): Promise<BenchContext> {
  const quick = argv.includes('--quick');
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const tty = process.stderr.isTTY;
  return {
    quick,
    rounds: quick ? 1 : 3,
    redisUrl: (await redisAnswers(url)) ? url : undefined,
    progress(text) {
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (text) process.stderr.write(`${text}\n`);
    },
  };
}

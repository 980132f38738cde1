/**
 * One child process of a fleet scenario (bench/scenarios/fleet*.ts): started with
 * `node --import tsx` and an IPC channel, spoken to in messages. Every wait for a message is
 * bounded, and `stop()` kills a child that does not leave when asked.
 */
import { type ChildProcess, fork } from 'node:child_process';

export const STEP_TIMEOUT_MS = 15_000;

export class FleetProcess<To extends { type: string }, From extends { type: string }> {
  readonly child: ChildProcess;
  readonly #queue: From[] = [];
  readonly #waiters: Array<(message: From) => void> = [];
  /** The end of the child's stderr, quoted when it dies. */
  #stderr = '';
  exited = false;

  constructor(script: string, tsx: string) {
    this.child = fork(script, [], {
      execArgv: ['--conditions=@graphql-flight/source', '--import', tsx],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-1_000);
    });
    this.child.on('message', (message: From) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#queue.push(message);
    });
    this.child.on('exit', () => {
      this.exited = true;
    });
  }

  send(message: To): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  /** The next message, or a rejection after `ms` or when the child has exited. */
  next(ms = STEP_TIMEOUT_MS): Promise<From> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(onMessage);
        if (i >= 0) this.#waiters.splice(i, 1);
        this.child.off('exit', onExit);
        reject(new Error(`fleet worker ${this.child.pid} sent nothing for ${ms} ms`));
      }, ms);
      const onExit = () => {
        clearTimeout(timer);
        reject(
          new Error(`fleet worker ${this.child.pid} exited${this.#stderr ? `: ${this.#stderr.trim()}` : ''}`),
        );
      };
      const onMessage = (message: From) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(message);
      };
      this.#waiters.push(onMessage);
      this.child.once('exit', onExit);
    });
  }

  /** The next message, which must be of `type` (an `error` message rejects with its text). */
  async expect<T extends From['type']>(type: T, ms = STEP_TIMEOUT_MS): Promise<Extract<From, { type: T }>> {
    const message = await this.next(ms);
    if (message.type === 'error') {
      throw new Error(`fleet worker ${this.child.pid}: ${(message as { message?: string }).message}`);
    }
    if (message.type !== type)
      throw new Error(`fleet worker ${this.child.pid}: expected ${type}, got ${message.type}`);
    return message as Extract<From, { type: T }>;
  }

  /** Asks the child to exit (with `exit`); kills it if it has not within `ms`. */
  async stop(exit: To, ms = 3_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send(exit);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }
}

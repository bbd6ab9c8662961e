/**
 * The page's one table of requests waiting for the kernel's answer, whichever way they went:
 * over the JupyterLab extension's channel (links, and widgets where it reaches the kernel) or
 * over a widget's own comm. A request id is unique in the page, so a reply settles exactly
 * the request it echoes; a request nobody answers says so after `REPLY_TIMEOUT`.
 */
import type { IReplyMessage } from './messages';

/** The answer to a request: clients reached, or an error sentence. */
export type Reply = Omit<IReplyMessage, 'type' | 'request'>;

/** Milliseconds a request waits for the kernel's answer. */
export const REPLY_TIMEOUT = 15000;
/** What a request gets when the kernel does not answer in time. */
export const NO_ANSWER = 'the kernel did not answer (is it busy?)';

interface IWaiting {
  /** The kernel the request went to ('' where the route does not say). */
  kernel: string;
  resolve: (reply: Reply) => void;
}

export class Replies {
  private readonly pending = new Map<string, IWaiting>();
  private counter = 0;

  /** A new request id and the promise of its reply, sent to `kernel`. */
  wait(kernel = '', timeout = REPLY_TIMEOUT): { id: string; reply: Promise<Reply> } {
    const id = `${Date.now()}-${++this.counter}`;
    const reply = new Promise<Reply>(resolve => {
      const timer = setTimeout(() => this.settle(id, { error: NO_ANSWER }), timeout);
      this.pending.set(id, {
        kernel,
        resolve: answer => {
          clearTimeout(timer);
          resolve(answer);
        }
      });
    });
    return { id, reply };
  }

  /** Settle the request that `reply` echoes; false when nothing waits for it. */
  answer(reply: Reply & { request?: string }): boolean {
    return reply.request ? this.settle(reply.request, reply) : false;
  }

  /** Settle request `id` with `reply`; false when it is not waiting (any more). */
  settle(id: string, reply: Reply): boolean {
    const waiting = this.pending.get(id);
    if (!waiting) {
      return false;
    }
    this.pending.delete(id);
    waiting.resolve(reply);
    return true;
  }

  /** Answer every request sent to `kernel` with `error` (its channel or the kernel went). */
  failKernel(kernel: string, error: string): void {
    for (const [id, waiting] of [...this.pending]) {
      if (waiting.kernel === kernel) {
        this.settle(id, { error });
      }
    }
  }

  /** Requests waiting now. */
  get size(): number {
    return this.pending.size;
  }
}

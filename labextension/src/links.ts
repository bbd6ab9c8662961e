import { INotebookTracker } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

/** The comm target the kernel registers (framecast/jupyter/links.py). */
export const COMM_TARGET = 'framecast.transitions';

/** Milliseconds a click waits for the kernel before it says so. */
const REPLY_TIMEOUT = 15000;

/** What the kernel answers to a click. */
export interface IReply {
  request?: string;
  received?: number;
  error?: string;
}

/** A sentence for the link to show after a click. */
export function describeReply(reply: IReply): string {
  if (reply.error) {
    return `not published: ${reply.error}`;
  }
  const received = reply.received ?? 0;
  if (received === 0) {
    return 'no listeners';
  }
  return received === 1 ? '1 client' : `${received} clients`;
}

/**
 * Publishes clicked transitions through the kernel of the notebook that shows the link.
 * It keeps one comm per kernel and matches replies to clicks by a request id.
 */
export class LinkPublisher {
  private readonly comms = new Map<string, Kernel.IComm>();
  private readonly pending = new Map<string, (reply: IReply) => void>();
  private counter = 0;

  constructor(private readonly tracker: INotebookTracker | null) {}

  /** The kernel of the notebook whose DOM contains `node`, if any. */
  kernelFor(node: HTMLElement): Kernel.IKernelConnection | null {
    const panel = this.tracker?.find(candidate => candidate.node.contains(node));
    return panel?.sessionContext.session?.kernel ?? null;
  }

  /** How many comms are open: one per kernel that published, whatever the links. */
  get commCount(): number {
    return this.comms.size;
  }

  private commFor(kernel: Kernel.IKernelConnection): Kernel.IComm {
    const existing = this.comms.get(kernel.id);
    if (existing && !existing.isDisposed) {
      return existing;
    }
    const comm = kernel.createComm(COMM_TARGET);
    comm.onMsg = message => {
      const reply = message.content.data as IReply;
      const resolve = reply.request ? this.pending.get(reply.request) : undefined;
      if (resolve && reply.request) {
        this.pending.delete(reply.request);
        resolve(reply);
      }
    };
    comm.onClose = () => {
      this.comms.delete(kernel.id);
    };
    comm.open({});
    this.comms.set(kernel.id, comm);
    return comm;
  }

  /** Ask the kernel to publish a transition; resolves with its answer. */
  publish(node: HTMLElement, timeline: string, transition: number): Promise<IReply> {
    const kernel = this.kernelFor(node);
    if (!kernel) {
      return Promise.resolve({
        error: 'no running kernel for this notebook (run the cell again)'
      });
    }
    const request = `${Date.now()}-${++this.counter}`;
    return new Promise<IReply>(resolve => {
      const timer = window.setTimeout(() => {
        this.pending.delete(request);
        resolve({ error: 'the kernel did not answer (is it busy?)' });
      }, REPLY_TIMEOUT);
      this.pending.set(request, reply => {
        window.clearTimeout(timer);
        resolve(reply);
      });
      try {
        this.commFor(kernel).send({ request, timeline, transition });
      } catch (error) {
        window.clearTimeout(timer);
        this.pending.delete(request);
        resolve({ error: String(error) });
      }
    });
  }
}

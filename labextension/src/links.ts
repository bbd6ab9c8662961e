import { INotebookTracker } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

/** The comm target the kernel registers (framecast/jupyter/channel.py). */
export const COMM_TARGET = 'framecast.requests';

/** What a request gets when the kernel closes the channel (framecast is not imported
 * there: a saved notebook reopened in a new kernel, or a restarted one). */
const NOT_RUNNING =
  'framecast is not running in this kernel: run the cells that load the data and start ' +
  'its session, then click again';

import { IChannel, KERNEL_LOST_TEXT, replies } from './widgets/host';
import type { IPublishTarget } from './widgets/linkview';

/** What the kernel answers to a request. */
export interface IReply {
  request?: string;
  received?: number;
  hint?: string;
  error?: string;
}

/**
 * The channel from the page to the kernel of the notebook that shows a link or a bar.
 * It keeps one comm per kernel; replies settle the requests they echo in the page's one
 * table of waiting requests (`replies()`), which the widgets' own comms use too.
 *
 * The comm is opened as soon as a link or a bar is attached (`warm`): a comm the page
 * opens while the kernel is idle runs on a kernel subshell (ipykernel 7), so clicks keep
 * working while another cell is busy.
 */
export class LinkPublisher implements IChannel {
  private readonly comms = new Map<string, Promise<Kernel.IComm>>();

  constructor(public tracker: INotebookTracker | null) {}

  /**
   * Open the channel as soon as `node` is inside a notebook: widget views are attached
   * after they render, so retry every 100 ms for up to 10 s.
   */
  warmWhenAttached(node: HTMLElement, attempts = 100): void {
    if (this.kernelFor(node)) {
      this.warm(node);
    } else if (attempts > 0) {
      window.setTimeout(() => this.warmWhenAttached(node, attempts - 1), 100);
    }
  }

  /** Open the comm of the kernel showing `node` now, before anyone clicks. */
  warm(node: HTMLElement): void {
    const kernel = this.kernelFor(node);
    if (kernel) {
      this.commFor(kernel).catch(error =>
        console.warn('framecast: cannot open the comm to the kernel', error)
      );
    }
  }

  /** True when `node` is in a notebook whose kernel runs. */
  reaches(node: HTMLElement): boolean {
    return this.kernelFor(node) !== null;
  }

  /** Send a message that gets no answer (acks, screenshots). */
  notify(node: HTMLElement, payload: Record<string, unknown>): void {
    const kernel = this.kernelFor(node);
    if (kernel) {
      this.commFor(kernel)
        .then(comm => comm.send(payload as any))
        .catch(error => console.warn('framecast: cannot reach the kernel', error));
    }
  }

  /** The kernel of the notebook whose DOM contains `node`, if any. */
  kernelFor(node: HTMLElement): Kernel.IKernelConnection | null {
    const panel = this.tracker?.find(candidate => candidate.node.contains(node));
    return panel?.sessionContext.session?.kernel ?? null;
  }

  private commFor(kernel: Kernel.IKernelConnection): Promise<Kernel.IComm> {
    const existing = this.comms.get(kernel.id);
    if (existing) {
      return existing;
    }
    // Wait for the kernel's info first: whether it supports subshells is only known then,
    // and a comm created before that would not run on a subshell (and would be blocked
    // while a cell is busy).
    const opened = kernel.info.then(() => {
      const comm = kernel.createComm(COMM_TARGET);
      comm.onMsg = message => {
        replies().answer(message.content.data as IReply);
      };
      comm.onClose = () => {
        // The kernel has no such comm target, or it went away: nothing sent will be
        // answered, so say so now instead of at the timeout.
        this.comms.delete(kernel.id);
        replies().failKernel(kernel.id, NOT_RUNNING);
      };
      comm.open({});
      return comm;
    });
    opened.catch(() => this.comms.delete(kernel.id));
    this.comms.set(kernel.id, opened);
    return opened;
  }

  /**
   * The kernel restarted (or stopped): its comm went with it. Forget the comm, so that the
   * next request opens one in the new kernel, and answer what was waiting.
   */
  kernelLost(kernel: Kernel.IKernelConnection): void {
    this.comms.delete(kernel.id);
    replies().failKernel(kernel.id, KERNEL_LOST_TEXT);
  }

  /** Ask the kernel to publish a transition; resolves with its answer. */
  publish(node: HTMLElement, target: IPublishTarget): Promise<IReply> {
    return this.request(node, { kind: 'publish', ...target });
  }

  /** Send one request to the kernel showing `node`; resolves with its answer. */
  request(node: HTMLElement, payload: Record<string, unknown>): Promise<IReply> {
    const kernel = this.kernelFor(node);
    if (!kernel) {
      return Promise.resolve({
        error: 'no running kernel for this notebook (run the cell again)'
      });
    }
    const { id, reply } = replies().wait(kernel.id);
    this.commFor(kernel)
      .then(comm => comm.send({ ...payload, request: id } as any))
      .catch(() => {
        // The comm is gone (a kernel that restarted or stopped): the next click opens a new
        // one, in whatever kernel runs then.
        this.comms.delete(kernel.id);
        replies().settle(id, { error: KERNEL_LOST_TEXT });
      });
    return reply;
  }
}

/** The page's one channel; the plugin gives it the notebook tracker when it activates. */
export const channel = new LinkPublisher(null);

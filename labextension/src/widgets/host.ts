/**
 * What the widgets need from whichever front end runs them: the anywidget model API, and,
 * where the framecast JupyterLab extension is installed, its kernel channel.
 *
 * The bundles import nothing from JupyterLab or ipywidgets. JupyterLab, Notebook 7, VS Code,
 * Colab, Voilà and marimo all give an anywidget module the same small model API. Where the
 * JupyterLab extension runs, it also puts a channel on `globalThis` that reaches the kernel
 * on a subshell, so controls and links work while another cell is busy; elsewhere messages
 * go over the widget's own comm.
 */
import { Playhead } from '../playhead';
import type { IReplyMessage, PageMessage } from './messages';
import { Replies, type Reply } from './replies';

export type { Reply } from './replies';

/** The anywidget model API (the part framecast uses). */
export interface IModel {
  get(key: string): any;
  set(key: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: (...args: any[]) => void): void;
  off(event?: string | null, callback?: ((...args: any[]) => void) | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

/** The JupyterLab extension's channel to the kernel of the notebook showing a node. */
export interface IChannel {
  /** True when `node` is in a notebook whose kernel the channel reaches. */
  reaches(node: HTMLElement): boolean;
  /** Send a request and resolve with the kernel's answer. */
  request(node: HTMLElement, payload: Record<string, unknown>): Promise<Reply>;
  /** Send a message that gets no answer. */
  notify(node: HTMLElement, payload: Record<string, unknown>): void;
  /** Open the channel once `node` is in a notebook, before the kernel gets busy. */
  warmWhenAttached(node: HTMLElement): void;
}

interface IShared {
  channel?: IChannel;
  playheads?: Map<string, Playhead>;
  replies?: Replies;
}

/** What the page shares between framecast's bundles (one per widget) and the extension. */
export function shared(): IShared {
  const root = globalThis as unknown as { __framecast__?: IShared };
  root.__framecast__ ??= {};
  return root.__framecast__;
}

/** The page's one table of requests waiting for the kernel (links' and widgets'). */
export function replies(): Replies {
  const page = shared();
  page.replies ??= new Replies();
  return page.replies;
}

/** The event the JupyterLab extension sends each framecast widget of a notebook whose
 * kernel restarted or stopped: its models are gone with the kernel. */
export const KERNEL_LOST = 'framecast-kernel-lost';
/** What a widget of a lost kernel says. */
export const KERNEL_LOST_TEXT = 'the kernel restarted: run the cells again';

/**
 * Mark `el` as a framecast widget's view, and call `lost()` when its kernel restarts or
 * stops (where the JupyterLab extension can tell); returns the undo. Requests from it are
 * answered with `KERNEL_LOST_TEXT` from then on.
 */
export function whenKernelLost(el: HTMLElement, lost: () => void): () => void {
  el.classList.add('fc-widget');
  const listener = () => {
    el.dataset.kernelLost = 'true';
    lost();
  };
  el.addEventListener(KERNEL_LOST, listener);
  return () => el.removeEventListener(KERNEL_LOST, listener);
}

/** Tell every framecast widget inside `root` that its kernel is gone. */
export function announceKernelLost(root: HTMLElement): void {
  root.querySelectorAll<HTMLElement>('.fc-widget').forEach(el => el.dispatchEvent(new CustomEvent(KERNEL_LOST)));
}

/** Route the kernel's replies on the widget's comm to the requests waiting for them. */
export function listenForReplies(model: IModel): void {
  model.on('msg:custom', (message: IReplyMessage) => {
    if (message && message.type === 'reply') {
      replies().answer(message);
    }
  });
}

/**
 * Send a request to the kernel: over the extension's channel when it reaches this node's
 * kernel (works while a cell is busy), else over the widget's comm.
 */
export function request(
  model: IModel,
  node: HTMLElement,
  payload: Omit<PageMessage, 'request'> & Record<string, unknown>
): Promise<Reply> {
  if (node.closest('[data-kernel-lost]')) {
    return Promise.resolve({ error: KERNEL_LOST_TEXT });
  }
  const channel = shared().channel;
  if (channel?.reaches(node)) {
    return channel.request(node, payload);
  }
  const { id, reply } = replies().wait();
  try {
    model.send({ ...payload, request: id });
  } catch {
    // The widget's comm is gone with its kernel (a restart, or a kernel that stopped).
    replies().settle(id, { error: 'the kernel is gone (restarted or stopped): run the cells again' });
  }
  return reply;
}

/** Send a message that needs no answer, by the same route as `request` (the widget's comm
 * while no view of it is drawn, `node` null). */
export function notify(model: IModel, node: HTMLElement | null, payload: PageMessage): void {
  const channel = shared().channel;
  if (node?.closest('[data-kernel-lost]')) {
    return; // nobody to tell
  }
  if (node && channel?.reaches(node)) {
    channel.notify(node, payload as unknown as Record<string, unknown>);
  } else {
    try {
      model.send(payload);
    } catch {
      // fire and forget: a lost kernel hears nothing
    }
  }
}

/** Open the extension's channel early, where there is one. */
export function warm(node: HTMLElement): void {
  shared().channel?.warmWhenAttached(node);
}

/** A sentence for a link or a bar to show after a request. */
export function describeReply(reply: Reply): string {
  if (reply.error) {
    return `not published: ${reply.error}`;
  }
  const received = reply.received ?? 0;
  if (received === 0) {
    return reply.hint ? `no listeners ${reply.hint}` : 'no listeners';
  }
  return received === 1 ? '1 client' : `${received} clients`;
}

/**
 * A viewer's model-side state: the latest drawn fields merged from the kernel's frames, the
 * page's cache of a trajectory, and the playhead of its timeline. One per widget model,
 * shared by every view of it.
 */
import { Playhead, playheadFor, releasePlayhead, TrajectoryCache } from '../playhead';
import { IModel, notify } from './host';
import type { ICacheMessage, IFieldMeta, IFrameMessage, KernelMessage } from './messages';
import { RichState } from './rich';

/** The drawn fields of the current frame. */
export interface IFrame {
  index: number;
  positions?: Float32Array;
  elements?: Uint8Array;
  bonds?: Int32Array;
  box?: Float32Array;
  /** The residue of each particle, and the chain of each residue. */
  residues?: Int32Array;
  chains?: Int32Array;
}

/** What a view of the state is told. */
export interface IViewOfFrames {
  frame(): void;
  selection(): void;
  screenshot(request: string): void;
}

function typed(view: DataView, meta: IFieldMeta): Float32Array | Uint8Array | Int32Array {
  // Copy into an aligned buffer: a DataView's offset need not be aligned for Float32Array.
  const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  switch (meta.dtype) {
    case '<f4':
      return new Float32Array(bytes);
    case '<i4':
      return new Int32Array(bytes);
    default:
      return new Uint8Array(bytes);
  }
}

export class Frames {
  frame: IFrame = { index: 0 };
  selection: number[] = [];
  playhead: Playhead | null = null;
  /** Frames received from the kernel. */
  received = 0;
  /**
   * Counts the targets shown: a reset from the session's stream (not a published
   * transition) replaces every key, so views drop everything they built for the old one.
   */
  generation = 0;
  /** A drawn view's element: acknowledgements go by the route of its page. */
  node: HTMLElement | null = null;
  readonly views = new Set<IViewOfFrames>();
  /** The representations to draw with Mol*, and its structure. */
  readonly rich = new RichState();
  /** A transition of another timeline than the followed one, on show until a live frame. */
  private foreign: IFrame | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly model: IModel) {
    model.on('msg:custom', (message: KernelMessage, buffers: DataView[]) =>
      this.onMessage(message, buffers ?? [])
    );
  }

  /**
   * The frame to draw: the playhead's, from the cache, once the page holds the whole
   * trajectory; otherwise the last frame the kernel sent.
   */
  current(): IFrame {
    if (this.foreign) {
      return this.foreign;
    }
    const playhead = this.playhead;
    const positions = playhead?.local ? playhead.cache!.positions(playhead.frame) : undefined;
    return positions ? { ...this.frame, index: playhead!.frame, positions } : this.frame;
  }

  /** What the page caches, for the kernel: it sends no cache the page already holds. */
  cacheHeld(): { timeline: string; frames: number } | null {
    const cache = this.playhead?.cache;
    return cache ? { timeline: this.playhead!.timeline, frames: cache.leading } : null;
  }

  /** Let go of the playhead (the widget is closed). */
  dispose(): void {
    this.attach(null);
  }

  private changed(): void {
    this.views.forEach(view => view.frame());
  }

  /** Follow the playhead of `timeline` (null: none), letting go of the previous one. */
  private attach(timeline: string | null): void {
    if (this.playhead?.timeline === timeline) {
      return;
    }
    if (this.playhead) {
      this.unsubscribe?.();
      releasePlayhead(this.playhead);
      this.playhead = null;
      this.unsubscribe = null;
    }
    if (timeline) {
      this.playhead = playheadFor(timeline);
      this.unsubscribe = this.playhead.subscribe(() => this.changed());
    }
  }

  private onCache(message: ICacheMessage, buffer: DataView): void {
    if (this.playhead?.timeline !== message.timeline) {
      // Every sender (the kernel, an exported page) sends a target's frame before its
      // cache: a chunk of another timeline is of a target no longer shown, and must not
      // bring it back.
      return;
    }
    const playhead = this.playhead!;
    const cache = playhead.cache;
    if (!cache || cache.frameCount !== message.frame_count || cache.particles !== message.particles) {
      playhead.cache = new TrajectoryCache(message.frame_count, message.particles);
    }
    playhead.cache!.goal = Math.min(message.frames, message.frame_count);
    playhead.cache!.add(message.first, message.count, buffer);
    this.changed();
  }

  private onMessage(message: KernelMessage, buffers: DataView[]): void {
    switch (message.type) {
      case 'cache':
        this.onCache(message, buffers[0]);
        return;
      case 'screenshot':
        this.views.forEach(view => view.screenshot(message.request));
        return;
      case 'selection':
        this.selection = message.particles;
        this.views.forEach(view => view.selection());
        return;
      case 'frame':
        this.onFrame(message, buffers);
        return;
      case 'representations':
      case 'annotations':
      case 'structure':
        this.rich.onMessage(message, buffers);
        return;
      default:
        return; // replies are for host.ts
    }
  }

  private onFrame(message: IFrameMessage, buffers: DataView[]): void {
    // A transition of another timeline is shown as sent, until the next live frame; it
    // changes neither the frame the live deltas merge into nor the timeline followed.
    const foreign = message.jump && message.timeline !== (this.playhead?.timeline ?? null);
    const frame: IFrame = message.reset ? { index: message.index } : { ...this.frame };
    frame.index = message.index;
    if ((message.reset || message.timeline) && !foreign) {
      this.attach(message.timeline);
    }
    const get = (key: string) =>
      message.fields[key] ? typed(buffers[message.fields[key].buffer], message.fields[key]) : undefined;
    frame.positions = (get('particle.positions') as Float32Array) ?? frame.positions;
    frame.elements = (get('particle.elements') as Uint8Array) ?? frame.elements;
    frame.bonds = (get('bond.pairs') as Int32Array) ?? frame.bonds;
    frame.box = (get('system.box.vectors') as Float32Array) ?? frame.box;
    frame.residues = (get('particle.residues') as Int32Array) ?? frame.residues;
    frame.chains = (get('residue.chains') as Int32Array) ?? frame.chains;
    if (message.cached) {
      frame.positions = this.playhead?.cache?.positions(message.index) ?? frame.positions;
    }
    this.foreign = foreign ? frame : null;
    if (!foreign) {
      this.frame = frame;
    }
    if (message.reset && !message.jump) {
      // Another target (or the first frame): nothing of the old one survives in the page,
      // its highlighted particles included.
      this.generation += 1;
      this.selection = [];
    }
    this.received += 1;
    // The kernel keeps at most two frames in flight: say this one is in. Fire and forget.
    notify(this.model, this.node, { kind: 'ack', widget: String(this.model.get('_widget_id')) });
    if (foreign) {
      // shown as sent
    } else if (this.playhead && message.jump) {
      this.playhead.jump(message.index);
    } else if (this.playhead) {
      this.playhead.fromKernel({ frame: message.index, ...(message.playback ?? {}) });
    }
    this.changed();
  }
}

/**
 * The page's side of a trajectory: its cached positions and a playhead with its own clock.
 *
 * A viewer fills the cache from the kernel's `cache` messages. Once the cache holds every
 * frame, the playhead is *local*: the control bar and the viewer of that timeline play,
 * step and scrub it in the page, with no kernel round trip, so playback goes on while a
 * cell keeps the kernel busy. Both also send their actions to the kernel, so the session
 * (and every other client) follows; what the kernel reports back re-syncs the playhead.
 */

export type LoopMode = 'loop' | 'bounce' | 'once';

/** What the kernel says of the session's playback; any part may be unknown. */
export interface IKernelPlayback {
  frame: number;
  playing?: boolean;
  fps?: number;
  mode?: string;
}

/** Kernel reports are ignored this long after a local action: they predate it. */
const LOCAL_ACTION_GRACE_MS = 1500;

/** Positions of some frames of one timeline, in the chunks they arrived in. */
export class TrajectoryCache {
  private readonly frames: (Float32Array | undefined)[];
  private held = 0;
  /** Frames the page will hold once every chunk is in (fewer than all over the budget). */
  goal: number;

  constructor(
    readonly frameCount: number,
    readonly particles: number
  ) {
    this.frames = new Array(frameCount);
    this.goal = frameCount;
  }

  /** Store `count` frames from `first`, read from a buffer the kernel sent. */
  add(first: number, count: number, data: DataView): void {
    const floats = count * this.particles * 3;
    if (data.byteLength !== floats * 4 || first < 0 || first + count > this.frameCount) {
      throw new Error(`framecast: a cache chunk of ${data.byteLength} bytes does not fit`);
    }
    // One aligned copy per chunk; each frame is a view into it.
    const block = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    for (let i = 0; i < count; i++) {
      if (!this.frames[first + i]) {
        this.held += 1;
      }
      this.frames[first + i] = block.subarray(i * this.particles * 3, (i + 1) * this.particles * 3);
    }
  }

  positions(frame: number): Float32Array | undefined {
    return this.frames[frame];
  }

  /** Frames held, counted from the first up to the first missing one. */
  get leading(): number {
    let n = 0;
    while (n < this.frameCount && this.frames[n]) {
      n += 1;
    }
    return n;
  }

  get count(): number {
    return this.held;
  }

  get complete(): boolean {
    return this.held === this.frameCount;
  }

  /** Chunks are still on their way. */
  get filling(): boolean {
    return this.held < this.goal;
  }
}

/** The frame a timeline shows in this page, and a clock that plays it. */
export class Playhead {
  frame = 0;
  playing = false;
  fps = 30;
  mode: LoopMode = 'loop';
  cache: TrajectoryCache | null = null;
  /** Counts the actions done in this page: a kernel answer to an older one is stale. */
  actions = 0;
  private direction = 1;
  private timer = 0;
  private lastLocalAction = -Infinity;
  /** Showing a published transition: kernel reports wait until the kernel turns. */
  private detached = false;
  private kernelPlaying: boolean | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(readonly timeline: string) {}

  /** True when the page holds every frame: then the page's clock drives the view. */
  get local(): boolean {
    return Boolean(this.cache?.complete);
  }

  get frameCount(): number {
    return this.cache?.frameCount ?? 0;
  }

  /** Call `listener` whenever the frame or the playing state changes; returns the undo. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  play(): void {
    this.acted();
    this.start();
  }

  pause(): void {
    this.acted();
    this.halt();
  }

  /** Show `frame` and pause, as the kernel's seek does. */
  seek(frame: number): void {
    this.acted();
    this.halt();
    this.show(frame);
  }

  /** Pause, then show the next (`delta` 1) or previous (-1) frame, wrapping in loop mode. */
  step(delta: 1 | -1): void {
    this.acted();
    this.halt();
    const last = this.frameCount - 1;
    let next = this.frame + delta;
    if (next < 0 || next > last) {
      next = this.mode === 'loop' ? (next + last + 1) % (last + 1) : Math.min(Math.max(next, 0), last);
    }
    this.show(next);
  }

  /**
   * A published transition: show its frame and stay there until someone acts here, or the
   * kernel starts or stops playing (a session that follows transitions pauses there).
   */
  jump(frame: number): void {
    this.seek(frame);
    this.detached = true;
  }

  /** Play at `fps` (and in `mode`); every bar of the timeline shows the new speed. */
  setRate(fps: number, mode?: string): void {
    let changed = false;
    if (fps > 0 && fps !== this.fps) {
      this.fps = fps;
      changed = true;
      if (this.timer) {
        this.halt(false);
        this.start();
      }
    }
    if ((mode === 'loop' || mode === 'bounce' || mode === 'once') && mode !== this.mode) {
      this.mode = mode;
      changed = true;
    }
    if (changed) {
      this.notify();
    }
  }

  /**
   * What the kernel reports. A paused kernel sets the frame exactly; a playing one starts
   * the page's clock, and moves it only when the two differ by more than a quarter of a
   * second of frames (the kernel's report is always a little late).
   */
  fromKernel(report: IKernelPlayback): void {
    const turned =
      report.playing !== undefined &&
      this.kernelPlaying !== undefined &&
      report.playing !== this.kernelPlaying;
    this.kernelPlaying = report.playing ?? this.kernelPlaying;
    if (this.detached && !turned) {
      return;
    }
    this.detached = false;
    if (performance.now() - this.lastLocalAction < LOCAL_ACTION_GRACE_MS) {
      return;
    }
    this.apply(report);
  }

  /**
   * The kernel's answer to this page's latest action: where the session is once the action
   * is done. Applied at once, whatever the grace after a local action: from here the page,
   * its bars and the session agree on the frame.
   */
  settle(report: IKernelPlayback): void {
    this.detached = false;
    this.apply(report);
  }

  private apply(report: IKernelPlayback): void {
    if (report.fps !== undefined) {
      this.setRate(report.fps, report.mode);
    }
    if (!this.local) {
      // Without the whole cache, the kernel's frames are the only clock.
      this.playing = report.playing ?? this.playing;
      this.show(report.frame);
      return;
    }
    if (report.playing === false) {
      this.halt();
      this.show(report.frame);
    } else if (report.playing === true && !this.timer) {
      // Also when the cache has just become complete: the clock was the kernel's until now.
      this.show(report.frame);
      this.start();
    } else if (this.distance(report.frame) > Math.max(2, this.fps / 4)) {
      this.show(report.frame);
    }
  }

  /** Stop the clock for good: nobody shows this timeline any more. */
  dispose(): void {
    this.halt(false);
    this.listeners.clear();
  }

  private distance(frame: number): number {
    const d = Math.abs(frame - this.frame);
    return this.mode === 'loop' && this.frameCount > 0 ? Math.min(d, this.frameCount - d) : d;
  }

  private acted(): void {
    this.actions += 1;
    this.lastLocalAction = performance.now();
    this.detached = false;
  }

  private start(): void {
    if (!this.local || this.timer) {
      this.playing = this.local || this.playing;
      this.notify();
      return;
    }
    this.playing = true;
    // Ticks on animation frames, like the drawing: timers starve while software WebGL
    // keeps the page busy. Drift-free: each tick catches up with the frames due since the
    // start, so a page that draws slowly skips frames instead of playing slower.
    const started = performance.now();
    let done = 0;
    const tick = () => {
      this.timer = requestAnimationFrame(tick);
      const due = Math.floor(((performance.now() - started) * this.fps) / 1000);
      const steps = Math.min(due - done, Math.max(this.frameCount, 1));
      done = due;
      for (let i = 0; i < steps && this.timer; i++) {
        this.advance(i === steps - 1);
      }
    };
    this.timer = requestAnimationFrame(tick);
    this.notify();
  }

  private halt(notify = true): void {
    cancelAnimationFrame(this.timer);
    this.timer = 0;
    this.playing = false;
    if (notify) {
      this.notify();
    }
  }

  /** One frame of the clock, with the kernel's loop, bounce and once rules; only the
   * last of a tick's frames is shown. */
  private advance(show: boolean): void {
    const last = this.frameCount - 1;
    let next = this.frame + this.direction;
    if (this.mode === 'loop') {
      next = ((next % (last + 1)) + last + 1) % (last + 1);
    } else if (this.mode === 'bounce' && (next < 0 || next > last)) {
      this.direction = -this.direction;
      next = Math.min(Math.max(this.frame + this.direction, 0), last);
    } else if (next > last) {
      this.halt();
      return;
    }
    if (show) {
      this.show(next);
    } else {
      this.frame = next;
    }
  }

  private show(frame: number): void {
    const count = this.frameCount;
    this.frame = count > 0 ? Math.min(Math.max(Math.round(frame), 0), count - 1) : frame;
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) {
      listener();
    }
  }
}

// On globalThis: each widget is its own bundle, and the bar and the viewers of one page
// share a timeline's playhead (a page whose outputs are iframes, as Colab's, has one each).
const root = globalThis as unknown as { __framecast__?: { playheads?: Map<string, Playhead> } };
root.__framecast__ ??= {};
const playheads: Map<string, Playhead> = (root.__framecast__.playheads ??= new Map());

/** The page's playhead of `timeline`, made on first use. */
export function playheadFor(timeline: string): Playhead {
  let playhead = playheads.get(timeline);
  if (!playhead) {
    playhead = new Playhead(timeline);
    playheads.set(timeline, playhead);
  }
  return playhead;
}

/** Forget a timeline's playhead and free its cache once nothing in the page shows it. */
export function releasePlayhead(playhead: Playhead): void {
  if (playhead.subscribers === 0 && playheads.get(playhead.timeline) === playhead) {
    playhead.dispose();
    playhead.cache = null;
    playheads.delete(playhead.timeline);
  }
}

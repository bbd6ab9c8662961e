/**
 * The viewer's own play bar: play or pause, step, scrub and speed for a trajectory whose
 * frames the page holds. It drives the page's playhead at once, so it needs no kernel, and
 * tells the viewer's session too (`send`), which then agrees with the page; where the page
 * also shows the session's bar (JupyterLab), both move the same playhead.
 *
 * Keyboard: with the bar focused, space plays or pauses and the arrow keys step.
 */
import { element, ICONS, onCommit, setIcon, shownFps } from '../dom';
import type { Frames, IViewOfFrames } from './frames';

/** Tells the session what the bar did: an action, with the frame or speed it set. */
export type SendControl = (action: string, extra?: { frame?: number; fps?: number }) => void;

export class PlayBar implements IViewOfFrames {
  readonly el = element('div', 'fc-playbar');
  private readonly toggle = element('button', 'fc-button fc-toggle');
  private readonly back = element('button', 'fc-button fc-step-back');
  private readonly forward = element('button', 'fc-button fc-step');
  private readonly scrub = element('input', 'fc-scrub');
  private readonly speed = element('input', 'fc-speed');
  private readonly label = element('span', 'fc-frame');

  constructor(
    private readonly frames: Frames,
    private readonly send: SendControl,
    /** True once nothing can be played here any more (the session is closed). */
    private readonly ended: () => boolean = () => false
  ) {
    this.el.setAttribute('role', 'toolbar');
    this.el.setAttribute('aria-label', 'Trajectory playback');
    this.el.tabIndex = 0;
    setIcon(this.back, ICONS.step_back);
    setIcon(this.forward, ICONS.step);
    this.back.setAttribute('aria-label', 'Step back');
    this.forward.setAttribute('aria-label', 'Step forward');
    this.scrub.type = 'range';
    this.scrub.min = '0';
    this.scrub.setAttribute('aria-label', 'Frame');
    this.speed.type = 'number';
    this.speed.min = '0.1';
    this.speed.step = '1';
    this.speed.setAttribute('aria-label', 'Speed');
    this.speed.title = 'frames per second';
    this.label.setAttribute('aria-live', 'polite');
    this.el.append(this.back, this.toggle, this.forward, this.scrub, this.speed, this.label);
    this.toggle.addEventListener('click', () => this.playOrPause());
    this.back.addEventListener('click', () => this.step(-1));
    this.forward.addEventListener('click', () => this.step(1));
    this.scrub.addEventListener('input', () => this.frames.playhead?.seek(Number(this.scrub.value)));
    this.scrub.addEventListener('change', () => {
      this.frames.playhead?.seek(Number(this.scrub.value));
      this.send('seek', { frame: Number(this.scrub.value) });
    });
    onCommit(this.speed, () => this.applySpeed());
    this.el.addEventListener('keydown', event => this.key(event));
    frames.views.add(this);
    this.frame();
  }

  private applySpeed(): void {
    const fps = Number(this.speed.value);
    const playhead = this.frames.playhead;
    if (fps > 0 && playhead && fps !== playhead.fps) {
      playhead.setRate(fps);
      this.send('speed', { fps });
    }
  }

  private playOrPause(): void {
    const playhead = this.frames.playhead;
    if (!playhead) {
      return;
    }
    const action = playhead.playing ? 'pause' : 'play';
    playhead[action]();
    this.send(action);
  }

  private step(delta: 1 | -1): void {
    this.frames.playhead?.step(delta);
    this.send(delta === 1 ? 'step' : 'step_back');
  }

  private key(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    if (target.tagName === 'INPUT') {
      return; // the slider and the speed field keep their own keys
    }
    if (event.key === ' ') {
      this.playOrPause();
    } else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      this.step(event.key === 'ArrowRight' ? 1 : -1);
    } else {
      return;
    }
    event.preventDefault();
  }

  /** Shown only while the page holds the whole trajectory of a session still open. */
  frame(): void {
    const playhead = this.frames.playhead;
    const local = Boolean(playhead?.local) && !this.ended();
    this.el.hidden = !local;
    if (!local || !playhead) {
      return;
    }
    const label = playhead.playing ? 'Pause' : 'Play';
    if (this.toggle.dataset.icon !== label) {
      setIcon(this.toggle, playhead.playing ? ICONS.pause : ICONS.play);
      this.toggle.dataset.icon = label;
    }
    this.toggle.setAttribute('aria-label', label);
    this.toggle.title = label;
    this.scrub.max = String(Math.max(playhead.frameCount - 1, 0));
    this.scrub.value = String(playhead.frame);
    if (document.activeElement !== this.speed) {
      this.speed.value = shownFps(playhead.fps);
    }
    this.label.textContent = `frame ${playhead.frame}`;
    this.el.dataset.frame = String(playhead.frame);
    this.el.dataset.playing = String(playhead.playing);
  }

  selection(): void {}

  screenshot(): void {}

  remove(): void {
    this.frames.views.delete(this);
    this.el.remove();
  }
}

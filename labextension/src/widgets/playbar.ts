/**
 * The viewer's own play bar: play or pause, step, scrub and speed for a trajectory whose
 * frames the page holds. It drives the page's playhead at once, so it needs no kernel, and
 * tells the viewer's session too (`send`), which then agrees with the page; where the page
 * also shows the session's bar (JupyterLab), both move the same playhead.
 *
 * Keyboard: with the bar focused, space plays or pauses and the arrow keys step.
 */
import { element, ICONS, setIcon } from '../dom';
import type { Frames, IViewOfFrames } from './frames';
import { controlButton, Scrubber, showSpeed, speedField, transportToolbar } from './transport';

/** Tells the session what the bar did: an action, with the frame or speed it set. */
export type SendControl = (action: string, extra?: { frame?: number; fps?: number }) => void;

export class PlayBar implements IViewOfFrames {
  readonly el = element('div', 'fc-playbar');
  private readonly toggle = element('button', 'fc-button fc-toggle');
  private readonly back = controlButton('fc-step-back', ICONS.step_back, 'Step back');
  private readonly forward = controlButton('fc-step', ICONS.step, 'Step forward');
  private readonly scrub: Scrubber;
  private readonly speed = speedField('frames per second', () => this.applySpeed());

  constructor(
    private readonly frames: Frames,
    private readonly send: SendControl,
    /** True once nothing can be played here any more (the session is closed). */
    private readonly ended: () => boolean = () => false
  ) {
    this.scrub = new Scrubber(
      frame => this.frames.playhead?.seek(frame),
      frame => {
        this.frames.playhead?.seek(frame);
        this.send('seek', { frame });
      }
    );
    transportToolbar(this.el, 'Trajectory playback', {
      toggle: () => this.playOrPause(),
      step: delta => this.step(delta)
    });
    this.el.append(this.back, this.toggle, this.forward, this.scrub.input, this.speed, this.scrub.label);
    this.toggle.addEventListener('click', () => this.playOrPause());
    this.back.addEventListener('click', () => this.step(-1));
    this.forward.addEventListener('click', () => this.step(1));
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

  private playOrPause(): boolean {
    const playhead = this.frames.playhead;
    if (playhead) {
      const action = playhead.playing ? 'pause' : 'play';
      playhead[action]();
      this.send(action);
    }
    return true;
  }

  private step(delta: 1 | -1): boolean {
    this.frames.playhead?.step(delta);
    this.send(delta === 1 ? 'step' : 'step_back');
    return true;
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
    this.scrub.show(playhead.frame, playhead.frameCount);
    showSpeed(this.speed, playhead.fps);
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

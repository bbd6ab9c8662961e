/**
 * The control bar of a `framecast.Session` (anywidget module): play, pause, step, step
 * back, restart, stop, a scrub slider, speed, loop mode and the live status.
 *
 * Every control is a real button or input with an `aria-label`; with the bar focused, space
 * plays or pauses and the arrow keys step. The status is an `aria-live` region.
 */
import { element, ICONS, shownFps } from '../dom';
import { Playhead, playheadFor, releasePlayhead } from '../playhead';
import { versionProblem } from '../version';
import { act } from './act';
import { describeReply, IModel, KERNEL_LOST_TEXT, listenForReplies, warm, whenKernelLost } from './host';
import { controlButton, Scrubber, showSpeed, speedField, transportToolbar } from './transport';

type Action = 'play' | 'pause' | 'step' | 'step_back' | 'restart' | 'stop';

const BUTTONS: { action: Action; label: string; title: string }[] = [
  { action: 'step_back', label: 'Step back', title: 'Step back one frame' },
  { action: 'play', label: 'Play', title: 'Play' },
  { action: 'pause', label: 'Pause', title: 'Pause' },
  { action: 'step', label: 'Step forward', title: 'Step one frame' },
  { action: 'restart', label: 'Restart', title: 'Restart from the beginning' },
  { action: 'stop', label: 'Stop', title: 'Stop the playback loop' }
];

/** The traits of framecast/jupyter/controls.py that the bar shows. */
const SHOWN = [
  'address', 'playing', 'running', 'frame_index', 'frame_count', 'clients', 'fps', 'error',
  'target_kind', 'speed', 'mode', 'can_step_back', 'timeline', 'closed', 'state', 'playable'
];


class Bar {
  private readonly buttons = new Map<Action, HTMLButtonElement>();
  private readonly bar = element('div', 'fc-bar');
  private readonly scrub: Scrubber;
  private readonly speed = speedField('Playback speed in frames per second', () => this.applySpeed());
  private readonly mode = element('select', 'fc-mode');
  private readonly status = element('span', 'fc-status');
  private readonly errorBox = element('details', 'fc-error');
  /** What the last action could not do: stays until the next action. */
  private readonly notice = element('span', 'fc-notice');
  /** The page's playhead of the session's timeline (shared with its viewers). */
  private playhead: Playhead | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly update = () => this.show();
  private readonly toPlayhead = () => this.kernelMoved();
  /** The kernel restarted or stopped: the session is gone with it. */
  private lost = false;
  private readonly unwatch: () => void;

  constructor(
    private readonly model: IModel,
    private readonly el: HTMLElement
  ) {
    el.classList.add('fc-controls');
    const bar = this.bar;
    transportToolbar(bar, 'Session controls', {
      toggle: () => this.toggle(),
      step: delta => this.stepKey(delta)
    });
    for (const { action, label, title } of BUTTONS) {
      const button = controlButton(`fc-${action.replace('_', '-')}`, ICONS[action], label, title);
      button.addEventListener('click', () => this.press(action));
      this.buttons.set(action, button);
      bar.appendChild(button);
    }

    this.scrub = new Scrubber(
      frame => this.local()?.seek(frame), // the view follows the drag at once
      frame => {
        this.acted();
        this.local()?.seek(frame);
        this.send('seek', frame);
      },
      'Scrub through the timeline'
    );
    bar.append(this.scrub.input, this.scrub.label);

    const speedLabel = element('label', 'fc-speed-label', 'fps ');
    speedLabel.appendChild(this.speed);
    bar.appendChild(speedLabel);

    this.mode.title = 'What happens at the end of the timeline';
    this.mode.setAttribute('aria-label', 'Loop mode');
    for (const value of ['loop', 'bounce', 'once']) {
      const option = element('option', '', value);
      option.value = value;
      this.mode.appendChild(option);
    }
    this.mode.addEventListener('change', () => {
      this.acted();
      const local = this.local();
      local?.setRate(local.fps, this.mode.value);
      this.model.set('mode', this.mode.value);
      this.model.save_changes();
    });
    bar.appendChild(this.mode);

    this.status.setAttribute('aria-live', 'polite');
    this.status.setAttribute('role', 'status');
    this.notice.setAttribute('role', 'alert');
    bar.append(this.status, this.notice);
    el.appendChild(bar);
    el.appendChild(this.errorBox);

    // One listener per trait: not every front end has a catch-all "change" event.
    for (const name of SHOWN) {
      model.on(`change:${name}`, this.update);
    }
    for (const name of ['frame_index', 'playing', 'speed', 'mode']) {
      model.on(`change:${name}`, this.toPlayhead);
    }
    this.unwatch = whenKernelLost(el, () => {
      this.lost = true;
      this.show();
    });
    this.show();
    // Open the extension's channel once the bar is in the page, before the kernel is busy.
    warm(el);
  }

  remove(): void {
    this.unwatch();
    for (const name of SHOWN) {
      this.model.off(`change:${name}`, this.update);
    }
    for (const name of ['frame_index', 'playing', 'speed', 'mode']) {
      this.model.off(`change:${name}`, this.toPlayhead);
    }
    this.detachPlayhead();
  }

  /**
   * The playhead of the session's timeline when the page holds the whole trajectory (a
   * viewer cached it): then the bar plays it in the page, and tells the kernel too.
   */
  private local(): Playhead | null {
    return this.playhead?.local && !this.ended() ? this.playhead : null;
  }

  /** True once the session cannot act: closed, or gone with its kernel. */
  private ended(): boolean {
    return this.lost || Boolean(this.model.get('closed'));
  }

  private attachPlayhead(): void {
    const timeline = String(this.model.get('timeline') || '');
    if ((this.playhead?.timeline ?? '') === timeline) {
      return;
    }
    this.detachPlayhead();
    if (timeline) {
      this.playhead = playheadFor(timeline);
      this.unsubscribe = this.playhead.subscribe(this.update);
    }
  }

  private detachPlayhead(): void {
    if (this.playhead) {
      this.unsubscribe?.();
      releasePlayhead(this.playhead);
      this.playhead = null;
      this.unsubscribe = null;
    }
  }

  /** What the kernel says of the session moves the page's playhead. */
  private kernelMoved(): void {
    this.local()?.fromKernel({
      frame: Number(this.model.get('frame_index')),
      playing: Boolean(this.model.get('playing')),
      fps: Number(this.model.get('speed')),
      mode: String(this.model.get('mode'))
    });
  }

  /** Space on the focused bar: play or pause, as the bar shows it. */
  private toggle(): boolean {
    if (this.ended()) {
      return false;
    }
    const playing = this.local()?.playing ?? Boolean(this.model.get('playing'));
    this.press(playing ? 'pause' : 'play');
    return true;
  }

  /** An arrow on the focused bar: a step, back only where the session keeps a frame. */
  private stepKey(delta: 1 | -1): boolean {
    if (this.ended() || (delta === -1 && !this.model.get('can_step_back'))) {
      return false;
    }
    this.press(delta === 1 ? 'step' : 'step_back');
    return true;
  }

  /** A new action: the notice of the previous one goes. */
  private acted(): void {
    this.notice.textContent = '';
  }

  private applySpeed(): void {
    const value = Number(this.speed.value);
    if (!(value > 0)) {
      this.notice.textContent = `speed must be above 0 frames per second, got ${this.speed.value || 'nothing'}`;
      return;
    }
    this.acted();
    this.local()?.setRate(value);
    if (Number(this.model.get('speed')) !== value) {
      this.model.set('speed', value);
      this.model.save_changes();
    }
  }

  /** A button: done in the page at once when it holds the trajectory, and in the kernel. */
  private press(action: Action): void {
    this.acted();
    const local = this.local();
    if (local && action === 'play') {
      local.play();
    } else if (local && action === 'pause') {
      local.pause();
    } else if (local && (action === 'step' || action === 'step_back')) {
      local.step(action === 'step' ? 1 : -1);
    }
    this.send(action);
  }

  /** Send a control to the kernel (its answer settles the playhead); an error it answers
   * shows in the status. */
  private send(action: string, frame?: number): void {
    void act(this.model, this.el, this.local(), action, { frame }).then(reply => {
      if (reply.error) {
        this.notice.textContent = describeReply(reply).replace('not published', `${action} failed`);
      }
    });
  }

  private show(): void {
    const get = (key: string): any => this.model.get(key);
    this.attachPlayhead();
    const closed = this.ended();
    const local = this.local();
    const playing = !closed && (local ? local.playing : Boolean(get('playing')));
    const frameCount = Number(get('frame_count'));
    const frame = local ? local.frame : Number(get('frame_index'));
    this.el.dataset.playing = String(playing);
    this.el.dataset.frame = String(frame);
    this.el.dataset.closed = String(closed);
    for (const button of this.buttons.values()) {
      button.disabled = closed;
    }
    // A control that cannot act is not drawn: a frame (or a trajectory of one) has nothing
    // to play; Play shows while paused and Pause while playing, in the same place.
    const cannot: Partial<Record<Action, boolean>> = {
      play: playing,
      pause: !playing,
      step_back: !get('can_step_back')
    };
    for (const [action, button] of this.buttons) {
      button.hidden = !get('playable') || Boolean(cannot[action]);
    }
    this.scrub.input.disabled = this.speed.disabled = this.mode.disabled = closed;

    this.scrub.input.hidden = frameCount < 2;
    this.scrub.show(frame, frameCount);
    // Where the page plays the timeline, its playhead has the speed a viewer's bar set.
    const speed = local ? local.fps : Number(get('speed'));
    this.speed.parentElement!.hidden = speed <= 0 || !get('playable');
    showSpeed(this.speed, speed);
    this.mode.hidden = !get('mode') || !get('playable');
    this.mode.value = get('mode') || 'loop';

    const clients = Number(get('clients'));
    // A page playing its own cache is playing, whatever the kernel last said.
    const state = playing ? 'playing' : get('state') === 'playing' ? 'paused' : String(get('state'));
    this.status.textContent = this.lost
      ? `${get('address')} \u00b7 ${KERNEL_LOST_TEXT}`
      : closed
        ? `${get('address')} \u00b7 session closed`
        : `${get('address')} \u00b7 ${clients} client${clients === 1 ? '' : 's'} \u00b7 ` +
          // The measured rate while playing; paused, the last second's rate is stale news.
          (playing ? `${shownFps(Number(get('fps')))} fps \u00b7 ` : '') +
          state;
    if (closed) {
      this.notice.textContent = ''; // what failed before the end is no longer the news
    }

    const error = String(get('error') || '');
    this.errorBox.hidden = !error;
    if (error) {
      const lines = error.trim().split('\n');
      this.errorBox.textContent = '';
      this.errorBox.appendChild(
        element('summary', 'fc-error-summary', `background thread failed: ${lines[lines.length - 1]}`)
      );
      this.errorBox.appendChild(element('pre', 'fc-traceback', error));
    }
  }
}

function initialize({ model }: { model: IModel }): void {
  listenForReplies(model);
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  const problem = versionProblem(model.get('python_version'));
  if (problem) {
    el.classList.add('fc-controls');
    el.appendChild(element('div', 'fc-version-mismatch', problem));
    return () => undefined;
  }
  const bar = new Bar(model, el);
  return () => bar.remove();
}

export default { initialize, render };

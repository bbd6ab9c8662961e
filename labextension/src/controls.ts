import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';

import { channel, describeReply } from './links';
import { element } from './dom';
import { Playhead, playheadFor, releasePlayhead } from './playhead';
import { VERSION, versionProblem } from './version';

/** The model of the control bar; its state mirrors framecast/jupyter/controls.py. */
export class SessionControlsModel extends DOMWidgetModel {
  defaults(): Backbone.ObjectHash {
    return {
      ...super.defaults(),
      _model_name: 'SessionControlsModel',
      _model_module: 'framecast',
      _model_module_version: VERSION,
      _view_name: 'SessionControlsView',
      _view_module: 'framecast',
      _view_module_version: VERSION,
      python_version: '',
      name: '',
      address: '',
      playing: false,
      running: false,
      frame_index: 0,
      frame_count: 0,
      clients: 0,
      fps: 0,
      error: '',
      target_kind: 'none',
      speed: 0,
      mode: '',
      can_step_back: false,
      timeline: '',
      last_action: ''
    };
  }

  static serializers: ISerializers = { ...DOMWidgetModel.serializers };
}

type Action = 'play' | 'pause' | 'step' | 'step_back' | 'restart' | 'stop';

// Inline SVG paths (24 x 24): media glyphs are missing from many system fonts.
const BUTTONS: { action: Action; icon: string; title: string }[] = [
  { action: 'step_back', icon: 'M6 5h2v14H6zM19 5v14L9 12z', title: 'Step back one frame' },
  { action: 'play', icon: 'M8 5v14l11-7z', title: 'Play' },
  { action: 'pause', icon: 'M6 5h4v14H6zm8 0h4v14h-4z', title: 'Pause' },
  { action: 'step', icon: 'M16 5h2v14h-2zM5 5v14l10-7z', title: 'Step one frame' },
  {
    action: 'restart',
    icon: 'M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z',
    title: 'Restart from the beginning'
  },
  { action: 'stop', icon: 'M6 6h12v12H6z', title: 'Stop the playback loop' }
];


/** The control bar: buttons, scrub slider, speed, loop mode and live status. */
export class SessionControlsView extends DOMWidgetView {
  private buttons = new Map<Action, HTMLButtonElement>();
  private scrub!: HTMLInputElement;
  private frameLabel!: HTMLSpanElement;
  private speed!: HTMLInputElement;
  private mode!: HTMLSelectElement;
  private status!: HTMLSpanElement;
  private errorBox!: HTMLDetailsElement;
  private scrubbing = false;
  /** The page's playhead of the session's timeline (shared with its viewers). */
  private playhead: Playhead | null = null;
  private unsubscribe: (() => void) | null = null;

  render(): void {
    this.el.classList.add('fc-controls');
    const problem = versionProblem(this.model.get('python_version'));
    if (problem) {
      this.el.appendChild(element('div', 'fc-version-mismatch', problem));
      return;
    }
    const bar = element('div', 'fc-bar');
    for (const { action, icon, title } of BUTTONS) {
      const button = element('button', `fc-button fc-${action.replace('_', '-')}`);
      button.innerHTML =
        '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">' +
        `<path fill="currentColor" d="${icon}"/></svg>`;
      button.title = title;
      button.setAttribute('aria-label', title);
      button.addEventListener('click', () => this.press(action));
      this.buttons.set(action, button);
      bar.appendChild(button);
    }

    this.scrub = element('input', 'fc-scrub');
    this.scrub.type = 'range';
    this.scrub.min = '0';
    this.scrub.title = 'Scrub through the timeline';
    this.scrub.addEventListener('input', () => {
      this.scrubbing = true;
      this.frameLabel.textContent = `frame ${this.scrub.value}`;
      this.local()?.seek(Number(this.scrub.value)); // the view follows the drag at once
    });
    this.scrub.addEventListener('change', () => {
      this.scrubbing = false;
      this.local()?.seek(Number(this.scrub.value));
      this.act({ action: 'seek', frame: Number(this.scrub.value) });
    });
    bar.appendChild(this.scrub);
    this.frameLabel = element('span', 'fc-frame');
    bar.appendChild(this.frameLabel);

    const speedLabel = element('label', 'fc-speed-label', 'fps ');
    this.speed = element('input', 'fc-speed');
    this.speed.type = 'number';
    this.speed.min = '0.1';
    this.speed.step = '1';
    this.speed.title = 'Playback speed in frames per second';
    this.speed.addEventListener('change', () => {
      const value = Number(this.speed.value);
      if (value > 0) {
        this.local()?.setRate(value);
        this.model.set('speed', value);
        this.touch();
      }
    });
    speedLabel.appendChild(this.speed);
    bar.appendChild(speedLabel);

    this.mode = element('select', 'fc-mode');
    this.mode.title = 'What happens at the end of the timeline';
    for (const value of ['loop', 'bounce', 'once']) {
      const option = element('option', '', value);
      option.value = value;
      this.mode.appendChild(option);
    }
    this.mode.addEventListener('change', () => {
      this.local()?.setRate(this.local()!.fps, this.mode.value);
      this.model.set('mode', this.mode.value);
      this.touch();
    });
    bar.appendChild(this.mode);

    this.status = element('span', 'fc-status');
    bar.appendChild(this.status);
    this.el.appendChild(bar);

    this.errorBox = element('details', 'fc-error');
    this.el.appendChild(this.errorBox);

    this.model.on('change', this.update, this);
    this.model.on('change:frame_index change:playing change:speed change:mode', this.toPlayhead, this);
    this.update();
    // Open the channel once the bar is in the page, before the kernel gets busy.
    channel.warmWhenAttached(this.el);
  }

  /**
   * The playhead of the session's timeline when the page holds the whole trajectory (a
   * viewer cached it): then the bar plays it in the page, and tells the kernel too.
   */
  private local(): Playhead | null {
    return this.playhead?.local ? this.playhead : null;
  }

  /** Follow the page's playhead of the session's timeline, if it has one. */
  private attachPlayhead(): void {
    const timeline = String(this.model.get('timeline') || '');
    if ((this.playhead?.timeline ?? '') === timeline) {
      return;
    }
    this.detachPlayhead();
    if (timeline) {
      this.playhead = playheadFor(timeline);
      this.unsubscribe = this.playhead.subscribe(() => this.update());
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
  private toPlayhead(): void {
    this.local()?.fromKernel({
      frame: Number(this.model.get('frame_index')),
      playing: Boolean(this.model.get('playing')),
      fps: Number(this.model.get('speed')),
      mode: String(this.model.get('mode'))
    });
  }

  /** A button: done in the page at once when it holds the trajectory, and in the kernel. */
  private press(action: Action): void {
    const local = this.local();
    if (local && action === 'play') {
      local.play();
    } else if (local && action === 'pause') {
      local.pause();
    } else if (local && (action === 'step' || action === 'step_back')) {
      local.step(action === 'step' ? 1 : -1);
    }
    this.act({ action });
  }

  remove(): void {
    this.detachPlayhead();
    super.remove();
  }

  /**
   * Send a control to the kernel over the framecast channel, which works while another
   * cell is busy; fall back to the widget's own comm where the page has no channel.
   */
  private act(content: Record<string, unknown>): void {
    if (!channel.kernelFor(this.el)) {
      this.send(content);
      return;
    }
    void channel
      .request(this.el, { kind: 'control', model_id: this.model.model_id, ...content })
      .then(reply => {
        if (reply.error) {
          this.status.textContent = describeReply(reply);
        }
      });
  }

  update(): void {
    if (!this.status) {
      return; // the version-mismatch message is all there is
    }
    const get = (key: string): any => this.model.get(key);
    this.attachPlayhead();
    const local = this.local();
    const playing = local ? local.playing : Boolean(get('playing'));
    const frameCount = Number(get('frame_count'));
    const frame = local ? local.frame : Number(get('frame_index'));
    this.el.dataset.playing = String(playing);
    this.el.dataset.frame = String(frame);
    this.buttons.get('play')!.disabled = playing;
    this.buttons.get('pause')!.disabled = !playing;
    this.buttons.get('step_back')!.hidden = !get('can_step_back');

    this.scrub.hidden = frameCount < 2;
    this.scrub.max = String(Math.max(frameCount - 1, 0));
    if (!this.scrubbing) {
      this.scrub.value = String(frame);
      this.frameLabel.textContent = `frame ${frame}`;
    }
    const speed = Number(get('speed'));
    this.speed.parentElement!.hidden = speed <= 0;
    if (document.activeElement !== this.speed) {
      this.speed.value = String(Math.round(speed * 100) / 100);
    }
    this.mode.hidden = !get('mode');
    this.mode.value = get('mode') || 'loop';

    const clients = Number(get('clients'));
    const state = playing ? 'playing' : get('running') ? 'paused' : 'stopped';
    this.status.textContent =
      `${get('address')} \u00b7 ${clients} client${clients === 1 ? '' : 's'} \u00b7 ` +
      `${Number(get('fps')).toFixed(0)} fps \u00b7 ${state}`;

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

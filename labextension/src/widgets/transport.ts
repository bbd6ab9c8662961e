/**
 * The transport controls that a session's bar (`controls.ts`) and a viewer's play bar
 * (`playbar.ts`) share: labelled buttons, the frame slider, the speed field and the keys of a
 * focused toolbar. Each bar decides what a control does; this module makes them look and
 * behave alike.
 */
import { element, onCommit, setIcon, shownFps } from '../dom';

/** A button that draws `icon`, named for screen readers (`label`) and with a tooltip. */
export function controlButton(
  className: string,
  icon: string,
  label: string,
  title: string = label
): HTMLButtonElement {
  const button = element('button', `fc-button ${className}`);
  setIcon(button, icon);
  button.title = title;
  button.setAttribute('aria-label', label);
  return button;
}

/** The frame slider and its label: `moving(frame)` while it is dragged (the view follows at
 * once), `moved(frame)` when it is let go (then the session is told). */
export class Scrubber {
  readonly input = element('input', 'fc-scrub');
  readonly label = element('span', 'fc-frame');
  private dragging = false;

  constructor(moving: (frame: number) => void, moved: (frame: number) => void, title = '') {
    this.input.type = 'range';
    this.input.min = '0';
    if (title) {
      this.input.title = title;
    }
    this.input.setAttribute('aria-label', 'Frame');
    this.label.setAttribute('aria-live', 'polite');
    this.input.addEventListener('input', () => {
      this.dragging = true;
      this.label.textContent = `frame ${this.input.value}`;
      moving(Number(this.input.value));
    });
    this.input.addEventListener('change', () => {
      this.dragging = false;
      moved(Number(this.input.value));
    });
  }

  /** Show `frame` of `count` (not while the slider is being dragged: the hand leads). */
  show(frame: number, count: number): void {
    this.input.max = String(Math.max(count - 1, 0));
    if (!this.dragging) {
      this.input.value = String(frame);
      this.label.textContent = `frame ${frame}`;
    }
  }
}

/** The speed field, in frames per second: `set(value)` when a value is committed (Enter or
 * leaving the field), with what was typed. */
export function speedField(title: string, set: (value: string) => void): HTMLInputElement {
  const speed = element('input', 'fc-speed');
  speed.type = 'number';
  speed.min = '0.1';
  speed.step = '1';
  speed.title = title;
  speed.setAttribute('aria-label', 'Speed');
  onCommit(speed, () => set(speed.value));
  return speed;
}

/** Show `fps` in the speed field, unless someone is typing in it. */
export function showSpeed(speed: HTMLInputElement, fps: number): void {
  if (document.activeElement !== speed) {
    speed.value = shownFps(fps); // a replay's 30.25 (its mean rate) reads as 30
  }
}

/** What the keys of a focused toolbar do: space plays or pauses, the arrows step; each
 * says whether it acted (false: the key is left to the page). */
export interface ITransportKeys {
  toggle(): boolean;
  step(delta: 1 | -1): boolean;
}

/** Make `toolbar` a focusable toolbar named `label` whose keys drive `keys`; its inputs keep
 * their own keys (the slider's arrows, typing a speed). */
export function transportToolbar(toolbar: HTMLElement, label: string, keys: ITransportKeys): void {
  toolbar.setAttribute('role', 'toolbar');
  toolbar.setAttribute('aria-label', label);
  toolbar.tabIndex = 0;
  toolbar.addEventListener('keydown', event => {
    if ((event.target as HTMLElement).tagName === 'INPUT') {
      return;
    }
    const arrow = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    const acted = event.key === ' ' ? keys.toggle() : arrow !== 0 && keys.step(arrow);
    if (acted) {
      event.preventDefault();
    }
  });
}

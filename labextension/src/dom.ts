/** A new element with a class name and optional text. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/** Inline SVG paths (24 x 24) of the media controls: their glyphs are missing from many
 * system fonts, where they show as empty boxes. */
export const ICONS = {
  step_back: 'M6 5h2v14H6zM19 5v14L9 12z',
  play: 'M8 5v14l11-7z',
  pause: 'M6 5h4v14H6zm8 0h4v14h-4z',
  step: 'M16 5h2v14h-2zM5 5v14l10-7z',
  restart: 'M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z',
  stop: 'M6 6h12v12H6z'
};

/** Show the icon `path` in `button`, replacing what it showed. */
export function setIcon(button: HTMLElement, path: string): void {
  button.innerHTML =
    '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">' +
    `<path fill="currentColor" d="${path}"/></svg>`;
}

/** A frame rate as a person reads it: whole numbers, one decimal below 10. */
export function shownFps(fps: number): string {
  return fps < 10 ? fps.toFixed(1).replace(/\.0$/, '') : fps.toFixed(0);
}

/**
 * Call `apply` when the value of `field` is committed: on its change event, and on Enter,
 * which JupyterLab otherwise takes for its own commands before the change event comes
 * (the key is kept from the notebook).
 */
export function onCommit(field: HTMLInputElement, apply: () => void): void {
  field.addEventListener('change', apply);
  field.addEventListener('keydown', event => {
    if (event.key === 'Enter') {
      event.preventDefault();
      event.stopPropagation();
      apply();
    }
  });
}

/** VS Code's widget renderer ships JavaScript only: what hosts/vscode.ts uses of it. */
declare module '@vscode/jupyter-ipywidgets8' {
  /** Defines `window.vscIPyWidgets8` ({ load, unload }); load() registers the base widget
   * modules in requirejs and defines `window.vscIPyWidgets.WidgetManager`. */
  export function activate(): void;
}

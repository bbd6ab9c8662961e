/**
 * A page that renders a kernel's widgets the way VS Code's notebook webview does: with
 * VS Code's own widget renderer (@vscode/jupyter-ipywidgets8), third-party widget modules
 * loaded through requirejs from the kernel environment's nbextensions folder, and a kernel
 * connection of its own (@jupyterlab/services, over the Jupyter server's websocket).
 *
 * Not shipped: the browser tests bundle it (tests/jupyter/test_vscode_colab.py). Loaded
 * after require.js. `?token=` is the server's; `?kernel=` joins a running kernel instead of
 * starting one (the Colab imitation: one frame per output, each with its own copy of all
 * this, sharing no JavaScript). `window.fcRun(code)` runs a cell: its widget outputs are
 * drawn each in its own `.fc-output` element, and it resolves to the cell's text output.
 */
import { KernelManager, ServerConnection } from '@jupyterlab/services';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { activate } from '@vscode/jupyter-ipywidgets8';

declare const requirejs: {
  config(options: { paths?: Record<string, string>; urlArgs?: string }): void;
};

interface IWidgetManager {
  get_model(id: string): Promise<unknown>;
  create_view(model: unknown, options?: object): Promise<unknown>;
  display_view(data: unknown, view: unknown, options: { node: HTMLElement }): Promise<unknown>;
}

interface IHost {
  vscIPyWidgets8: { load(): void };
  vscIPyWidgets: {
    WidgetManager: new (
      kernel: Kernel.IKernelConnection,
      el: HTMLElement,
      scriptLoader: object,
      logger: (message: string) => void
    ) => IWidgetManager;
  };
  fcRun(code: string): Promise<string>;
  fcKernel: string;
  fcLog: string[];
}

const WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json';
const host = window as unknown as IHost;
host.fcLog = [];

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const token = params.get('token') ?? '';
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: `${location.origin}/`,
    wsUrl: `ws://${location.host}/`,
    token,
    appendToken: true
  });
  if (token) {
    requirejs.config({ urlArgs: `token=${encodeURIComponent(token)}` }); // the server's files
  }
  const kernels = new KernelManager({ serverSettings });
  await kernels.ready;
  const id = params.get('kernel');
  const kernel = id
    ? kernels.connectTo({ model: { id, name: 'python3' } })
    : await kernels.startNew({ name: 'python3' });
  host.fcKernel = kernel.id;

  // As VS Code's renderer does: its bundle registers the base widget modules in requirejs,
  // and a script loader points requirejs at a third-party module's nbextension.
  activate();
  host.vscIPyWidgets8.load();
  const scriptLoader = {
    widgetsRegisteredInRequireJs: new Set<string>(),
    async loadWidgetScript(moduleName: string): Promise<void> {
      requirejs.config({ paths: { [moduleName]: `${location.origin}/files/nbextensions/${moduleName}/index` } });
      this.widgetsRegisteredInRequireJs.add(moduleName);
    },
    successHandler(): void {},
    errorHandler(className: string, moduleName: string, version: string, error: unknown): void {
      host.fcLog.push(`cannot load ${moduleName}@${version} ${className}: ${error}`);
    }
  };
  const outputs = document.getElementById('outputs')!;
  const manager = new host.vscIPyWidgets.WidgetManager(kernel, outputs, scriptLoader, message =>
    host.fcLog.push(message)
  );

  async function draw(data: { model_id: string }): Promise<void> {
    const node = document.createElement('div');
    node.className = 'fc-output';
    outputs.appendChild(node);
    const model = await manager.get_model(data.model_id);
    const view = await manager.create_view(model, {});
    await manager.display_view(data, view, { node });
  }

  host.fcRun = async (code: string): Promise<string> => {
    const future = kernel.requestExecute({ code });
    const text: string[] = [];
    const drawn: Promise<void>[] = [];
    future.onIOPub = (message: KernelMessage.IIOPubMessage) => {
      const content = message.content as { data?: Record<string, unknown>; text?: string; ename?: string; evalue?: string };
      if (content.data && content.data[WIDGET_VIEW]) {
        drawn.push(draw(content.data[WIDGET_VIEW] as { model_id: string }));
      } else if (content.data && typeof content.data['text/plain'] === 'string') {
        text.push(content.data['text/plain'] as string);
      } else if (typeof content.text === 'string') {
        text.push(content.text);
      } else if (content.ename) {
        text.push(`${content.ename}: ${content.evalue}`);
      }
    };
    const reply = await future.done;
    await Promise.all(drawn);
    if (reply.content.status !== 'ok') {
      throw new Error(`the cell failed: ${text.join('')}`);
    }
    return text.join('');
  };
  document.body.dataset.ready = 'true';
}

main().catch(error => {
  host.fcLog.push(String(error));
  document.body.dataset.failed = String(error);
});

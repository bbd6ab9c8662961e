import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { LinkPublisher } from './links';
import { ILinkData, ITableData, renderLink, renderTable } from './widgets/linkview';

export const TRANSITION_MIME = 'application/vnd.framecast.transition+json';
export const TRANSITIONS_MIME = 'application/vnd.framecast.transitions+json';

/** An output of ours: it opens the kernel channel as soon as it is in the page. */
abstract class FramecastOutput extends Widget implements IRenderMime.IRenderer {
  constructor(
    protected readonly options: IRenderMime.IRendererOptions,
    protected readonly links: LinkPublisher
  ) {
    super();
    this.addClass('fc-transition-output');
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.links.warm(this.node);
  }

  abstract renderModel(model: IRenderMime.IMimeModel): Promise<void>;
}

/** Renders one saved or live transition as a link. */
export class TransitionLink extends FramecastOutput {
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[this.options.mimeType] as unknown as ILinkData;
    renderLink(this.node, data, target => this.links.publish(this.node, target));
    return Promise.resolve();
  }
}

/** Renders a saved or live range of transitions as a table of links. */
export class TransitionTable extends FramecastOutput {
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[this.options.mimeType] as unknown as ITableData;
    renderTable(this.node, data, target => this.links.publish(this.node, target));
    return Promise.resolve();
  }
}

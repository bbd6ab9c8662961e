import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { describeReply, LinkPublisher } from './links';
import { element } from './dom';
import { versionProblem } from './version';

export const TRANSITION_MIME = 'application/vnd.framecast.transition+json';
export const TRANSITIONS_MIME = 'application/vnd.framecast.transitions+json';

interface ILinkData {
  version: string;
  timeline: string;
  transition: number;
  label: string;
}

interface ITableData {
  version: string;
  timeline: string;
  context_name: string;
  rows: { transition: number; label: string; context: string }[];
  hidden: number;
}


/** A link that reads like REVEN's (`#100` and a label) and publishes on click. */
function makeLink(
  host: HTMLElement,
  links: LinkPublisher,
  timeline: string,
  transition: number,
  label: string
): HTMLElement {
  const wrapper = element('span', 'fc-transition');
  const link = element('a', 'fc-transition-link', `#${transition}`);
  link.href = '#';
  link.title = 'Publish this transition to the tracked sessions';
  link.dataset.transition = String(transition);
  const status = element('span', 'fc-link-status');
  link.addEventListener('click', event => {
    event.preventDefault();
    status.textContent = 'publishing\u2026';
    status.dataset.state = 'pending';
    void links.publish(host, timeline, transition).then(reply => {
      status.textContent = describeReply(reply);
      status.dataset.state = reply.error ? 'error' : 'done';
    });
  });
  wrapper.appendChild(link);
  if (label) {
    wrapper.appendChild(element('span', 'fc-transition-label', ` ${label}`));
  }
  wrapper.appendChild(status);
  return wrapper;
}

function mismatch(host: HTMLElement, version: unknown): boolean {
  const problem = versionProblem(version);
  if (problem) {
    host.appendChild(element('div', 'fc-version-mismatch', problem));
  }
  return problem !== null;
}

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

/** Renders one transition as a link. */
export class TransitionLink extends FramecastOutput {
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[this.options.mimeType] as unknown as ILinkData;
    this.node.textContent = '';
    if (!mismatch(this.node, data.version)) {
      this.node.appendChild(
        makeLink(this.node, this.links, data.timeline, data.transition, data.label)
      );
    }
    return Promise.resolve();
  }
}

/** Renders a range of transitions as a table of links with a context column. */
export class TransitionTable extends FramecastOutput {
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[this.options.mimeType] as unknown as ITableData;
    this.node.textContent = '';
    if (mismatch(this.node, data.version)) {
      return Promise.resolve();
    }
    const table = element('table', 'fc-transition-table');
    const head = table.createTHead().insertRow();
    head.appendChild(element('th', '', 'transition'));
    if (data.context_name) {
      head.appendChild(element('th', '', data.context_name));
    }
    const body = table.createTBody();
    for (const row of data.rows) {
      const tr = body.insertRow();
      tr.insertCell().appendChild(
        makeLink(this.node, this.links, data.timeline, row.transition, row.label)
      );
      if (data.context_name) {
        tr.insertCell().textContent = row.context;
      }
    }
    this.node.appendChild(table);
    if (data.hidden) {
      this.node.appendChild(element('div', 'fc-more', `\u2026 and ${data.hidden} more`));
    }
    return Promise.resolve();
  }
}

/**
 * Transition links as DOM: one link (`#100` and its label, as REVEN shows it) or a table of
 * links with a context column. Drawn by the links widget in every front end, and by the
 * JupyterLab extension's renderer of saved outputs; neither needs anything else from here.
 */
import { element } from '../dom';
import { versionProblem } from '../version';
import { describeReply, Reply } from './host';

/**
 * A timeline as a link names it: its id in the kernel that showed the link, and, for a
 * recorded one, a fingerprint of its content, by which a later kernel that loaded the same
 * data finds it (a saved notebook's links work again once its session runs).
 */
export interface ITimelineOfLink {
  timeline: string;
  fingerprint?: string | null;
}

/** One transition (`application/vnd.framecast.transition+json`). */
export interface ILinkData extends ITimelineOfLink {
  version: string;
  transition: number;
  label: string;
}

/** A range (`application/vnd.framecast.transitions+json`). */
export interface ITableData extends ITimelineOfLink {
  version: string;
  context_name: string;
  rows: { transition: number; label: string; context: string }[];
  hidden: number;
}

/** What a publish request names: a transition of a timeline. */
export interface IPublishTarget extends ITimelineOfLink {
  transition: number;
}

/** Ask the kernel to publish a transition. */
export type Publish = (target: IPublishTarget) => Promise<Reply>;

function makeLink(publish: Publish, data: ITimelineOfLink, transition: number, label: string): HTMLElement {
  const wrapper = element('span', 'fc-transition');
  const link = element('a', 'fc-transition-link', `#${transition}`);
  link.href = '#';
  link.title = 'Publish this transition to the tracked sessions';
  link.setAttribute('role', 'button');
  link.setAttribute('aria-label', `Publish transition ${transition}`);
  link.dataset.transition = String(transition);
  const status = element('span', 'fc-link-status');
  status.setAttribute('aria-live', 'polite');
  link.addEventListener('click', event => {
    event.preventDefault();
    // Only the latest click's answer stands: what earlier clicks heard is stale news.
    link
      .closest('.fc-transition-output')
      ?.querySelectorAll<HTMLElement>('.fc-link-status')
      .forEach(other => {
        other.textContent = '';
        delete other.dataset.state;
      });
    status.textContent = 'publishing\u2026';
    status.dataset.state = 'pending';
    const target = { timeline: data.timeline, fingerprint: data.fingerprint ?? null, transition };
    void publish(target).then(reply => {
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

/** Empty `host` for links; false (after saying so) when the kernel's version differs. */
function prepare(host: HTMLElement, version: string): boolean {
  host.textContent = '';
  host.classList.add('fc-transition-output');
  const problem = versionProblem(version);
  if (problem) {
    host.appendChild(element('div', 'fc-version-mismatch', problem));
  }
  return problem === null;
}

/** Draw one link into `host` (or a version-mismatch message). */
export function renderLink(host: HTMLElement, data: ILinkData, publish: Publish): void {
  if (!prepare(host, data.version)) {
    return;
  }
  host.appendChild(makeLink(publish, data, data.transition, data.label));
}

/** Draw a table of links into `host` (or a version-mismatch message). */
export function renderTable(host: HTMLElement, data: ITableData, publish: Publish): void {
  if (!prepare(host, data.version)) {
    return;
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
    tr.insertCell().appendChild(makeLink(publish, data, row.transition, row.label));
    if (data.context_name) {
      tr.insertCell().textContent = row.context;
    }
  }
  host.appendChild(table);
  if (data.hidden) {
    host.appendChild(element('div', 'fc-more', `\u2026 and ${data.hidden} more`));
  }
}

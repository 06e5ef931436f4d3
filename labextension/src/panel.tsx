/**
 * The left "Jobs" sidebar: a filterable, virtualised run history on top, the selected run's details below
 * (spec, environment, queue position, logs that follow over SSE, outputs, actions). Every button runs a
 * command, so each action is also in the palette and can have a shortcut.
 */
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import {
  Button,
  deleteIcon,
  downloadIcon,
  HTMLSelect,
  launchIcon,
  notebookIcon,
  ReactWidget,
  refreshIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  isFinished,
  JobsClient,
  OutputsManifest,
  Run,
  RunEnvironment,
  RunEvent,
  STATUSES
} from './api/client';
import { ago, basename, bytes, duration, runLabel, timestamp } from './format';
import { describeError, IProblem, RunsModel, StatusFilter } from './model';
import { CommandIDs } from './tokens';

export const ROW_HEIGHT = 46;
const OVERSCAN = 8;
const MAX_LOG_CHARS = 400_000;

export class JobsPanel extends ReactWidget {
  constructor(
    readonly model: RunsModel,
    readonly commands: CommandRegistry
  ) {
    super();
    this.addClass('jp-JobsPanel');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.visible = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visible = false;
  }

  render(): JSX.Element {
    return <JobsView model={this.model} commands={this.commands} />;
  }
}

function useModel(model: RunsModel): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const changed = () => setTick(t => t + 1);
    model.changed.connect(changed);
    return () => {
      model.changed.disconnect(changed);
    };
  }, [model]);
}

function JobsView(props: { model: RunsModel; commands: CommandRegistry }): JSX.Element {
  const { model, commands } = props;
  useModel(model);
  const [text, setText] = React.useState(model.query);
  React.useEffect(() => {
    const timer = window.setTimeout(() => model.setFilter(text, model.status), 300);
    return () => window.clearTimeout(timer);
  }, [text]);
  const selected = model.selected;
  return (
    <div className="jp-JobsPanel-body">
      <div className="jp-JobsPanel-header">
        <h2 className="jp-JobsPanel-title">Jobs</h2>
        <Button
          minimal
          small
          title="Run the current notebook as a job"
          className="jp-JobsPanel-headerButton"
          onClick={() => void commands.execute(CommandIDs.runNotebook)}
        >
          <runIcon.react tag="span" elementPosition="center" />
        </Button>
        <Button
          minimal
          small
          title="Refresh"
          className="jp-JobsPanel-headerButton jp-JobsPanel-refresh"
          onClick={() => void commands.execute(CommandIDs.refresh)}
        >
          <refreshIcon.react tag="span" elementPosition="center" />
        </Button>
      </div>
      <div className="jp-JobsPanel-filters">
        <input
          className="jp-JobsPanel-search jp-mod-styled"
          type="search"
          placeholder="Filter by name or id"
          aria-label="Filter runs by name or id"
          value={text}
          onChange={e => setText(e.target.value)}
        />
        <HTMLSelect
          className="jp-JobsPanel-statusFilter"
          aria-label="Filter runs by status"
          value={model.status}
          onChange={e => model.setFilter(text, e.target.value as StatusFilter)}
        >
          <option value="">All</option>
          <option value="ACTIVE">Active</option>
          {STATUSES.map(s => (
            <option key={s} value={s}>
              {s.charAt(0) + s.slice(1).toLowerCase()}
            </option>
          ))}
        </HTMLSelect>
      </div>
      {model.problem && <Problem problem={model.problem} onRetry={() => void model.poll.refresh()} />}
      <RunList model={model} withDetails={!!selected} />
      {selected && <RunDetails key={selected.id} run={selected} model={model} commands={commands} />}
    </div>
  );
}

function Problem(props: { problem: IProblem; onRetry: () => void }): JSX.Element {
  const { problem } = props;
  return (
    <div className="jp-JobsPanel-problem" role="alert">
      <div className="jp-JobsPanel-problemTitle">{problem.title}</div>
      <div>{problem.message}</div>
      {problem.hint && <div className="jp-JobsPanel-hint">{problem.hint}</div>}
      <Button small onClick={props.onRetry}>
        Retry
      </Button>
    </div>
  );
}

export function StatusBadge(props: { status: string }): JSX.Element {
  return (
    <span className={`jp-JobsStatus jp-JobsStatus-${props.status}`} data-status={props.status}>
      {props.status.toLowerCase()}
    </span>
  );
}

/** Only the rows in view are in the DOM, so thousands of runs scroll like a handful. */
function RunList(props: { model: RunsModel; withDetails: boolean }): JSX.Element {
  const { model } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(400);
  React.useEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(node.clientHeight || 400));
    observer.observe(node);
    return () => observer.disconnect();
  }, []);
  const runs = model.runs;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(runs.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  React.useEffect(() => {
    if (last >= runs.length - OVERSCAN && model.hasMore) {
      void model.loadMore();
    }
  }, [last, runs.length, model.hasMore]);
  const now = Date.now() / 1000;
  const rows = [];
  for (let i = first; i < last; i++) {
    const run = runs[i];
    rows.push(
      <div
        key={run.id}
        role="option"
        aria-selected={run.id === model.selectedId}
        className={`jp-JobsRun${run.id === model.selectedId ? ' jp-mod-selected' : ''}`}
        style={{ top: i * ROW_HEIGHT, height: ROW_HEIGHT }}
        data-run-id={run.id}
        data-status={run.status}
        title={`${runLabel(run)} (${run.id})`}
        onClick={() => model.select(run.id === model.selectedId ? null : run.id)}
      >
        <div className="jp-JobsRun-line">
          <span className="jp-JobsRun-name">{runLabel(run)}</span>
          <StatusBadge status={run.status} />
        </div>
        <div className="jp-JobsRun-line jp-JobsRun-meta">
          <span className="jp-JobsRun-instance">{run.instance_type}</span>
          <span className="jp-JobsRun-started">{ago(run.started_at ?? run.created_at, now)}</span>
          <span className="jp-JobsRun-duration">{duration(run, now)}</span>
          <span className="jp-JobsRun-source" title={run.origin?.source ?? ''}>
            {basename(run.origin?.source)}
          </span>
        </div>
      </div>
    );
  }
  let empty: string | null = null;
  if (!runs.length) {
    empty = !model.loaded
      ? model.problem
        ? null
        : 'Loading…'
      : model.query || model.status
        ? 'No runs match the filter.'
        : 'No jobs yet. Run a notebook with "Run as Job", a cell with %%job, or `jupyter jobs execute`.';
  }
  return (
    <div
      className={`jp-JobsPanel-list${props.withDetails ? ' jp-mod-withDetails' : ''}`}
      ref={ref}
      role="listbox"
      aria-label="Runs"
      onScroll={e => setScrollTop((e.target as HTMLDivElement).scrollTop)}
    >
      {empty && <div className="jp-JobsPanel-empty">{empty}</div>}
      <div className="jp-JobsPanel-rows" style={{ height: runs.length * ROW_HEIGHT }}>
        {rows}
      </div>
      {model.loading && <div className="jp-JobsPanel-more">Loading more…</div>}
    </div>
  );
}

interface ILogState {
  text: string;
  status: string | null;
  progress: string | null;
  ended: boolean;
}

/** Follow `/jobs/runs/{id}/events` (SSE); closes after the result event. */
function useLogs(client: JobsClient, run: Run, onEnd: () => void): ILogState {
  const [state, setState] = React.useState<ILogState>({ text: '', status: null, progress: null, ended: false });
  React.useEffect(() => {
    let text = '';
    let status: string | null = null;
    let progress: string | null = null;
    let pending = false;
    let closed = false;
    const flush = () => {
      pending = false;
      if (!closed) {
        setState({ text, status, progress, ended: false });
      }
    };
    const source = new EventSource(client.eventsUrl(run.id), { withCredentials: true });
    source.onmessage = ev => {
      let event: RunEvent;
      try {
        event = JSON.parse(ev.data) as RunEvent;
      } catch {
        return;
      }
      if (event.type === 'log') {
        text += event.text ?? '';
        if (text.length > MAX_LOG_CHARS) {
          text = '…\n' + text.slice(text.length - MAX_LOG_CHARS);
        }
      } else if (event.type === 'status') {
        status = event.status ?? status;
      } else if (event.type === 'progress') {
        progress = `${Math.round(event.progress ?? 0)}% ${event.message ?? ''}`.trim();
      } else if (event.type === 'result') {
        source.close();
        closed = true;
        setState({ text, status: event.status ?? status, progress, ended: true });
        onEnd();
        return;
      }
      if (!pending) {
        pending = true;
        window.requestAnimationFrame(flush);
      }
    };
    return () => {
      closed = true;
      source.close();
    };
  }, [run.id]);
  return state;
}

function RunDetails(props: { run: Run; model: RunsModel; commands: CommandRegistry }): JSX.Element {
  const { run, model, commands } = props;
  const client = model.client;
  const [env, setEnv] = React.useState<RunEnvironment | null>(null);
  const [outputs, setOutputs] = React.useState<OutputsManifest | null>(null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const finished = isFinished(run);
  const logs = useLogs(client, run, () => {
    void client.getRun(run.id).then(r => model.upsert(r), () => undefined);
  });
  React.useEffect(() => {
    client.environment(run.id).then(setEnv, () => setEnv(null));
  }, [run.id]);
  React.useEffect(() => {
    if (finished && !run.data_deleted) {
      client.outputs(run.id).then(setOutputs, err => setProblem(describeError(err)));
    }
  }, [run.id, finished]);
  const logRef = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const node = logRef.current;
    if (node && node.scrollHeight - node.scrollTop - node.clientHeight < 60) {
      node.scrollTop = node.scrollHeight;
    }
  }, [logs.text]);

  const exec = (id: string, args: any = {}) => () => {
    void commands.execute(id, { id: run.id, ...args });
  };
  const files = (outputs?.outputs ?? []).flatMap(entry => (entry.files ?? []).map(f => ({ ...f, entry })));
  const executed = files.find(f => f.entry.executed_notebook && f.path.endsWith('.ipynb'));
  const spec = run.spec as any;
  return (
    <div className="jp-JobsDetails" data-run-id={run.id} data-status={run.status}>
      <div className="jp-JobsDetails-head">
        <span className="jp-JobsDetails-name">{runLabel(run)}</span>
        <StatusBadge status={run.status} />
      </div>
      <div className="jp-JobsDetails-actions">
        <Button small minimal disabled={finished} onClick={exec(CommandIDs.cancel)} title="Cancel this run">
          <stopIcon.react tag="span" /> Cancel
        </Button>
        <Button small minimal onClick={exec(CommandIDs.rerun)} title="Run again with the same settings">
          <runIcon.react tag="span" /> Re-run
        </Button>
        <Button small minimal onClick={exec(CommandIDs.fork)} title="Run again with changes">
          <launchIcon.react tag="span" /> Fork…
        </Button>
        <Button small minimal disabled={!finished} onClick={exec(CommandIDs.remove)} title="Delete this run">
          <deleteIcon.react tag="span" /> Delete
        </Button>
      </div>
      <div className="jp-JobsDetails-scroll">
        <table className="jp-JobsDetails-facts">
          <tbody>
            <Fact label="Id" value={run.id} />
            <Fact label="Kind" value={run.kind} />
            <Fact label="Executor" value={`${run.executor} · ${run.instance_type}`} />
            {run.queue_position ? <Fact label="Queue" value={`position ${run.queue_position}`} /> : null}
            <Fact label="Source" value={run.origin?.source ?? ''} />
            <Fact label="Created" value={timestamp(run.created_at)} />
            <Fact label="Started" value={timestamp(run.started_at)} />
            <Fact label="Duration" value={duration(run)} />
            {run.progress !== null && run.progress !== undefined && !finished ? (
              <Fact label="Progress" value={`${Math.round(run.progress)}% ${run.progress_message ?? ''}`} />
            ) : null}
            {run.exit_code !== null && run.exit_code !== undefined ? (
              <Fact label="Exit code" value={String(run.exit_code)} />
            ) : null}
            {run.parent_id ? <Fact label="Forked from" value={run.parent_id} /> : null}
          </tbody>
        </table>
        {run.error && <div className="jp-JobsDetails-error">{run.error}</div>}
        {run.notes?.length ? (
          <ul className="jp-JobsDetails-notes">
            {run.notes.map((n, i) => (
              <li key={i}>{n}</li>
            ))}
          </ul>
        ) : null}
        {problem && <Problem problem={problem} onRetry={() => setProblem(null)} />}

        <Section title="Logs" open>
          {logs.progress && !finished && <div className="jp-JobsDetails-progress">{logs.progress}</div>}
          <pre className="jp-JobsDetails-logs" ref={logRef}>
            {logs.text || (finished ? '(no output)' : 'Waiting for output…')}
          </pre>
        </Section>

        <Section title="Outputs" open={finished}>
          {executed && (
            <Button small className="jp-JobsDetails-openNotebook" onClick={exec(CommandIDs.openNotebook)}>
              <notebookIcon.react tag="span" /> Open executed notebook
            </Button>
          )}
          {!finished && <div className="jp-JobsDetails-muted">Outputs appear when the run ends.</div>}
          {finished && run.data_deleted && <div className="jp-JobsDetails-muted">The run's data expired.</div>}
          {finished && outputs && !files.length && <div className="jp-JobsDetails-muted">No output files.</div>}
          <ul className="jp-JobsDetails-files">
            {files.map(f => (
              <li key={f.path}>
                <a
                  href="#"
                  className="jp-JobsDetails-fileOpen"
                  title="Open in JupyterLab (copied into the server's root)"
                  onClick={e => {
                    e.preventDefault();
                    void commands.execute(CommandIDs.openOutput, { id: run.id, path: f.path });
                  }}
                >
                  {f.path}
                </a>
                <span className="jp-JobsDetails-size">{bytes(f.size)}</span>
                <a href={client.downloadUrl(run.id, f.path)} download title="Download" className="jp-JobsDetails-download">
                  <downloadIcon.react tag="span" />
                </a>
              </li>
            ))}
          </ul>
        </Section>

        <Section title="Environment">
          {env ? (
            <div className="jp-JobsDetails-env">
              <div>
                {env.kind === 'python' ? `Python ${env.python ?? ''}` : env.kind}
                {env.docker_image ? ` · image ${env.docker_image}` : ''}
              </div>
              {env.requirements?.length ? (
                <pre className="jp-JobsDetails-requirements">{env.requirements.join('\n')}</pre>
              ) : null}
              {env.env_vars?.length ? <div>Variables: {env.env_vars.join(', ')}</div> : null}
              {Object.keys(env.unresolved ?? {}).length ? (
                <div className="jp-JobsDetails-warning">Unresolved imports: {Object.keys(env.unresolved ?? {}).join(', ')}</div>
              ) : null}
            </div>
          ) : (
            <div className="jp-JobsDetails-muted">…</div>
          )}
        </Section>

        <Section title="Spec">
          <pre className="jp-JobsDetails-spec">{JSON.stringify(spec, null, 2)}</pre>
        </Section>
      </div>
    </div>
  );
}

function Fact(props: { label: string; value: string | null | undefined }): JSX.Element | null {
  if (!props.value) {
    return null;
  }
  return (
    <tr>
      <th>{props.label}</th>
      <td>{props.value}</td>
    </tr>
  );
}

function Section(props: { title: string; open?: boolean; children?: React.ReactNode }): JSX.Element {
  return (
    <details className="jp-JobsDetails-section" open={props.open} data-section={props.title}>
      <summary>{props.title}</summary>
      {props.children}
    </details>
  );
}

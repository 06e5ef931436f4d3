/**
 * The left "Jobs" sidebar: a filterable, virtualised run history (each row: name, status, source, a notebook
 * run's parameters), the selected run's summary and actions below; a run's full details open in the main area
 * (details.tsx). Every button runs a command, so each action is also in the palette and can have a shortcut.
 */
import { CommandRegistry } from '@lumino/commands';
import {
  Button,
  deleteIcon,
  editIcon,
  HTMLSelect,
  launchIcon,
  refreshIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { isFinished, Run, STATUSES } from './api/client';
import { ago, duration, parametersText, runLabel, sourceLabel } from './format';
import { IProblem, RunsModel, StatusFilter } from './model';
import { PolledView, useChanges } from './polledView';
import { CommandIDs } from './tokens';

export const ROW_HEIGHT = 62;
const OVERSCAN = 8;

export class JobsPanel extends PolledView<RunsModel> {
  constructor(model: RunsModel, commands: CommandRegistry) {
    super(model, commands);
    this.addClass('jp-JobsPanel');
  }

  render(): JSX.Element {
    return <JobsView model={this.model} commands={this.commands} />;
  }
}

function JobsView(props: { model: RunsModel; commands: CommandRegistry }): JSX.Element {
  const { model, commands } = props;
  useChanges(model);
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
          placeholder="Name or id"
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
      <RunList model={model} commands={commands} />
      {selected && <SelectedRun key={selected.id} run={selected} commands={commands} />}
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
function RunList(props: { model: RunsModel; commands: CommandRegistry }): JSX.Element {
  const { model, commands } = props;
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
    const params = parametersText(run);
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
        onClick={() => {
          model.select(run.id);
          void commands.execute(CommandIDs.openRun, { id: run.id });
        }}
      >
        <div className="jp-JobsRun-line">
          <span className="jp-JobsRun-name">{runLabel(run)}</span>
          <StatusBadge status={run.status} />
        </div>
        <div className="jp-JobsRun-line jp-JobsRun-what">
          <span className="jp-JobsRun-source" title={run.origin?.source ?? ''}>
            {sourceLabel(run)}
          </span>
          {params && (
            <span className="jp-JobsRun-params" title={params}>
              {params}
            </span>
          )}
        </div>
        <div className="jp-JobsRun-line jp-JobsRun-meta">
          <span className="jp-JobsRun-instance">{run.instance_type}</span>
          <span className="jp-JobsRun-started">{ago(run.started_at ?? run.created_at, now)}</span>
          <span className="jp-JobsRun-duration">{duration(run, now)}</span>
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
      className="jp-JobsPanel-list"
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

/**
 * A run's actions, each running its command: Cancel only while the run is active, Delete once it ended;
 * `children` go first, `trail` before Delete.
 */
export function RunActions(props: {
  run: Run;
  commands: CommandRegistry;
  className: string;
  children?: React.ReactNode;
  trail?: React.ReactNode;
}): JSX.Element {
  const { run, commands } = props;
  const finished = isFinished(run);
  const exec = (id: string) => () => {
    void commands.execute(id, { id: run.id });
  };
  return (
    <div className={props.className}>
      {props.children}
      {!finished && (
        <Button small minimal onClick={exec(CommandIDs.cancel)} title="Cancel this run">
          <stopIcon.react tag="span" /> Cancel
        </Button>
      )}
      <Button small minimal onClick={exec(CommandIDs.rerun)} title="Run again with the same settings">
        <runIcon.react tag="span" /> Re-run
      </Button>
      <Button small minimal onClick={exec(CommandIDs.fork)} title="Run again with changes">
        <editIcon.react tag="span" /> Fork…
      </Button>
      {props.trail}
      {finished && (
        <Button small minimal onClick={exec(CommandIDs.remove)} title="Delete this run with its logs and outputs">
          <deleteIcon.react tag="span" /> Delete
        </Button>
      )}
    </div>
  );
}

/**
 * The selected run, compact: what it is, its parameters, why it failed, and its actions (the full details are
 * in its main-area panel). Usable at the sidebar's default width: text wraps, buttons wrap.
 */
function SelectedRun(props: { run: Run; commands: CommandRegistry }): JSX.Element {
  const { run, commands } = props;
  const params = parametersText(run);
  return (
    <div className="jp-JobsSelected" data-run-id={run.id} data-status={run.status}>
      <div className="jp-JobsSelected-head">
        <span className="jp-JobsSelected-name" title={runLabel(run)}>
          {runLabel(run)}
        </span>
        <StatusBadge status={run.status} />
      </div>
      <div className="jp-JobsSelected-meta">
        {[sourceLabel(run), `${run.instance_type} on ${run.executor}`, duration(run)].filter(Boolean).join(' · ')}
      </div>
      {params && <div className="jp-JobsSelected-params">{params}</div>}
      {run.error && <div className="jp-JobsSelected-error">{run.error}</div>}
      <RunActions run={run} commands={commands} className="jp-JobsSelected-actions">
        <Button
          small
          onClick={() => void commands.execute(CommandIDs.openRun, { id: run.id })}
          title="Open the run's details in the main area"
        >
          <launchIcon.react tag="span" /> Details
        </Button>
      </RunActions>
    </div>
  );
}

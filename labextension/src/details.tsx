/**
 * A run's details in the main area: one document-like panel per run (activated again when asked for again,
 * restored with the layout through a WidgetTracker) with its status, actions, the log following live,
 * outputs under the names the CLI uses, spec, parameters and a failed cell's traceback. The sidebar keeps
 * the list.
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, MainAreaWidget, Notification, WidgetTracker } from '@jupyterlab/apputils';
import { Button, downloadIcon, LabIcon, notebookIcon, ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { isFinished, JobsClient, Run, RunEnvironment, RunEvent, RunSummary, ShownOutput } from './api/client';
import { bytes, duration, runLabel, sourceLabel, timestamp } from './format';
import { describeError, IProblem, RunsModel } from './model';
import { RunActions, StatusBadge } from './panel';
import { CommandIDs } from './tokens';

const NAMESPACE = 'jupyter-jobs-run';
const MAX_LOG_CHARS = 400_000;

/** The content of a run's main-area panel. */
export class RunPanelContent extends ReactWidget {
  constructor(
    readonly runId: string,
    readonly model: RunsModel,
    readonly commands: CommandRegistry
  ) {
    super();
    this.addClass('jp-JobsRunPanel');
    const known = model.runs.find(r => r.id === runId);
    this.title.label = known ? runLabel(known) : runId;
    this.title.caption = `Job ${runId}`;
  }

  render(): JSX.Element {
    return (
      <RunView
        id={this.runId}
        model={this.model}
        commands={this.commands}
        onRun={run => {
          this.title.label = runLabel(run);
          this.title.caption = `Job ${runLabel(run)} (${run.id}): ${run.status.toLowerCase()}`;
        }}
      />
    );
  }
}

/** Opens, finds and closes the runs' panels; the tracker restores them with the layout. */
export class RunPanels {
  constructor(
    readonly app: JupyterFrontEnd,
    readonly model: RunsModel,
    readonly icon: LabIcon,
    restorer: ILayoutRestorer | null
  ) {
    if (restorer) {
      void restorer.restore(this.tracker, {
        command: CommandIDs.openRun,
        args: widget => ({ id: widget.content.runId }),
        name: widget => widget.content.runId
      });
    }
  }

  readonly tracker = new WidgetTracker<MainAreaWidget<RunPanelContent>>({ namespace: NAMESPACE });

  find(id: string): MainAreaWidget<RunPanelContent> | undefined {
    return this.tracker.find(widget => widget.content.runId === id);
  }

  /** The run's panel, activated: the one already open, else a new one. */
  open(id: string): MainAreaWidget<RunPanelContent> {
    let widget = this.find(id);
    if (!widget) {
      const content = new RunPanelContent(id, this.model, this.app.commands);
      widget = new MainAreaWidget({ content });
      widget.id = `${NAMESPACE}-${id}`;
      widget.title.icon = this.icon;
      widget.title.closable = true;
      void this.tracker.add(widget);
      this.app.shell.add(widget, 'main');
    }
    this.app.shell.activateById(widget.id);
    return widget;
  }

  close(id: string): void {
    this.find(id)?.dispose();
  }
}

interface ILogState {
  text: string;
  progress: string | null;
  ended: boolean;
}

/** Follow `/jobs/runs/{id}/events` (SSE) until the result event; `onStatus` on each status change and the end. */
function useLogs(client: JobsClient, id: string, onStatus: () => void): ILogState {
  const [state, setState] = React.useState<ILogState>({ text: '', progress: null, ended: false });
  React.useEffect(() => {
    let text = '';
    let progress: string | null = null;
    let replaceFrom: number | null = null;
    let pending = false;
    let closed = false;
    const flush = () => {
      pending = false;
      if (!closed) {
        setState({ text, progress, ended: false });
      }
    };
    const source = new EventSource(client.eventsUrl(id), { withCredentials: true });
    source.onmessage = ev => {
      let event: RunEvent;
      try {
        event = JSON.parse(ev.data) as RunEvent;
      } catch {
        return;
      }
      if (event.type === 'log') {
        if (event.level === 'detail') {
          return;
        }
        // An `update` line (an environment build's progress) is replaced by the next line.
        text = text.slice(0, replaceFrom ?? text.length);
        replaceFrom = event.level === 'update' ? text.length : null;
        text += event.text ?? '';
        if (text.length > MAX_LOG_CHARS) {
          const cut = text.length - MAX_LOG_CHARS;
          text = '…\n' + text.slice(cut);
          replaceFrom = replaceFrom === null ? null : Math.max(2, replaceFrom - cut + 2);
        }
      } else if (event.type === 'status') {
        onStatus();
      } else if (event.type === 'progress') {
        progress = `${Math.round(event.progress ?? 0)}% ${event.message ?? ''}`.trim();
      } else if (event.type === 'result') {
        source.close();
        closed = true;
        setState({ text, progress, ended: true });
        onStatus();
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
  }, [id]);
  return state;
}

/** The run, kept fresh from the sidebar's polls and fetched again when its status changes. */
function useRun(model: RunsModel, id: string): [Run | null, IProblem | null, () => void] {
  const [run, setRun] = React.useState<Run | null>(model.runs.find(r => r.id === id) ?? null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const refresh = React.useCallback(() => {
    model.client.getRun(id).then(
      fresh => {
        setRun(fresh);
        setProblem(null);
        model.upsert(fresh);
      },
      err => setProblem(describeError(err))
    );
  }, [id]);
  React.useEffect(() => {
    refresh();
    const changed = () => {
      const listed = model.runs.find(r => r.id === id);
      if (listed) {
        setRun(listed);
      }
    };
    model.changed.connect(changed);
    return () => {
      model.changed.disconnect(changed);
    };
  }, [id]);
  return [run, problem, refresh];
}

function RunView(props: {
  id: string;
  model: RunsModel;
  commands: CommandRegistry;
  onRun: (run: Run) => void;
}): JSX.Element {
  const { id, model, commands } = props;
  const client = model.client;
  const [run, problem, refresh] = useRun(model, id);
  const logs = useLogs(client, id, refresh);
  const finished = !!run && isFinished(run);
  const [summary, setSummary] = React.useState<RunSummary | null>(null);
  const [env, setEnv] = React.useState<RunEnvironment | null>(null);
  React.useEffect(() => {
    if (run) {
      props.onRun(run);
    }
  }, [run?.name, run?.status]);
  React.useEffect(() => {
    if (run && (finished || !summary)) {
      client.summary(id).then(setSummary, () => setSummary(null));
    }
  }, [id, finished, !!run]);
  React.useEffect(() => {
    client.environment(id).then(setEnv, () => setEnv(null));
  }, [id]);
  const logRef = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    const node = logRef.current;
    if (node && node.scrollHeight - node.scrollTop - node.clientHeight < 60) {
      node.scrollTop = node.scrollHeight;
    }
  }, [logs.text]);

  if (!run) {
    return (
      <div className="jp-JobsRunPanel-body" data-run-id={id}>
        {problem ? (
          <div className="jp-JobsPanel-problem" role="alert">
            <div className="jp-JobsPanel-problemTitle">{problem.title}</div>
            <div>{problem.message}</div>
          </div>
        ) : (
          <div className="jp-JobsDetails-muted">Loading job {id}…</div>
        )}
      </div>
    );
  }
  const exec = (command: string, args: any = {}) => () => {
    void commands.execute(command, { id: run.id, ...args });
  };
  const parameters = Object.entries(run.origin?.parameters ?? {});
  const spec = run.spec as any;
  const outputs = summary?.outputs ?? [];
  return (
    <div className="jp-JobsRunPanel-body" data-run-id={run.id} data-status={run.status}>
      <header className="jp-JobsRunPanel-header">
        <h1 className="jp-JobsRunPanel-name">{runLabel(run)}</h1>
        <StatusBadge status={run.status} />
        <span className="jp-JobsRunPanel-id">{run.id}</span>
      </header>
      <div className="jp-JobsRunPanel-subtitle">
        {[sourceLabel(run), `${run.instance_type} on ${run.executor}`, duration(run)].filter(Boolean).join(' · ')}
        {run.queue_position ? ` · queued, position ${run.queue_position}` : ''}
        {!finished && logs.progress ? ` · ${logs.progress}` : ''}
      </div>
      <RunActions
        run={run}
        commands={commands}
        className="jp-JobsRunPanel-actions"
        trail={
          finished && (
            <>
              {summary?.executed_notebook && (
                <Button small minimal onClick={exec(CommandIDs.openNotebook)} className="jp-JobsDetails-openNotebook"
                  title={`Open ${summary.executed_notebook} in JupyterLab`}>
                  <notebookIcon.react tag="span" /> Open executed notebook
                </Button>
              )}
              {outputs.length > 0 && (
                <a className="jp-JobsRunPanel-zip" href={client.zipUrl(run.id)} download
                  title="Download all outputs as a zip">
                  <downloadIcon.react tag="span" /> Download outputs
                </a>
              )}
            </>
          )
        }
      />
      {run.error && <div className="jp-JobsDetails-error jp-JobsRunPanel-error">{run.error}</div>}
      {summary?.traceback && (
        <section className="jp-JobsRunPanel-section" data-section="Traceback">
          <h2>Failing cell</h2>
          <pre className="jp-JobsRunPanel-pre jp-JobsRunPanel-traceback">{summary.traceback}</pre>
        </section>
      )}
      {run.notes?.length ? (
        <ul className="jp-JobsDetails-notes">
          {run.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      ) : null}

      {parameters.length > 0 && (
        <section className="jp-JobsRunPanel-section" data-section="Parameters">
          <h2>Parameters</h2>
          <table className="jp-JobsRunPanel-facts jp-JobsRunPanel-parameters">
            <tbody>
              {parameters.map(([name, value]) => (
                <tr key={name} data-param={name}>
                  <th>{name}</th>
                  <td>
                    <code>{value}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      <section className="jp-JobsRunPanel-section" data-section="Logs">
        <h2>Logs</h2>
        <pre className="jp-JobsRunPanel-pre jp-JobsRunPanel-logs" ref={logRef}>
          {logs.text || (finished ? '(no output)' : 'Waiting for output…')}
        </pre>
      </section>

      <section className="jp-JobsRunPanel-section" data-section="Outputs">
        <h2>Outputs</h2>
        {!finished && <div className="jp-JobsDetails-muted">Outputs appear when the run ends.</div>}
        {finished && run.data_deleted && <div className="jp-JobsDetails-muted">The run's data expired.</div>}
        {finished && summary && !outputs.length && !run.data_deleted && (
          <div className="jp-JobsDetails-muted">No output files.</div>
        )}
        <ul className="jp-JobsRunPanel-files">
          {outputs.map(f => (
            <OutputRow key={f.path} run={run} file={f} client={client} commands={commands} />
          ))}
        </ul>
      </section>

      <section className="jp-JobsRunPanel-section" data-section="Spec">
        <h2>Spec</h2>
        <table className="jp-JobsRunPanel-facts">
          <tbody>
            <Fact label="Instance type" value={run.instance_type} />
            <Fact label="Executor" value={run.executor} />
            <Fact label="Kind" value={run.kind} />
            <Fact label={run.kind === 'command' ? 'Command' : 'Source'} value={
              run.kind === 'command' ? spec?.cmd : run.origin?.source} />
            {run.kind === 'command' ? <Fact label="Config" value={run.origin?.source} /> : null}
            <Fact label="Folder" value={run.origin?.base_dir} />
            <Fact label="Created" value={timestamp(run.created_at)} />
            <Fact label="Started" value={timestamp(run.started_at)} />
            <Fact label="Finished" value={timestamp(run.finished_at)} />
            {run.exit_code !== null && run.exit_code !== undefined ? (
              <Fact label="Exit code" value={String(run.exit_code)} />
            ) : null}
            <Fact label="Forked from" value={run.parent_id} />
            {(run.attempt ?? 1) > 1 ? <Fact label="Attempt" value={String(run.attempt)} /> : null}
          </tbody>
        </table>
        {env && (
          <details className="jp-JobsDetails-section" data-section="Environment">
            <summary>
              Environment: {env.kind === 'python' ? `Python ${env.python ?? ''}` : env.kind}
              {env.docker_image ? ` · image ${env.docker_image}` : ''}
            </summary>
            {env.requirements?.length ? (
              <pre className="jp-JobsRunPanel-pre jp-JobsDetails-requirements">{env.requirements.join('\n')}</pre>
            ) : null}
            {env.env_vars?.length ? <div>Variables: {env.env_vars.join(', ')}</div> : null}
            {Object.keys(env.unresolved ?? {}).length ? (
              <div className="jp-JobsDetails-warning">
                Unresolved imports: {Object.keys(env.unresolved ?? {}).join(', ')}
              </div>
            ) : null}
          </details>
        )}
        <details className="jp-JobsDetails-section" data-section="Full spec">
          <summary>Full spec (JSON)</summary>
          <pre className="jp-JobsRunPanel-pre">{JSON.stringify(spec, null, 2)}</pre>
        </details>
      </section>
    </div>
  );
}

function OutputRow(props: { run: Run; file: ShownOutput; client: JobsClient; commands: CommandRegistry }): JSX.Element {
  const { run, file, client, commands } = props;
  const exportTo = async () => {
    const answer = await InputDialog.getText({
      title: `Export ${file.name}`,
      label: "Copy to (a path under the server's root):",
      text: file.name.startsWith('/') ? file.name.split('/').pop() : file.name,
      okLabel: 'Export'
    });
    if (!answer.button.accept || !answer.value?.trim()) {
      return;
    }
    try {
      const done = await client.exportOutput(run.id, file.path, answer.value.trim());
      Notification.success(`Exported to ${done.path}`, {
        autoClose: 6000,
        actions: [{ label: 'Open', callback: () => void commands.execute('docmanager:open', { path: done.path }) }]
      });
    } catch (err) {
      const problem = describeError(err);
      Notification.error(`Export failed: ${problem.message}`, { autoClose: 8000 });
    }
  };
  return (
    <li data-path={file.path} data-executed-notebook={file.executed_notebook}>
      <a
        href="#"
        className="jp-JobsRunPanel-fileOpen"
        title="Open in JupyterLab (copied where the CLI brings it back)"
        onClick={e => {
          e.preventDefault();
          void commands.execute(CommandIDs.openOutput, { id: run.id, path: file.path });
        }}
      >
        {file.name}
      </a>
      <span className="jp-JobsDetails-size">{bytes(file.size)}</span>
      <Button small minimal className="jp-JobsRunPanel-exportTo" title="Copy it to a path you choose" onClick={() => void exportTo()}>
        Export to…
      </Button>
      <a href={client.downloadUrl(run.id, file.path)} download={file.name.split('/').pop()} title="Download"
        className="jp-JobsDetails-download">
        <downloadIcon.react tag="span" />
      </a>
    </li>
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

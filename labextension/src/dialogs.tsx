/**
 * The "Run as job" dialog (instance type, parameters form from the notebook's `parameters` cell, name,
 * executor) and the "Fork" dialog (run again with overrides).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { HTMLSelect, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  ForkRequest,
  InstanceTypeInfo,
  JobsClient,
  NotebookParameter,
  NotebookParameters,
  NotebookRunRequest,
  Run,
  ServerConfig,
  TypedValue
} from './api/client';
import { describeError, IProblem } from './model';

// -- run a notebook -------------------------------------------------------------------------------------------
interface IRunState {
  loading: boolean;
  problem: IProblem | null;
  config: ServerConfig | null;
  /** The instance types, with whether the chosen executor can serve them (reloaded when it changes). */
  types: InstanceTypeInfo[];
  typesLoading: boolean;
  /** Why the chosen executor could not say which types it serves (its engine is unreachable, ...). */
  typesProblem: IProblem | null;
  params: NotebookParameters | null;
  name: string;
  executor: string;
  instanceType: string;
  values: Record<string, string | boolean>;
}

function initialValue(p: NotebookParameter): string | boolean {
  if (p.type === 'bool') {
    return p.value === true;
  }
  if ((p.type === 'str' || p.type === 'int' || p.type === 'float') && p.value !== null && p.value !== undefined) {
    return String(p.value);
  }
  return p.default;
}

const FORM_TYPES: ReadonlySet<string> = new Set(['int', 'float', 'bool', 'str']);

/**
 * The fields changed from what the form started with, each as the text typed and the type it is read as: the
 * server types it (JSON would make the `2.0` of a float field the number 2).
 */
export function changedParameters(
  params: NotebookParameters | null,
  values: Record<string, string | boolean>
): Record<string, TypedValue> {
  const changed: Record<string, TypedValue> = {};
  for (const p of params?.parameters ?? []) {
    const raw = values[p.name];
    if (raw === undefined || raw === initialValue(p)) {
      continue;
    }
    const type = (FORM_TYPES.has(p.type) ? p.type : 'literal') as TypedValue['type'];
    changed[p.name] = { type, text: typeof raw === 'boolean' ? (raw ? 'True' : 'False') : raw };
  }
  return changed;
}

class RunNotebookBody extends ReactWidget implements Dialog.IBodyWidget<NotebookRunRequest> {
  constructor(
    readonly client: JobsClient,
    readonly path: string,
    previous?: IRunState
  ) {
    super();
    this.addClass('jp-JobsRunDialog');
    if (previous) {
      this.state = previous;
      return;
    }
    const stem = path.split('/').pop()!.replace(/\.ipynb$/, '');
    this.state = {
      loading: true,
      problem: null,
      config: null,
      types: [],
      typesLoading: true,
      typesProblem: null,
      params: null,
      name: stem,
      executor: '',
      instanceType: '',
      values: {}
    };
    void this.load();
  }

  state: IRunState;

  private set(patch: Partial<IRunState>): void {
    this.state = { ...this.state, ...patch };
    this.update();
  }

  async load(): Promise<void> {
    try {
      const [config, params] = await Promise.all([
        this.client.config(),
        this.client.notebookParameters(this.path)
      ]);
      const values: Record<string, string | boolean> = {};
      for (const p of params.parameters) {
        values[p.name] = initialValue(p);
      }
      this.set({ loading: false, config, params, values });
    } catch (err) {
      this.set({ loading: false, problem: describeError(err) });
      return;
    }
    await this.chooseExecutor(this.state.config!.default_executor);
  }

  /** Ask the server which types `executor` serves; keep the chosen type if it can serve it. */
  async chooseExecutor(executor: string): Promise<void> {
    this.set({ executor, typesLoading: true, typesProblem: null });
    let types: InstanceTypeInfo[] = [];
    let typesProblem: IProblem | null = null;
    try {
      types = (await this.client.instanceTypes(executor)).instance_types;
    } catch (err) {
      typesProblem = describeError(err);
    }
    if (this.state.executor !== executor) {
      return; // another executor was chosen meanwhile
    }
    const usable = types.filter(t => t.executors[executor]?.available);
    const wanted = [this.state.instanceType, this.state.config?.default_instance_type];
    const chosen =
      wanted.map(name => usable.find(t => t.name === name)).find(t => t) ?? usable[0] ?? types[0];
    this.set({ types, typesLoading: false, typesProblem, instanceType: chosen?.name ?? '' });
  }

  getValue(): NotebookRunRequest {
    const { params, values, name, executor, instanceType } = this.state;
    return {
      path: this.path,
      typed_parameters: changedParameters(params, values),
      name: name.trim() || null,
      executor: executor || null,
      instance_type: instanceType || null
    };
  }

  render(): JSX.Element {
    const s = this.state;
    if (s.loading) {
      return <div className="jp-JobsRunDialog-loading">Loading instance types and parameters…</div>;
    }
    if (s.problem) {
      return (
        <div className="jp-JobsPanel-problem" role="alert">
          <div className="jp-JobsPanel-problemTitle">{s.problem.title}</div>
          <div>{s.problem.message}</div>
          {s.problem.hint && <div className="jp-JobsPanel-hint">{s.problem.hint}</div>}
        </div>
      );
    }
    const executors = s.config?.executors ?? [];
    const current = s.types.find(t => t.name === s.instanceType);
    const unavailable = s.types.filter(t => !t.executors[s.executor]?.available);
    return (
      <div className="jp-JobsRunDialog-form">
        <div className="jp-JobsRunDialog-path">{this.path}</div>
        <label>
          <span>Name</span>
          <input
            className="jp-mod-styled jp-JobsRunDialog-name"
            value={s.name}
            onChange={e => this.set({ name: e.target.value })}
          />
        </label>
        {executors.length > 1 && (
          <label>
            <span>Executor</span>
            <HTMLSelect
              className="jp-JobsRunDialog-executor"
              value={s.executor}
              onChange={e => void this.chooseExecutor(e.target.value)}
            >
              {executors.map(x => (
                <option key={x.name} value={x.name}>
                  {x.name}
                  {x.default ? ' (default)' : ''}
                </option>
              ))}
            </HTMLSelect>
          </label>
        )}
        <label>
          <span>Instance type</span>
          <HTMLSelect
            className="jp-JobsRunDialog-instance"
            value={s.instanceType}
            disabled={s.typesLoading}
            data-executor={s.typesLoading ? '' : s.executor}
            onChange={e => this.set({ instanceType: e.target.value })}
          >
            {s.typesLoading && <option value={s.instanceType}>Asking {s.executor} which types it serves…</option>}
            {!s.typesLoading && s.types.map(t => {
              const avail = t.executors[s.executor];
              const gpu = t.gpus > 0 ? '[GPU] ' : '';
              const why = avail?.available ? '' : ` (unavailable: ${avail?.reason ?? 'not served by this executor'})`;
              return (
                <option key={t.name} value={t.name} disabled={!avail?.available} data-gpu={t.gpus > 0}>
                  {`${gpu}${t.name} (${t.summary})${why}`}
                </option>
              );
            })}
          </HTMLSelect>
        </label>
        {s.typesProblem && (
          <div className="jp-JobsPanel-problem jp-JobsRunDialog-typesProblem" role="alert">
            <div>{s.typesProblem.message}</div>
            {s.typesProblem.hint && <div className="jp-JobsPanel-hint">{s.typesProblem.hint}</div>}
          </div>
        )}
        {current && current.gpus > 0 && (
          <div className="jp-JobsRunDialog-gpu">GPU: {current.gpus} × {current.gpu_kind ?? 'GPU'}</div>
        )}
        {!s.typesLoading && unavailable.length > 0 && (
          <details className="jp-JobsRunDialog-unavailable">
            <summary>
              {unavailable.length} instance types unavailable on {s.executor}
            </summary>
            <ul>
              {unavailable.map(t => (
                <li key={t.name}>
                  <b>{t.name}</b>: {t.executors[s.executor]?.reason ?? 'not served by this executor'}
                </li>
              ))}
            </ul>
          </details>
        )}
        <fieldset className="jp-JobsRunDialog-params">
          <legend>Parameters</legend>
          {!s.params?.has_parameters_cell && (
            <div className="jp-JobsDetails-muted">
              This notebook has no cell tagged <code>parameters</code>; it runs as it is.
            </div>
          )}
          {s.params?.parameters.map(p => (
            <ParameterField
              key={p.name}
              param={p}
              value={s.values[p.name]}
              onChange={v => this.set({ values: { ...s.values, [p.name]: v } })}
            />
          ))}
        </fieldset>
      </div>
    );
  }
}

function ParameterField(props: {
  param: NotebookParameter;
  value: string | boolean;
  onChange: (v: string | boolean) => void;
}): JSX.Element {
  const { param: p, value } = props;
  const type = p.type === 'None' || !p.type ? 'any' : p.type;
  let input: JSX.Element;
  if (p.type === 'bool') {
    input = (
      <input type="checkbox" name={p.name} checked={value === true} onChange={e => props.onChange(e.target.checked)} />
    );
  } else {
    input = (
      <input
        className="jp-mod-styled"
        name={p.name}
        type={p.type === 'int' || p.type === 'float' ? 'number' : 'text'}
        step={p.type === 'float' ? 'any' : p.type === 'int' ? 1 : undefined}
        value={String(value)}
        placeholder={p.default}
        onChange={e => props.onChange(e.target.value)}
      />
    );
  }
  return (
    <label className="jp-JobsRunDialog-param" data-param={p.name}>
      <span>
        {p.name} <span className="jp-JobsRunDialog-type">{type}</span>
      </span>
      {input}
      {p.help && <span className="jp-JobsRunDialog-help">{p.help}</span>}
    </label>
  );
}

const SCHEDULE_BUTTON = 'jp-JobsRunDialog-schedule';

/**
 * Ask how to run `path`; resolves to the submitted run, or null when cancelled. With `schedule`, a
 * "Schedule…" button hands it the run described instead (true: scheduled, false: back to this dialog).
 */
export async function runNotebookDialog(
  client: JobsClient,
  path: string,
  schedule?: (request: NotebookRunRequest) => Promise<boolean>
): Promise<Run | null> {
  let previous: IRunState | undefined;
  for (;;) {
    const body = new RunNotebookBody(client, path, previous);
    const scheduleButton = Dialog.createButton({
      label: 'Schedule…',
      accept: false,
      className: SCHEDULE_BUTTON,
      caption: 'Run this on a schedule (cron) instead of now'
    });
    const result = await showDialog({
      title: 'Run as job',
      body,
      buttons: [
        Dialog.cancelButton(),
        ...(schedule ? [scheduleButton] : []),
        Dialog.okButton({ label: 'Run', ariaLabel: 'Run as job' })
      ],
      focusNodeSelector: '.jp-JobsRunDialog-name'
    });
    previous = body.state;
    if (schedule && result.button.className === SCHEDULE_BUTTON && !previous.loading && !previous.problem) {
      if (await schedule(body.getValue())) {
        return null;
      }
      continue;
    }
    if (!result.button.accept || !result.value || previous.loading || previous.problem) {
      return null;
    }
    let problem: IProblem;
    try {
      return await client.runNotebook(result.value);
    } catch (err) {
      problem = describeError(err);
    }
    const again = await showDialog({
      title: 'The job was not submitted',
      body: `${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Edit' })]
    });
    if (!again.button.accept) {
      return null;
    }
  }
}

// -- fork ------------------------------------------------------------------------------------------------
function parsePairs(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      continue;
    }
    const i = line.indexOf('=');
    if (i <= 0) {
      throw new Error(`${what}: "${line}" is not NAME=VALUE`);
    }
    out[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return out;
}

class ForkBody extends ReactWidget implements Dialog.IBodyWidget<ForkRequest> {
  constructor(
    readonly run: Run,
    readonly types: InstanceTypeInfo[],
    readonly params: NotebookParameters | null
  ) {
    super();
    this.addClass('jp-JobsForkDialog');
    this.name = run.name ?? '';
    this.instanceType = run.instance_type;
    this.args = Object.entries((run.spec as any).args ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    for (const p of params?.parameters ?? []) {
      this.values[p.name] = initialValue(p);
    }
  }

  name: string;
  instanceType: string;
  args: string;
  envVars = '';
  /** The form's parameter fields, starting from the values the run used. */
  values: Record<string, string | boolean> = {};

  getValue(): ForkRequest {
    const request: ForkRequest = {};
    const parameters = changedParameters(this.params, this.values);
    if (Object.keys(parameters).length) {
      request.typed_parameters = parameters;
    }
    if (this.name && this.name !== this.run.name) {
      request.name = this.name;
    }
    if (this.instanceType && this.instanceType !== this.run.instance_type) {
      request.instance_type = this.instanceType;
    }
    const args = parsePairs(this.args, 'args');
    const old = (this.run.spec as any).args ?? {};
    const changed = Object.fromEntries(Object.entries(args).filter(([k, v]) => old[k] !== v));
    if (Object.keys(changed).length) {
      request.args = changed;
    }
    const env = parsePairs(this.envVars, 'environment variables');
    if (Object.keys(env).length) {
      request.env_vars = env;
    }
    return request;
  }

  render(): JSX.Element {
    const set = (patch: Partial<ForkBody>) => {
      Object.assign(this, patch);
      this.update();
    };
    return (
      <div className="jp-JobsRunDialog-form">
        <label>
          <span>Name</span>
          <input className="jp-mod-styled jp-JobsForkDialog-name" value={this.name} onChange={e => set({ name: e.target.value })} />
        </label>
        <label>
          <span>Instance type</span>
          <HTMLSelect value={this.instanceType} onChange={e => set({ instanceType: e.target.value })}>
            {this.types.map(t => {
              const ok = t.executors[this.run.executor]?.available;
              return (
                <option key={t.name} value={t.name} disabled={!ok}>
                  {`${t.gpus > 0 ? '[GPU] ' : ''}${t.name} (${t.summary})${ok ? '' : ' (unavailable)'}`}
                </option>
              );
            })}
          </HTMLSelect>
        </label>
        {this.params && (
          <fieldset className="jp-JobsRunDialog-params">
            <legend>Parameters</legend>
            {this.params.parameters.map(p => (
              <ParameterField
                key={p.name}
                param={p}
                value={this.values[p.name]}
                onChange={v => set({ values: { ...this.values, [p.name]: v } })}
              />
            ))}
          </fieldset>
        )}
        {!this.params && (
          <label>
            <span>Arguments (NAME=VALUE per line)</span>
            <textarea
              className="jp-mod-styled jp-JobsForkDialog-args"
              rows={3}
              value={this.args}
              onChange={e => set({ args: e.target.value })}
            />
          </label>
        )}
        <label>
          <span>Extra environment variables (NAME=VALUE per line)</span>
          <textarea className="jp-mod-styled jp-JobsForkDialog-env" rows={3} value={this.envVars} onChange={e => set({ envVars: e.target.value })} />
        </label>
      </div>
    );
  }
}

export async function forkDialog(client: JobsClient, run: Run): Promise<ForkRequest | null> {
  let types: InstanceTypeInfo[] = [];
  try {
    types = (await client.instanceTypes(run.executor)).instance_types;
  } catch {
    types = [];
  }
  // A notebook run is forked with its parameters in a form, like "Run as job".
  let params: NotebookParameters | null = null;
  if (run.kind === 'notebook') {
    try {
      params = await client.runParameters(run.id);
    } catch {
      params = null;
    }
  }
  const body = new ForkBody(run, types, params);
  const result = await showDialog({
    title: `Fork ${run.name ?? run.id}`,
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })]
  });
  return result.button.accept ? result.value : null;
}

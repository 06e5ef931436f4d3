/**
 * A typed client of the jobs REST API. Every type here, and the status and event type values, come from
 * `schema.ts`, which is GENERATED from the server's route table and models (`jlpm build:api`; `jlpm
 * check:api` fails when it is stale), whose statuses and event types are runner/protocol.py's - none is
 * written by hand.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { finalStatusValues, statusValues } from './schema';
import type { components, paths } from './schema';

type Schemas = components['schemas'];
export type Run = Schemas['Run'];
export type RunStatus = Run['status'];
export type RunList = Schemas['RunList'];
export type OutputsManifest = Schemas['OutputsManifest'];
export type OutputEntry = Schemas['OutputEntry'];
export type ForkRequest = Schemas['ForkRequest'];
export type CancelRequest = Schemas['CancelRequest'];
export type InstanceTypeInfo = Schemas['InstanceTypeInfo'];
export type InstanceTypesResponse = Schemas['InstanceTypesResponse'];
export type ServerConfig = Schemas['ServerConfig'];
export type NotebookParameters = Schemas['NotebookParameters'];
export type NotebookParameter = Schemas['NotebookParameter'];
export type NotebookRunRequest = Schemas['NotebookRunRequest'];
export type ExportedFile = Schemas['ExportedFile'];
export type RunSummary = Schemas['RunSummary'];
export type ShownOutput = Schemas['ShownOutput'];
export type TypedValue = Schemas['TypedValue'];
export type RunEnvironment = Schemas['RunEnvironment'];
export type ErrorBody = Schemas['ErrorBody'];
/** One line of a run's events.jsonl, as `/jobs/runs/{id}/events` streams it. */
export type RunEvent = Schemas['Event'];
export type EventType = Schemas['EventType'];
export type Schedule = Schemas['Schedule'];
export type ScheduleList = Schemas['ScheduleList'];
export type ScheduleTiming = Schemas['ScheduleTiming'];
export type CronPreview = Schemas['CronPreview'];
export type NotebookScheduleRequest = Schemas['NotebookScheduleRequest'];

/** The query parameters of `GET /jobs/runs`, from the generated document. */
export type ListQuery = NonNullable<paths['/jobs/runs']['get']['parameters']['query']>;

export const STATUSES: readonly RunStatus[] = statusValues;
export const FINISHED: ReadonlySet<string> = new Set(finalStatusValues);
export const ACTIVE: readonly RunStatus[] = STATUSES.filter(status => !FINISHED.has(status));

export function isFinished(run: Pick<Run, 'status'>): boolean {
  return FINISHED.has(run.status);
}

/** An answer that is not 2xx (status 0: the server could not be reached at all). */
export class JobsApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string | null = null,
    readonly field: string | null = null,
    /** The answer came from the jobs API (a JSON error body), not from the server around it. */
    readonly fromJobs = false
  ) {
    super(message);
  }

  /** The route does not exist: the server extension is not installed or not enabled. */
  get extensionMissing(): boolean {
    return this.status === 404 && !this.fromJobs;
  }
}

export class JobsClient {
  readonly settings: ServerConnection.ISettings;

  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  url(path: string, query?: Record<string, string | number | undefined>): string {
    let url = URLExt.join(this.settings.baseUrl, 'jobs', path);
    const params = Object.entries(query ?? {})
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    if (params.length) {
      url += '?' + params.join('&');
    }
    return url;
  }

  /** A URL the browser itself fetches (EventSource, download links): the token rides along if any. */
  browserUrl(path: string, query?: Record<string, string | number | undefined>): string {
    const token = this.settings.token;
    return this.url(path, token ? { ...query, token } : query);
  }

  async request<T>(path: string, init: RequestInit = {}, query?: Record<string, string | number | undefined>): Promise<T> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.url(path, query), init, this.settings);
    } catch (err) {
      throw new JobsApiError(0, `cannot reach the Jupyter server: ${(err as Error).message ?? err}`);
    }
    const text = await response.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      const err = (body ?? {}) as Partial<ErrorBody>;
      const message = err.message || `${response.status} ${response.statusText || 'error'}`;
      const fromJobs = typeof err.message === 'string' && 'hint' in err;
      throw new JobsApiError(response.status, message, err.hint ?? null, err.field ?? null, fromJobs);
    }
    return body as T;
  }

  private post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>(path, { method: 'POST', body: body === undefined ? '{}' : JSON.stringify(body) });
  }

  // -- runs -----------------------------------------------------------------------------------------------
  listRuns(query: ListQuery): Promise<RunList> {
    return this.request<RunList>('runs', {}, query as Record<string, string | number | undefined>);
  }

  getRun(id: string): Promise<Run> {
    return this.request<Run>(`runs/${encodeURIComponent(id)}`);
  }

  cancel(id: string, body: CancelRequest = {}): Promise<Run> {
    return this.post<Run>(`runs/${encodeURIComponent(id)}/cancel`, body);
  }

  fork(id: string, body: ForkRequest = {}): Promise<Run> {
    return this.post<Run>(`runs/${encodeURIComponent(id)}/fork`, body);
  }

  /** A notebook run's parameters, each `value` being what the run used (for the fork form). */
  runParameters(id: string): Promise<NotebookParameters> {
    return this.request<NotebookParameters>(`runs/${encodeURIComponent(id)}/parameters`);
  }

  async deleteRun(id: string): Promise<void> {
    await this.request<null>(`runs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  outputs(id: string): Promise<OutputsManifest> {
    return this.request<OutputsManifest>(`runs/${encodeURIComponent(id)}/outputs`);
  }

  environment(id: string): Promise<RunEnvironment> {
    return this.request<RunEnvironment>(`runs/${encodeURIComponent(id)}/environment`);
  }

  /** Copy an output into the server's root: to `dest` as given, else where the CLI brings it back. */
  exportOutput(id: string, path: string, dest?: string): Promise<ExportedFile> {
    return this.post<ExportedFile>(`runs/${encodeURIComponent(id)}/export`, dest ? { path, dest } : { path });
  }

  /** Outputs by the names the CLI uses, a failed cell's traceback (the run panel). */
  summary(id: string): Promise<RunSummary> {
    return this.request<RunSummary>(`runs/${encodeURIComponent(id)}/summary`);
  }

  zipUrl(id: string): string {
    return this.browserUrl(`runs/${encodeURIComponent(id)}/outputs.zip`);
  }

  eventsUrl(id: string): string {
    return this.browserUrl(`runs/${encodeURIComponent(id)}/events`);
  }

  downloadUrl(id: string, path: string): string {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    return this.browserUrl(`runs/${encodeURIComponent(id)}/outputs/${encoded}`);
  }

  // -- the server -------------------------------------------------------------------------------------------
  config(): Promise<ServerConfig> {
    return this.request<ServerConfig>('config');
  }

  /** Instance types and whether `executor` (else each configured executor) can serve them. */
  instanceTypes(executor?: string): Promise<InstanceTypesResponse> {
    const query: NonNullable<paths['/jobs/instance-types']['get']['parameters']['query']> = executor ? { executor } : {};
    return this.request<InstanceTypesResponse>('instance-types', {}, query);
  }

  // -- notebooks --------------------------------------------------------------------------------------------
  notebookParameters(path: string): Promise<NotebookParameters> {
    const query: NonNullable<paths['/jobs/notebooks/parameters']['get']['parameters']['query']> = { path };
    return this.request<NotebookParameters>('notebooks/parameters', {}, query);
  }

  runNotebook(body: NotebookRunRequest): Promise<Run> {
    return this.post<Run>('notebooks/run', body);
  }

  // -- schedules ----------------------------------------------------------------------------------------------
  listSchedules(): Promise<ScheduleList> {
    return this.request<ScheduleList>('schedules');
  }

  /** What a cron expression means in `timezone`: its description and next 3 fire times (400 naming the field). */
  cronPreview(cron: string, timezone: string): Promise<CronPreview> {
    const query: NonNullable<paths['/jobs/schedules/preview']['get']['parameters']['query']> = { cron, timezone };
    return this.request<CronPreview>('schedules/preview', {}, query);
  }

  /** A schedule of the notebook run the "Run as job" dialog describes. */
  scheduleNotebook(body: NotebookScheduleRequest): Promise<Schedule> {
    return this.post<Schedule>('schedules/notebook', body);
  }

  pauseSchedule(id: string): Promise<Schedule> {
    return this.post<Schedule>(`schedules/${encodeURIComponent(id)}/pause`);
  }

  resumeSchedule(id: string): Promise<Schedule> {
    return this.post<Schedule>(`schedules/${encodeURIComponent(id)}/resume`);
  }

  async deleteSchedule(id: string): Promise<void> {
    await this.request<null>(`schedules/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** The runs a schedule fired, newest first. */
  scheduleRuns(id: string): Promise<RunList> {
    return this.request<RunList>(`schedules/${encodeURIComponent(id)}/runs`);
  }
}

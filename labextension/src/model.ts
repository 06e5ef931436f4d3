/**
 * The run history the sidebar shows: newest first, loaded in pages as the list scrolls, refreshed by a
 * `Poll` (faster while runs are active, backing off on errors, standing by while the panel is hidden and
 * nothing submitted from this browser is being watched).
 */
import { Notification } from '@jupyterlab/apputils';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ACTIVE, isFinished, JobsApiError, JobsClient, Run, RunStatus } from './api/client';

export const PAGE = 200;
const ACTIVE_INTERVAL = 2000;
const IDLE_INTERVAL = 10000;
const WATCHED_KEY = 'jupyter-jobs:watched';

export type StatusFilter = '' | 'ACTIVE' | RunStatus;

export interface IProblem {
  title: string;
  message: string;
  hint?: string | null;
}

function byNewest(a: Run, b: Run): number {
  return b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export function describeError(err: unknown): IProblem {
  if (err instanceof JobsApiError) {
    if (err.status === 0) {
      return { title: 'Cannot reach the Jupyter server', message: err.message, hint: 'Is the server still running?' };
    }
    if (err.extensionMissing) {
      return {
        title: 'The jupyter-jobs server extension is not running',
        message: 'This Jupyter server has no /jobs/ API.',
        hint: 'Install jupyter-jobs in the environment that runs the server, run `jupyter server extension enable jupyter_jobs` and restart the server.'
      };
    }
    if (err.status >= 500) {
      return { title: 'The jobs service failed', message: err.message, hint: err.hint ?? 'See the server log.' };
    }
    return { title: 'The jobs API refused the request', message: err.message, hint: err.hint };
  }
  return { title: 'Unexpected error', message: String((err as Error)?.message ?? err) };
}

/** A failed action, as a notification saying what failed and why. */
export function showError(title: string, err: unknown): void {
  const problem = describeError(err);
  Notification.error(`${title}: ${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`, { autoClose: 8000 });
}

export class RunsModel {
  constructor(readonly client: JobsClient) {
    this._watched = new Set(JSON.parse(window.localStorage.getItem(WATCHED_KEY) ?? '[]'));
    this.poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: IDLE_INTERVAL, backoff: true, max: 60 * 1000 },
      name: 'jupyter-jobs:runs',
      standby: () => (this._visible || this._watched.size > 0 ? 'when-hidden' : true)
    });
  }

  readonly poll: Poll;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A run submitted from this browser ended (for the notification). */
  get runEnded(): ISignal<this, Run> {
    return this._runEnded;
  }

  get runs(): readonly Run[] {
    return this._runs;
  }

  get hasMore(): boolean {
    return this._hasMore;
  }

  get loading(): boolean {
    return this._loading;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get problem(): IProblem | null {
    return this._problem;
  }

  get query(): string {
    return this._query;
  }

  get status(): StatusFilter {
    return this._status;
  }

  get selectedId(): string | null {
    return this._selected;
  }

  get selected(): Run | null {
    return this._runs.find(r => r.id === this._selected) ?? this._selectedRun;
  }

  set visible(value: boolean) {
    this._visible = value;
    if (value) {
      void this.poll.refresh();
    }
  }

  start(): void {
    void this.poll.start();
  }

  dispose(): void {
    this.poll.dispose();
  }

  select(id: string | null): void {
    this._selected = id;
    this._selectedRun = null;
    if (id && !this._runs.some(r => r.id === id)) {
      void this.client.getRun(id).then(
        run => {
          if (this._selected === id) {
            this._selectedRun = run;
            this._changed.emit();
          }
        },
        () => undefined
      );
    }
    this._changed.emit();
  }

  setFilter(query: string, status: StatusFilter): void {
    if (query === this._query && status === this._status) {
      return;
    }
    this._query = query;
    this._status = status;
    this._runs = [];
    this._hasMore = true;
    this._loaded = false;
    this._changed.emit();
    void this.poll.refresh();
  }

  /** Watch a run submitted from this browser: notify when it ends, even while the sidebar is closed. */
  watch(id: string): void {
    this._watched.add(id);
    this._saveWatched();
    void this.poll.refresh();
  }

  /** Put a run in the list at once (after a submit, fork or cancel) instead of waiting for the poll. */
  upsert(run: Run): void {
    const i = this._runs.findIndex(r => r.id === run.id);
    if (i >= 0) {
      this._runs = [...this._runs.slice(0, i), run, ...this._runs.slice(i + 1)];
    } else if (this._matches(run)) {
      this._runs = [run, ...this._runs].sort(byNewest);
    }
    if (this._selectedRun?.id === run.id) {
      this._selectedRun = run;
    }
    this._changed.emit();
  }

  remove(id: string): void {
    this._runs = this._runs.filter(r => r.id !== id);
    if (this._selected === id) {
      this._selected = null;
      this._selectedRun = null;
    }
    this._changed.emit();
  }

  /** The next page, when the list scrolls near its end. */
  async loadMore(): Promise<void> {
    if (this._loading || !this._hasMore || !this._loaded) {
      return;
    }
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this.client.listRuns({ ...this._listQuery(), limit: PAGE, offset: this._runs.length });
      const known = new Set(this._runs.map(r => r.id));
      this._runs = [...this._runs, ...page.runs.filter(r => !known.has(r.id))];
      this._hasMore = page.runs.length === PAGE;
    } catch (err) {
      this._problem = describeError(err);
    } finally {
      this._loading = false;
      this._changed.emit();
    }
  }

  /**
   * One poll: the newest page, plus every active run wherever it is
   * in the list, plus the watched runs; rejects on error so the poll backs off.
   */
  async refresh(): Promise<void> {
    const filter = this._listQuery();
    const key = JSON.stringify(filter);
    try {
      const limit = PAGE;
      const [top, active] = await Promise.all([
        this.client.listRuns({ ...filter, limit, offset: 0 }),
        this._loaded && this._runs.length > limit
          ? this.client.listRuns({ q: filter.q, status: ACTIVE.join(','), limit: 1000 })
          : Promise.resolve(null)
      ]);
      if (key !== JSON.stringify(this._listQuery())) {
        return; // the filter changed while this was in flight
      }
      const fresh = new Map(top.runs.map(r => [r.id, r]));
      for (const run of active?.runs ?? []) {
        fresh.set(run.id, run);
      }
      const oldest = top.runs.length ? top.runs[top.runs.length - 1] : null;
      const rest =
        top.runs.length < limit || !oldest
          ? []
          : this._runs
              .filter(r => !fresh.has(r.id) && byNewest(r, oldest) > 0)
              .map(r => fresh.get(r.id) ?? r);
      // Runs past the first page that were active and are not any more: fetch them once to settle them.
      const stale = rest.filter(r => !isFinished(r) && !(active?.runs ?? []).some(a => a.id === r.id));
      const settled = await Promise.all(stale.map(r => this.client.getRun(r.id).catch(() => r)));
      const settledById = new Map(settled.map(r => [r.id, r]));
      this._runs = [...top.runs, ...rest.map(r => settledById.get(r.id) ?? r)];
      if (!this._loaded || top.runs.length < limit) {
        this._hasMore = top.runs.length === limit;
      }
      this._loaded = true;
      this._problem = null;
      if (this._selectedRun) {
        const inList = this._runs.find(r => r.id === this._selectedRun!.id);
        if (inList) {
          this._selectedRun = null;
        }
      }
      await this._checkWatched();
      const busy = this._runs.some(r => !isFinished(r)) || this._watched.size > 0;
      const interval = busy ? ACTIVE_INTERVAL : IDLE_INTERVAL;
      if (this.poll.frequency.interval !== interval) {
        this.poll.frequency = { ...this.poll.frequency, interval };
      }
    } catch (err) {
      this._problem = describeError(err);
      this._loaded = this._loaded && !(err instanceof JobsApiError && (err.extensionMissing || err.status === 0));
      this._changed.emit();
      throw err;
    }
    this._changed.emit();
  }

  private async _checkWatched(): Promise<void> {
    for (const id of Array.from(this._watched)) {
      let run: Run | undefined = this._runs.find(r => r.id === id);
      if (!run) {
        try {
          run = await this.client.getRun(id);
        } catch (err) {
          if (err instanceof JobsApiError && err.status === 404) {
            this._watched.delete(id);
          }
          continue;
        }
      }
      if (isFinished(run)) {
        this._watched.delete(id);
        this._runEnded.emit(run);
      }
    }
    this._saveWatched();
  }

  private _saveWatched(): void {
    window.localStorage.setItem(WATCHED_KEY, JSON.stringify(Array.from(this._watched)));
  }

  private _listQuery(): { q?: string; status?: string } {
    const status = this._status === 'ACTIVE' ? ACTIVE.join(',') : this._status || undefined;
    return { q: this._query.trim() || undefined, status };
  }

  private _matches(run: Run): boolean {
    const q = this._query.trim().toLowerCase();
    const statusOk =
      !this._status || (this._status === 'ACTIVE' ? ACTIVE.includes(run.status) : run.status === this._status);
    const text = `${run.name ?? ''} ${run.id} ${run.desc ?? ''}`.toLowerCase();
    return statusOk && (!q || text.includes(q));
  }

  private _runs: Run[] = [];
  private _hasMore = true;
  private _loading = false;
  private _loaded = false;
  private _problem: IProblem | null = null;
  private _query = '';
  private _status: StatusFilter = '';
  private _selected: string | null = null;
  private _selectedRun: Run | null = null;
  private _visible = false;
  private _watched: Set<string>;
  private _changed = new Signal<this, void>(this);
  private _runEnded = new Signal<this, Run>(this);
}

/**
 * The schedules the Schedules view shows and the run history of the ones opened there, refreshed by a
 * `Poll`: often while the view is shown, slowly otherwise, because the same poll notices the scheduled
 * runs that failed since the page loaded (for the notification).
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { JobsApiError, JobsClient, Run, Schedule } from './api/client';
import { describeError, IProblem } from './model';

const VISIBLE_INTERVAL = 3000;
const HIDDEN_INTERVAL = 15000;
const FAILED: ReadonlySet<string> = new Set(['FAILED', 'LOST']);

/** A run a schedule fired that failed (or was lost). */
export interface IScheduledFailure {
  schedule: Schedule;
  runId: string;
}

export class SchedulesModel {
  constructor(readonly client: JobsClient) {
    this.poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: HIDDEN_INTERVAL, backoff: true, max: 60 * 1000 },
      name: 'jupyter-jobs:schedules',
      standby: 'when-hidden'
    });
  }

  readonly poll: Poll;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A scheduled run failed since the page loaded (once per run). */
  get runFailed(): ISignal<this, IScheduledFailure> {
    return this._runFailed;
  }

  get schedules(): readonly Schedule[] {
    return this._schedules;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get problem(): IProblem | null {
    return this._problem;
  }

  /** The schedules whose run history is shown. */
  isOpen(id: string): boolean {
    return this._open.has(id);
  }

  /** A schedule's runs, newest first (undefined until fetched). */
  runsOf(id: string): readonly Run[] | undefined {
    return this._runs.get(id);
  }

  set visible(value: boolean) {
    this._visible = value;
    const interval = value ? VISIBLE_INTERVAL : HIDDEN_INTERVAL;
    if (this.poll.frequency.interval !== interval) {
      this.poll.frequency = { ...this.poll.frequency, interval };
    }
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

  /** Show or hide a schedule's run history. */
  toggle(id: string): void {
    if (this._open.has(id)) {
      this._open.delete(id);
    } else {
      this._open.add(id);
      void this._loadRuns(id);
    }
    this._changed.emit();
  }

  upsert(schedule: Schedule): void {
    this._edits++;
    const i = this._schedules.findIndex(s => s.id === schedule.id);
    this._schedules =
      i < 0
        ? [schedule, ...this._schedules]
        : [...this._schedules.slice(0, i), schedule, ...this._schedules.slice(i + 1)];
    this._changed.emit();
  }

  remove(id: string): void {
    this._edits++;
    this._schedules = this._schedules.filter(s => s.id !== id);
    this._open.delete(id);
    this._runs.delete(id);
    this._changed.emit();
  }

  /**
   * One poll: the schedules, and the runs of the open ones while the view is shown; rejects on error. A
   * list asked for before a change made here (pause, delete, ...) is older than it, so it is not shown.
   */
  async refresh(): Promise<void> {
    try {
      const edits = this._edits;
      const { schedules } = await this.client.listSchedules();
      if (edits !== this._edits) {
        return;
      }
      this._schedules = schedules;
      this._problem = null;
      this._noticeFailures(schedules);
      this._loaded = true;
      const known = new Set(schedules.map(s => s.id));
      for (const id of Array.from(this._open)) {
        if (!known.has(id)) {
          this._open.delete(id);
          this._runs.delete(id);
        }
      }
      if (this._visible) {
        await Promise.all(Array.from(this._open).map(id => this._loadRuns(id)));
      }
    } catch (err) {
      this._problem = describeError(err);
      this._changed.emit();
      throw err;
    }
    this._changed.emit();
  }

  private async _loadRuns(id: string): Promise<void> {
    try {
      const { runs } = await this.client.scheduleRuns(id);
      this._runs.set(id, runs);
    } catch (err) {
      if (err instanceof JobsApiError && err.status === 404) {
        this.remove(id);
        return;
      }
      this._problem = describeError(err);
    }
    this._changed.emit();
  }

  /**
   * Emit `runFailed` for each schedule whose last run failed and was not seen before. The first load
   * takes the failures of runs fired before the page loaded as already seen.
   */
  private _noticeFailures(schedules: Schedule[]): void {
    for (const schedule of schedules) {
      const runId = schedule.last_run_id;
      if (!runId || !schedule.last_status || !FAILED.has(schedule.last_status) || this._failedSeen.has(runId)) {
        continue;
      }
      this._failedSeen.add(runId);
      if (this._loaded || (schedule.last_fired_at ?? 0) >= this._loadedAt) {
        this._runFailed.emit({ schedule, runId });
      }
    }
  }

  private _schedules: Schedule[] = [];
  private _loaded = false;
  private _loadedAt = Date.now() / 1000;
  private _problem: IProblem | null = null;
  private _visible = false;
  private _open = new Set<string>();
  /** Changes made here, so a poll answer older than one is dropped. */
  private _edits = 0;
  private _runs = new Map<string, Run[]>();
  private _failedSeen = new Set<string>();
  private _changed = new Signal<this, void>(this);
  private _runFailed = new Signal<this, IScheduledFailure>(this);
}

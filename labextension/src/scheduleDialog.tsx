/**
 * "Schedule…" in the "Run as job" dialog: the notebook run it describes, fired on a cron in a time zone,
 * with what to do about missed ticks and overlapping runs. What the cron means and when it fires next come
 * from the server (`/jobs/schedules/preview`, the library that fires it), asked as the user types.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { HTMLSelect, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CronPreview, JobsClient, NotebookRunRequest, Schedule, ScheduleTiming } from './api/client';
import { basename, zonedTime } from './format';
import { describeError, IProblem } from './model';

const PREVIEW_DELAY = 300;

/** The browser's IANA time zone, the form's default. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function timeZones(): string[] {
  const supported = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  return supported ? supported('timeZone') : [];
}

interface IScheduleState {
  cron: string;
  timezone: string;
  missed: ScheduleTiming['missed'];
  overlap: ScheduleTiming['overlap'];
  preview: CronPreview | null;
  /** The server's word on the cron or time zone, shown under the field. */
  previewProblem: string | null;
  /** Why the last "Create schedule" was refused. */
  submitProblem: IProblem | null;
}

class ScheduleBody extends ReactWidget implements Dialog.IBodyWidget<ScheduleTiming> {
  constructor(
    readonly client: JobsClient,
    readonly request: NotebookRunRequest,
    previous?: IScheduleState
  ) {
    super();
    this.addClass('jp-JobsScheduleDialog');
    this.state = previous ?? {
      cron: '0 3 * * *',
      timezone: browserTimeZone(),
      missed: 'skip',
      overlap: 'skip',
      preview: null,
      previewProblem: null,
      submitProblem: null
    };
    this._askPreview();
  }

  state: IScheduleState;

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  getValue(): ScheduleTiming {
    const { cron, timezone, missed, overlap } = this.state;
    return { cron: cron.trim(), timezone: timezone.trim(), missed, overlap, name: this.request.name ?? null };
  }

  private set(patch: Partial<IScheduleState>): void {
    this.state = { ...this.state, ...patch };
    this.update();
  }

  private setWhen(patch: Pick<Partial<IScheduleState>, 'cron' | 'timezone'>): void {
    this.set({ ...patch, submitProblem: null });
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this._askPreview(), PREVIEW_DELAY);
  }

  /** Ask the server what the cron means; only the latest answer is shown. */
  private _askPreview(): void {
    const asked = ++this._asked;
    this.client.cronPreview(this.state.cron.trim(), this.state.timezone.trim()).then(
      preview => {
        if (asked === this._asked && !this.isDisposed) {
          this.set({ preview, previewProblem: null });
        }
      },
      err => {
        if (asked === this._asked && !this.isDisposed) {
          this.set({ preview: null, previewProblem: describeError(err).message });
        }
      }
    );
  }

  render(): JSX.Element {
    const s = this.state;
    const r = this.request;
    const params = Object.entries(r.parameters ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    return (
      <div className="jp-JobsRunDialog-form">
        <div className="jp-JobsScheduleDialog-job">
          {r.path}
          {r.instance_type ? ` · ${r.instance_type}` : ''}
          {r.executor ? ` on ${r.executor}` : ''}
          {params.length ? ` · ${params.join(', ')}` : ''}
        </div>
        {s.submitProblem && (
          <div className="jp-JobsPanel-problem jp-JobsScheduleDialog-submitProblem" role="alert">
            <div>{s.submitProblem.message}</div>
            {s.submitProblem.hint && <div className="jp-JobsPanel-hint">{s.submitProblem.hint}</div>}
          </div>
        )}
        <label>
          <span>Cron: minute hour day-of-month month day-of-week</span>
          <input
            className="jp-mod-styled jp-JobsScheduleDialog-cron"
            value={s.cron}
            spellCheck={false}
            aria-invalid={!!s.previewProblem}
            onChange={e => this.setWhen({ cron: e.target.value })}
          />
        </label>
        <div className="jp-JobsScheduleDialog-preview" aria-live="polite">
          {s.previewProblem ? (
            <div className="jp-JobsScheduleDialog-cronError" role="alert">
              {s.previewProblem}
            </div>
          ) : s.preview ? (
            <>
              <div className="jp-JobsScheduleDialog-description">{s.preview.description}</div>
              <ol className="jp-JobsScheduleDialog-next">
                {s.preview.next_times.map(t => (
                  <li key={t} data-t={t}>
                    {zonedTime(t, s.timezone)}
                  </li>
                ))}
              </ol>
            </>
          ) : (
            <div className="jp-JobsDetails-muted">…</div>
          )}
        </div>
        <label>
          <span>Time zone</span>
          <input
            className="jp-mod-styled jp-JobsScheduleDialog-timezone"
            list="jp-JobsScheduleDialog-zones"
            value={s.timezone}
            spellCheck={false}
            onChange={e => this.setWhen({ timezone: e.target.value })}
          />
          <datalist id="jp-JobsScheduleDialog-zones">
            {timeZones().map(z => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </label>
        <label>
          <span>Ticks missed while no Jupyter server ran</span>
          <HTMLSelect
            className="jp-JobsScheduleDialog-missed"
            value={s.missed}
            onChange={e => this.set({ missed: e.target.value as IScheduleState['missed'] })}
          >
            <option value="skip">Skip them</option>
            <option value="run-once">Run once for them</option>
          </HTMLSelect>
        </label>
        <label>
          <span>A tick while the previous run is still going</span>
          <HTMLSelect
            className="jp-JobsScheduleDialog-overlap"
            value={s.overlap}
            onChange={e => this.set({ overlap: e.target.value as IScheduleState['overlap'] })}
          >
            <option value="skip">Skip the tick</option>
            <option value="queue">Queue another run</option>
          </HTMLSelect>
        </label>
      </div>
    );
  }

  private _timer = 0;
  private _asked = 0;
}

/**
 * Ask when to run the notebook run `request` describes and create the schedule. Resolves to the schedule,
 * or null when the user went back to the "Run as job" dialog.
 */
export async function scheduleNotebookDialog(client: JobsClient, request: NotebookRunRequest): Promise<Schedule | null> {
  let previous: IScheduleState | undefined;
  for (;;) {
    const body = new ScheduleBody(client, request, previous);
    const result = await showDialog({
      title: `Schedule ${request.name || basename(request.path)}`,
      body,
      buttons: [
        Dialog.cancelButton({ label: 'Back', ariaLabel: 'Back to Run as job' }),
        Dialog.okButton({ label: 'Create schedule' })
      ],
      focusNodeSelector: '.jp-JobsScheduleDialog-cron'
    });
    previous = body.state;
    if (!result.button.accept || !result.value) {
      return null;
    }
    try {
      return await client.scheduleNotebook({ ...request, timing: result.value });
    } catch (err) {
      previous = { ...previous, submitProblem: describeError(err) };
    }
  }
}

/**
 * The Jobs sidebar's Schedules view: each schedule with its cron in words and time zone, next fire time,
 * last run's status and a paused badge; pause / resume / delete (commands, so also in the palette); opening
 * one shows the runs it fired (a click opens a run as the runs list does) and the ticks it skipped.
 */
import { CommandRegistry } from '@lumino/commands';
import {
  Button,
  caretDownIcon,
  caretRightIcon,
  deleteIcon,
  pauseIcon,
  refreshIcon,
  runIcon
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { Run, Schedule } from './api/client';
import { ago, duration, runLabel, timestamp, until, zonedTime } from './format';
import { StatusBadge } from './panel';
import { PolledView, useChanges } from './polledView';
import { SchedulesModel } from './schedulesModel';
import { CommandIDs } from './tokens';

export class SchedulesPanel extends PolledView<SchedulesModel> {
  constructor(model: SchedulesModel, commands: CommandRegistry) {
    super(model, commands);
    this.addClass('jp-JobsSchedules');
    this.title.label = 'Schedules';
    this.title.caption = 'Notebooks and jobs that run on a schedule';
  }

  render(): JSX.Element {
    return <SchedulesView model={this.model} commands={this.commands} />;
  }
}

function SchedulesView(props: { model: SchedulesModel; commands: CommandRegistry }): JSX.Element {
  const { model, commands } = props;
  useChanges(model);
  const schedules = model.schedules;
  const problem = model.problem;
  return (
    <div className="jp-JobsSchedules-body">
      <div className="jp-JobsPanel-header">
        <h2 className="jp-JobsPanel-title">Schedules</h2>
        <Button
          minimal
          small
          title="Refresh"
          className="jp-JobsPanel-headerButton"
          onClick={() => void model.poll.refresh()}
        >
          <refreshIcon.react tag="span" elementPosition="center" />
        </Button>
      </div>
      {problem && (
        <div className="jp-JobsPanel-problem" role="alert">
          <div className="jp-JobsPanel-problemTitle">{problem.title}</div>
          <div>{problem.message}</div>
          {problem.hint && <div className="jp-JobsPanel-hint">{problem.hint}</div>}
        </div>
      )}
      {!schedules.length && !problem && (
        <div className="jp-JobsPanel-empty">
          {model.loaded
            ? 'No schedules yet. Use "Schedule…" in the Run as job dialog, `jupyter jobs schedule create` or `%job schedule`.'
            : 'Loading…'}
        </div>
      )}
      <ul className="jp-JobsSchedules-list" aria-label="Schedules">
        {schedules.map(s => (
          <ScheduleItem key={s.id} schedule={s} model={model} commands={commands} />
        ))}
      </ul>
    </div>
  );
}

function ScheduleItem(props: { schedule: Schedule; model: SchedulesModel; commands: CommandRegistry }): JSX.Element {
  const { schedule: s, model, commands } = props;
  const open = model.isOpen(s.id);
  const Caret = open ? caretDownIcon : caretRightIcon;
  const params = Object.entries(s.parameters ?? {}).map(
    ([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`
  );
  const exec = (id: string) => (e: React.MouseEvent) => {
    e.stopPropagation();
    void commands.execute(id, { id: s.id });
  };
  return (
    <li className="jp-JobsSchedule" data-schedule-id={s.id} data-paused={s.paused}>
      <div
        className="jp-JobsSchedule-head"
        role="button"
        tabIndex={0}
        aria-expanded={open}
        title={`${s.name} (${s.id})${s.source ? `\n${s.source}` : ''}`}
        onClick={() => model.toggle(s.id)}
        onKeyDown={e => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            model.toggle(s.id);
          }
        }}
      >
        <Caret.react tag="span" className="jp-JobsSchedule-caret" />
        <span className="jp-JobsSchedule-name">{s.name}</span>
        {s.paused && <span className="jp-JobsSchedule-paused">paused</span>}
        {s.last_status && <StatusBadge status={s.last_status} />}
      </div>
      <div className="jp-JobsSchedule-when" title={s.cron}>
        {s.description} · {s.timezone}
      </div>
      <div className="jp-JobsSchedule-next" data-next={s.next_fire_at ?? ''}>
        {s.paused || !s.next_fire_at
          ? 'Paused: nothing fires until it is resumed'
          : `Next: ${zonedTime(s.next_fire_at, s.timezone)} (${until(s.next_fire_at)})`}
      </div>
      <div className="jp-JobsSchedule-meta">
        <span>
          {s.instance_type} on {s.executor}
        </span>
        {params.length ? <span className="jp-JobsSchedule-parameters">{params.join(', ')}</span> : null}
        <span>{s.run_count === 1 ? '1 run' : `${s.run_count ?? 0} runs`}</span>
        {s.last_fired_at ? <span>last {ago(s.last_fired_at)}</span> : null}
        {s.skipped_count ? <span className="jp-JobsSchedule-skippedCount">{s.skipped_count} skipped</span> : null}
      </div>
      <div className="jp-JobsSchedule-actions">
        {s.paused ? (
          <Button small minimal onClick={exec(CommandIDs.resumeSchedule)} title="Fire on the cron again">
            <runIcon.react tag="span" /> Resume
          </Button>
        ) : (
          <Button small minimal onClick={exec(CommandIDs.pauseSchedule)} title="Stop firing until resumed">
            <pauseIcon.react tag="span" /> Pause
          </Button>
        )}
        <Button small minimal onClick={exec(CommandIDs.deleteSchedule)} title="Delete this schedule (its runs stay)">
          <deleteIcon.react tag="span" /> Delete
        </Button>
      </div>
      {open && <ScheduleHistory schedule={s} runs={model.runsOf(s.id)} commands={commands} />}
    </li>
  );
}

function ScheduleHistory(props: {
  schedule: Schedule;
  runs: readonly Run[] | undefined;
  commands: CommandRegistry;
}): JSX.Element {
  const { schedule, runs, commands } = props;
  const now = Date.now() / 1000;
  const skipped = schedule.skipped ?? [];
  return (
    <div className="jp-JobsSchedule-history">
      <div className="jp-JobsSchedule-historyTitle">Runs</div>
      {runs === undefined && <div className="jp-JobsDetails-muted">Loading…</div>}
      {runs?.length === 0 && <div className="jp-JobsDetails-muted">No runs yet.</div>}
      <ul className="jp-JobsSchedule-runs" aria-label={`Runs of ${schedule.name}`}>
        {runs?.map(run => (
          <li
            key={run.id}
            className="jp-JobsScheduleRun"
            data-run-id={run.id}
            data-status={run.status}
            title={`${runLabel(run)} (${run.id}), fired ${timestamp(run.created_at)}`}
            role="button"
            tabIndex={0}
            onClick={() => void commands.execute(CommandIDs.openRun, { id: run.id })}
            onKeyDown={e => {
              if (e.key === 'Enter') {
                void commands.execute(CommandIDs.openRun, { id: run.id });
              }
            }}
          >
            <span className="jp-JobsScheduleRun-id">{run.id}</span>
            <span className="jp-JobsScheduleRun-fired">{ago(run.created_at, now)}</span>
            <span className="jp-JobsScheduleRun-duration">{duration(run, now)}</span>
            <StatusBadge status={run.status} />
          </li>
        ))}
      </ul>
      {skipped.length > 0 && (
        <details className="jp-JobsSchedule-skipped">
          <summary>
            {schedule.skipped_count} skipped {schedule.skipped_count === 1 ? 'tick' : 'ticks'}
          </summary>
          <ul>
            {skipped.map(tick => (
              <li key={tick.at}>
                {zonedTime(tick.at, schedule.timezone)}: {tick.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}

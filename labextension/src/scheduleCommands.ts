/**
 * The schedules' commands (show the Schedules view, pause, resume, delete after a confirmation), creating a
 * schedule from the "Run as job" dialog, and the notification when a scheduled run fails.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';

import { NotebookRunRequest, Schedule } from './api/client';
import { showError } from './model';
import { scheduleNotebookDialog } from './scheduleDialog';
import { SchedulesModel } from './schedulesModel';
import { CommandIDs } from './tokens';

export interface IScheduleCommandsOptions {
  app: JupyterFrontEnd;
  model: SchedulesModel;
  /** Open the Jobs sidebar on its Schedules view. */
  showSchedules: () => void;
  palette: ICommandPalette | null;
}

/**
 * Registers the commands and the failure notification; returns what the "Run as job" dialog's "Schedule…"
 * calls with the run it describes (true once a schedule was created).
 */
export function addScheduleCommands(options: IScheduleCommandsOptions): (request: NotebookRunRequest) => Promise<boolean> {
  const { app, model, showSchedules, palette } = options;
  const { commands } = app;
  const client = model.client;
  const find = (id: string): Schedule | undefined => model.schedules.find(s => s.id === id);

  commands.addCommand(CommandIDs.openSchedules, {
    label: 'Show Job Schedules',
    caption: 'Open the Schedules view of the Jobs sidebar',
    execute: showSchedules
  });

  const change = (label: string, act: (id: string) => Promise<Schedule>) => async (args: any) => {
    try {
      model.upsert(await act(args.id as string));
    } catch (err) {
      showError(`${label} failed`, err);
    }
  };
  commands.addCommand(CommandIDs.pauseSchedule, {
    label: 'Pause Schedule',
    isEnabled: args => !!args?.id && !find(args.id as string)?.paused,
    execute: change('Pause', id => client.pauseSchedule(id))
  });
  commands.addCommand(CommandIDs.resumeSchedule, {
    label: 'Resume Schedule',
    isEnabled: args => !!find(args?.id as string)?.paused,
    execute: change('Resume', id => client.resumeSchedule(id))
  });
  commands.addCommand(CommandIDs.deleteSchedule, {
    label: 'Delete Schedule',
    isEnabled: args => !!args?.id,
    execute: async args => {
      const id = args.id as string;
      const schedule = find(id);
      const answer = await showDialog({
        title: 'Delete schedule',
        body: `Delete the schedule ${schedule?.name ?? id} (${id})? Nothing fires any more; the runs it fired stay.`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
      });
      if (!answer.button.accept) {
        return;
      }
      try {
        await client.deleteSchedule(id);
        model.remove(id);
      } catch (err) {
        showError('Delete failed', err);
      }
    }
  });
  palette?.addItem({ command: CommandIDs.openSchedules, category: 'Jobs' });

  model.runFailed.connect((_, { schedule, runId }) => {
    const notify = (error: string | null | undefined) => {
      const status = (schedule.last_status ?? 'FAILED').toLowerCase();
      Notification.error(`Scheduled job ${schedule.name} ${status} (run ${runId})${error ? `: ${error}` : ''}`, {
        autoClose: false,
        actions: [{ label: 'Open run', callback: () => void commands.execute(CommandIDs.openRun, { id: runId }) }]
      });
    };
    client.getRun(runId).then(
      run => notify(run.error),
      () => notify(null)
    );
  });

  return async request => {
    const schedule = await scheduleNotebookDialog(client, request);
    if (!schedule) {
      return false;
    }
    model.upsert(schedule);
    showSchedules();
    Notification.info(`Schedule ${schedule.name} created: ${schedule.description} (${schedule.timezone})`, {
      autoClose: 4000
    });
    return true;
  };
}

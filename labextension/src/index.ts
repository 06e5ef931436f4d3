/**
 * jupyter-jobs for JupyterLab: the "Jobs" sidebar, "Run as job" for notebooks (toolbar, file browser,
 * palette, Run menu), notifications when a run submitted from this browser ends. Every action is a command.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog, ToolbarButton } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { isFinished, JobsClient, Run } from './api/client';
import { forkDialog, runNotebookDialog } from './dialogs';
import { RunsModel, showError } from './model';
import { RunPanels } from './details';
import { JobsPanel } from './panel';
import { addScheduleCommands } from './scheduleCommands';
import { SchedulesPanel } from './schedules';
import { SchedulesModel } from './schedulesModel';
import { JobsSidebar } from './sidebar';
import { CommandIDs, SIDEBAR_ID } from './tokens';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M10 4h4a2 2 0 0 1 2 2v1h3a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2h3V6a2 2 0 0 1 2-2zm0 2v1h4V6h-4zm-.5 4.5v6l5-3-5-3z"/>
  </g>
</svg>`;

export const jobsIcon = new LabIcon({ name: 'jupyter-jobs:jobs', svgstr: ICON_SVG });

const PLUGIN_ID = 'jupyter-jobs:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Jobs sidebar and "Run as job" for jupyter-jobs.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const { commands, shell } = app;
    const client = new JobsClient(app.serviceManager.serverSettings);
    const model = new RunsModel(client);
    const panel = new JobsPanel(model, commands);
    const runPanels = new RunPanels(app, model, jobsIcon, restorer);
    panel.title.label = 'Runs';
    const schedules = new SchedulesModel(client);
    const sidebar = new JobsSidebar(panel, new SchedulesPanel(schedules, commands));
    sidebar.id = SIDEBAR_ID;
    sidebar.title.icon = jobsIcon;
    sidebar.title.caption = 'Jobs';
    shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, SIDEBAR_ID);
    }
    model.start();
    schedules.start();
    const scheduleNotebook = addScheduleCommands({
      app,
      model: schedules,
      palette,
      showSchedules: () => {
        shell.activateById(SIDEBAR_ID);
        sidebar.showSchedules();
      }
    });

    model.runEnded.connect((_, run) => {
      const label = run.name || run.id;
      const text = `Job ${label} ${run.status.toLowerCase()}${run.error ? `: ${run.error}` : ''}`;
      const options = {
        autoClose: run.status === 'SUCCEEDED' ? 10000 : (false as const),
        actions: [
          { label: 'Open', callback: () => void commands.execute(CommandIDs.openRun, { id: run.id }) }
        ]
      };
      if (run.status === 'SUCCEEDED') {
        Notification.success(text, options);
      } else if (run.status === 'CANCELLED') {
        Notification.warning(text, options);
      } else {
        Notification.error(text, options);
      }
    });

    const runArg = (args: any): Run | null => {
      const id = (args?.id as string) || model.selectedId;
      if (!id) {
        return null;
      }
      return model.runs.find(r => r.id === id) ?? (model.selected?.id === id ? model.selected : null);
    };
    const idArg = (args: any): string | null => (args?.id as string) || model.selectedId;
    const openSidebar = () => {
      shell.activateById(SIDEBAR_ID);
    };
    const submitted = (run: Run) => {
      model.watch(run.id);
      model.upsert(run);
      openSidebar();
      sidebar.showRuns();
      model.select(run.id);
      runPanels.open(run.id);
    };

    /** The notebook to run: the `path` argument, else the file browser's selection, else the current notebook. */
    const notebookPath = (args: any): string | null => {
      if (args?.path) {
        return args.path as string;
      }
      if (args?.fromBrowser && fileBrowser) {
        const item = fileBrowser.selectedItems().next();
        if (item && !item.done && item.value.path.endsWith('.ipynb')) {
          return item.value.path;
        }
      }
      const current = notebooks?.currentWidget;
      return current ? current.context.path : null;
    };

    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show Jobs',
      caption: 'Open the Jobs sidebar',
      icon: jobsIcon,
      execute: openSidebar
    });

    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Jobs',
      execute: () => model.poll.refresh()
    });

    commands.addCommand(CommandIDs.runNotebook, {
      label: args => (args?.toolbar ? '' : 'Run Notebook as Job…'),
      caption: 'Run this notebook as a job (choose instance type and parameters)',
      icon: args => (args?.toolbar || args?.fromBrowser ? jobsIcon : undefined),
      isEnabled: args => !!notebookPath(args) || !!args?.fromBrowser,
      execute: async args => {
        const path = notebookPath(args);
        if (!path) {
          await showDialog({
            title: 'Run as job',
            body: 'Open a notebook (or select one in the file browser) to run it as a job.',
            buttons: [Dialog.okButton()]
          });
          return;
        }
        const widget = notebooks?.currentWidget;
        if (widget && widget.context.path === path && widget.context.model.dirty) {
          await widget.context.save();
        }
        const run = await runNotebookDialog(client, path, scheduleNotebook);
        if (run) {
          submitted(run);
          Notification.info(`Job ${run.name || run.id} submitted (${run.instance_type} on ${run.executor})`, {
            autoClose: 4000
          });
        }
      }
    });

    commands.addCommand(CommandIDs.openRun, {
      label: 'Show Job Details',
      execute: args => {
        const id = idArg(args);
        if (id) {
          runPanels.open(id);
          model.select(id);
        }
      }
    });

    const hasRun = (args: any) => !!idArg(args);
    commands.addCommand(CommandIDs.cancel, {
      label: 'Cancel Selected Job',
      isEnabled: args => {
        const run = runArg(args);
        return !!run && !isFinished(run);
      },
      execute: async args => {
        const id = idArg(args);
        if (!id) {
          return;
        }
        try {
          model.upsert(await client.cancel(id, { graceful: !!args.graceful }));
          void model.poll.refresh();
        } catch (err) {
          showError('Cancel failed', err);
        }
      }
    });

    commands.addCommand(CommandIDs.rerun, {
      label: 'Re-run Selected Job',
      isEnabled: hasRun,
      execute: async args => {
        const id = idArg(args);
        if (!id) {
          return;
        }
        try {
          submitted(await client.fork(id, {}));
        } catch (err) {
          showError('Re-run failed', err);
        }
      }
    });

    commands.addCommand(CommandIDs.fork, {
      label: 'Fork Selected Job…',
      isEnabled: hasRun,
      execute: async args => {
        const id = idArg(args);
        if (!id) {
          return;
        }
        try {
          const run = runArg(args) ?? (await client.getRun(id));
          const request = await forkDialog(client, run);
          if (request) {
            submitted(await client.fork(id, request));
          }
        } catch (err) {
          showError('Fork failed', err);
        }
      }
    });

    commands.addCommand(CommandIDs.remove, {
      label: 'Delete Selected Job',
      isEnabled: args => {
        const run = runArg(args);
        return !!run && isFinished(run);
      },
      execute: async args => {
        const id = idArg(args);
        if (!id) {
          return;
        }
        const run = runArg(args);
        const answer = await showDialog({
          title: 'Delete job',
          body: `Delete ${run?.name || id} (${id}) with its logs and outputs?`,
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          await client.deleteRun(id);
          model.remove(id);
          runPanels.close(id);
        } catch (err) {
          showError('Delete failed', err);
        }
      }
    });

    const openExported = async (id: string, path: string) => {
      try {
        const file = await client.exportOutput(id, path);
        await commands.execute('docmanager:open', { path: file.path });
        return file.path;
      } catch (err) {
        showError('Cannot open the output', err);
        return null;
      }
    };

    commands.addCommand(CommandIDs.openNotebook, {
      label: 'Open Executed Notebook of Selected Job',
      isEnabled: args => {
        const run = runArg(args);
        return !!run && run.kind === 'notebook' && isFinished(run);
      },
      execute: async args => {
        const id = idArg(args);
        if (!id) {
          return;
        }
        try {
          const manifest = await client.outputs(id);
          const file = manifest.outputs
            .filter(e => e.executed_notebook)
            .flatMap(e => e.files ?? [])
            .find(f => f.path.endsWith('.ipynb'));
          if (!file) {
            Notification.warning(`Job ${id} has no executed notebook`, { autoClose: 5000 });
            return;
          }
          return openExported(id, file.path);
        } catch (err) {
          showError('Cannot open the executed notebook', err);
        }
      }
    });

    commands.addCommand(CommandIDs.openOutput, {
      label: 'Open Job Output',
      execute: args => openExported(args.id as string, args.path as string)
    });

    commands.addCommand(CommandIDs.downloadOutput, {
      label: 'Download Job Output',
      execute: args => {
        const a = document.createElement('a');
        a.href = client.downloadUrl(args.id as string, args.path as string);
        a.download = (args.path as string).split('/').pop() ?? 'output';
        document.body.appendChild(a);
        a.click();
        a.remove();
      }
    });

    if (palette) {
      const category = 'Jobs';
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.runNotebook,
        CommandIDs.refresh,
        CommandIDs.cancel,
        CommandIDs.rerun,
        CommandIDs.fork,
        CommandIDs.remove,
        CommandIDs.openNotebook
      ]) {
        palette.addItem({ command, category });
      }
    }

    app.contextMenu.addItem({
      command: CommandIDs.runNotebook,
      args: { fromBrowser: true },
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 20
    });

    if (notebooks) {
      notebooks.widgetAdded.connect((_, nb: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: jobsIcon,
          tooltip: 'Run this notebook as a job',
          label: 'Run as job',
          className: 'jp-JobsRunButton',
          onClick: () => void commands.execute(CommandIDs.runNotebook, { path: nb.context.path })
        });
        if (!nb.toolbar.insertAfter('cellType', 'run-as-job', button)) {
          nb.toolbar.addItem('run-as-job', button);
        }
      });
    }
  }
};

export default plugin;

export namespace CommandIDs {
  export const openSidebar = 'jupyter-jobs:open-sidebar';
  export const refresh = 'jupyter-jobs:refresh';
  export const runNotebook = 'jupyter-jobs:run-notebook';
  export const openRun = 'jupyter-jobs:open-run';
  export const cancel = 'jupyter-jobs:cancel';
  export const rerun = 'jupyter-jobs:rerun';
  export const fork = 'jupyter-jobs:fork';
  export const remove = 'jupyter-jobs:delete';
  export const openNotebook = 'jupyter-jobs:open-executed-notebook';
  export const openOutput = 'jupyter-jobs:open-output';
  export const downloadOutput = 'jupyter-jobs:download-output';
  export const openSchedules = 'jupyter-jobs:open-schedules';
  export const pauseSchedule = 'jupyter-jobs:pause-schedule';
  export const resumeSchedule = 'jupyter-jobs:resume-schedule';
  export const deleteSchedule = 'jupyter-jobs:delete-schedule';
}

export const SIDEBAR_ID = 'jupyter-jobs-sidebar';

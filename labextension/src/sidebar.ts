/**
 * The Jobs sidebar: the runs list (the default view) and the Schedules view, as two tabs. Each view polls
 * faster while its tab is the one shown (the hidden one gets `onAfterHide`).
 */
import { TabPanelSvg } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

export class JobsSidebar extends TabPanelSvg {
  constructor(
    readonly runs: Widget,
    readonly schedules: Widget
  ) {
    super({ tabPlacement: 'top', tabsMovable: false });
    this.addClass('jp-JobsSidebar');
    this.tabBar.addClass('jp-JobsSidebar-tabs');
    this.addWidget(runs);
    this.addWidget(schedules);
    this.currentWidget = runs;
  }

  showRuns(): void {
    this.currentWidget = this.runs;
  }

  showSchedules(): void {
    this.currentWidget = this.schedules;
  }
}

/**
 * What the sidebar's two views share: a widget that tells its model when it is shown or hidden (the model
 * polls faster while seen), and a hook that re-renders on the model's `changed`.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

export interface IPolledModel {
  /** Whether a view of it is shown. */
  visible: boolean;
  readonly changed: ISignal<unknown, void>;
}

export abstract class PolledView<M extends IPolledModel> extends ReactWidget {
  constructor(
    readonly model: M,
    readonly commands: CommandRegistry
  ) {
    super();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.visible = true;
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.visible = false;
  }
}

/** Re-render the component whenever `model` changes. */
export function useChanges(model: IPolledModel): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    const changed = () => setTick(t => t + 1);
    model.changed.connect(changed);
    return () => {
      model.changed.disconnect(changed);
    };
  }, [model]);
}

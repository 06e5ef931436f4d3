#!/bin/bash
# A "training loop" that saves where it was when asked to stop.
step=0
save() {
  echo "stopped at step $step" > checkpoint.txt
  echo "got SIGUSR1: checkpoint saved at step $step"
  exit 0
}
trap save USR1
echo "training for $1 steps"
while [ "$step" -lt "$1" ]; do
  step=$((step + 1))
  echo "step $step"
  sleep 0.1
done
echo "finished all $step steps" > checkpoint.txt

import type { Run } from './api/client';

export function basename(path: string | null | undefined): string {
  if (!path) {
    return '';
  }
  const parts = path.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1];
}

export function duration(run: Pick<Run, 'started_at' | 'finished_at'>, now = Date.now() / 1000): string {
  if (run.started_at === null || run.started_at === undefined) {
    return '';
  }
  const seconds = Math.max(0, (run.finished_at ?? now) - run.started_at);
  if (seconds < 60) {
    return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  }
  const m = Math.floor(seconds / 60);
  if (m < 60) {
    return `${m} min ${Math.floor(seconds % 60)} s`;
  }
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function ago(t: number | null | undefined, now = Date.now() / 1000): string {
  if (!t) {
    return '';
  }
  const s = Math.max(0, now - t);
  if (s < 45) {
    return 'just now';
  }
  if (s < 3600) {
    return `${Math.round(s / 60)} min ago`;
  }
  if (s < 86400) {
    return `${Math.round(s / 3600)} h ago`;
  }
  return new Date(t * 1000).toLocaleDateString();
}

export function timestamp(t: number | null | undefined): string {
  return t ? new Date(t * 1000).toLocaleString() : '';
}

export function bytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function runLabel(run: Pick<Run, 'name' | 'id'>): string {
  return run.name || run.id;
}

/** `t` as a date and time in the IANA time zone `timeZone` (the browser's own when it does not know it). */
export function zonedTime(t: number | null | undefined, timeZone: string): string {
  if (!t) {
    return '';
  }
  const options: Intl.DateTimeFormatOptions = { dateStyle: 'medium', timeStyle: 'short' };
  try {
    return new Date(t * 1000).toLocaleString(undefined, { ...options, timeZone });
  } catch {
    return new Date(t * 1000).toLocaleString(undefined, options);
  }
}

/** How long until `t`: "in 40 s", "in 5 min", "in 3 h", "in 2 days". */
export function until(t: number | null | undefined, now = Date.now() / 1000): string {
  if (!t) {
    return '';
  }
  const s = Math.max(0, t - now);
  if (s < 60) {
    return `in ${Math.round(s)} s`;
  }
  if (s < 3600) {
    return `in ${Math.round(s / 60)} min`;
  }
  if (s < 86400) {
    return `in ${Math.round(s / 3600)} h`;
  }
  return `in ${Math.round(s / 86400)} days`;
}

/** What a run came from, short: the notebook or config file (with its folder), or a cell (`analysis.ipynb [5]`). */
export function sourceLabel(run: Pick<Run, 'origin'>): string {
  const source = run.origin?.source;
  if (!source) {
    return '';
  }
  const parts = source.replace(/\/+$/, '').split('/');
  const name = parts[parts.length - 1];
  return /\.ya?ml$/.test(name) && parts.length > 1 ? `${parts[parts.length - 2]}/${name}` : name;
}

/** A notebook run's parameters as injected, `alpha=3, ratio=2.0` (empty for other runs). */
export function parametersText(run: Pick<Run, 'origin'>): string {
  return Object.entries(run.origin?.parameters ?? {})
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
}

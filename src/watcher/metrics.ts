/**
 * Change-watcher metrics (prom-client): polls by outcome, changed keys per table, the current
 * stamp, lag, whether this process leads, and the strategy in use.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface WatcherMetrics {
  poll(outcome: string): void;
  changedKeys(table: string, count: number): void;
  setStamp(stamp: number): void;
  setLag(seconds: number): void;
  setLeader(leader: boolean): void;
  setStrategy(strategy: string): void;
  /** A leader poll that answered, at `epochMs` (the watcher's clock). */
  setLastPoll(epochMs: number): void;
}

export const NO_WATCHER_METRICS: WatcherMetrics = {
  poll() {},
  changedKeys() {},
  setStamp() {},
  setLag() {},
  setLeader() {},
  setStrategy() {},
  setLastPoll() {},
};

const STRATEGIES = ['globalStamp', 'timestamp', 'off'] as const;

/** `pollMs`: the configured interval, exported as `change_watcher_poll_interval_seconds` (for "not polling" alerts). */
export function createWatcherMetrics(registry: Registry, instance: string, pollMs?: number): WatcherMetrics {
  const polls = new Counter({
    name: 'change_watcher_polls_total',
    help: 'Change-watcher polls by outcome: idle (nothing changed), changed, reset (assumed everything changed), error, follower (another replica leads)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const keys = new Counter({ name: 'change_watcher_changed_keys_total', help: 'Keys found changed in the ERP, by table', labelNames: ['table'] as const, registers: [registry] });
  const stamp = new Gauge({ name: 'change_watcher_global_stamp', help: 'The datastore __GlobalStamp the last poll read', registers: [registry] });
  const lag = new Gauge({ name: 'change_watcher_lag_seconds', help: 'Seconds since the last poll that saw a change', registers: [registry] });
  const leader = new Gauge({ name: 'change_watcher_leader', help: '1 while this process is the deployment’s watcher (label: its instance id)', labelNames: ['instance'] as const, registers: [registry] });
  const strategy = new Gauge({ name: 'change_watcher_strategy', help: '1 for the strategy in use', labelNames: ['strategy'] as const, registers: [registry] });
  const lastPoll = new Gauge({
    name: 'change_watcher_last_poll_timestamp_seconds',
    help: 'When this process last completed a poll as the leader (absent before its first)',
    registers: [registry],
  });
  const interval = new Gauge({ name: 'change_watcher_poll_interval_seconds', help: 'The configured poll interval (CHANGE_POLL_MS)', registers: [registry] });
  if (pollMs !== undefined) interval.set(pollMs / 1000);
  return {
    poll: (outcome) => polls.inc({ outcome }),
    changedKeys: (table, count) => keys.inc({ table }, count),
    setStamp: (value) => stamp.set(value),
    setLag: (seconds) => lag.set(seconds),
    setLeader: (value) => leader.set({ instance }, value ? 1 : 0),
    setLastPoll: (epochMs) => lastPoll.set(epochMs / 1000),
    setStrategy: (value) => {
      for (const s of STRATEGIES) strategy.set({ strategy: s }, s === value ? 1 : 0);
    },
  };
}

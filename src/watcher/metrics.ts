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
}

export const NO_WATCHER_METRICS: WatcherMetrics = {
  poll() {},
  changedKeys() {},
  setStamp() {},
  setLag() {},
  setLeader() {},
  setStrategy() {},
};

const STRATEGIES = ['globalStamp', 'timestamp', 'off'] as const;

export function createWatcherMetrics(registry: Registry, instance: string): WatcherMetrics {
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
  return {
    poll: (outcome) => polls.inc({ outcome }),
    changedKeys: (table, count) => keys.inc({ table }, count),
    setStamp: (value) => stamp.set(value),
    setLag: (seconds) => lag.set(seconds),
    setLeader: (value) => leader.set({ instance }, value ? 1 : 0),
    setStrategy: (value) => {
      for (const s of STRATEGIES) strategy.set({ strategy: s }, s === value ? 1 : 0);
    },
  };
}

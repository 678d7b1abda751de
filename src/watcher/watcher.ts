/**
 * The change watcher: notices changes made in the ERP itself (clerks at the 4D desktop, not through
 * this subgraph) and invalidates exactly what changed, within one poll interval.
 *
 * Strategies (protocol reference §11):
 * - `globalStamp`: one tiny request per interval reads the datastore's `__GlobalStamp` from a
 *   collection envelope; only when it moved, each tracked table is asked for the keys with
 *   `__GlobalStamp >= S` (S: the envelope stamp the previous poll read; `>=` because 4D writes the
 *   current counter into the record, then increments it) and `__DeletedRecords` for `__Stamp >= S`.
 * - `timestamp`: per table, `__TIMESTAMP >=` the highest one seen (the server's own times, with an
 *   overlap), for servers without change tracking; deletions then fall back to TTL.
 * - `off`: TTL only. `auto` picks `globalStamp` when the server reports change tracking.
 *
 * One watcher per deployment: a leader lease in the cache's store (Redis when configured), renewed
 * every poll and taken over by another replica when it lapses. The last stamp lives in the store
 * too, so a new leader goes on where the old one stopped. A stamp that went down, a missing one, or
 * one older than the longest TTL means "assume everything changed" (every table dropped once).
 * Watcher requests go through the legacy client: the same session, licence and breaker rules.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { TaggedCache } from '../cache/tagged-cache.js';
import { allRecordsTag, recordTag, type Page } from '../legacy/client-types.js';
import { f, type FilterNode } from '../legacy/filter.js';
import { DELETED_RECORDS, GLOBAL_STAMP } from '../legacy/tables.js';
import type { WatcherMetrics } from './metrics.js';
import { pagedRows, TimestampTracker } from './timestamps.js';

/** How long `stop()` waits for a poll in flight. */
const STOP_WAIT_MS = 1000;

export type ChangeStrategy = 'auto' | 'globalStamp' | 'timestamp' | 'off';

/** What the watcher needs of the legacy client. */
export interface WatchedSource {
  fetchTable(table: string, options: { filter?: FilterNode; attributes?: readonly string[]; top?: number; skip?: number; orderBy?: string }): Promise<Page>;
  info(): Promise<Record<string, unknown>>;
}

export interface WatcherOptions {
  readonly source: WatchedSource;
  readonly cache: TaggedCache;
  /** The mapped tables to watch. */
  readonly tables: readonly string[];
  readonly strategy: ChangeStrategy;
  /** Poll interval (ms). */
  readonly pollMs: number;
  /** The leader's lease (ms), renewed every poll; default max(3 × `pollMs`, 5000). */
  readonly leaseMs?: number;
  /** Past this many changed keys of one table in one poll, the whole table is dropped instead. */
  readonly maxKeysPerTable: number;
  /** Rows per page of a change query. */
  readonly pageSize?: number;
  /** The longest entry lifetime (ms): a recorded stamp older than this means a poll gap. */
  readonly longestTtlMs: number;
  /** Part of the lease and state keys (the environment). */
  readonly environment: string;
  readonly logger: Logger;
  readonly metrics: WatcherMetrics;
  /** The clock (epoch ms); default `Date.now`. */
  readonly now?: () => number;
  /** Overlap subtracted from the highest `__TIMESTAMP` seen (ms); default 2000. */
  readonly timestampOverlapMs?: number;
  /** This process's id in the lease and the metrics; default a random one. */
  readonly instance?: string;
}

export interface WatchState {
  /** Envelope stamp of the last poll that completed. */
  stamp?: number;
  /** When it was recorded (watcher clock). */
  at: number;
  /** Highest `__TIMESTAMP` seen per table (timestamp strategy). */
  timestamps?: Record<string, string>;
  /**
   * Per table, the rows seen within the overlap below that highest time (key → `__STAMP`): a row
   * in the window is new unless it was seen with the same stamp, so neither a save in the same
   * millisecond as the highest one nor one committed late with an earlier time is missed.
   */
  recent?: Record<string, Record<string, number>>;
}


export interface WatcherStatus {
  readonly strategy: Exclude<ChangeStrategy, 'auto'>;
  /** Per table: how its changes are found (`globalStamp`, `timestamp`). */
  readonly tables: Readonly<Record<string, 'globalStamp' | 'timestamp'>>;
  /** Whether deletions are seen (`__DeletedRecords` readable). */
  readonly deletions: boolean;
  readonly leader: boolean;
  readonly instance: string;
  readonly stamp?: number;
  readonly lastPollAt?: number;
  readonly lastChangeAt?: number;
}

export type PollOutcome = 'off' | 'follower' | 'idle' | 'changed' | 'reset' | 'error';

export class ChangeWatcher {
  readonly instance: string;
  private strategy: Exclude<ChangeStrategy, 'auto'> = 'off';
  private readonly perTable = new Map<string, 'globalStamp' | 'timestamp'>();
  private deletions = false;
  private leader = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<PollOutcome>;
  private stamp?: number;
  private lastPollAt?: number;
  private lastChangeAt?: number;
  private stopped = false;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly options: WatcherOptions) {
    this.now = options.now ?? Date.now;
    this.instance = options.instance ?? randomUUID().slice(0, 8);
    this.log = options.logger.child({ component: 'change-watcher', instance: this.instance });
    this.timestamps = new TimestampTracker({
      source: options.source,
      tables: this.perTable,
      overlapMs: options.timestampOverlapMs ?? 2000,
      rows: (table, filter, attributes, orderBy) => this.rows(table, filter, attributes, orderBy),
    });
  }

  private readonly timestamps: TimestampTracker;

  private get leaseKey(): string {
    return `watch:${this.options.environment}`;
  }

  private get stateKey(): string {
    return `watch:${this.options.environment}:state`;
  }

  /**
   * After one interval (start-up itself sends nothing more; nothing is cached yet), detects what
   * the server supports, then polls every `pollMs`. Resolves once detection is done.
   */
  start(delayMs = this.options.pollMs): Promise<void> {
    this.starting ??= new Promise<void>((resolve) => {
      this.cancelStart = resolve;
      this.timer = setTimeout(resolve, delayMs).unref();
    }).then(() => (this.stopped ? undefined : this.begin()));
    return this.starting;
  }

  private starting?: Promise<void>;
  private cancelStart?: () => void;

  private async begin(): Promise<void> {
    await this.detect();
    if (this.strategy === 'off' || this.stopped) return;
    const tick = () => {
      if (this.stopped) return;
      void this.poll().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs).unref();
      });
    };
    tick();
  }

  /** Stops polling and gives the lease up, so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.cancelStart?.();
    // A poll in flight gets a moment to finish; past it, the client refuses its further requests
    // once closed (so nothing logs in again after the logout).
    const bound = new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref());
    await Promise.race([Promise.all([this.starting?.catch(() => undefined), this.running?.catch(() => undefined)]), bound]);
    if (this.leader) await this.options.cache.backend.releaseLease(this.leaseKey, this.instance).catch(() => undefined);
    this.leader = false;
    this.options.metrics.setLeader(false);
  }

  status(): WatcherStatus {
    return {
      strategy: this.strategy,
      tables: Object.fromEntries(this.perTable),
      deletions: this.deletions,
      leader: this.leader,
      instance: this.instance,
      stamp: this.stamp,
      lastPollAt: this.lastPollAt,
      lastChangeAt: this.lastChangeAt,
    };
  }

  /**
   * Decides the strategy and, per table, whether it is tracked. An untracked table (no
   * `__GlobalStamp`) falls back to `timestamp` alone; a server without `__DeletedRecords` leaves
   * deletions to TTL. Failures to detect are logged and count as "not supported".
   */
  async detect(): Promise<void> {
    const wanted = this.options.strategy;
    if (wanted === 'off') {
      this.report('off');
      return;
    }
    let tracked = wanted === 'globalStamp';
    if (wanted === 'auto') {
      const info = await this.options.source.info().catch(() => ({}) as Record<string, unknown>);
      const envelope = await this.envelopeStamp().catch(() => 0);
      tracked = info.hasDataChangeTracking === true || envelope > 0;
    }
    this.strategy = tracked ? 'globalStamp' : 'timestamp';
    for (const table of this.options.tables) {
      if (this.stopped) return;
      this.perTable.set(table, tracked && (await this.tableIsTracked(table)) ? 'globalStamp' : 'timestamp');
    }
    if (tracked) {
      this.deletions = await this.options.source
        .fetchTable(DELETED_RECORDS.name, { top: 1, attributes: ['__PrimaryKey'] })
        .then(() => true)
        .catch(() => false);
    }
    this.report(this.strategy);
  }

  private report(strategy: Exclude<ChangeStrategy, 'auto'>): void {
    this.strategy = strategy;
    this.options.metrics.setStrategy(strategy);
    const fallback = [...this.perTable].filter(([, s]) => s === 'timestamp').map(([t]) => t);
    this.log.info(
      { strategy, untracked: strategy === 'globalStamp' ? fallback : undefined, deletions: this.deletions, pollMs: this.options.pollMs },
      strategy === 'off' ? 'change watcher off: cached values live until their TTL' : `change watcher: ${strategy}`,
    );
  }

  private async tableIsTracked(table: string): Promise<boolean> {
    try {
      const page = await this.options.source.fetchTable(table, { top: 1, attributes: [GLOBAL_STAMP] });
      return page.rows.length === 0 || typeof page.rows[0]![GLOBAL_STAMP] === 'number';
    } catch {
      return false;
    }
  }

  private async envelopeStamp(): Promise<number> {
    const page = await this.options.source.fetchTable(this.options.tables[0]!, { top: 1, attributes: ['__KEY'] });
    if (typeof page.globalStamp !== 'number' || !Number.isFinite(page.globalStamp)) {
      throw new Error(`the ${this.options.tables[0]} envelope carries no numeric __GlobalStamp`);
    }
    return page.globalStamp;
  }

  /** One poll (also what the timer runs); never throws. Concurrent calls share one poll. */
  poll(): Promise<PollOutcome> {
    if (this.stopped) return Promise.resolve('off');
    this.running ??= this.pollOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pollOnce(): Promise<PollOutcome> {
    if (this.strategy === 'off') return 'off';
    const backend = this.options.cache.backend;
    try {
      const lease = this.options.leaseMs ?? Math.max(3 * this.options.pollMs, 5000);
      this.leader = await backend.lease(this.leaseKey, this.instance, lease);
    } catch (error) {
      this.leader = false;
      this.log.warn({ err: (error as Error).message }, 'change watcher: the lease store cannot be reached; not polling');
    }
    this.options.metrics.setLeader(this.leader);
    if (!this.leader) {
      this.options.metrics.poll('follower');
      return 'follower';
    }
    try {
      const outcome = await this.leaderPoll();
      this.lastPollAt = this.now();
      if (outcome !== 'idle') this.lastChangeAt = this.lastPollAt;
      this.options.metrics.setLastPoll(this.lastPollAt);
      this.options.metrics.poll(outcome);
      this.options.metrics.setLag((this.now() - (this.lastChangeAt ?? this.now())) / 1000);
      return outcome;
    } catch (error) {
      // The recorded stamp stays where it was: the next poll asks again from there.
      this.options.metrics.poll('error');
      this.log.warn({ err: (error as Error).message }, 'change watcher poll failed; the last stamp is kept and the next poll retries');
      return 'error';
    }
  }

  private async leaderPoll(): Promise<'idle' | 'changed' | 'reset'> {
    const state = await this.readState();
    const now = this.now();
    const gap = !state || now - state.at > this.options.longestTtlMs;
    if (this.strategy === 'globalStamp') {
      const current = await this.envelopeStamp();
      this.stamp = current;
      this.options.metrics.setStamp(current);
      if (!state || gap || state.stamp === undefined || current < state.stamp) {
        const why = !state ? 'no recorded stamp' : gap ? 'the recorded stamp is older than the longest TTL' : current < (state.stamp ?? 0) ? `the stamp went down (${state.stamp} → ${current})` : 'no recorded stamp';
        await this.everythingChanged(why);
        await this.writeState({ stamp: current, at: now, ...(await this.timestamps.baseline(state)) });
        return 'reset';
      }
      const timestamps = await this.timestamps.tables(state, false);
      if (current === state.stamp && !timestamps.changed) {
        await this.writeState({ ...state, at: now, timestamps: timestamps.seen, recent: timestamps.recent });
        return 'idle';
      }
      const since = state.stamp;
      const changed = new Map<string, Set<string>>();
      if (current !== since) {
        // The tables are asked at once (the client's concurrency cap still applies): one round
        // trip of latency per poll that saw a change, not one per table.
        const tracked = [...this.perTable].filter(([, how]) => how === 'globalStamp').map(([table]) => table);
        const tables = this.options.tables;
        const [perTable, deleted] = await Promise.all([
          Promise.all(tracked.map((table) => this.keys(table, f.gte(GLOBAL_STAMP, since), '__KEY', `${GLOBAL_STAMP} asc`))),
          this.deletions
            ? this.rows(DELETED_RECORDS.name, f.and(f.gte('__Stamp', since), f.in('__TableName', tables)), ['__PrimaryKey', '__TableName'], '__Stamp asc')
            : Promise.resolve([]),
        ]);
        tracked.forEach((table, i) => changed.set(table, perTable[i]!));
        for (const row of deleted) {
          const table = String(row.__TableName);
          if (!tables.includes(table)) continue;
          const set = changed.get(table) ?? new Set<string>();
          set.add(String(row.__PrimaryKey));
          changed.set(table, set);
        }
      }
      for (const [table, keys] of timestamps.keys) changed.set(table, new Set([...(changed.get(table) ?? []), ...keys]));
      await this.invalidate(changed);
      await this.writeState({ stamp: current, at: now, timestamps: timestamps.seen, recent: timestamps.recent });
      return 'changed';
    }
    // timestamp strategy for every table
    if (!state || gap) {
      await this.everythingChanged(!state ? 'no recorded state' : 'the recorded state is older than the longest TTL');
      await this.writeState({ at: now, ...(await this.timestamps.baseline(state)) });
      return 'reset';
    }
    const timestamps = await this.timestamps.tables(state, true);
    await this.invalidate(timestamps.keys);
    await this.writeState({ at: now, timestamps: timestamps.seen, recent: timestamps.recent });
    return timestamps.changed ? 'changed' : 'idle';
  }

  /** Keys of `table` matching `filter`, paged; stops past `maxKeysPerTable` (the table is then dropped whole). */
  private async keys(table: string, filter: FilterNode, attribute: string, orderBy: string): Promise<Set<string>> {
    const rows = await this.rows(table, filter, [attribute], orderBy);
    return new Set(rows.map((r) => String(r[attribute] ?? r.__KEY)));
  }

  private rows(table: string, filter: FilterNode, attributes: string[], orderBy: string): Promise<Page['rows']> {
    return pagedRows(this.options.source, { table, filter, attributes, orderBy, pageSize: this.options.pageSize ?? 100, bound: this.options.maxKeysPerTable });
  }

  private async invalidate(changed: ReadonlyMap<string, ReadonlySet<string>>): Promise<void> {
    const tags: string[] = [];
    for (const [table, keys] of changed) {
      if (keys.size === 0) continue;
      this.options.metrics.changedKeys(table, keys.size);
      if (keys.size > this.options.maxKeysPerTable) tags.push(table, allRecordsTag(table));
      else tags.push(table, ...[...keys].map((k) => recordTag(table, k)));
    }
    if (tags.length === 0) return;
    const moved = await this.options.cache.bump([...new Set(tags)], 'watcher');
    if (!moved) throw new Error('the cache store could not be reached to invalidate the changes');
    this.log.info({ tables: Object.fromEntries([...changed].map(([t, k]) => [t, k.size])) }, 'changes in the ERP: invalidated');
  }

  private async everythingChanged(why: string): Promise<void> {
    const tags = this.options.tables.flatMap((t) => [t, allRecordsTag(t)]);
    const moved = await this.options.cache.bump(tags, 'watcher');
    if (!moved) throw new Error('the cache store could not be reached to drop every table');
    this.log.warn({ why }, `change watcher: ${why}; assuming everything changed (every table dropped once)`);
  }

  private async readState(): Promise<WatchState | undefined> {
    const [value] = await this.options.cache.backend.getMany([this.stateKey]);
    if (!value || typeof value !== 'object' || typeof (value as WatchState).at !== 'number') return undefined;
    return value as WatchState;
  }

  private async writeState(state: WatchState): Promise<void> {
    await this.options.cache.backend.setMany([{ key: this.stateKey, value: state, ttlMs: 30 * 86_400_000 }]);
  }
}

// Bounded state per rule: the groups of threshold and sequence rules, and first-seen keys.
//
// A client chooses how many groups there are (every user name, every address it tries), so each
// table has a cap, and what is evicted when it is full is chosen so that an attacker cannot use
// it to hide: first whatever has expired anyway; then the group with the least progress (fewest
// events towards the threshold, earliest step of a sequence), the least recently touched among
// those. A real brute force four failures in is kept while a spray of one-attempt groups evicts
// itself; to push it out, an attacker must fill the whole table with groups as far along — and
// the evicted group's events are not dropped: the caller merges them into the rule's overflow
// group (see engine.ts), which alerts like any other.
//
// The tables are plain insertion-ordered maps (least recently touched first), so a snapshot is
// their entries in order and a restore rebuilds exactly the same table.

export interface GroupEntry<S> {
  key: string;
  /** the newest event time of the group */
  lastMs: number;
  /** progress towards an alert: the eviction order */
  level: number;
  state: S;
}

export class GroupTable<S> {
  private groups = new Map<string, GroupEntry<S>>();
  /** groups by level, each least recently touched first */
  private levels: Map<string, GroupEntry<S>>[] = [];

  constructor(readonly cap: number) {}

  get size(): number {
    return this.groups.size;
  }

  get(key: string): GroupEntry<S> | undefined {
    return this.groups.get(key);
  }

  /** Stores a group as the most recently touched, at its (new) level. */
  touch(entry: GroupEntry<S>, lastMs: number, level: number): void {
    this.levels[entry.level]?.delete(entry.key);
    this.groups.delete(entry.key);
    entry.lastMs = Math.max(entry.lastMs, lastMs);
    entry.level = level;
    this.groups.set(entry.key, entry);
    (this.levels[level] ??= new Map()).set(entry.key, entry);
  }

  delete(key: string): void {
    const entry = this.groups.get(key);
    if (!entry) return;
    this.groups.delete(key);
    this.levels[entry.level]?.delete(key);
  }

  /** Drops groups whose newest event is older than `beforeMs` (they are at the front). */
  expire(beforeMs: number): void {
    for (const entry of this.groups.values()) {
      if (entry.lastMs >= beforeMs) break;
      this.delete(entry.key);
    }
  }

  /**
   * Makes room for one more group: drops an expired group, or removes and returns the live group
   * with the least progress (the least recently touched among them). Null when there was room.
   */
  makeRoom(expiredBeforeMs: number): GroupEntry<S> | null {
    if (this.groups.size < this.cap) return null;
    const oldest = this.groups.values().next().value;
    if (oldest && oldest.lastMs < expiredBeforeMs) {
      this.delete(oldest.key);
      return null;
    }
    for (const level of this.levels) {
      if (!level || level.size === 0) continue;
      const victim = level.values().next().value!;
      this.delete(victim.key);
      return victim;
    }
    return null;
  }

  entries(): IterableIterator<GroupEntry<S>> {
    return this.groups.values();
  }

  snapshot(): [string, number, number, S][] {
    return [...this.groups.values()].map((e) => [e.key, e.lastMs, e.level, e.state]);
  }

  restore(entries: [string, number, number, S][]): void {
    this.groups = new Map();
    this.levels = [];
    for (const [key, lastMs, level, state] of entries) {
      const entry = { key, lastMs, level, state };
      this.groups.set(key, entry);
      (this.levels[level] ??= new Map()).set(key, entry);
    }
  }
}

/** A set of keys with the time each was last seen, least recently seen first, at most `cap`. */
export class KnownKeys {
  private keys = new Map<string, number>();
  /** keys forgotten to stay within the cap (each may alert again: the safe direction) */
  evicted = 0;

  constructor(readonly cap: number) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  see(key: string, ms: number): void {
    this.keys.delete(key);
    this.keys.set(key, ms);
    if (this.keys.size > this.cap) {
      this.keys.delete(this.keys.keys().next().value!);
      this.evicted++;
    }
  }

  get size(): number {
    return this.keys.size;
  }

  snapshot(): [string, number][] {
    return [...this.keys];
  }

  restore(entries: [string, number][]): void {
    this.keys = new Map(entries);
  }
}

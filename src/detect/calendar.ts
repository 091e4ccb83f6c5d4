// Business hours: days of the week and local times in a time zone. Asked for every event of an
// off-hours rule, so the zone's offset is computed once per quarter hour of UTC (every zone's
// offsets and transitions fall on quarter hours since 1970) and kept.
import type { BusinessHours } from './types.ts';

const DAY_INDEX: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const QUARTER_HOUR = 15 * 60_000;

export class Calendar {
  /** Bit d set: day d (0 = Sunday) is a business day. */
  private readonly days: number;
  /** [start, end) minutes of the local day; an overnight range is split in two. */
  private readonly ranges: [number, number][] = [];
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(hours: BusinessHours) {
    this.days = hours.days.reduce((bits, day) => bits | (1 << DAY_INDEX[day]!), 0);
    for (const range of hours.hours) {
      const [from, to] = range.split('-').map((t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5))) as [number, number];
      if (from < to) this.ranges.push([from, to]);
      else if (from > to) this.ranges.push([from, 1440], [0, to]);
    }
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: hours.zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  }

  /** The zone's offset from UTC (ms) at this instant. */
  offset(ms: number): number {
    const quarter = Math.floor(ms / QUARTER_HOUR);
    let offset = this.offsets.get(quarter);
    if (offset === undefined) {
      const at = quarter * QUARTER_HOUR;
      const parts: Record<string, number> = {};
      for (const part of this.format.formatToParts(new Date(at))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
      offset = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!) - at;
      if (this.offsets.size >= 4096) this.offsets.clear();
      this.offsets.set(quarter, offset);
    }
    return offset;
  }

  /** Whether the instant falls in business hours (local day of week and time of day). */
  inside(ms: number): boolean {
    const local = ms + this.offset(ms);
    const dayNumber = Math.floor(local / 86_400_000);
    const weekday = (((dayNumber + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
    if ((this.days & (1 << weekday)) === 0) return false;
    const minute = Math.floor((local - dayNumber * 86_400_000) / 60_000);
    for (const [from, to] of this.ranges) if (minute >= from && minute < to) return true;
    return false;
  }
}

// PostgreSQL log timestamps ("2024-05-01 12:34:56.789 CEST", "%t" without milliseconds,
// "%n" epoch seconds) to ISO-8601 with milliseconds and offset: 2024-05-01T12:34:56.789+02:00.
// The zone is what log_timezone's abbreviation says; abbreviations that mean more than one
// offset are resolved to the most common one (listed in docs/event-model.md), unknown ones give null.

const ZONES: Record<string, string> = {
  UTC: '+00:00', GMT: '+00:00', UCT: '+00:00', Z: '+00:00', UT: '+00:00', WET: '+00:00', WEST: '+01:00',
  BST: '+01:00', IST: '+05:30', CET: '+01:00', CEST: '+02:00', MET: '+01:00', MEST: '+02:00',
  EET: '+02:00', EEST: '+03:00', MSK: '+03:00', SAST: '+02:00', CAT: '+02:00', EAT: '+03:00', WAT: '+01:00',
  PKT: '+05:00', NPT: '+05:45', HKT: '+08:00', SGT: '+08:00', PHT: '+08:00', PST: '-08:00', PDT: '-07:00',
  MST: '-07:00', MDT: '-06:00', CST: '-06:00', CDT: '-05:00', EST: '-05:00', EDT: '-04:00', AST: '-04:00',
  ADT: '-03:00', NST: '-03:30', NDT: '-02:30', AKST: '-09:00', AKDT: '-08:00', HST: '-10:00',
  JST: '+09:00', KST: '+09:00', WIB: '+07:00', WITA: '+08:00', WIT: '+09:00', ICT: '+07:00',
  AEST: '+10:00', AEDT: '+11:00', ACST: '+09:30', ACDT: '+10:30', AWST: '+08:00', NZST: '+12:00', NZDT: '+13:00',
  IDT: '+03:00', ChST: '+10:00', SST: '-11:00',
};

const offsetCache = new Map<string, string | null>();

/** The ISO offset (+HH:MM) for a zone as PostgreSQL prints it: an abbreviation or a numeric offset. */
export function zoneOffset(zone: string): string | null {
  const cached = offsetCache.get(zone);
  if (cached !== undefined) return cached;
  let result: string | null = ZONES[zone] ?? null;
  if (result === null) {
    // Numeric zones: +03, -0330, +05:30
    const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (m) result = `${m[1]}${m[2]}:${m[3] ?? '00'}`;
  }
  if (offsetCache.size < 1000) offsetCache.set(zone, result);
  return result;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * "YYYY-MM-DD HH:MM:SS[.mmm] ZONE" → ISO-8601 with milliseconds and offset, or null when the text
 * is not such a timestamp or the zone is unknown.
 */
export function isoTimestamp(text: string): string | null {
  const n = text.length;
  if (n < 21) return null;
  // Many records share a second: the date and time of the last one are compared in place, and
  // only a new second is checked digit by digit and rewritten.
  if (lastSecond === '' || !text.startsWith(lastSecond)) {
    if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 32
      || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return null;
    for (let k = 0; k < DIGITS.length; k++) if (!isDigit(text.charCodeAt(DIGITS[k]!))) return null;
    lastSecond = text.slice(0, 19);
    lastIsoSecond = `${text.slice(0, 10)}T${text.slice(11, 19)}.`;
  }
  let ms = '000';
  let zoneStart = 20;
  if (text.charCodeAt(19) === 46) {
    if (n < 25 || !isDigit(text.charCodeAt(20)) || !isDigit(text.charCodeAt(21)) || !isDigit(text.charCodeAt(22))) return null;
    ms = text.slice(20, 23);
    if (text.charCodeAt(23) !== 32) return null;
    zoneStart = 24;
  } else if (text.charCodeAt(19) !== 32) {
    return null;
  }
  // A log has one zone (two around a daylight-saving change): the last one is compared in place.
  let offset: string | null;
  if (text.length - zoneStart === lastZone.length && text.startsWith(lastZone, zoneStart)) offset = lastOffset;
  else {
    lastZone = text.slice(zoneStart);
    offset = lastOffset = zoneOffset(lastZone);
  }
  if (offset === null) return null;
  return lastIsoSecond + ms + offset;
}

const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
/** "YYYY-MM-DD HH:MM:SS" of the last timestamp read ('' before the first), and its ISO form up to the dot. */
let lastSecond = '';
let lastIsoSecond = '';
let lastZone = '';
let lastOffset: string | null = null;

/** "%n": "1714566896.789" (Unix epoch seconds with milliseconds) → ISO-8601 in UTC (+00:00). */
export function isoFromEpoch(text: string): string | null {
  const dot = text.indexOf('.');
  const seconds = Number(dot < 0 ? text : text.slice(0, dot));
  const millis = dot < 0 ? 0 : Number(text.slice(dot + 1, dot + 4).padEnd(3, '0'));
  if (!Number.isInteger(seconds) || !Number.isInteger(millis)) return null;
  const date = new Date(seconds * 1000 + millis);
  if (Number.isNaN(date.getTime())) return null;
  return date.toISOString().replace('Z', '+00:00');
}

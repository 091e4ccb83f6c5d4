// Severity words and the labels of the extra lines of a stderr record, in English and in the
// translations PostgreSQL ships (taken from the postgres .mo catalogues of de, fr, es, ja,
// ru and zh_CN). The server writes them translated when lc_messages is not English: in
// stderr and in csvlog (jsonlog always writes English severities).

export const SEVERITIES = ['DEBUG', 'LOG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'FATAL', 'PANIC'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const LABELS = ['DETAIL', 'HINT', 'CONTEXT', 'STATEMENT', 'QUERY', 'LOCATION'] as const;
export type Label = (typeof LABELS)[number];

const SEVERITY_WORDS: Record<string, Severity> = {
  DEBUG: 'DEBUG', DEBUG1: 'DEBUG', DEBUG2: 'DEBUG', DEBUG3: 'DEBUG', DEBUG4: 'DEBUG', DEBUG5: 'DEBUG',
  LOG: 'LOG', INFO: 'INFO', NOTICE: 'NOTICE', WARNING: 'WARNING', ERROR: 'ERROR', FATAL: 'FATAL', PANIC: 'PANIC',
  // de
  HINWEIS: 'NOTICE', WARNUNG: 'WARNING', FEHLER: 'ERROR', PANIK: 'PANIC',
  // fr
  ATTENTION: 'WARNING', ERREUR: 'ERROR',
  // ru
  'ОТЛАДКА': 'DEBUG', 'СООБЩЕНИЕ': 'LOG', 'ИНФОРМАЦИЯ': 'INFO', 'ЗАМЕЧАНИЕ': 'NOTICE',
  'ПРЕДУПРЕЖДЕНИЕ': 'WARNING', 'ОШИБКА': 'ERROR', 'ВАЖНО': 'FATAL', 'ПАНИКА': 'PANIC',
  // zh_CN
  '调试': 'DEBUG', '日志': 'LOG', '信息': 'INFO', '注意': 'NOTICE', '警告': 'WARNING',
  '错误': 'ERROR', '致命错误': 'FATAL', '灾难性错误': 'PANIC',
  // es and ja keep the English severity words.
};

const LABEL_WORDS: Record<string, Label> = {
  DETAIL: 'DETAIL', HINT: 'HINT', CONTEXT: 'CONTEXT', STATEMENT: 'STATEMENT', QUERY: 'QUERY', LOCATION: 'LOCATION',
  // de
  TIPP: 'HINT', ZUSAMMENHANG: 'CONTEXT', ANWEISUNG: 'STATEMENT', ANFRAGE: 'QUERY', ORT: 'LOCATION',
  // fr (written with a space before the colon: "ASTUCE :  ")
  'DÉTAIL': 'DETAIL', ASTUCE: 'HINT', CONTEXTE: 'CONTEXT', INSTRUCTION: 'STATEMENT', 'REQUÊTE': 'QUERY', EMPLACEMENT: 'LOCATION',
  // es
  DETALLE: 'DETAIL', CONTEXTO: 'CONTEXT', SENTENCIA: 'STATEMENT', CONSULTA: 'QUERY', 'UBICACIÓN': 'LOCATION',
  // ja
  '詳細': 'DETAIL', 'ヒント': 'HINT', '文脈': 'CONTEXT', '文': 'STATEMENT', '問い合わせ': 'QUERY', '場所': 'LOCATION',
  // ru
  'ПОДРОБНОСТИ': 'DETAIL', 'ПОДСКАЗКА': 'HINT', 'КОНТЕКСТ': 'CONTEXT', 'ОПЕРАТОР': 'STATEMENT', 'ЗАПРОС': 'QUERY', 'ПОЛОЖЕНИЕ': 'LOCATION',
  // zh_CN
  '详情': 'DETAIL', '提示': 'HINT', '上下文': 'CONTEXT', '语句': 'STATEMENT', '查询': 'QUERY', '位置': 'LOCATION',
};

/** What PostgreSQL writes for an empty user, database or application name in a stderr prefix. */
export const UNKNOWN_WORDS = new Set(['[unknown]', '[unbekannt]', '[inconnu]', '[desconocido]', '[不明]', '[н/д]', '[未知]']);

const severityMap = new Map(Object.entries(SEVERITY_WORDS));
const labelMap = new Map(Object.entries(LABEL_WORDS));

/** The English severity for a word as PostgreSQL wrote it (any supported language), or undefined. */
export function severityOf(word: string): Severity | undefined {
  return severityMap.get(word);
}

/**
 * Reads `WORD:  ` (or the French `WORD :  `; always two spaces after the colon, as PostgreSQL
 * writes it) at a position of a stderr line: a severity or the
 * label of an extra line (DETAIL, HINT, …). One reader is reused for every line (no allocation);
 * after a successful read(), `severity` or `label` is set and `textStart` is where the text begins.
 */
export class LevelReader {
  severity: Severity | undefined;
  label: Label | undefined;
  textStart = 0;

  read(line: string, start: number): boolean {
    // Every word starts with an upper-case ASCII letter or a non-ASCII one: anything else (a
    // lower-case user name where %q may end the prefix, say) is refused before any lookup.
    const first = line.charCodeAt(start);
    if (!(first >= 65 && first <= 90) && !(first > 127)) return false;
    // "LOG:  " is nearly every line of an audit log: read without a lookup.
    if (first === 76 && line.charCodeAt(start + 3) === 58 && line.charCodeAt(start + 4) === 32 && line.charCodeAt(start + 5) === 32
      && line.charCodeAt(start + 1) === 79 && line.charCodeAt(start + 2) === 71) {
      this.severity = 'LOG';
      this.label = undefined;
      this.textStart = start + 6;
      return true;
    }
    // The longest word is 14 characters (ПРЕДУПРЕЖДЕНИЕ); look no further than that.
    const limit = Math.min(line.length, start + 16);
    let colon = -1;
    for (let i = start; i < limit; i++) {
      if (line.charCodeAt(i) === 58 /* : */) { colon = i; break; }
    }
    // PostgreSQL writes "%s:  ": the word, a colon and two spaces (a client's "x LOG: y" is not one).
    if (colon <= start || line.charCodeAt(colon + 1) !== 32 || line.charCodeAt(colon + 2) !== 32) return false;
    let end = colon;
    if (line.charCodeAt(end - 1) === 32) end--; // "ASTUCE :"
    const text = line.slice(start, end);
    this.severity = severityMap.get(text);
    this.label = this.severity ? undefined : labelMap.get(text);
    if (!this.severity && !this.label) return false;
    this.textStart = colon + 3;
    return true;
  }
}
